"""The temporal-kernel catalogue: one kernel per file, a registry of command-line names.

Each family registers itself when its class is defined
(:data:`~ditgp.theory.kernels.base.REGISTRY`); a new family is a module imported here.

>>> from ditgp.theory.kernels import kernel
>>> k = kernel("laplace", ell=2.0)
>>> k.decay_class.value, round(float(k.gamma(2)), 6)
('exponential', 0.367879)
"""

from __future__ import annotations

from ditgp.theory.kernels.base import (
    H_SYMBOL,
    KERNEL_CLASSES,
    OMEGA,
    REGISTRY,
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    SymbolBound,
    W,
    check_params,
    kernel,
    kernel_from_dict,
    kernel_names,
)

# The families register themselves in REGISTRY as their classes are defined: the imports
# below, in catalogue order, are that order (a module imported by an earlier one comes first).
# isort: off
from ditgp.theory.kernels.laplace import Laplace
from ditgp.theory.kernels.squared_exponential import SquaredExponential
from ditgp.theory.kernels.matern12 import Matern12
from ditgp.theory.kernels.matern32 import Matern32
from ditgp.theory.kernels.matern52 import Matern52
from ditgp.theory.kernels.stretched_exponential import StretchedExponential
from ditgp.theory.kernels.damped_cosine import DampedCosine
from ditgp.theory.kernels.power_law import PowerLaw
from ditgp.theory.kernels.rational_quadratic import RationalQuadratic
from ditgp.theory.kernels.logarithmic import Logarithmic
# isort: on
from ditgp.theory.kernels.composite import (
    ProductKernel,
    ScaledKernel,
    SumKernel,
    composite_from_dict,
)

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
    "KERNEL_CLASSES",
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
    "check_params",
]

