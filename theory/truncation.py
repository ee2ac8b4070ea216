"""Truncation of the temporal kernel to a window of gaps (docs/theory.md §5).

Attention only needs gaps ``m ≤ w``.  Zeroing ``γ(m)`` for ``m > w`` gives ``Γ_w`` with

    ‖Γ - Γ_w‖₂ ≤ ‖Γ - Γ_w‖_∞ ≤ 2 Σ_{m=w+1}^{H-1} |γ(m)| ≤ 2 Σ_{m>w} |γ(m)|     (row sums)

and ``Γ_w`` stays positive definite when this is below ``λ_min(Γ)`` (Weyl).  The tail bound
of each kernel is a closed form (geometric series) or an integral comparison
``Σ_{m>w} |γ(m)| ≤ ∫_w^∞ |γ(x)| dx`` valid where ``|γ|`` (or its envelope) is non-increasing
beyond ``w`` — each kernel's docstring says where.  Non-summable kernels (power law with
``ν ≤ 1``, rational quadratic with ``α ≤ 1/2``, logarithmic) have an infinite tail: only a
finite ``H`` gives a finite bound, and the window is then usually ``H - 1``.
"""

from __future__ import annotations

import math

import mpmath as mp
import numpy as np
import sympy as sp
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import Kernel
from ditgp.theory.kernels._rigorous import BOUND_RTOL, EPS, MP_DPS, ROUND_ULPS, round_up
from ditgp.theory.kernels.base import H_SYMBOL, DecayClass, W

__all__ = [
    "W",
    "DELTA",
    "C_RATE",
    "NU",
    "FINITE_SUM_MAX",
    "WINDOW_MAX",
    "tail_bound_expr",
    "tail_bound",
    "window",
    "window_asymptotic",
    "truncated_gap_bound",
    "truncated_matrix",
    "finite_tail",
    "infinite_tail",
]

#: With ``H`` given, tails over at most this many gaps are summed exactly (float64, fsum).
FINITE_SUM_MAX = 1_000_000
#: Largest window searched for a summable kernel without ``H``.
WINDOW_MAX = 1 << 62

#: Symbols of :func:`window_asymptotic`.
DELTA = sp.Symbol("delta", positive=True)
C_RATE = sp.Symbol("c", positive=True)
NU = sp.Symbol("nu", positive=True)


def _check_kernel(kernel) -> Kernel:
    if not isinstance(kernel, Kernel):
        raise SpecError("kernel", kernel, "a ditgp kernel")
    return kernel


def _check_int(name: str, value, low: int) -> int:
    ok = isinstance(value, int | np.integer) and not isinstance(value, bool) and value >= low
    if not ok:
        raise SpecError(name, value, f"an integer ≥ {low}")
    return int(value)


def _sum_rtol(count: int) -> float:
    """Relative allowance for a float64 sum of ``count`` non-negative evaluated terms."""
    return BOUND_RTOL + ROUND_ULPS * EPS * (count + 1)


def tail_bound_expr(kernel: Kernel) -> sp.Expr:
    """Upper bound on ``Σ_{m>w} |γ(m)|`` as a sympy expression in ``w`` (:data:`W`);
    ``sympy.oo`` for non-summable kernels (use :func:`tail_bound` with ``H``)."""
    return _check_kernel(kernel).tail_expr()


def infinite_tail(kernel: Kernel, w: int) -> float:
    expr = kernel.tail_expr()
    if expr == sp.oo:
        return math.inf
    value = sp.sympify(expr).subs(W, w).evalf(MP_DPS)
    if value == sp.oo or value.has(sp.zoo, sp.nan):
        return math.inf
    with mp.workdps(MP_DPS):
        return max(0.0, round_up(mp.mpf(value)))


def finite_tail(kernel: Kernel, w: int, H: int) -> float:
    values = np.abs(kernel.gamma(np.arange(w + 1, H, dtype=np.float64)))
    return math.fsum(values.tolist()) * (1 + _sum_rtol(values.size))


