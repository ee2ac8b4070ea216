"""Matérn-1/2 kernel ``γ(m) = exp(-m/ℓ)`` (the Laplace kernel under its Matérn name)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from ditgp.theory.kernels.base import Certificate, Param
from ditgp.theory.kernels.laplace import Laplace


@dataclass(frozen=True)
class Matern12(Laplace):
    """``γ(m) = exp(-m/ℓ)``: Matérn with smoothness ``ν = 1/2``, identical to ``laplace``.

    Exponential decay class.  Positive definite for every ``ℓ > 0`` for the same reason as
    the Laplace kernel: its lattice symbol is the Poisson kernel
    ``(1-ρ²)/(1-2ρ cos ω+ρ²) > 0`` with ``ρ = exp(-1/ℓ)`` (Bochner/Herglotz).
    """

    name: ClassVar[str] = "matern12"
    parameters: ClassVar[tuple[Param, ...]] = (
        Param("ell", "length-scale in frames", low=0.0, default=4.0),
    )

    ell: float = 4.0

    def certificate(self) -> Certificate:
        return Certificate(
            True,
            "bochner",
            "Matérn-1/2 = Laplace: symbol (1-ρ²)/(1-2ρcos ω+ρ²) > 0 with ρ = exp(-1/ℓ) < 1",
        )
