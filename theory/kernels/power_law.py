"""Power-law kernel ``γ(m) = (1 + m/ℓ)^(-ν)``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import sympy as sp
from ditgp.theory.kernels.base import H_SYMBOL, Certificate, DecayClass, Kernel, M, Param, W

#: Largest supported decay exponent (see the parameter declaration).
MAX_NU = 1e4


@dataclass(frozen=True)
class PowerLaw(Kernel):
    """``γ(m) = (1 + m/ℓ)^(-ν)``, ``ν > 0``.

    Polynomial decay class (envelope ``max(1,ℓ)^ν (1+m)^(-ν)``); summable iff ``ν > 1``.
    Positive definite for every ``ℓ, ν > 0`` by complete monotonicity:
    ``(1+x/ℓ)^(-ν) = Γ(ν)^{-1} ∫_0^∞ t^{ν-1} e^{-t} (e^{-t/ℓ})^x dt`` is a mixture of
    geometric sequences ``r^m`` (also Pólya: convex, decreasing, → 0).  Hence
    ``min f = f(π)``, the Abel sum ``1 + 2Σ(-1)^m γ(m) > 0``, bounds every eigenvalue of
    every ``Γ_H`` from below even when ``ν ≤ 1``.
    Tail (``γ`` decreasing): ``Σ_{m>w} ≤ γ(w+1) + ∫_{w+1}^∞``, ``∫_v^∞ = ℓ/(ν-1)·(1+v/ℓ)^{1-ν}``
    for ``ν > 1``.
    """

    name: ClassVar[str] = "power-law"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
        # Supported range ν ≤ 1e4 (0.5 s): the exact/high-precision bounds slow down with ν
        # (ν = 1e5: 22 s, ν = 1e6: > 60 s, ν = 1e9: > 600 s), so larger ν is refused.
        Param("nu", "decay exponent (summable for ν > 1)", low=0.0, high=MAX_NU, high_open=False,
              default=2.0),
    )

    ell: float = 4.0
    nu: float = 2.0

    def symbolic(self) -> sp.Expr:
        s = self.symbols()
        return (1 + M / s["ell"]) ** (-s["nu"])

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.POLYNOMIAL

    def certificate(self) -> Certificate:
        return Certificate(True, "complete-monotonicity",
                           "(1+x/ℓ)^(-ν) = ∫ r^x dμ(r) (Gamma mixture of geometric sequences)")

    @property
    def completely_monotone(self) -> bool:
        return True

    @property
    def summable(self) -> bool:
        return self.nu > 1

    def _values(self) -> tuple[sp.Expr, sp.Expr]:
        s = self.symbols()
        sub = self.substitutions()
        return sub[s["ell"]], sub[s["nu"]]

    def envelope(self) -> sp.Expr:
        ell, nu = self._values()
        return sp.Max(1, ell) ** nu * (1 + M) ** (-nu)

    def tail_expr(self) -> sp.Expr:
        if not self.summable:
            return sp.oo
        ell, nu = self._values()
        v = W + 1  # γ(w+1) + ∫_{w+1}^∞ γ(x) dx (γ decreasing)
        return self.expr().subs(M, v) + ell / (nu - 1) * (1 + v / ell) ** (1 - nu)

    def partial_sum_expr(self) -> sp.Expr:
        if self.summable:
            return super().partial_sum_expr()
        ell, nu = self._values()
        x = H_SYMBOL - 1
        if nu == 1:
            integral = ell * sp.log((ell + x) / (ell + 1))
        else:
            integral = ell / (1 - nu) * ((1 + x / ell) ** (1 - nu) - (1 + 1 / ell) ** (1 - nu))
        return sp.Piecewise((0, H_SYMBOL < 2), (self.expr().subs(M, 1) + integral, True))
