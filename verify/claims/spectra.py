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
    SLOW,
    Claim,
    KernelSize,
    KernelWindow,
    Outcome,
)
from hypothesis import strategies as st

#: The claims of this subject, in the order they are defined (collected by ``registry``).
CLAIMS: list[Claim] = []
_register = CLAIMS.append


# -- independent tails ---------------------------------------------
#: Terms of ``Σ_{m>w}|γ(m)|`` summed directly in mpmath (at :data:`TAIL_DPS` digits) before
#: an integral remainder takes over (:func:`independent_tail`).
TAIL_DIRECT_TERMS = 48
#: Working precision (decimal digits) of the independent sums.
TAIL_DPS = 30


def independent_tail(k: Kernel, w: int, H: int | None = None) -> tuple[float, float]:
    """An enclosure ``lo ≤ Σ_{m=w+1}^{H-1}|γ(m)| ≤ hi`` computed without ``theory.truncation``.

    With ``H``: the exact lattice sum in mpmath (``lo = hi``).  Without ``H`` (the infinite
    lattice): the first :data:`TAIL_DIRECT_TERMS` terms in mpmath plus a remainder — for a
    completely monotone kernel (convex and decreasing in ``m``) the rigorous bracket
    ``∫_{N+1}^∞ γ ≤ Σ_{m>N} γ(m) ≤ ∫_{N+1/2}^∞ γ`` (midpoint convexity), otherwise
    ``0 ≤ Σ_{m>N}|γ(m)| ≤ ∫_N^∞ env`` with the kernel's decreasing decay-class envelope.  The
    integrals are mpmath quadratures (tanh-sinh, far below float64 resolution)."""
    import mpmath as mp

    with mp.workdps(TAIL_DPS):
        if H is not None:
            s = mp.fsum(abs(k.gamma_mp(m)) for m in range(w + 1, H))
            return float(s), float(s)
        N = w + TAIL_DIRECT_TERMS
        s = mp.fsum(abs(k.gamma_mp(m)) for m in range(w + 1, N + 1))
        if not bool(getattr(k, "summable", True)):
            return float(s), math.inf
        if bool(getattr(k, "completely_monotone", False)):
            lo = mp.quad(k.gamma_mp, [N + 1, mp.inf])
            hi = mp.quad(k.gamma_mp, [N + mp.mpf(1) / 2, mp.inf])
        else:
            from ditgp.theory.bridge import to_mpmath
            from ditgp.theory.kernels.base import M

            env = to_mpmath(k.envelope(), [M])
            lo, hi = mp.mpf(0), mp.quad(lambda x: abs(env(x)), [N, mp.inf])
        return float(s + lo), float(s + hi)


# -- 4. spectral bounds ---------------------------------------------
def _bounds(kernel: Kernel, H: int | None):
    from ditgp.theory.spectral import eigenvalue_bounds

    return eigenvalue_bounds(kernel, H)


#: Sequence length at which the tightness side of ``spectral-bounds`` compares the bounds with
#: the true extreme eigenvalues (Szegő: ``λ_min(Γ_H) ↓ min f`` and ``λ_max(Γ_H) ↑ max f``).
TIGHTNESS_H = 512


