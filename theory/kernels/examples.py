"""Representative kernels of every family (2–3 parameter sets each, plus composites).

A shared factory list for generic test suites and property checks (GPyTorch-style base
suite): a new kernel adds its examples here and inherits every generic check.  Each entry is
``(readable id, factory)``; factories build fresh, validated kernels.
"""

from __future__ import annotations

from collections.abc import Callable

from ditgp.theory.kernels import Kernel, kernel

__all__ = ["EXAMPLES", "NEARLY_SINGULAR", "REFUSED_STRETCHED"]


def _k(name: str, **params: float) -> Callable[[], Kernel]:
    return lambda: kernel(name, **params)


#: ``(id, factory)`` for every catalogue family and the three composites.
EXAMPLES: tuple[tuple[str, Callable[[], Kernel]], ...] = (
    ("laplace-ell1", _k("laplace", ell=1.0)),
    ("laplace-ell8", _k("laplace", ell=8.0)),
    ("se-ell1", _k("squared-exponential", ell=1.0)),
    ("se-ell2", _k("squared-exponential", ell=2.0)),
    ("se-ell3", _k("squared-exponential", ell=3.0)),
    ("matern12-ell3", _k("matern12", ell=3.0)),
    ("matern12-ell0.5", _k("matern12", ell=0.5)),
    ("matern32-ell2", _k("matern32", ell=2.0)),
    ("matern32-ell6", _k("matern32", ell=6.0)),
    ("matern52-ell1", _k("matern52", ell=1.0)),
    ("matern52-ell4", _k("matern52", ell=4.0)),
    ("stretched-nu0.5", _k("stretched-exponential", ell=3.0, nu=0.5)),
    ("stretched-nu1.5", _k("stretched-exponential", ell=4.0, nu=1.5)),
    ("stretched-nu2", _k("stretched-exponential", ell=2.0, nu=2.0)),
    ("stretched-nu3-ell1", _k("stretched-exponential", ell=1.0, nu=3.0)),
    ("damped-cosine-w0.5", _k("damped-cosine", ell=4.0, omega=0.5)),
    ("damped-cosine-w3", _k("damped-cosine", ell=2.0, omega=3.0)),
    ("damped-cosine-w0", _k("damped-cosine", ell=3.0, omega=0.0)),
    ("power-law-nu2", _k("power-law", ell=4.0, nu=2.0)),
    ("power-law-nu1.5", _k("power-law", ell=1.0, nu=1.5)),
    ("power-law-nu0.5", _k("power-law", ell=4.0, nu=0.5)),
    ("rq-alpha1", _k("rational-quadratic", ell=4.0, alpha=1.0)),
    ("rq-alpha3", _k("rational-quadratic", ell=1.5, alpha=3.0)),
    ("rq-alpha0.3", _k("rational-quadratic", ell=2.0, alpha=0.3)),
    ("log-nu1", _k("logarithmic", ell=1.0, nu=1.0)),
    ("log-nu2-ell4", _k("logarithmic", ell=4.0, nu=2.0)),
    ("sum-laplace-se", lambda: 0.5 * kernel("laplace", ell=4.0)
     + 0.5 * kernel("squared-exponential", ell=2.0)),
    ("sum-three", lambda: 0.2 * kernel("power-law", nu=2.0) + 0.3 * kernel("matern32")
     + 0.5 * kernel("logarithmic")),
    ("product-laplace-rq", lambda: kernel("laplace", ell=6.0) * kernel("rational-quadratic")),
    ("product-se-cos", lambda: kernel("squared-exponential", ell=1.5)
     * kernel("damped-cosine", ell=10.0, omega=1.0)),
)

#: Examples whose ``λ_min`` is at or below float64 resolution (checked with a rounding slack).
NEARLY_SINGULAR = frozenset({"se-ell3"})

#: Stretched-exponential parameters (``ν > 2``) that are refused; each gives an indefinite
#: ``Γ_H`` for some ``H ≤ 512``.
REFUSED_STRETCHED: tuple[dict[str, float], ...] = (
    {"ell": 3.0, "nu": 3.0},
    {"ell": 1.5, "nu": 2.5},
    {"ell": 1.2, "nu": 4.0},
    {"ell": 8.0, "nu": 4.0},
)
