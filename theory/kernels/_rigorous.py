"""Private numerical helpers for *rigorous* bounds (certificates, spectral bounds, tails).

Everything here returns one-sided bounds: a value rounded *down* when it is a lower bound
and *up* when it is an upper bound, with the safety margins named below.  High-precision
work is done in mpmath; float64 is used only where an explicit rounding term is added.

The two workhorses:

* :func:`cm_symbol_min` — for a completely monotone sequence ``γ(m) = ∫ r^m dμ(r)`` the
  minimum of the symbol is ``f(π) = 2 Σ_{m≥0} (-1)^m γ(m) - γ(0)`` (Abel sum; ``γ(0)`` is
  the total mass of ``μ``, which is 1 only for correlation kernels — composites such as
  ``2·laplace`` have ``γ(0) = 2``).  The Euler
  transform ``Σ (-1)^m a_m = Σ_k b_k / 2^{k+1}`` with ``b_k = ((-Δ)^k a)_0 = ∫ (1-r)^k dμ``
  has non-negative, non-increasing terms, so its partial sums are lower bounds and the
  remainder after ``K`` terms is at most ``b_{K+1} / 2^{K+1}``.
* :func:`certified_symbol_min` — for any summable kernel: the trigonometric polynomial
  ``f_M(ω) = 1 + 2 Σ_{m≤M} γ(m) cos(mω)`` on a uniform grid of ``[0, π]``; on each cell
  ``f_M ≥ min(endpoints) - L₂ h²/8`` with ``L₂ = 2 Σ m² |γ(m)| ≥ sup |f_M''|``, and
  ``|f - f_M| ≤ 2 Σ_{m>M} |γ(m)|``, plus a float64 rounding term.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mpmath as mp
import numpy as np
import sympy as sp
from ditgp.theory.bridge import to_mpmath

__all__ = [
    "BOUND_RTOL",
    "MP_DPS",
    "EULER_TERMS",
    "GRID_POINTS",
    "ROUND_ULPS",
    "round_down",
    "round_up",
    "mp_function",
    "cm_symbol_min",
    "SymbolMin",
    "certified_symbol_min",
]

#: Relative safety margin when a high-precision value is rounded to float64 for a bound.
BOUND_RTOL = 1e-12
#: Decimal digits of the mpmath working precision for bounds.
MP_DPS = 50
#: Terms of the Euler transform for completely monotone kernels.
EULER_TERMS = 120
#: Grid points on ``[0, π]`` for the numerical symbol certificate.
GRID_POINTS = 1 << 14
#: Float64 rounding allowance per term in a float64 sum, in units of machine epsilon.
ROUND_ULPS = 4.0
#: Rows of the cosine table evaluated at once in :func:`certified_symbol_min`.
_CHUNK = 1024
#: The float64 machine epsilon.
EPS = float(np.finfo(np.float64).eps)


def round_down(x) -> float:
    """A float64 ``≤ x`` (``x`` an mpmath or Python number)."""
    v = float(x)
    if math.isnan(v):
        raise ValueError("cannot round NaN")
    if v > 0:
        return v * (1.0 - BOUND_RTOL)
    if v < 0:
        return v * (1.0 + BOUND_RTOL)
    return 0.0 if x >= 0 else -float(np.nextafter(0.0, 1.0))


def round_up(x) -> float:
    """A float64 ``≥ x`` (``x`` an mpmath or Python number)."""
    return -round_down(-x)


def mp_function(expr: sp.Expr, arg: sp.Symbol):
    """``expr`` as an mpmath function of one argument (evaluated at the current precision)."""
    fn = to_mpmath(sp.sympify(expr), [arg])
    return lambda x: mp.mpf(fn(mp.mpf(x))) if not isinstance(x, mp.mpf) else mp.mpf(fn(x))


def cm_symbol_min(gamma_mp, terms: int = EULER_TERMS) -> tuple[float, float]:
    """Rigorous ``(lower, upper)`` float bounds on ``f(π) = 2 Σ_{m≥0} (-1)^m γ(m) - γ(0)``.

    Valid for completely monotone ``γ`` (``γ(m) = ∫_{[0,1)} r^m dμ``, any mass
    ``μ([0,1)) = γ(0) > 0``), for which ``f(π) = ∫ (1-r)/(1+r) dμ = min_ω f(ω)`` bounds
    every eigenvalue of every ``Γ_H`` from below (each geometric component has
    ``λ ≥ (1-r)/(1+r)``).  ``gamma_mp`` maps an mpf gap to an mpf value.
    """
    dps = MP_DPS + int(terms * math.log10(2.0)) + 10
    with mp.workdps(dps):
        row = [gamma_mp(mp.mpf(m)) for m in range(terms + 2)]
        g0 = row[0]
        total = mp.mpf(0)
        b_next = mp.mpf(0)
        for k in range(terms + 2):
            b = row[0]
            # k-th differences lose about k·log10(2) digits: below that noise b_k is 0.
            noise = mp.mpf(2) ** k * mp.mpf(10) ** (-(dps - 5))
            if b < -noise:
                raise ValueError(f"Euler-transform term b_{k}={mp.nstr(b, 5)} < 0: not CM")
            b = max(b, mp.mpf(0))
            if k <= terms:
                total += b / mp.mpf(2) ** (k + 1)
            else:
                b_next = max(b, mp.mpf(0))
            row = [row[i] - row[i + 1] for i in range(len(row) - 1)]
        lower = 2 * total - g0
        upper = 2 * (total + b_next / mp.mpf(2) ** (terms + 1)) - g0
        return round_down(lower), round_up(upper)


@dataclass(frozen=True)
class SymbolMin:
    """Result of :func:`certified_symbol_min`: ``lower ≤ min f ≤ upper``, near ``omega``."""

    lower: float
    upper: float
    omega: float
    error: float


def certified_symbol_min(coeffs: np.ndarray, tail_sum: float,
                         points: int = GRID_POINTS) -> SymbolMin:
    """Certified enclosure of ``min_{ω∈[0,π]} f(ω)`` for ``f = 1 + 2 Σ_{m≥1} γ(m) cos(mω)``.

    ``coeffs[m-1] = γ(m)`` for ``m = 1..M`` and ``tail_sum ≥ Σ_{m>M} |γ(m)|``.
    """
    c = np.asarray(coeffs, dtype=np.float64)
    m = np.arange(1, c.size + 1, dtype=np.float64)
    omega = np.linspace(0.0, math.pi, points)
    h = math.pi / (points - 1)
    values = np.ones(points)
    for start in range(0, points, _CHUNK):  # bounded memory: (chunk, M) cosines at a time
        block = omega[start:start + _CHUNK]
        values[start:start + _CHUNK] += 2.0 * (np.cos(np.outer(block, m)) @ c)
    abs_sum = 1.0 + 2.0 * float(np.sum(np.abs(c)))
    rounding = ROUND_ULPS * (c.size + 2) * EPS * abs_sum
    curvature = 2.0 * float(np.sum(m * m * np.abs(c)))
    truncation = 2.0 * tail_sum
    i = int(np.argmin(values))
    grid_min = float(values[i])
    error = curvature * h * h / 8.0 + truncation + rounding
    upper = grid_min + truncation + rounding
    return SymbolMin(lower=round_down(grid_min - error), upper=round_up(upper),
                     omega=float(omega[i]), error=error)


#: Most terms summed in a positive series (Poisson/aliasing sums) before stopping.
SERIES_TERMS = 4000


def positive_series_lower(term, start: int, step: int) -> mp.mpf:
    """Partial sum of a series of *positive* terms ``term(j)``, ``j = start, start+step, …``:
    a lower bound of the full sum (stops when a term is below the working precision)."""
    total = mp.mpf(0)
    j = start
    for _ in range(SERIES_TERMS):
        t = term(mp.mpf(j))
        total += t
        if t <= total * mp.mpf(10) ** (-mp.mp.dps):
            break
        j += step
    return total