def check_spectral(inp: KernelSize, *, bounds: Callable | None = None) -> Outcome:
    """Containment: every eigenvalue of ``Γ_H`` lies in ``[lower, upper]`` of
    ``eigenvalue_bounds(k, H)``.  Tightness: at ``H* = TIGHTNESS_H`` (where the extreme
    eigenvalues are close to the symbol's extremes) ``upper ≤ SPECTRAL_TIGHTNESS·λ_max(Γ_H*)``
    and, where ``λ_min(Γ_H*)`` is resolved above rounding, ``lower ≥ λ_min(Γ_H*) /
    SPECTRAL_TIGHTNESS`` — so a lazy bound (``lower = 0``, ``upper = 1000``) fails."""
    bfn = bounds or _bounds
    k, H = inp.kernel, inp.H
    b = bfn(k, H)
    lam = np.linalg.eigvalsh(k.matrix(H))
    lower, upper = float(b.lower), float(b.upper)
    slack = tol.rounding(H) * max(upper, 1.0)
    scale = max(upper, 1e-300)
    parts = {
        "lower": ((lam[0] - lower + slack) / scale, float(lower), float(lam[0])),
        "upper": ((upper + slack - lam[-1]) / scale, float(lam[-1]), float(upper)),
    }
    Hs = max(TIGHTNESS_H, H)
    bs = b if bool(b.uniform) else bfn(k, Hs)
    lam_s = np.linalg.eigvalsh(k.matrix(Hs))
    up_s, lo_s = float(bs.upper), float(bs.lower)
    f = tol.SPECTRAL_TIGHTNESS
    parts["upper tight"] = (tol.relative_margin(up_s, f * lam_s[-1]), up_s, f * float(lam_s[-1]))
    resolved = tol.rounding(Hs) * float(lam_s[-1])
    if lam_s[0] > f * resolved:  # λ_min resolved: the lower bound must come within f of it
        rhs = float(lam_s[0]) / f
        parts["lower tight"] = ((lo_s - rhs) / float(lam_s[0]), lo_s, rhs)
    key = min(parts, key=lambda p: parts[p][0])
    m, lhs, rhs = parts[key]
    return Outcome(float(m), float(lhs), float(rhs), {"side": key, "H": Hs if "tight" in key else H})


# -- 5. truncation ---------------------------------------------
#: The relative padding ``theory.truncation`` documents for its float sums (its
#: ``BOUND_RTOL = 1e-12`` plus rounding): the finite tail may exceed the exact sum by this.
_TAIL_PADDING = 1e-11
#: Window at which ``truncation`` also checks the closed-form infinite-lattice tail against
#: :func:`independent_tail` (``w ≥`` the drawn window; ``H`` plays no role there).
TRUNCATION_FAR_W = (0, 7, 31)


def check_truncation(inp: KernelWindow, *, tail: Callable | None = None) -> Outcome:
    """Finite ``H``: ``tail_bound(k, w, H)`` encloses the exact lattice sum
    ``Σ_{w<m<H}|γ(m)|`` (mpmath) from above and, being documented as that exact sum, exceeds it
    by at most rounding; ``‖Γ - Γ_w‖₂ ≤ 2·tail_bound``; ``λ_min(Γ_w) > 0`` when
    ``truncation_keeps_pd`` says so.  Infinite lattice (summable kernels): the closed-form
    ``tail_bound(k, w)`` at ``w ∈ {w_drawn + TRUNCATION_FAR_W}`` is at least the independent
    lower enclosure of :func:`independent_tail`."""
    from ditgp.theory.spectral import truncation_keeps_pd
    from ditgp.theory.truncation import tail_bound

    tfn = tail or tail_bound
    k, H, w = inp.kernel, inp.H, inp.w
    G = k.matrix(H)
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    Gw = np.where(gaps <= w, G, 0.0)
    tb = float(tfn(k, w, H))
    exact, _ = independent_tail(k, w, H)
    gap_norm = float(np.linalg.norm(G - Gw, 2))
    slack = tol.rounding(H) * max(float(np.abs(G).sum(axis=1).max()), 1.0)
    parts = {
        "tail ≥ exact sum": (exact, tb + slack),
        "tail ≤ exact sum + its padding": (tb, exact * (1 + _TAIL_PADDING) + slack),
        "norm": (gap_norm, 2 * tb + slack),
    }
    margins = {key: tol.relative_margin(*v) for key, v in parts.items()}
    if truncation_keeps_pd(k, w, H):
        lam_w = float(np.linalg.eigvalsh(Gw)[0])
        lam = float(np.linalg.eigvalsh(G)[0])
        parts["pd"] = (-lam_w, slack)
        margins["pd"] = (lam_w + slack) / max(lam, slack)
    if bool(getattr(k, "summable", True)):
        for extra in TRUNCATION_FAR_W:
            ww = w + extra
            lo, hi = independent_tail(k, ww, None)
            closed = float(tfn(k, ww, None))
            key = f"closed-form tail at w={ww}"
            parts[key] = (lo, closed * (1 + tol.rounding(TAIL_DIRECT_TERMS)))
            margins[key] = tol.relative_margin(*parts[key]) if lo > 0 else 1.0
    key = min(margins, key=margins.get)
    return Outcome(float(margins[key]), parts[key][0], parts[key][1], {"part": key})


