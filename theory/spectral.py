"""Spectral bounds on the temporal kernel matrix (docs/theory.md §4).

For stationary ``γ``, every eigenvalue of every finite ``Γ_H`` lies in ``[min f, max f]`` of
the symbol ``f(ω) = Σ_{m∈Z} γ(|m|) e^{imω}`` (Szegő / Grenander); Gershgorin gives
``λ_max ≤ γ(0) + 2 Σ_{m≥1} |γ(m)|``.  :func:`eigenvalue_bounds` returns *rigorous* bounds:

* lower — the best of the kernel's own bound (closed-form minimum, Poisson/theta series,
  Schur, numerical symbol certificate), the Euler-transform bound on the Abel sum
  ``f(π) = 2Σ_{m≥0}(-1)^m γ(m) - γ(0)`` for completely monotone kernels (any ``γ(0)``:
  composites such as ``2·laplace`` are completely monotone with ``γ(0) = 2``), and for composites Weyl
  (sums: ``Σ λ_min``) or Schur (products: ``λ_min(A∘B) ≥ λ_min(A)·min diag B``); a
  summable kernel without any of these falls back to the numerical symbol certificate,
  otherwise ``0`` with a note;
* upper — the closed-form maximum where known, else Gershgorin ``γ(0) + 2Σ|γ(m)|`` (exact
  partial sum plus a rigorous tail).  These hold for every ``H`` (``uniform``).
  Non-summable kernels have no uniform upper bound: ``upper = inf`` without ``H``; with ``H``
  the exact row sum ``γ(0) + 2Σ_{m=1}^{H-1}|γ(m)|``; :func:`upper_bound_expr` gives a
  closed-form bound as a function of ``H``.

Values that underflow float64 (smooth kernels are nearly singular: ``λ_min`` of the squared
exponential at ``ℓ = 3`` is ~1e-18) are computed in mpmath and rounded *down*, never up.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import Kernel
from ditgp.theory.kernels._rigorous import (
    certified_symbol_min,
    cm_symbol_min,
    round_down,
    round_up,
)
from ditgp.theory.kernels.base import H_SYMBOL, DecayClass, M, SymbolBound
from ditgp.theory.kernels.composite import ProductKernel, ScaledKernel, SumKernel, gamma0
from ditgp.theory.truncation import FINITE_SUM_MAX, finite_tail, infinite_tail, truncated_gap_bound

__all__ = [
    "GERSHGORIN_TERMS",
    "NUMERIC_TAIL",
    "EigenvalueBounds",
    "symbol",
    "eigenvalue_bounds",
    "upper_bound_expr",
    "kappa_bound",
    "truncation_keeps_pd",
]

#: Gershgorin sums add this many exact terms before the kernel's tail bound.
GERSHGORIN_TERMS = 4096
#: The numerical symbol fallback truncates where the tail bound is below this.
NUMERIC_TAIL = 1e-20
#: At most this many terms in the numerical symbol fallback.
NUMERIC_MAX_TERMS = 2000
#: Lower-bound methods known to be loose (up to ~2×): the numerical symbol certificate is
#: also tried for fast-decaying kernels whose best bound comes from one of these.
LOOSE_METHODS = frozenset({"poisson-aliasing", "schur", "weyl"})


@dataclass(frozen=True)
class EigenvalueBounds:
    """``lower ≤ λ ≤ upper`` for every eigenvalue ``λ`` of ``Γ_H`` (of every ``Γ_H`` when
    ``uniform``); ``H`` is the size they were computed for (``None``: all sizes)."""

    lower: float
    upper: float
    uniform: bool
    method_lower: str
    method_upper: str
    note: str
    H: int | None = None

    @property
    def kappa(self) -> float:
        """``upper / lower`` (``inf`` when the lower bound is 0)."""
        if self.lower <= 0 or math.isinf(self.upper):
            return math.inf
        return round_up(self.upper / self.lower)

    def to_dict(self) -> dict:
        return asdict(self)


def symbol(kernel: Kernel) -> sp.Expr | None:
    """Closed form of ``f(ω)`` (symbol ``OMEGA``), or ``None`` where none is known.

    Laplace/Matérn-1/2: the Poisson kernel ``(1-ρ²)/(1-2ρcos ω+ρ²)`` (geometric series);
    Matérn-3/2, 5/2: ``ρ∂_ρ`` derivatives of it; damped cosine: the average of two shifted
    Poisson kernels; squared exponential: the theta series
    ``ℓ√(2π) Σ_k exp(-ℓ²(ω+2πk)²/2)`` (Poisson summation; an unevaluated ``Sum``);
    positive sums and scalings of these.
    """
    if not isinstance(kernel, Kernel):
        raise SpecError("kernel", kernel, "a ditgp kernel")
    return kernel.symbol_expr()


def _g0(kernel: Kernel) -> float:
    return float(gamma0(kernel))


def _numeric_lower(kernel: Kernel) -> SymbolBound | None:
    if not kernel.summable:
        return None
    terms = 1
    while infinite_tail(kernel, terms) > NUMERIC_TAIL and terms < NUMERIC_MAX_TERMS:
        terms *= 2
    terms = min(terms, NUMERIC_MAX_TERMS)
    coeffs = kernel.gamma(np.arange(1, terms + 1)) / _g0(kernel)
    sm = certified_symbol_min(coeffs, infinite_tail(kernel, terms) / _g0(kernel))
    return SymbolBound(max(0.0, round_down(sm.lower * _g0(kernel))), "numeric-symbol",
                       f"certified grid minimum of the symbol (error {sm.error:.3g})")


@lru_cache(maxsize=256)
def _lower(kernel: Kernel) -> SymbolBound:
    candidates: list[SymbolBound] = []
    if isinstance(kernel, ScaledKernel):
        b = _lower(kernel.base)
        candidates.append(SymbolBound(round_down(kernel.scale * b.value), b.method,
                                      f"scale {kernel.scale:g} × ({b.note})"))
    elif isinstance(kernel, SumKernel):
        parts = [_lower(t) for t in kernel.terms]
        candidates.append(SymbolBound(round_down(sum(p.value for p in parts)), "weyl",
                                      "λ_min(ΣΓ_i) ≥ Σ λ_min(Γ_i): " + "; ".join(
                                          p.method for p in parts)))
    elif isinstance(kernel, ProductKernel):
        g0 = [_g0(f) for f in kernel.factors]
        for i, f in enumerate(kernel.factors):
            b = _lower(f)
            others = math.prod(g for j, g in enumerate(g0) if j != i)
            candidates.append(SymbolBound(round_down(b.value * others), "schur",
                                          f"λ_min ≥ λ_min({f.describe()})·Π other γ(0) "
                                          f"[{b.method}]"))
    else:
        own = kernel.symbol_min_bound()
        if own is not None:
            candidates.append(own)
    if kernel.completely_monotone:
        low, _ = cm_symbol_min(kernel.gamma_mp)
        candidates.append(SymbolBound(max(0.0, low), "complete-monotonicity",
                                      "min f = f(π) = γ(0)+2Σ_{m≥1}(-1)^mγ(m) (Abel sum), lower "
                                      "bound "
                                      "from the Euler transform (non-negative terms)"))
    loose = not candidates or max(c.value for c in candidates) <= 0 or all(
        c.method in LOOSE_METHODS for c in candidates)
    if loose and kernel.decay_class is DecayClass.EXPONENTIAL or not candidates:
        numeric = _numeric_lower(kernel)
        if numeric is not None:
            candidates.append(numeric)
    if not candidates:
        return SymbolBound(0.0, "none", "no lower bound known beyond positive semi-definiteness")
    return max(candidates, key=lambda b: b.value)


def _gershgorin(kernel: Kernel) -> float:
    """``γ(0) + 2Σ_{m≥1}|γ(m)|``: exact first terms plus the kernel's tail bound."""
    if not kernel.summable:
        return math.inf
    head = finite_tail(kernel, 0, GERSHGORIN_TERMS + 1)
    return round_up(_g0(kernel) + 2 * (head + infinite_tail(kernel, GERSHGORIN_TERMS)))


