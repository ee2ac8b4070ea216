"""Claims about spectra and windows of the temporal kernel: spectral bounds (4), truncation
(5), window growth (8) and conditioning vs decay (10)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from ditgp.theory.kernels import DecayClass, Kernel
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.claims.base import (
    _SLOW,
    Claim,
    KernelSize,
    KernelWindow,
    Outcome,
    _kernel_size,
    _kernel_window,
    _margins,
)

#: The claims of this subject, in the order they are defined (collected by ``registry``).
CLAIMS: list[Claim] = []
_register = CLAIMS.append


# -- 4. spectral bounds ---------------------------------------------
def _bounds(kernel: Kernel, H: int | None):
    from ditgp.theory.spectral import eigenvalue_bounds

    return eigenvalue_bounds(kernel, H)


def check_spectral(inp: KernelSize, *, bounds: Callable | None = None) -> Outcome:
    """Every eigenvalue of ``Γ_H`` lies in ``[lower, upper]`` of ``eigenvalue_bounds``."""
    b = (bounds or _bounds)(inp.kernel, inp.H)
    lam = np.linalg.eigvalsh(inp.kernel.matrix(inp.H))
    lower, upper = float(b.lower), float(b.upper)
    slack = tol.rounding(inp.H) * max(upper, 1.0)
    scale = max(upper, 1e-300)
    m_low = (lam[0] - lower + slack) / scale
    m_up = (upper + slack - lam[-1]) / scale
    if m_low <= m_up:
        return Outcome(float(m_low), float(lower), float(lam[0]), {"side": "lower"})
    return Outcome(float(m_up), float(lam[-1]), float(upper), {"side": "upper"})


# -- 5. truncation ---------------------------------------------
def check_truncation(inp: KernelWindow, *, tail: Callable | None = None) -> Outcome:
    """``Σ_{w<m<H}|γ(m)| ≤ tail_bound``, ``‖Γ - Γ_w‖₂ ≤ 2·tail_bound`` and, when
    ``truncation_keeps_pd`` says so, ``λ_min(Γ_w) > 0``."""
    from ditgp.theory.truncation import tail_bound, truncation_keeps_pd

    k, H, w = inp.kernel, inp.H, inp.w
    G = k.matrix(H)
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    Gw = np.where(gaps <= w, G, 0.0)
    tb = float((tail or tail_bound)(k, w, H))
    actual_tail = float(np.sum(np.abs(k.gamma(np.arange(w + 1, H))))) if w + 1 < H else 0.0
    gap_norm = float(np.linalg.norm(G - Gw, 2))
    slack = tol.rounding(H) * max(float(np.abs(G).sum(axis=1).max()), 1.0)
    parts = {
        "tail": (actual_tail, tb + slack),
        "norm": (gap_norm, 2 * tb + slack),
    }
    margins = {key: tol.relative_margin(*v) for key, v in parts.items()}
    if truncation_keeps_pd(k, w, H):
        lam_w = float(np.linalg.eigvalsh(Gw)[0])
        lam = float(np.linalg.eigvalsh(G)[0])
        parts["pd"] = (-lam_w, slack)
        margins["pd"] = (lam_w + slack) / max(lam, slack)
    key = min(margins, key=margins.get)
    return Outcome(float(margins[key]), parts[key][0], parts[key][1], {"part": key})


# -- 8. window growth ---------------------------------------------
#: The δ grid of claim ``window-growth``.
WINDOW_DELTAS = tuple(10.0 ** -e for e in range(2, 9))
#: Sequence length of the window check for non-summable kernels.
WINDOW_LOG_H = 64


def check_window(inp: Kernel, *, window_fn: Callable | None = None) -> Outcome:
    """Per decay class, on ``δ = 10⁻²..10⁻¹⁰``.  Summable kernels (infinite lattice): the
    window is the smallest ``w`` with tail ``≤ δ``, non-decreasing as ``δ`` falls, and grows as
    its class says — exponential ``w(δ²) ≤ slack·2^{1/ν}·w(δ)`` (a power of ``log 1/δ``),
    polynomial ``w(δ²) ≤ slack·δ^{-1/(ν-1)}·w(δ)``.  Non-summable kernels (logarithmic, slow
    power laws) need ``H`` (here ``H = 64``): there ``w ≥ min(H - 1, γ⁻¹(δ) - 1)``, since the
    tail is at least its first term; for a logarithmic kernel ``γ⁻¹(δ) = ℓ(e^{δ^{-1/ν}-1} - 1)``,
    the class shape ``exp(δ^{-1/ν})``, which exceeds ``H`` for small ``δ``."""
    from ditgp.theory.truncation import tail_bound, window

    win = window_fn or window
    k = inp
    cls = k.decay_class
    if not bool(getattr(k, "summable", True)):
        H = WINDOW_LOG_H
        worst = Outcome(math.inf, 0.0, 0.0)
        for delta in WINDOW_DELTAS:
            w = int(win(k, delta, H))
            g = np.abs(k.gamma(np.arange(1, H)))
            above = np.nonzero(g > delta)[0]  # γ(m) > δ for m = above + 1 forces w ≥ m
            need = int(above[-1]) + 1 if above.size else 0
            m = (w - need + 1) / (need + 1)
            if m < worst.margin:
                worst = Outcome(float(m), float(w), float(need),
                                {"class": cls.value, "delta": delta, "H": H,
                                 "full_window": w >= H - 1})
        return worst
    from ditgp.theory.errors import SpecError

    ws_list: list[int] = []
    for d in WINDOW_DELTAS:  # slow power laws: δ^{-1/(ν-1)} may pass the largest window
        try:
            ws_list.append(int(win(k, d, None)))
        except SpecError:
            break
    deltas = WINDOW_DELTAS[: len(ws_list)]
    ws = ws_list
    if len(ws) < 2:
        return Outcome(1.0, 0.0, 0.0, {"class": cls.value, "part": "no reachable window"})
    tails = np.array([float(tail_bound(k, w, None)) for w in ws])
    margins = {"tail": float(np.min(_margins(tails, np.array(deltas))))}
    prev = [float(tail_bound(k, w - 1, None)) for w in ws if w >= 1]
    deltas_prev = [d for d, w in zip(deltas, ws, strict=True) if w >= 1]
    if prev:  # minimality: one gap less leaves a tail above δ
        margins["minimal"] = float(min((p - d) / p for p, d in zip(prev, deltas_prev,
                                                                    strict=True)))
    if any(b < a for a, b in zip(ws, ws[1:], strict=False)):
        margins["monotone"] = -1.0
    exps = list(range(2, 2 + len(ws)))
    nu = _envelope_nu(k)
    growth = []
    for i, e in enumerate(exps):
        if 2 * e not in exps:
            continue
        j = exps.index(2 * e)
        if cls == DecayClass.EXPONENTIAL:
            factor = 2.0 ** (1.0 / nu)
        else:  # polynomial: w ~ δ^{-1/(ν-1)}; δ → δ² multiplies it by δ^{-1/(ν-1)}
            factor = (1.0 / WINDOW_DELTAS[i]) ** (1.0 / max(nu - 1.0, 1e-3))
        growth.append(tol.relative_margin(ws[j], tol.WINDOW_GROWTH_SLACK * factor
                                          * max(ws[i], 1.0)))
    if growth:
        margins["growth"] = float(min(growth))
    key = min(margins, key=margins.get)
    return Outcome(margins[key], float(ws[-1]), float(deltas[-1]),
                   {"class": cls.value, "part": key, "windows": ws})


def _envelope_nu(k: Kernel) -> float:
    """The envelope exponent ``ν`` of THEORY.md's decay table for kernel ``k``."""
    env = getattr(k, "envelope", None)
    if env is not None:
        value = env() if callable(env) else env
        nu = getattr(value, "nu", None)
        if nu is not None:
            return float(nu)
    params = k.params
    if k.decay_class == DecayClass.POLYNOMIAL:
        if "alpha" in params and "nu" not in params:
            return 2.0 * float(params["alpha"])  # rational quadratic (1 + m²/(2αℓ²))^(-α)
        return float(params.get("nu", 2.0))
    if k.name == "squared-exponential":
        return 2.0
    if k.name == "stretched-exponential":
        return float(params["nu"])
    return 1.0


