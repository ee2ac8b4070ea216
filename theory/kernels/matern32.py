"""Matérn-3/2 kernel ``γ(m) = (1 + √3 m/ℓ) exp(-√3 m/ℓ)``."""

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


def matern_symbol(a: sp.Expr, coefficients: tuple[sp.Expr, ...]) -> sp.Expr:
    """Symbol of ``γ(m) = (Σ_k c_k (a m)^k) e^{-a m}`` on the lattice.

    With ``ρ = e^{-a}`` and ``D = ρ ∂/∂ρ``, ``Σ_{m∈Z} |m|^k ρ^|m| e^{imω} = D^k P(ρ, ω)`` where
    ``P = (1-ρ²)/(1-2ρ cos ω+ρ²)`` is the Poisson kernel (differentiate the geometric series).
    """
    rho = sp.Symbol("rho", positive=True)
    term = (1 - rho**2) / (1 - 2 * rho * sp.cos(OMEGA) + rho**2)
    total = sp.Integer(0)
    for k, c in enumerate(coefficients):
        total += c * a**k * term
        term = sp.together(rho * sp.diff(term, rho))
    return total.subs(rho, sp.exp(-a))


def matern_poisson_lower(a: float, nu_half_odd: int) -> SymbolBound:
    """``min f ≥ Σ_{j≥1} ĝ(jπ)`` for the Matérn spectral density ``ĝ`` (positive, decreasing
    in ``|ξ|``): of the aliases ``ω + 2πk`` of ``ω ∈ [0, π]`` the j-th nearest to 0 has
    ``|ξ| ≤ jπ``.  ``nu_half_odd`` is ``2ν`` (3 or 5)."""
    with mp.workdps(MP_DPS):
        aa = mp.mpf(a)
        if nu_half_odd == 3:
            ghat = lambda xi: 4 * aa**3 / (aa**2 + xi**2) ** 2
        else:
            ghat = lambda xi: mp.mpf(16) / 3 * aa**5 / (aa**2 + xi**2) ** 3
        value = positive_series_lower(lambda j: ghat(j * mp.pi), 1, 1)
    return SymbolBound(round_down(value), "poisson-aliasing",
                       "f(ω) = Σ_k ĝ(ω+2πk) ≥ Σ_{j≥1} ĝ(jπ), ĝ the Matérn spectral density")


@dataclass(frozen=True)
class Matern32(Kernel):
    """``γ(m) = (1 + a m) e^{-a m}`` with ``a = √3/ℓ`` (Matérn, smoothness ``ν = 3/2``).

    Exponential decay class (envelope ``(2/√e)·exp(-a m/2)``).  Positive definite for every
    ``ℓ > 0`` (Bochner): it is the restriction to Z of the Matérn covariance on R, whose
    spectral density ``ĝ(ξ) = 4a³/(a²+ξ²)²`` is positive, so the lattice symbol
    ``f(ω) = Σ_k ĝ(ω+2πk)`` is positive.  Closed-form symbol ``P + a·ρ∂_ρP`` (``P`` the
    Poisson kernel, ``ρ = e^{-a}``).  ``(1+ax)e^{-ax}`` is decreasing for ``x ≥ 0``, so the tail
    is bounded by ``γ(w+1) + ∫_{w+1}^∞``, ``∫_v^∞ = e^{-av}(2+av)/a``, for every ``w ≥ 0``.
    """

    name: ClassVar[str] = "matern32"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
    )

    ell: float = 4.0

    def symbolic(self) -> sp.Expr:
        a = sp.sqrt(3) / self.symbols()["ell"]
        return (1 + a * M) * sp.exp(-a * M)

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "bochner",
                           "restriction of the Matérn-3/2 covariance on R; spectral density "
                           "ĝ(ξ) = 4a³/(a²+ξ²)² > 0 with a = √3/ℓ")

    def _a(self) -> sp.Expr:
        return (sp.sqrt(3) / self.symbols()["ell"]).subs(self.substitutions())

    def envelope(self) -> sp.Expr:
        return 2 / sp.sqrt(sp.E) * sp.exp(-self._a() * M / 2)

    def tail_expr(self) -> sp.Expr:
        a = self._a()
        v = W + 1  # γ(w+1) + ∫_{w+1}^∞ γ(x) dx (γ decreasing)
        return self.expr().subs(M, v) + sp.exp(-a * v) * (2 + a * v) / a

    def symbol_expr(self) -> sp.Expr:
        return matern_symbol(self._a(), (1, 1))

    def symbol_min_bound(self) -> SymbolBound:
        return matern_poisson_lower(float(self._a()), 3)
