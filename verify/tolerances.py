"""Every tolerance the claims use, named, per dtype, derived from the theory where possible.

A claim compares two sides ``lhs ≤ rhs`` (or ``|lhs - rhs| ≤ tol``).  The right-hand side is
the theory's own bound whenever the theory has one:

* **contraction** — GD error after ``k`` steps ``≤ ρ_t^k`` (:func:`contraction`), Chebyshev
  ``≤ 1/T_k(σ_t)`` (docs/theory.md §3);
* **truncation** — ``‖Γ - Γ_w‖₂ ≤ 2 Σ_{m>w}|γ(m)|`` (docs/theory.md §5, row-sum bound);
* **Monte Carlo** — an estimate within :data:`MC_Z` standard errors of its mean
  (:func:`monte_carlo`).

What remains is floating-point rounding of computations that are exact in real arithmetic.
That slack is :func:`rounding` = ``ROUNDING_SAFETY · n_ops · cond · u`` with ``u`` the unit
roundoff of the dtype: the standard forward-error bound of a length-``n`` inner product is
``γ_n = n u/(1 - n u)`` (Higham, *Accuracy and Stability of Numerical Algorithms*, §3.1); a
solve or an eigen-decomposition multiplies it by the condition number; ``ROUNDING_SAFETY``
absorbs the constant factors of the routines (LAPACK's ``eigh``, BLAS products, FFT), which
are small (≤ 10) for the backward-stable routines used here.  Every margin is reported
*relative* to its bound so that margins from different claims can be compared.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "UNIT_ROUNDOFF",
    "ROUNDING_SAFETY",
    "MC_Z",
    "WINDOW_GROWTH_SLACK",
    "SPECTRAL_TIGHTNESS",
    "rounding",
    "contraction",
    "monte_carlo",
    "relative_margin",
]

#: Unit roundoff ``u`` per dtype (``np.finfo(dtype).eps``; verification runs in float64).
UNIT_ROUNDOFF: dict[str, float] = {
    "float64": float(np.finfo(np.float64).eps),
    "float32": float(np.finfo(np.float32).eps),
}

#: Constant factor on ``n·cond·u``: covers the constants of backward-stable BLAS/LAPACK
#: routines (each ≤ a small multiple of ``n u``) and the few operations chained per check.
ROUNDING_SAFETY = 16.0

#: Monte Carlo checks accept ``|estimate - exact| ≤ MC_Z · stderr``.  For a normal
#: estimate the false-alarm probability per check is ``2Φ(-6) ≈ 2e-9``, so a run of
#: ``10⁴`` Monte Carlo checks (100 examples × every claim, with ``target()`` searching for the
#: worst seed) stays below ``1e-4`` family-wise.
MC_Z = 6.0

#: Window growth (claim ``window-growth``): the window is an integer (``⌈·⌉``), so the ratio
#: ``w(δ)/shape(δ)`` between two ``δ`` may differ from 1 by ``1/w`` rounding plus the
#: lower-order terms of the tail bound that the asymptotic shape drops; this factor bounds
#: the spread of that ratio over the decade grid of ``δ`` we test (``10⁻²..10⁻¹⁰``).
WINDOW_GROWTH_SLACK = 4.0

#: Tightness of the spectral bounds (claim ``spectral-bounds``): the upper bound within this
#: factor of ``λ_max(Γ_512)`` and the lower bound within it of ``λ_min(Γ_512)``.  Szegő says
#: both ratios tend to 1 for summable kernels; a chosen constant, not derived: measured worst
#: ratios on 150 drawn kernels (catalogue and composites) were 1.55 (upper, a non-summable
#: Gershgorin row sum) and 2.9 (lower, a non-summable product whose ``λ_min(Γ_H)`` still
#: converges at ``H = 512``).
SPECTRAL_TIGHTNESS = 4.0


def rounding(n_ops: float, cond: float = 1.0, dtype: str = "float64") -> float:
    """Relative rounding slack ``ROUNDING_SAFETY · n_ops · cond · u`` (see module doc).

    ``n_ops`` is the length of the longest chain of accumulated products (e.g. ``d + H``
    for one application of ``α²ΣVΓ + σ²V``, times the number of steps for an iteration);
    ``cond`` the condition number that amplifies relative perturbations (``κ_t`` for a
    solve, 1 for a product)."""
    if dtype not in UNIT_ROUNDOFF:
        raise ValueError(f"dtype={dtype!r} not one of {', '.join(UNIT_ROUNDOFF)}")
    return ROUNDING_SAFETY * float(n_ops) * float(cond) * UNIT_ROUNDOFF[dtype]


def contraction(rho: float, k: int) -> float:
    """Relative error bound ``ρ^k`` of ``k`` GD steps from ``v_0 = 0`` (docs/theory.md §3)."""
    return float(rho) ** int(k)


def monte_carlo(stderr: float) -> float:
    """Accepted deviation of a Monte Carlo mean from its exact value: ``MC_Z · stderr``."""
    return MC_Z * float(stderr)


def relative_margin(value: float, bound: float) -> float:
    """``(bound - value)/bound`` for ``value ≤ bound`` claims (``≥ 0`` passes, 1 is the most
    room); ``-inf`` for a non-finite value and ``+1`` for a zero value under a zero bound."""
    value, bound = float(value), float(bound)
    if not math.isfinite(value):
        return -math.inf
    if bound <= 0.0:
        return 1.0 if value <= bound else -math.inf
    return (bound - value) / bound