# -- 10. decay and conditioning ---------------------------------------------
def _rayleigh_ones(k: Kernel, H: int) -> float:
    """``1ᵀΓ_H 1 / H ≤ λ_max(Γ_H)``: grows without bound iff ``Σ γ(m)`` diverges."""
    g = k.gamma(np.arange(H))
    return float(g[0] + 2.0 * np.sum((1.0 - np.arange(1, H) / H) * g[1:]))


def check_conditioning(inp: KernelSize, *, bounds: Callable | None = None) -> Outcome:
    """Summable kernels: the bounds for all ``H`` (``eigenvalue_bounds(k)``) are uniform and
    hold at ``H, 2H, 4H`` (so ``κ(Γ_H) ≤ upper/lower`` for all of them); non-summable ones:
    no uniform upper bound, ``λ_max(Γ_H) ≥ 1ᵀΓ1/H`` strictly grows from ``H`` to ``4H``,
    and the ``H``-dependent upper bound still holds at ``4H``."""
    bfn = bounds or _bounds
    k, H = inp.kernel, inp.H
    b = bfn(k, None)
    summable = bool(getattr(k, "summable", True))
    if not summable:
        if bool(b.uniform):
            return Outcome(-1.0, 1.0, 0.0, {"part": "uniform bound for a non-summable kernel"})
        r1, r4 = _rayleigh_ones(k, H), _rayleigh_ones(k, 4 * H)
        lam4 = float(np.linalg.eigvalsh(k.matrix(4 * H))[-1])
        growth = (r4 - r1) / r1
        upper = float(bfn(k, 4 * H).upper)
        upper_ok = tol.relative_margin(lam4, upper + tol.rounding(4 * H) * lam4)
        if growth <= upper_ok:
            return Outcome(float(growth), r4, r1, {"part": "growth", "H": H})
        return Outcome(float(upper_ok), lam4, upper, {"part": "upper", "H": 4 * H})
    if not bool(b.uniform):
        return Outcome(-1.0, 0.0, 1.0, {"part": "summable kernel without uniform bounds"})
    worst = Outcome(math.inf, 0.0, 0.0)
    lower, upper = float(b.lower), float(b.upper)
    scale = max(upper, 1e-300)
    for n in (H, 2 * H, 4 * H):
        lam = np.linalg.eigvalsh(k.matrix(n))
        slack = tol.rounding(n) * max(upper, 1.0)
        for side, m in (("lower", (lam[0] - lower + slack) / scale),
                        ("upper", (upper + slack - lam[-1]) / scale)):
            if m < worst.margin:
                worst = Outcome(float(m), float(lam[0] if side == "lower" else lam[-1]),
                                lower if side == "lower" else upper,
                                {"H": n, "side": side, "kappa_bound": upper / max(lower, 1e-300)})
    return worst


