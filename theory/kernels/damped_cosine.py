"""Damped-cosine kernel ``γ(m) = exp(-m/ℓ) cos(ωm)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp
from ditgp.theory.kernels.base import (
    OMEGA,
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    SymbolBound,
)
from ditgp.theory.kernels.laplace import Laplace, geometric_symbol


@dataclass(frozen=True)
class DampedCosine(Kernel):
    """``γ(m) = exp(-m/ℓ)·cos(ω_c m)`` (parameter ``omega`` = ``ω_c``, radians per frame).

    Exponential decay class (envelope ``exp(-m/ℓ)``).  Positive definite for **every**
    ``ω_c`` (Schur): it is the entrywise product of the Laplace kernel (PD) and
    ``cos(ω_c m)`` (PSD: ``cos(ω_c(h-j)) = Re e^{iω_c h} e^{-iω_c j}``, rank ≤ 2).  Its symbol
    is ``½[P(ω-ω_c) + P(ω+ω_c)]`` with ``P`` the Laplace (Poisson-kernel) symbol, so every
    eigenvalue lies in ``[tanh(1/(2ℓ)), coth(1/(2ℓ))]``.  On the lattice ``ω_c`` and
    ``2π-ω_c`` give the same kernel.  Tail ``≤ ρ^{w+1}/(1-ρ)``, ``ρ = exp(-1/ℓ)``.
    """

    name: ClassVar[str] = "damped-cosine"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
        Param("omega", "oscillation frequency in radians per frame", low=0.0, low_open=False,
              default=0.5, symbol_name="omega_c"),
    )

    ell: float = 4.0
    omega: float = 0.5

    def symbolic(self) -> sp.Expr:
        s = self.symbols()
        return sp.exp(-M / s["ell"]) * sp.cos(s["omega"] * M)

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "schur",
                           "Laplace exp(-m/ℓ) (PD) × cos(ω m) (PSD, rank ≤ 2): Schur product")

    def _laplace(self) -> Laplace:
        return Laplace(ell=self.ell)

    def envelope(self) -> sp.Expr:
        return self._laplace().expr()

    def tail_expr(self) -> sp.Expr:
        return self._laplace().tail_expr()

    def symbol_expr(self) -> sp.Expr:
        s = self.symbols()
        sub = self.substitutions()
        rho = sp.exp(-1 / sub[s["ell"]])
        w = sub[s["omega"]]
        return (geometric_symbol(rho, OMEGA - w) + geometric_symbol(rho, OMEGA + w)) / 2

    def symbol_min_bound(self) -> SymbolBound:
        b = self._laplace().symbol_min_bound()
        return SymbolBound(b.value, "schur", "λ_min ≥ λ_min(Laplace)·min diag(cos) = tanh(1/(2ℓ))")

    def symbol_max_bound(self) -> SymbolBound:
        b = self._laplace().symbol_max_bound()
        return SymbolBound(b.value, "schur", "λ_max ≤ λ_max(Laplace)·max diag(cos) = coth(1/(2ℓ))")
