"""Laplace / Ornstein–Uhlenbeck kernel ``γ(m) = exp(-m/ℓ)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import mpmath as mp
import sympy as sp
from ditgp.theory.kernels._rigorous import MP_DPS, round_down, round_up
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


def geometric_symbol(rho: sp.Expr, omega: sp.Expr = OMEGA) -> sp.Expr:
    """Poisson kernel ``Σ_{m∈Z} ρ^|m| e^{imω} = (1-ρ²)/(1 - 2ρ cos ω + ρ²)``."""
    return (1 - rho**2) / (1 - 2 * rho * sp.cos(omega) + rho**2)


@dataclass(frozen=True)
class Laplace(Kernel):
    """``γ(m) = exp(-m/ℓ)``, i.e. ``ρ^m`` with ``ρ = exp(-1/ℓ)`` (AR(1) / OU in discrete time).

    Exponential decay class (``ν = 1``, ``c = 1/ℓ``).  Valid for every ``ℓ > 0``: the
    symbol ``f(ω) = (1-ρ²)/(1 - 2ρ cos ω + ρ²)`` is positive (Bochner), and the sequence is
    convex, decreasing and vanishing (Pólya).  Spectrum of every ``Γ_H`` inside
    ``[(1-ρ)/(1+ρ), (1+ρ)/(1-ρ)] = [tanh(1/(2ℓ)), coth(1/(2ℓ))]``; tail
    ``Σ_{m>w} ρ^m = ρ^{w+1}/(1-ρ)`` (exact).
    """

    name: ClassVar[str] = "laplace"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
    )

    ell: float = 4.0

    def symbolic(self) -> sp.Expr:
        ell = self.symbols()["ell"]
        return sp.exp(-M / ell)

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    def certificate(self) -> Certificate:
        return Certificate(
            True,
            "bochner",
            "symbol f(ω) = (1-ρ²)/(1-2ρcos ω+ρ²) > 0 with ρ = exp(-1/ℓ) < 1",
        )

    # -- bounds --------------------------------------------------------------------------
    @property
    def completely_monotone(self) -> bool:
        return True

    def _rho(self) -> sp.Expr:
        return sp.exp(-1 / self.substitutions()[self.symbols()["ell"]])

    def envelope(self) -> sp.Expr:
        return self.expr()

    def tail_expr(self) -> sp.Expr:
        rho = self._rho()
        return rho ** (W + 1) / (1 - rho)

    def symbol_expr(self) -> sp.Expr:
        return geometric_symbol(self._rho())

    def symbol_min_bound(self) -> SymbolBound:
        with mp.workdps(MP_DPS):
            value = mp.tanh(1 / (2 * mp.mpf(self.ell)))
        return SymbolBound(round_down(value), "closed-form",
                           "min f = f(π) = (1-ρ)/(1+ρ) = tanh(1/(2ℓ))")

    def symbol_max_bound(self) -> SymbolBound:
        with mp.workdps(MP_DPS):
            value = mp.coth(1 / (2 * mp.mpf(self.ell)))
        return SymbolBound(round_up(value), "closed-form",
                           "max f = f(0) = (1+ρ)/(1-ρ) = coth(1/(2ℓ))")
