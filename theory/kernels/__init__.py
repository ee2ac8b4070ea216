"""The temporal-kernel catalogue: one kernel per file, a registry of command-line names.

>>> from ditgp.theory.kernels import kernel
>>> k = kernel("laplace", ell=2.0)
>>> k.decay_class.value, round(float(k.gamma(2)), 6)
('exponential', 0.367879)
"""

from __future__ import annotations

from typing import Any

from ditgp.theory.errors import SpecError
from ditgp.theory.kernels.base import (
    H_SYMBOL,
    OMEGA,
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    SymbolBound,
    W,
    check_params,
)
from ditgp.theory.kernels.composite import (
    ProductKernel,
    ScaledKernel,
    SumKernel,
    composite_from_dict,
)
from ditgp.theory.kernels.damped_cosine import DampedCosine
from ditgp.theory.kernels.laplace import Laplace
from ditgp.theory.kernels.logarithmic import Logarithmic
from ditgp.theory.kernels.matern12 import Matern12
from ditgp.theory.kernels.matern32 import Matern32
from ditgp.theory.kernels.matern52 import Matern52
from ditgp.theory.kernels.power_law import PowerLaw
from ditgp.theory.kernels.rational_quadratic import RationalQuadratic
from ditgp.theory.kernels.squared_exponential import SquaredExponential
from ditgp.theory.kernels.stretched_exponential import StretchedExponential

#: Command-line name -> kernel class, in catalogue order.
REGISTRY: dict[str, type[Kernel]] = {
    cls.name: cls
    for cls in (
        Laplace,
        SquaredExponential,
        Matern12,
        Matern32,
        Matern52,
        StretchedExponential,
        DampedCosine,
        PowerLaw,
        RationalQuadratic,
        Logarithmic,
    )
}

__all__ = [
    "M",
    "OMEGA",
    "W",
    "H_SYMBOL",
    "Certificate",
    "DecayClass",
    "Kernel",
    "Param",
    "SymbolBound",
    "REGISTRY",
    "Laplace",
    "SquaredExponential",
    "Matern12",
    "Matern32",
    "Matern52",
    "StretchedExponential",
    "DampedCosine",
    "PowerLaw",
    "RationalQuadratic",
    "Logarithmic",
    "SumKernel",
    "ProductKernel",
    "ScaledKernel",
    "composite_from_dict",
    "kernel",
    "kernel_from_dict",
    "kernel_names",
]


def kernel_names() -> list[str]:
    """The command-line names of the catalogue, in registry order."""
    return list(REGISTRY)


def kernel(name: str, **params: Any) -> Kernel:
    """Build a catalogue kernel by its command-line name, validating its parameters."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise SpecError("kernel", name, "one of " + ", ".join(REGISTRY))
    check_params(name, params, cls.parameters)
    return cls(**params)


def kernel_from_dict(data: dict[str, Any]) -> Kernel:
    """Inverse of :meth:`Kernel.to_dict` (catalogue kernels and composites)."""
    if not isinstance(data, dict) or "name" not in data:
        raise SpecError("kernel", data, "a mapping with a 'name' key")
    name = data["name"]
    if name in ("sum", "product", "scaled"):
        return composite_from_dict(data)
    params = data.get("params", {})
    if not isinstance(params, dict):
        raise SpecError("kernel.params", params, "a mapping of parameter name to number")
    return kernel(name, **params)