# -- 8. window growth ---------------------------------------------
#: The δ grid of claim ``window-growth``: ``10⁻², 10⁻³, …, 10⁻⁸``.
WINDOW_DELTAS = tuple(10.0 ** -e for e in range(2, 9))
#: Sequence length of the window check for non-summable kernels.
WINDOW_LOG_H = 64


def _window_growth_bounds(cls: DecayClass, nu: float, delta: float) -> float:
    """The class law's factor ``w(δ²)/w(δ)``: ``2^{1/ν}`` (exponential,
    ``w ~ (ln(1/δ)/c)^{1/ν}``) or ``δ^{-1/(ν-1)}`` (polynomial, ``w ~ δ^{-1/(ν-1)}``)."""
    if cls == DecayClass.EXPONENTIAL:
        return 2.0 ** (1.0 / nu)
    return (1.0 / delta) ** (1.0 / max(nu - 1.0, 1e-3))


def check_window(inp: Kernel, *, window_fn: Callable | None = None) -> Outcome:
    """Per decay class, on the grid ``δ = 10⁻²..10⁻⁸`` (:data:`WINDOW_DELTAS`).

    Summable kernels (infinite lattice), against :func:`independent_tail` (mpmath lattice sum
    + rigorous integral remainder), not against ``theory.truncation``: the window is *sound*
    (independent tail at ``w(δ)`` ``≤ δ``, lower enclosure), *not lazy* for exponential-class
    catalogue kernels (the independent tail at ``⌊w(δ)/WINDOW_GROWTH_SLACK⌋`` exceeds ``δ``,
    upper enclosure; see the comment in the code for why not for the others), non-decreasing
    as ``δ``
    falls, and grows as its class law says in **both** directions —
    ``law/slack ≤ (w(δ²)+1)/w(δ)`` and ``w(δ²) ≤ slack·law·(w(δ)+1)`` with ``law`` the class
    factor (exponential ``2^{1/ν}``, polynomial ``δ^{-1/(ν-1)}``).

    Non-summable kernels (logarithmic, slow power laws): the tail is infinite, so the window is
    the **finite-H tail** window at ``H = WINDOW_LOG_H``: ``Σ_{w<m<H}|γ(m)| ≤ δ`` and minimal
    (``Σ_{w-1<m<H} > δ``), exact mpmath sums; it is at least the pointwise threshold
    ``min{w : |γ(m)| ≤ δ for m > w}`` (a different, weaker quantity: docs/theory.md §5)."""
    from ditgp.theory.errors import SpecError
    from ditgp.theory.truncation import window

    win = window_fn or window
    k = inp
    cls = k.decay_class
    if not bool(getattr(k, "summable", True)):
        H = WINDOW_LOG_H
        worst = Outcome(math.inf, 0.0, 0.0)
        g = np.abs(k.gamma(np.arange(1, H)))
        for delta in WINDOW_DELTAS:
            w = int(win(k, delta, H))
            above = np.nonzero(g > delta)[0]  # γ(m) > δ for m = above + 1 forces w ≥ m
            need = int(above[-1]) + 1 if above.size else 0
            t_w, _ = independent_tail(k, w, H)
            t_prev, _ = independent_tail(k, w - 1, H) if w >= 1 else (math.inf, math.inf)
            margins = {
                "finite tail ≤ δ": tol.relative_margin(t_w, delta * (1 + tol.rounding(H))),
                "minimal": (t_prev - delta) / t_prev if math.isfinite(t_prev) else 1.0,
                "≥ pointwise threshold": (w - need + 1) / (need + 1),
            }
            key = min(margins, key=margins.get)
            if margins[key] < worst.margin:
                worst = Outcome(float(margins[key]), float(w), float(delta),
                                {"class": cls.value, "part": key, "delta": delta, "H": H,
                                 "pointwise": need, "full_window": w >= H - 1})
        return worst
    ws: list[int] = []
    for d in WINDOW_DELTAS:  # slow power laws: δ^{-1/(ν-1)} may pass the largest window
        try:
            ws.append(int(win(k, d, None)))
        except SpecError:
            break
    deltas = WINDOW_DELTAS[: len(ws)]
    if len(ws) < 2:
        return Outcome(1.0, 0.0, 0.0, {"class": cls.value, "part": "no reachable window"})
    from ditgp.theory.kernels.composite import ProductKernel, ScaledKernel, SumKernel

    composite = isinstance(k, SumKernel | ProductKernel | ScaledKernel)
    margins: dict[str, float] = {}
    slack = tol.WINDOW_GROWTH_SLACK
    for i in sorted({0, len(ws) // 2, len(ws) - 1}):
        w, d = ws[i], deltas[i]
        lo, _ = independent_tail(k, w, None)
        margins[f"sound at δ={d:g}"] = tol.relative_margin(lo, d * (1 + tol.rounding(w + 64)))
        lazy = int(w // slack)
        # not lazy: exponential-class catalogue kernels only.  A tail bound loose by a factor
        # F lengthens an exponential window by ~ln F/c (within 4× here) but a polynomial one
        # by F^{1/(ν-1)} (the rational quadratic's bound, 2.7× loose, makes ν = 1.5 windows
        # ~7× too long); composites get generic bounds (a power law × logarithmic product is
        # bounded by its power-law factor alone: windows ~10³× too long).  Those stay sound.
        if lazy < w and not composite and cls == DecayClass.EXPONENTIAL:
            _, hi = independent_tail(k, lazy, None)
            margins[f"not lazy at δ={d:g}"] = (hi - d) / hi if hi > 0 else -1.0
    if any(b < a for a, b in zip(ws, ws[1:], strict=False)):
        margins["monotone"] = -1.0
    nu = _envelope_nu(k)
    for i in range(len(ws)):
        e = i + 2  # δ = 10^-e
        if 2 * e - 2 >= len(ws):
            continue
        j = 2 * e - 2  # δ² = 10^{-2e}
        law = _window_growth_bounds(cls, nu, deltas[i])
        margins[f"growth ≤ law at δ={deltas[i]:g}"] = tol.relative_margin(
            ws[j], slack * law * (ws[i] + 1))
        # exponential laws are asymptotic: for ν < 1/2 the polynomial prefactor of the tail
        # keeps δ ≥ 10⁻⁸ pre-asymptotic (stretched exponential ν = 1/4, ℓ = 3: w(δ²)/w(δ) =
        # 1.9-3.3 against 2^{1/ν} = 16), so their lower side asks only w(δ²) + 1 ≥ w(δ)
        law_low = law if cls == DecayClass.POLYNOMIAL else min(law, slack)
        low = law_low / slack * ws[i]
        margins[f"growth ≥ law at δ={deltas[i]:g}"] = ((ws[j] + 1 - low) / low) if low > 0 else 1.0
    key = min(margins, key=margins.get)
    return Outcome(margins[key], float(ws[-1]), float(deltas[-1]),
                   {"class": cls.value, "part": key, "windows": ws, "nu": nu})


def _envelope_nu(k: Kernel) -> float:
    """The envelope exponent ``ν`` of the decay classes (docs/theory.md §5) for kernel ``k`` (composites:
    a sum decays like its slowest terms — smallest ``ν`` of its class — a product like its
    fastest factors: largest exponential ``ν``, or the sum of polynomial ``ν``)."""
    from ditgp.theory.kernels.composite import ProductKernel, ScaledKernel, SumKernel

    if isinstance(k, ScaledKernel):
        return _envelope_nu(k.base)
    if isinstance(k, SumKernel):
        return min(_envelope_nu(t) for t in k.terms if t.decay_class == k.decay_class)
    if isinstance(k, ProductKernel):
        same = [f for f in k.factors if f.decay_class == k.decay_class]
        if k.decay_class == DecayClass.EXPONENTIAL:
            return max(_envelope_nu(f) for f in same)
        return sum(_envelope_nu(f) for f in same)
    params = k.params
    if k.decay_class == DecayClass.POLYNOMIAL:
        if "alpha" in params and "nu" not in params:
            return 2.0 * float(params["alpha"])  # rational quadratic (1 + m²/(2αℓ²))^(-α)
        return float(params.get("nu", 2.0))
    if k.name == "squared-exponential":
        return 2.0
    if k.name == "stretched-exponential":
        return float(params["nu"])
    if k.decay_class == DecayClass.LOGARITHMIC:
        return float(params.get("nu", 1.0))
    return 1.0


# -- 10. decay and conditioning ---------------------------------------------
#: ``λ_max(Γ_H)`` is compared at ``H`` and ``CONDITIONING_GROWTH·H`` for non-summable kernels.
CONDITIONING_GROWTH = 16


def _law_partial_sum(cls: DecayClass, nu: float, n: int) -> float:
    """The class law's growth of ``1 + 2Σ_{m<n}|γ(m)|`` for a non-summable kernel (up to
    constants): polynomial ``ν < 1`` ``n^{1-ν}``, ``ν = 1`` ``log n``, logarithmic
    ``n/(1+log n)^ν``; ``0`` (bounded) where the law is summable."""
    if cls == DecayClass.LOGARITHMIC:
        return n / (1.0 + math.log(n)) ** nu
    if cls == DecayClass.POLYNOMIAL and nu < 1:
        return n ** (1.0 - nu)
    if cls == DecayClass.POLYNOMIAL and nu == 1:
        return math.log(1.0 + n)
    return 0.0


def check_conditioning(inp: KernelSize, *, bounds: Callable | None = None,
                       summable: Callable[[Kernel], bool] | None = None) -> Outcome:
    """Summable kernels: ``eigenvalue_bounds(k)`` is uniform and holds at ``H, 2H, 4H`` (so
    ``λ_max(Γ_H)`` stays bounded and ``κ(Γ_H) ≤ upper/lower`` for all of them).  Non-summable
    kernels: no uniform upper bound, ``λ_max(Γ_H)`` unbounded **at the class law's rate** —
    ``λ_max(Γ_{nH})/λ_max(Γ_H) ≥ S(nH)/(4·S(H))`` with ``S`` the law's partial sum
    (:func:`_law_partial_sum`, ``n = CONDITIONING_GROWTH``; the 4 is derived:
    ``λ_max ≥ 1ᵀΓ1/H ≥ 1 + Σ_{m≤H/2}γ(m)`` and the Gershgorin bound ``1 + 2Σ_{m<H}γ(m)``
    differ by at most 4 for regularly varying partial sums), and the ``H``-dependent upper
    bound still holds at ``nH``.  A kernel labelled non-summable whose decay law is summable
    (e.g. a mislabelled Laplace) fails."""
    bfn = bounds or _bounds
    k, H = inp.kernel, inp.H
    b = bfn(k, None)
    is_summable = bool((summable or (lambda kk: getattr(kk, "summable", True)))(k))
    if not is_summable:
        if bool(b.uniform):
            return Outcome(-1.0, 1.0, 0.0, {"part": "uniform bound for a non-summable kernel"})
        nu = _envelope_nu(k)
        n = CONDITIONING_GROWTH * H
        s1, sn = _law_partial_sum(k.decay_class, nu, H), _law_partial_sum(k.decay_class, nu, n)
        if s1 <= 0.0 or sn <= 0.0:
            return Outcome(-1.0, 0.0, 1.0, {"part": "non-summable label but the decay law "
                                            f"({k.decay_class.value}, ν={nu:g}) is summable"})
        lam1 = float(np.linalg.eigvalsh(k.matrix(H))[-1])
        lamn = float(np.linalg.eigvalsh(k.matrix(n))[-1])
        rate = lamn / lam1
        need = sn / (4.0 * s1)
        upper = float(bfn(k, n).upper)
        parts = {
            "growth at the law's rate": ((rate - need) / need, rate, need),
            "upper at nH": (tol.relative_margin(lamn, upper + tol.rounding(n) * lamn), lamn, upper),
        }
        key = min(parts, key=lambda p: parts[p][0])
        m, lhs, rhs = parts[key]
        return Outcome(float(m), float(lhs), float(rhs), {"part": key, "H": H, "n": n})
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


def _any_kernel() -> st.SearchStrategy[Kernel]:
    """Catalogue kernels and composites (sums, products, positive scalings, mixed classes)."""
    return st.one_of(ds.kernels(), ds.composite_kernels(correlation=False))


@st.composite
def _kernel_size_any(draw, max_H: int) -> KernelSize:
    return KernelSize(draw(_any_kernel()), draw(st.integers(1, max_H)))


@st.composite
def _kernel_window_any(draw, max_H: int) -> KernelWindow:
    k = draw(_any_kernel())
    H = draw(st.integers(2, max_H))
    return KernelWindow(k, H, draw(st.integers(0, H - 1)))


# -- claims ---------------------------------------------
_register(Claim(
    "spectral-bounds", 4,
    "Every eigenvalue of Γ_H lies within the symbolic spectral bounds (Szegő symbol or "
    "Gershgorin), for every H drawn, and the bounds are tight: within SPECTRAL_TIGHTNESS of "
    "the extreme eigenvalues of Γ_512.",
    r"\min_\omega f \le \lambda_i(\Gamma_H) \le \max_\omega f,\quad "
    r"\max_\omega f \le c\,\lambda_{\max}(\Gamma_{512}),\; "
    r"\min_\omega f \ge \lambda_{\min}(\Gamma_{512})/c",
    "derived",
    "containment: eigvalsh backward error 16·H·u·max(upper, 1); tightness: the factor "
    "SPECTRAL_TIGHTNESS = 4 (lower side only where λ_min(Γ_512) is resolved above rounding)",
    lambda: _kernel_size_any(256), check_spectral,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=SLOW,
    default_examples=40,
))
_register(Claim(
    "truncation", 5,
    "Truncating γ beyond w: the finite tail bound is the exact lattice sum (mpmath), "
    "‖Γ - Γ_w‖₂ ≤ 2·tail_bound(w), Γ_w is positive definite whenever truncation_keeps_pd "
    "says so (Weyl), and the closed-form infinite-lattice tail bounds an independent "
    "mpmath sum + integral remainder from above.",
    r"\|\Gamma - \Gamma_w\|_2 \le 2\sum_{m>w}|\gamma(m)|,\quad "
    r"2\sum_{m>w}|\gamma(m)| < \lambda_{\min}(\Gamma) \Rightarrow \Gamma_w \succ 0",
    "derived",
    "the tail bound itself + rounding 16·H·u·max row sum; closed form vs independent lower "
    "enclosure with rounding 16·48·u",
    lambda: _kernel_window_any(64), check_truncation,
    requires=("ditgp.theory.truncation:tail_bound",), health_checks=SLOW,
    default_examples=50,
))
_register(Claim(
    "window-growth", 8,
    "The truncation window is sound and not lazy against an independent tail (mpmath sum + "
    "integral remainder) and grows with 1/δ as its decay class says, in both directions: "
    "exponential ~ (log 1/δ)^{1/ν}, polynomial ~ δ^{-1/(ν-1)}; non-summable kernels use the "
    "finite-H tail (at least the pointwise threshold).",
    r"w(\delta) \sim \left(\tfrac{\ln(1/\delta)}{c}\right)^{1/\nu},\; \delta^{-1/(\nu-1)};"
    r"\quad \sum_{w<m<H}|\gamma(m)| \le \delta",
    "paper",
    "the tail level δ itself (+ rounding); growth within WINDOW_GROWTH_SLACK = 4 of the class "
    "law in both directions; not lazy: the tail at w/4 exceeds δ",
    _any_kernel, check_window,
    requires=("ditgp.theory.truncation:window",), health_checks=SLOW, default_examples=25,
))
_register(Claim(
    "conditioning-decay", 10,
    "For summable kernels λ_max(Γ_H) and κ(Γ_H) stay bounded in H (uniform spectral bounds); "
    "for non-summable ones λ_max(Γ_H) is unbounded, growing at least at the rate of the "
    "decay law's partial sums.",
    r"\sum_m|\gamma(m)| < \infty \Rightarrow \sup_H \kappa(\Gamma_H) \le \frac{\max f}{\min f};"
    r"\quad \frac{\lambda_{\max}(\Gamma_{16H})}{\lambda_{\max}(\Gamma_H)} \ge "
    r"\frac{S(16H)}{4\,S(H)}",
    "derived",
    "eigvalsh backward error 16·H·u·max(upper, 1); growth ratio ≥ law ratio / 4 (derived)",
    lambda: _kernel_size_any(32), check_conditioning,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=SLOW,
    default_examples=50,
))
