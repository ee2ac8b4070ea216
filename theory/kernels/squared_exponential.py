"""Squared-exponential (RBF, Gaussian) kernel ``γ(m) = exp(-m²/(2ℓ²))``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import mpmath as mp
import sympy as sp
from ditgp.theory.kernels._rigorous import MP_DPS, positive_series_lower, round_down
from ditgp.theory.kernels.base import (
    OMEGA,
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    SymbolBound,
    W,
)

#: Summation index of the Poisson (theta) series of the symbol.
K_INDEX = sp.Symbol("k", integer=True)


def gaussian_theta_lower(ell: float) -> SymbolBound:
    """Rigorous lower bound on ``min f`` for ``γ(m) = exp(-m²/(2ℓ²))``.

    Poisson summation: ``f(ω) = Σ_k ĝ(ω+2πk)`` with ``ĝ(ξ) = ℓ√(2π) exp(-ℓ²ξ²/2)``.  With
    ``q = exp(-1/(2ℓ²))``,
    ``f(ω) = 1 + 2Σ q^{m²} cos(mω) = Π_n (1-q^{2n})(1+2q^{2n-1}cos ω+q^{4n-2})``
    (Jacobi triple product), every factor smallest at ``ω = π``; so
    ``min f = f(π) = 2 Σ_{j odd ≥ 1} ĝ(jπ)``, of which any partial sum is a lower bound.
    """
    with mp.workdps(MP_DPS):
        L = mp.mpf(ell)
        ghat = lambda xi: L * mp.sqrt(2 * mp.pi) * mp.exp(-L**2 * xi**2 / 2)
        value = 2 * positive_series_lower(lambda j: ghat(j * mp.pi), 1, 2)
    return SymbolBound(round_down(value), "poisson-theta",
                       "min f = f(π) = 2Σ_{j odd} ĝ(jπ) (Jacobi triple product), "
                       "ĝ(ξ) = ℓ√(2π)exp(-ℓ²ξ²/2); ≈ 2√(2π)ℓ·exp(-π²ℓ²/2)")


@dataclass(frozen=True)
class SquaredExponential(Kernel):
    """``γ(m) = exp(-m²/(2ℓ²))``.

    Exponential decay class (``ν = 2``, ``c = 1/(2ℓ²)``).  Positive definite for every
    ``ℓ > 0`` (Bochner): by Poisson summation the symbol is the theta series
    ``f(ω) = ℓ√(2π) Σ_{k∈Z} exp(-ℓ²(ω+2πk)²/2) > 0``.  Nearly singular: ``min f = f(π) ≈
    2√(2π)ℓ·exp(-π²ℓ²/2)`` (below float64 resolution from ``ℓ ≈ 3``).  Decreasing on
    ``x ≥ 0``, so the tail is at most ``γ(w+1) + ∫_{w+1}^∞ = γ(w+1) + ℓ√(π/2)·erfc((w+1)/(ℓ√2))``.
    """

    name: ClassVar[str] = "squared-exponential"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=2.0),
    )

    ell: float = 2.0

    def symbolic(self) -> sp.Expr:
        ell = self.symbols()["ell"]
        return sp.exp(-(M**2) / (2 * ell**2))

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "bochner",
                           "symbol = theta series ℓ√(2π)Σ_k exp(-ℓ²(ω+2πk)²/2) > 0 "
                           "(Poisson summation of the Gaussian)")

    def _ell(self) -> sp.Expr:
        return self.substitutions()[self.symbols()["ell"]]

    def envelope(self) -> sp.Expr:
        return self.expr()

    def tail_expr(self) -> sp.Expr:
        ell = self._ell()
        v = W + 1  # γ(w+1) + ∫_{w+1}^∞ γ(x) dx (γ decreasing)
        return self.expr().subs(M, v) + ell * sp.sqrt(sp.pi / 2) * sp.erfc(v / (ell * sp.sqrt(2)))

    def symbol_expr(self) -> sp.Expr:
        ell = self._ell()
        return ell * sp.sqrt(2 * sp.pi) * sp.Sum(
            sp.exp(-(ell**2) * (OMEGA + 2 * sp.pi * K_INDEX) ** 2 / 2), (K_INDEX, -sp.oo, sp.oo)
        )

    def symbol_min_bound(self) -> SymbolBound:
        return gaussian_theta_lower(self.ell)