def tail_bound(kernel: Kernel, w: int, H: int | None = None) -> float:
    """Upper bound on ``Σ_{m=w+1}^{H-1} |γ(m)|`` (``H`` given) or ``Σ_{m>w} |γ(m)|``.

    With ``H`` the exact finite sum is used (tight; ``0`` when ``w ≥ H - 1``), else the
    kernel's closed-form / integral-comparison bound (``inf`` if not summable).
    """
    _check_kernel(kernel)
    w = _check_int("w", w, 0)
    if H is not None:
        H = _check_int("H", H, 1)
        if w >= H - 1:
            return 0.0
    bound = infinite_tail(kernel, w)
    if H is not None:
        if H - 1 - w <= FINITE_SUM_MAX:
            bound = min(bound, finite_tail(kernel, w, H))
        elif not kernel.summable:
            partial = kernel.partial_sum_expr().subs(H_SYMBOL, H).evalf(MP_DPS)
            with mp.workdps(MP_DPS):
                bound = min(bound, round_up(mp.mpf(partial)))
    return bound


def window(kernel: Kernel, delta: float, H: int | None = None) -> int:
    """Smallest ``w`` with ``tail_bound(kernel, w, H) ≤ delta`` (at most ``H - 1``)."""
    _check_kernel(kernel)
    if isinstance(delta, bool) or not isinstance(delta, int | float) or not (
        0 < float(delta) < math.inf
    ):
        raise SpecError("delta", delta, "a finite number > 0")
    delta = float(delta)
    if H is not None:
        H = _check_int("H", H, 1)
        if H - 1 <= FINITE_SUM_MAX:
            values = np.abs(kernel.gamma(np.arange(1, H, dtype=np.float64)))
            # tails[w] = Σ_{m=w+1}^{H-1} |γ(m)| for w = 0..H-1 (tails[H-1] = 0).
            tails = np.concatenate([np.cumsum(values[::-1])[::-1], [0.0]])
            tails *= 1 + _sum_rtol(values.size)
            return int(np.argmax(tails <= delta))
    elif not kernel.summable:
        raise SpecError("H", None, f"a number of frames: {kernel.describe()} is not summable "
                        "(infinite tail), so a window exists only for a finite H")
    cap = WINDOW_MAX if H is None else H - 1
    bound = lambda w: tail_bound(kernel, w, H)
    if bound(0) <= delta:
        return 0
    lo, hi = 0, 1
    while bound(hi) > delta:
        lo, hi = hi, 2 * hi
        if hi >= cap:
            hi = cap
            if bound(hi) > delta:
                raise SpecError("delta", delta, f"a tail reachable with a window ≤ {cap}")
            break
    while hi - lo > 1:  # invariant: bound(lo) > delta ≥ bound(hi)
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if bound(mid) > delta else (lo, mid)
    return hi


def window_asymptotic(decay_class: DecayClass | str) -> sp.Expr:
    """The window size (docs/theory.md §5) for tail ``≤ δ`` per decay class (up to constants), in the
    symbols ``delta``, ``c``, ``nu``: exponential ``(ln(1/δ)/c)^{1/ν}``, polynomial
    ``δ^{-1/(ν-1)}``, logarithmic ``exp(δ^{-1/ν})``."""
    try:
        cls = DecayClass(decay_class)
    except ValueError:
        raise SpecError("decay_class", decay_class,
                        "one of " + ", ".join(c.value for c in DecayClass)) from None
    if cls is DecayClass.EXPONENTIAL:
        return (sp.log(1 / DELTA) / C_RATE) ** (1 / NU)
    if cls is DecayClass.POLYNOMIAL:
        return DELTA ** (-1 / (NU - 1))
    return sp.exp(DELTA ** (-1 / NU))


def truncated_gap_bound(kernel: Kernel, w: int, H: int | None = None) -> float:
    """Upper bound ``2·tail`` on ``‖Γ_H - Γ_{H,w}‖₂`` (row-sum bound)."""
    return 2.0 * tail_bound(kernel, w, H)


def truncated_matrix(kernel: Kernel, w: int, H: int) -> np.ndarray:
    """``Γ_w``: the ``H × H`` kernel matrix with gaps ``m > w`` zeroed (float64)."""
    w = _check_int("w", w, 0)
    mat = _check_kernel(kernel).matrix(H)
    idx = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    mat[idx > w] = 0.0
    return mat
