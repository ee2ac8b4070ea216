"""Logarithmic kernel ``γ(m) = (1 + log(1 + m/ℓ))^(-ν)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp
from ditgp.theory.kernels.base import H_SYMBOL, Certificate, DecayClass, Kernel, M, Param


@dataclass(frozen=True)
class Logarithmic(Kernel):
    """``γ(m) = (1 + log(1 + m/ℓ))^(-ν)``, ``ν > 0``.

    Logarithmic decay class (envelope ``max(1, 1+log ℓ)^ν (1+log(1+m))^(-ν)``); never
    summable, so ``λ_max(Γ_H)`` grows with ``H`` and no truncation window shorter than ``H``
    has a small tail.  Positive definite for every ``ℓ, ν > 0`` by complete monotonicity:
    ``t ↦ (1+t)^(-ν)`` is completely monotone and ``x ↦ log(1+x/ℓ)`` a Bernstein function, so
    the composition is completely monotone, a mixture of ``r^m``; ``min f = f(π)`` (Abel sum)
    bounds every eigenvalue from below, uniformly in ``H``.
    Row-sum bound: with ``X = H-1``, ``Σ_{m=1}^{X} γ(m) ≤ γ(1)√X + X·γ(√X)`` (``γ`` decreasing;
    fewer than ``√X`` gaps below ``√X``).
    """

    name: ClassVar[str] = "logarithmic"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=1.0),
        Param("nu", "decay exponent", low=0.0, default=1.0),
    )

    ell: float = 1.0
    nu: float = 1.0

    def symbolic(self) -> sp.Expr:
        s = self.symbols()
        return (1 + sp.log(1 + M / s["ell"])) ** (-s["nu"])

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.LOGARITHMIC

    def certificate(self) -> Certificate:
        return Certificate(True, "complete-monotonicity",
                           "(1+t)^(-ν) completely monotone ∘ Bernstein log(1+x/ℓ): a mixture "
                           "of geometric sequences r^m")

    @property
    def completely_monotone(self) -> bool:
        return True

    @property
    def summable(self) -> bool:
        return False

    def envelope(self) -> sp.Expr:
        s = self.symbols()
        sub = self.substitutions()
        ell, nu = sub[s["ell"]], sub[s["nu"]]
        return sp.Max(1, 1 + sp.log(ell)) ** nu * (1 + sp.log(1 + M)) ** (-nu)

    def partial_sum_expr(self) -> sp.Expr:
        x = H_SYMBOL - 1
        expr = self.expr()
        return expr.subs(M, 1) * sp.sqrt(x) + x * expr.subs(M, sp.sqrt(x))