@lru_cache(maxsize=256)
def _upper(kernel: Kernel) -> SymbolBound:
    """A uniform (every-H) upper bound; ``inf`` for non-summable kernels."""
    candidates: list[SymbolBound] = []
    if isinstance(kernel, ScaledKernel):
        b = _upper(kernel.base)
        candidates.append(SymbolBound(round_up(kernel.scale * b.value), b.method,
                                      f"scale {kernel.scale:g} × ({b.note})"))
    elif isinstance(kernel, SumKernel):
        parts = [_upper(t) for t in kernel.terms]
        candidates.append(SymbolBound(round_up(sum(p.value for p in parts)), "weyl",
                                      "λ_max(ΣΓ_i) ≤ Σ λ_max(Γ_i)"))
    elif isinstance(kernel, ProductKernel):
        g0 = [_g0(f) for f in kernel.factors]
        for i, f in enumerate(kernel.factors):
            b = _upper(f)
            others = math.prod(g for j, g in enumerate(g0) if j != i)
            candidates.append(SymbolBound(round_up(b.value * others), "schur",
                                          f"λ_max ≤ λ_max({f.describe()})·Π other γ(0)"))
    else:
        own = kernel.symbol_max_bound()
        if own is not None:
            candidates.append(own)
    candidates.append(SymbolBound(_gershgorin(kernel), "gershgorin",
                                  "γ(0) + 2Σ_{m≥1}|γ(m)| (exact head + tail bound)"))
    return min(candidates, key=lambda b: b.value)


