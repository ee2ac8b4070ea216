"""ditgp — theory-verification toolkit for diffusion transformers on Gaussian-process data.

The curated public API.  Names resolve lazily so that ``import ditgp.theory`` stays free of
torch and ``ditgp --help`` stays fast.

>>> import ditgp
>>> spec = ditgp.GPSpec(ditgp.kernel("laplace", ell=4.0), H=8, d=2)
>>> spec.H, spec.kernel.decay_class.value
(8, 'exponential')
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> "module:attribute"
_EXPORTS: dict[str, str] = {
    # theory
    "GPSpec": "ditgp.theory.spec:GPSpec",
    "Schedule": "ditgp.theory.spec:Schedule",
    "Spatial": "ditgp.theory.spec:Spatial",
    "SpecError": "ditgp.theory.errors:SpecError",
    "NotPositiveDefiniteError": "ditgp.theory.errors:NotPositiveDefiniteError",
    "kernel": "ditgp.theory.kernels:kernel",
    "kernel_names": "ditgp.theory.kernels:kernel_names",
    "derive": "ditgp.theory.derive:derive",
    # numerics
    "exact_score": "ditgp.numerics:exact_score",
    "construct": "ditgp.numerics:construct",
    "load_bundle": "ditgp.numerics:load_bundle",
    "BundleError": "ditgp.numerics:BundleError",
}

__all__ = ["__version__", *sorted(_EXPORTS)]


def __getattr__(name: str) -> Any:
    target = _EXPORTS.get(name)
    if target is None:
        raise AttributeError(f"module 'ditgp' has no attribute {name!r}")
    module, attr = target.split(":")
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
