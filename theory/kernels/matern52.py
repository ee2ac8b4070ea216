"""Matérn-5/2 kernel ``γ(m) = (1 + √5 m/ℓ + 5m²/(3ℓ²)) exp(-√5 m/ℓ)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp
from ditgp.theory.kernels.base import Certificate, DecayClass, Kernel, M, Param, SymbolBound, W
from ditgp.theory.kernels.matern32 import matern_poisson_lower, matern_symbol

#: ``u* = (1+√13)/2`` maximises ``(1+u+u²/3) e^{-u/2}``: the envelope constant's argument.
_U_STAR = (1 + sp.sqrt(13)) / 2


@dataclass(frozen=True)
class Matern52(Kernel):
    """``γ(m) = (1 + a m + a²m²/3) e^{-a m}`` with ``a = √5/ℓ`` (Matérn, ``ν = 5/2``).

    Exponential decay class (envelope ``C·exp(-a m/2)``, ``C = (1+u*+u*²/3)e^{-u*/2} ≈ 1.60``,
    ``u* = (1+√13)/2``).  Positive definite for every ``ℓ > 0`` (Bochner): restriction to Z
    of the Matérn covariance on R with spectral density ``ĝ(ξ) = (16/3)a⁵/(a²+ξ²)³ > 0``.
    Closed-form symbol ``P + a·DP + (a²/3)·D²P`` (``D = ρ∂_ρ``, ``P`` the Poisson kernel).
    ``γ`` is decreasing on ``x ≥ 0`` (``γ' = -(a²x/3)(1+ax)e^{-ax}``), so the tail is bounded
    by ``γ(w+1) + ∫_{w+1}^∞``, ``∫_v^∞ = e^{-av}(8 + 5av + a²v²)/(3a)``, for every ``w ≥ 0``.
    """

    name: ClassVar[str] = "matern52"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
    )

    ell: float = 4.0

    def symbolic(self) -> sp.Expr:
        a = sp.sqrt(5) / self.symbols()["ell"]
        return (1 + a * M + a**2 * M**2 / 3) * sp.exp(-a * M)

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "bochner",
                           "restriction of the Matérn-5/2 covariance on R; spectral density "
                           "ĝ(ξ) = (16/3)a⁵/(a²+ξ²)³ > 0 with a = √5/ℓ")

    def _a(self) -> sp.Expr:
        return (sp.sqrt(5) / self.symbols()["ell"]).subs(self.substitutions())

    def envelope(self) -> sp.Expr:
        c = (1 + _U_STAR + _U_STAR**2 / 3) * sp.exp(-_U_STAR / 2)
        return c * sp.exp(-self._a() * M / 2)

    def tail_expr(self) -> sp.Expr:
        a = self._a()
        v = W + 1  # γ(w+1) + ∫_{w+1}^∞ γ(x) dx (γ decreasing)
        return self.expr().subs(M, v) + sp.exp(-a * v) * (8 + 5 * a * v + a**2 * v**2) / (3 * a)

    def symbol_expr(self) -> sp.Expr:
        return matern_symbol(self._a(), (1, 1, sp.Rational(1, 3)))

    def symbol_min_bound(self) -> SymbolBound:
        return matern_poisson_lower(float(self._a()), 5)