def eigenvalue_bounds(kernel: Kernel, H: int | None = None) -> EigenvalueBounds:
    """Rigorous bounds on every eigenvalue of ``Γ_H`` (of every ``Γ_H`` when ``uniform``).

    Summable kernels get uniform bounds whatever ``H`` is; for non-summable ones ``uniform``
    is False and the upper bound is ``inf`` without ``H``, the exact row sum with ``H``.
    """
    if not isinstance(kernel, Kernel):
        raise SpecError("kernel", kernel, "a ditgp kernel")
    if H is not None and (isinstance(H, bool) or not isinstance(H, int | np.integer) or H < 1):
        raise SpecError("H", H, "an integer ≥ 1")
    H = None if H is None else int(H)
    lo = _lower(kernel)
    up = _upper(kernel)
    uniform = not math.isinf(up.value)
    notes = [lo.note, up.note]
    if H is not None and not uniform:  # non-summable: the bound is a function of H
        if H - 1 <= FINITE_SUM_MAX:
            finite = round_up(_g0(kernel) + 2 * finite_tail(kernel, 0, H))
            up = SymbolBound(finite, "gershgorin-finite",
                             f"γ(0) + 2Σ_{{m=1}}^{{H-1}}|γ(m)| for H={H} (exact row sum)")
            notes[1] = up.note
        else:
            value = upper_bound_expr(kernel).subs(H_SYMBOL, H).evalf(30)
            up = SymbolBound(round_up(float(value)), "integral-comparison",
                             f"H-dependent row-sum bound at H={H}")
            notes[1] = up.note
    if math.isinf(up.value):
        notes.append("not summable: λ_max(Γ_H) grows with H; give H or use upper_bound_expr")
    return EigenvalueBounds(lower=lo.value, upper=up.value, uniform=uniform,
                            method_lower=lo.method, method_upper=up.method,
                            note="; ".join(notes), H=H)


def upper_bound_expr(kernel: Kernel) -> sp.Expr:
    """Upper bound on ``λ_max(Γ_H)`` as a sympy expression in ``H`` (``H_SYMBOL``):
    ``γ(0) + 2·B(H)`` with ``B(H) ≥ Σ_{m=1}^{H-1}|γ(m)|`` from each kernel's integral
    comparison; constant in ``H`` for summable kernels."""
    if not isinstance(kernel, Kernel):
        raise SpecError("kernel", kernel, "a ditgp kernel")
    return kernel.expr().subs(M, 0) + 2 * kernel.partial_sum_expr()


def kappa_bound(kernel: Kernel, H: int | None = None) -> float:
    """Upper bound on the condition number ``κ(Γ_H)``: ``upper / lower`` (``inf`` if the
    lower bound is 0 or the kernel is not summable and ``H`` is not given)."""
    return eigenvalue_bounds(kernel, H).kappa


def truncation_keeps_pd(kernel: Kernel, w: int, H: int) -> bool:
    """Whether Weyl's inequality proves ``Γ_w`` positive definite:
    ``2·tail(w, H) < lower eigenvalue bound of Γ_H``."""
    if isinstance(H, bool) or not isinstance(H, int | np.integer) or H < 1:
        raise SpecError("H", H, "an integer ≥ 1")
    H = int(H)
    return truncated_gap_bound(kernel, w, H) < eigenvalue_bounds(kernel, H).lower
