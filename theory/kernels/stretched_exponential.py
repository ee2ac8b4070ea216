"""Stretched-exponential kernel ``γ(m) = exp(-(m/ℓ)^ν)``."""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import mpmath as mp
import numpy as np
import sympy as sp
from ditgp.theory.kernels._rigorous import (
    MP_DPS,
    SymbolMin,
    certified_symbol_min,
    mp_function,
    round_up,
)
from ditgp.theory.kernels.base import Certificate, DecayClass, Kernel, M, Param, SymbolBound, W
from ditgp.theory.kernels.squared_exponential import gaussian_theta_lower

#: The numerical certificate keeps gaps with ``(m/ℓ)^ν ≤ TAIL_EXPONENT`` (``γ ≥ e^{-80}``).
TAIL_EXPONENT = 80.0
#: At most this many terms of the symbol's cosine series in the numerical certificate.
MAX_TERMS = 2000

#: Supported range of the stretching exponent (see the parameter declaration).
MIN_NU, MAX_NU = 0.1, 100.0


@dataclass(frozen=True)
class StretchedExponential(Kernel):
    """``γ(m) = exp(-(m/ℓ)^ν)``, ``ν > 0``.

    Exponential decay class (``c = ℓ^{-ν}``; for ``ν > 2`` the envelope
    ``e·exp(-m²/ℓ²)`` of the class's ``ν ≤ 2`` form).  Why positive definite:

    * ``ν ≤ 1`` — complete monotonicity: ``exp(-s)`` is completely monotone and ``x^ν`` a
      Bernstein function, so ``exp(-(x/ℓ)^ν)`` is completely monotone (a mixture of ``r^m``);
    * ``1 < ν ≤ 2`` — Bochner: ``exp(-|x/ℓ|^ν)`` is the characteristic function of a
      symmetric ν-stable law on R, hence positive definite on R and on Z;
    * ``ν > 2`` — not positive definite on R (no stable law); on Z only for small ``ℓ``
      (≈ ``ℓ ≲ 1.2``): a **numerical symbol certificate** evaluates
      ``f(ω) = 1 + 2Σ_{m≤M} γ(m) cos(mω)`` on a grid with a rigorous error (truncation tail
      ``2Σ_{m>M}γ(m)``, curvature ``L₂h²/8``, rounding) and certifies when the certified
      minimum is positive; otherwise the kernel is refused, quoting the negative value.

    Decreasing on ``x ≥ 0``, so the tail is at most ``γ(w+1) + ∫_{w+1}^∞`` with
    ``∫_v^∞ = (ℓ/ν)·Γ(1/ν, (v/ℓ)^ν)``.
    """

    name: ClassVar[str] = "stretched-exponential"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
        # Supported range [0.1, 100]: below 0.1 the tail integral underflows (ν = 0.05 crashed),
        # above 100 the kernel is a step (γ(m) = 0 beyond m = ℓ) and the certificate's
        # high-precision work hangs (ν = 1000: > 30 s, ν = 1e9: > 600 s).
        Param("nu", "stretching exponent", low=MIN_NU, high=MAX_NU, low_open=False,
              high_open=False, default=1.5),
    )

    ell: float = 4.0
    nu: float = 1.5

    def symbolic(self) -> sp.Expr:
        s = self.symbols()
        return sp.exp(-((M / s["ell"]) ** s["nu"]))

    @property
    def decay_class(self) -> DecayClass:
        return DecayClass.EXPONENTIAL

    @property
    def completely_monotone(self) -> bool:
        return self.nu <= 1

    @cached_property
    def numeric_symbol_min(self) -> SymbolMin:
        """The certified enclosure of ``min f`` (numerical symbol certificate)."""
        terms = min(math.ceil(self.ell * TAIL_EXPONENT ** (1 / self.nu)), MAX_TERMS)
        coeffs = self.gamma(np.arange(1, terms + 1))
        tail_fn = mp_function(self.tail_expr(), W)
        with mp.workdps(MP_DPS):
            tail = round_up(tail_fn(terms))
        return certified_symbol_min(coeffs, tail)

    def certificate(self) -> Certificate:
        if self.nu <= 1:
            return Certificate(True, "complete-monotonicity",
                               "exp(-s) is completely monotone and x^ν (ν ≤ 1) a Bernstein "
                               "function: γ is a mixture of geometric sequences r^m")
        if self.nu <= 2:
            return Certificate(True, "bochner",
                               "exp(-|x/ℓ|^ν), 1 < ν ≤ 2, is the characteristic function of a "
                               "symmetric ν-stable law: positive definite on R, hence on Z")
        sm = self.numeric_symbol_min
        if sm.lower > 0:
            return Certificate(True, "numeric-symbol",
                               f"certified min f ≥ {sm.lower:.6g} > 0 (grid minimum near "
                               f"ω = {sm.omega:.4f}, error bound {sm.error:.3g})")
        if sm.upper < 0:
            return Certificate(False, "none",
                               f"symbol f(ω) ≤ {sm.upper:.6g} < 0 at ω = {sm.omega:.4f} "
                               "(ν > 2 is not positive definite on R; on Z only for small ℓ): "
                               "Γ_H is indefinite for large H")
        return Certificate(False, "none",
                           f"symbol minimum in [{sm.lower:.3g}, {sm.upper:.3g}] near "
                           f"ω = {sm.omega:.4f} could not be certified positive")

    def envelope(self) -> sp.Expr:
        if self.nu <= 2:
            return self.expr()
        ell = self.substitutions()[self.symbols()["ell"]]
        return sp.E * sp.exp(-(M**2) / ell**2)

    def tail_expr(self) -> sp.Expr:
        s = self.symbols()
        ell, nu = s["ell"], s["nu"]
        v = W + 1  # γ(w+1) + ∫_{w+1}^∞ γ(x) dx (γ decreasing)
        expr = self.symbolic().subs(M, v) + ell / nu * sp.uppergamma(1 / nu, (v / ell) ** nu)
        return expr.subs(self.substitutions())

    def symbol_min_bound(self) -> SymbolBound | None:
        if self.nu <= 1:
            return None  # completely monotone: the Euler-transform bound applies
        if self.nu == 2:
            return gaussian_theta_lower(self.ell / math.sqrt(2))
        sm = self.numeric_symbol_min
        return SymbolBound(max(0.0, sm.lower), "numeric-symbol",
                           f"certified grid minimum of the symbol (error {sm.error:.3g})"
                           + ("" if sm.lower > 0 else "; not certified positive, bound 0"))
