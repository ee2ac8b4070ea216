"""Pass 1, spec → window: the truncation window ``w`` from ``eps`` (docs/theory.md §5)."""

from __future__ import annotations

import math

import numpy as np
from ditgp.theory import iterations as theory_it
from ditgp.theory.spec import GPSpec

from ...oracle import Oracle
from .decisions import Choices


def theory_tail_bound(spec: GPSpec, w: int) -> float | None:
    """The theory layer's tail bound for window ``w`` (``None`` if that module is missing)."""
    try:
        from ditgp.theory.truncation import tail_bound
    except ImportError:
        return None
    try:
        return float(tail_bound(spec.kernel, w, H=spec.H))
    except Exception:  # noqa: BLE001 - reported beside our exact tail, never relied on
        return None


def finite_tails(gamma: np.ndarray) -> np.ndarray:
    """``T(w) = Σ_{m=w+1}^{H-1} |γ(m)|`` for ``w = 0..H-1``."""
    a = np.abs(gamma)
    rev = np.cumsum(a[::-1])[::-1]  # rev[m] = Σ_{j≥m}
    return np.append(rev[1:], 0.0)


def trunc_bound(lam_min_w: float, mu: np.ndarray, tail: float, alpha2: float,
                 sigma2: float) -> float:
    """``τ = α² μ_max · 2T(w) / a_min(A_w)`` with ``a_min`` from ``λ_min(Γ_w)``."""
    if tail == 0.0:
        return 0.0
    a_min, _ = theory_it.a_t_extremes(lam_min_w, lam_min_w, mu[0], mu[-1], alpha2, sigma2)
    a_min = float(a_min)
    return math.inf if a_min <= 0 else float(alpha2 * mu[-1] * 2 * tail / a_min)


def worst_coeffs(spec: GPSpec, choices: Choices, t: float) -> tuple[float, float]:
    """``(α², σ²)`` at which the truncation bound is largest: ``t0`` for all-t plans."""
    tt = spec.schedule.t0 if choices.all_t else t
    return float(spec.schedule.alpha2(tt)), float(spec.schedule.sigma2(tt))


def spec_to_window(spec: GPSpec, choices: Choices, t: float) -> tuple[int, float]:
    """Smallest window with ``τ ≤ truncation_share·eps`` (or the requested one): ``(w, tail)``.

    The search uses ``λ_min(Γ_w) ≥ λ_min(Γ) - 2T(w)`` (Weyl); the plan then recomputes ``τ``
    with the exact ``λ_min(Γ_w)``.
    """
    oracle = Oracle.for_spec(spec)
    tails = finite_tails(oracle.gamma)
    if choices.window is not None:
        w = min(choices.window, spec.H - 1)
        return w, float(tails[w])
    a2, s2 = worst_coeffs(spec, choices, t)
    budget = choices.truncation_share * choices.eps
    for w in range(spec.H):
        lam_lb = float(oracle.lam[0]) - 2 * tails[w]
        if trunc_bound(lam_lb, oracle.mu, tails[w], a2, s2) <= budget:
            return w, float(tails[w])
    return spec.H - 1, 0.0