# -- claims ---------------------------------------------
_register(Claim(
    "spectral-bounds", 4,
    "Every eigenvalue of Γ_H lies within the symbolic spectral bounds (Szegő symbol or "
    "Gershgorin), for every H drawn.",
    r"\min_\omega f(\omega) \le \lambda_i(\Gamma_H) \le \max_\omega f(\omega)",
    "paper",
    "eigvalsh backward error: 16·H·u·max(upper, 1)",
    lambda: _kernel_size(256), check_spectral,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=_SLOW,
))
_register(Claim(
    "truncation", 5,
    "Truncating γ beyond w: ‖Γ - Γ_w‖₂ ≤ 2·tail_bound(w), the actual tail ≤ tail_bound(w), "
    "and Γ_w is positive definite whenever truncation_keeps_pd says so (Weyl).",
    r"\|\Gamma - \Gamma_w\|_2 \le 2\sum_{m>w}|\gamma(m)|,\quad "
    r"2\sum_{m>w}|\gamma(m)| < \lambda_{\min}(\Gamma) \Rightarrow \Gamma_w \succ 0",
    "paper",
    "the tail bound itself + rounding 16·H·u·max row sum",
    lambda: _kernel_window(64), check_truncation,
    requires=("ditgp.theory.truncation:tail_bound",), health_checks=_SLOW,
))
_register(Claim(
    "window-growth", 8,
    "The truncation window grows with 1/δ as its decay class says: exponential ~ log, "
    "polynomial ~ power, logarithmic needs the whole sequence (w ≥ H - 1).",
    r"w(\delta) \sim \left(\tfrac{\ln(1/\delta)}{c}\right)^{1/\nu},\; \delta^{-1/(\nu-1)},\; "
    r"\ge H",
    "paper",
    "the tail level δ itself; growth ratios within WINDOW_GROWTH_SLACK = 4 of the class shape",
    lambda: ds.kernels(), check_window,
    requires=("ditgp.theory.truncation:window",), health_checks=_SLOW, default_examples=25,
))
_register(Claim(
    "conditioning-decay", 10,
    "For summable kernels κ(Γ_H) stays bounded in H (uniform spectral bounds); for "
    "logarithmic ones λ_max(Γ_H) grows with H — as the bounds say.",
    r"\sum_m|\gamma(m)| < \infty \Rightarrow \sup_H \kappa(\Gamma_H) \le \frac{\max f}{\min f};"
    r"\quad \lambda_{\max}(\Gamma_H) \ge \tfrac{1}{H}\mathbf 1^\top\Gamma_H\mathbf 1 \to \infty",
    "paper",
    "eigvalsh backward error 16·H·u·max(upper, 1); growth must be strictly positive",
    lambda: _kernel_size(64), check_conditioning,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=_SLOW,
    default_examples=50,
))
