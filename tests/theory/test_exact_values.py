"""Parameter values reach sympy as exact rationals only when they are nice ones: arbitrary
doubles stay floating point (as exact rationals, powers of them cost minutes and gigabytes)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from ditgp.theory.kernels import REGISTRY, kernel
from ditgp.theory.kernels.base import exact_value
from ditgp.theory.spectral import eigenvalue_bounds
from ditgp.theory.truncation import window


@pytest.mark.parametrize("value, expected", [(2.5, sp.Rational(5, 2)), (0.1, sp.Rational(1, 10)),
                                             (3.0, sp.Integer(3)), (1 / 16, sp.Rational(1, 16))])
def test_nice_values_are_exact(value, expected):
    assert exact_value(value) == expected


def test_arbitrary_doubles_stay_floats():
    v = 3.1739508399521603
    out = exact_value(v)
    assert isinstance(out, sp.Float) and float(out) == v


def _arbitrary_params(cls, rng):
    params = {}
    for p in cls.parameters:
        lo, hi = max(p.low, 0.3), min(p.high, 4.0)
        params[p.name] = float(rng.uniform(lo + 1e-3, hi))
    if cls.name == "stretched-exponential":
        params["nu"] = min(params["nu"], 2.0)  # ν > 2 is certified only for small ℓ
    return params


@pytest.mark.parametrize("name", list(REGISTRY))
def test_every_family_handles_arbitrary_doubles(name, rng):
    """Once hung for minutes and ran out of memory: rational-quadratic(ℓ=3.17395…, α=2.56849…)."""
    cls = REGISTRY[name]
    for _ in range(2):
        k = kernel(name, **_arbitrary_params(cls, rng))
        b = eigenvalue_bounds(k, 64)
        lam = np.linalg.eigvalsh(k.matrix(64))
        assert b.lower <= lam[0] + 1e-12 and lam[-1] <= b.upper + 1e-12
        assert 0 <= window(k, 1e-6, 64) <= 63
    k = kernel("rational-quadratic", ell=3.1739508399521603, alpha=2.568499210595197)
    assert eigenvalue_bounds(k, 64).lower > 0
