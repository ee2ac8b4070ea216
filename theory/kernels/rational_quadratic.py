"""Rational-quadratic kernel ``γ(m) = (1 + m²/(2αℓ²))^(-α)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import mpmath as mp
import sympy as sp
from ditgp.theory.kernels._rigorous import MP_DPS, positive_series_lower, round_down
from ditgp.theory.kernels.base import (
    H_SYMBOL,
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    SymbolBound,
    W,
)

#: Largest supported shape α (see the parameter declaration).
MAX_ALPHA = 100.0


@dataclass(frozen=True)
class RationalQuadratic(Kernel):
    """``γ(m) = (1 + m²/b)^(-α)`` with ``b = 2αℓ²``, ``α > 0`` (Cauchy for ``α = 1``).

    Polynomial decay class with exponent ``2α`` (envelope ``(2·max(1,b))^α (1+m)^(-2α)``);
    summable iff ``α > 1/2``.  Positive definite for every ``ℓ, α > 0`` (Bochner): it is a
    Gamma scale mixture of Gaussians, ``γ(m) = E[exp(-τ m²/(2ℓ²))]`` with
    ``τ ~ Gamma(α, rate α)``, so its symbol is a mixture of positive theta series, each
    smallest at ``ω = π``; hence ``min f = f(π) = 2Σ_{j odd} ĝ(jπ)`` with the (positive,
    decreasing) Fourier transform
    ``ĝ(ξ) = (2√π/Γ(α))·√b·(|ξ|√b/2)^{α-1/2}·K_{α-1/2}(|ξ|√b)``.
    Tail: ``(1+x²/b)^(-α) ≤ b^α x^(-2α)`` and ``γ`` decreasing give
    ``Σ_{m>w} ≤ γ(w+1) + b^α (w+1)^{1-2α}/(2α-1)`` for every ``w ≥ 0``.
    """

    name: ClassVar[str] = "rational-quadratic"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
        # Supported range α ≤ 100 (0.2 s); the theta-series bound's mpmath sums slow down and
        # stop converging beyond (α = 200: 2 s, α = 300: > 30 s, α = 1e9: NoConvergence).
        # Use the squared exponential, the α → ∞ limit, instead.
        Param("alpha", "shape (Gamma mixture index); large α → squared exponential",
              low=0.0, high=MAX_ALPHA, high_open=False, default=1.0),
    )

    ell: float = 4.0
    alpha: float = 1.0

    def symbolic(self) -> sp.Expr:
        s = self.symbols()
        return (1 + M**2 / (2 * s["alpha"] * s["ell"] ** 2)) ** (-s["alpha"])

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.POLYNOMIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "bochner",
                           "Gamma(α) scale mixture of Gaussians exp(-τm²/(2ℓ²)); Fourier "
                           "transform ĝ ∝ |ξ|^{α-1/2}K_{α-1/2}(|ξ|√(2α)ℓ) > 0")

    @property
    def summable(self) -> bool:
        return self.alpha > 0.5

    def _b_alpha(self) -> tuple[sp.Expr, sp.Expr]:
        s = self.symbols()
        sub = self.substitutions()
        return (2 * s["alpha"] * s["ell"] ** 2).subs(sub), sub[s["alpha"]]

    def envelope(self) -> sp.Expr:
        b, alpha = self._b_alpha()
        return (2 * sp.Max(1, b)) ** alpha * (1 + M) ** (-2 * alpha)

    def tail_expr(self) -> sp.Expr:
        if not self.summable:
            return sp.oo
        b, alpha = self._b_alpha()
        v = W + 1  # γ(w+1) + Σ_{m>w+1} ≤ γ(w+1) + ∫_{w+1}^∞ b^α x^(-2α) dx
        return self.expr().subs(M, v) + b**alpha * v ** (1 - 2 * alpha) / (2 * alpha - 1)

    def partial_sum_expr(self) -> sp.Expr:
        if self.summable:
            return super().partial_sum_expr()
        b, alpha = self._b_alpha()
        x = H_SYMBOL - 1
        if alpha == sp.Rational(1, 2):
            integral = sp.sqrt(b) * sp.log(x)
        else:
            integral = b**alpha * (x ** (1 - 2 * alpha) - 1) / (1 - 2 * alpha)
        return sp.Piecewise((0, H_SYMBOL < 2), (self.expr().subs(M, 1) + integral, True))

    def symbol_min_bound(self) -> SymbolBound:
        with mp.workdps(MP_DPS):
            alpha = mp.mpf(self.alpha)
            rb = mp.sqrt(2 * alpha) * mp.mpf(self.ell)
            c = 2 * mp.sqrt(mp.pi) / mp.gamma(alpha) * rb

            def ghat(xi):
                z = xi * rb
                return c * (z / 2) ** (alpha - mp.mpf(1) / 2) * mp.besselk(alpha - mp.mpf(1) / 2, z)

            value = 2 * positive_series_lower(lambda j: ghat(j * mp.pi), 1, 2)
        return SymbolBound(round_down(value), "poisson-theta",
                           "min f = f(π) = 2Σ_{j odd} ĝ(jπ) (Gamma mixture of theta series)")
