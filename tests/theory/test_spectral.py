"""Spectral bounds contain every eigenvalue of every Γ_H; closed-form symbols match the
Fourier series; non-summable kernels are reported as such with an H-dependent bound."""

from __future__ import annotations

import functools
import math

import mpmath as mp
import numpy as np
import pytest
import sympy as sp
from ditgp.theory.bridge import to_numeric
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import H_SYMBOL, OMEGA, kernel
from ditgp.theory.kernels.examples import EXAMPLES
from ditgp.theory.spectral import (
    EigenvalueBounds,
    eigenvalue_bounds,
    kappa_bound,
    symbol,
    upper_bound_expr,
)

#: Rounding slack of float64 eigvalsh, in ulps of ‖Γ‖₂ (backward-stable eigensolver).
EIG_SLACK_ULPS = 16
EPS = np.finfo(np.float64).eps
SIZES = (1, 2, 7, 64, 512)
#: Terms of the partial Fourier sum used as the oracle of closed-form symbols.
SYMBOL_TERMS = 4000

IDS = [name for name, _ in EXAMPLES]
FACTORIES = [factory for _, factory in EXAMPLES]
#: Every lower bound is at least this fraction of λ_min(Γ_512) (where float64 resolves it).
TIGHTNESS = 0.95
#: Relative allowance between two rigorous upper bounds computed along different routes.
UPPER_RTOL = 1e-9


@functools.cache
def eigenvalues(example: str, H: int) -> np.ndarray:
    """Eigenvalues of Γ_H of a named example (cached: dense eigensolves dominate run time)."""
    return np.linalg.eigvalsh(dict(EXAMPLES)[example]().matrix(H))


@pytest.mark.parametrize("name", IDS)
def test_bounds_contain_every_eigenvalue(name):
    k = dict(EXAMPLES)[name]()
    uniform = eigenvalue_bounds(k)
    for H in SIZES:
        lam = eigenvalues(name, H)
        slack = EIG_SLACK_ULPS * EPS * max(abs(lam[-1]), 1.0)
        b = eigenvalue_bounds(k, H)
        assert b.H == H
        assert 0 <= b.lower <= lam[0] + slack, (H, b.lower, lam[0])
        assert lam[-1] <= b.upper + slack, (H, b.upper, lam[-1])
        assert uniform.lower <= lam[0] + slack
        assert lam[-1] <= uniform.upper + slack
        assert b.upper <= uniform.upper  # an H-specific bound is never looser


@pytest.mark.parametrize("name", IDS)
def test_lower_bound_is_positive_and_tight(name):
    """Positive, and (where the lattice symbol's minimum is attained) close to λ_min(Γ_512)."""
    k = dict(EXAMPLES)[name]()
    b = eigenvalue_bounds(k)
    assert b.lower > 0
    lam = eigenvalues(name, 512)[0]
    if lam > 1e-10:
        assert b.lower >= TIGHTNESS * lam, (b.lower, lam, b.method_lower)


@pytest.mark.parametrize("name, params", [
    ("laplace", {"ell": 3.0}), ("matern12", {"ell": 0.7}), ("matern32", {"ell": 2.5}),
    ("matern52", {"ell": 1.5}), ("damped-cosine", {"ell": 4.0, "omega": 1.3}),
    ("squared-exponential", {"ell": 1.2}),
])
def test_symbol_closed_form_matches_series(name, params):
    k = kernel(name, **params)
    f = symbol(k)
    assert f is not None and f.free_symbols <= {OMEGA} | {s for s in f.free_symbols
                                                          if s.name == "k"}
    omegas = np.linspace(0, np.pi, 9)
    coeffs = k.gamma(np.arange(1, SYMBOL_TERMS))
    series = 1 + 2 * np.cos(np.outer(omegas, np.arange(1, SYMBOL_TERMS))) @ coeffs
    if f.has(sp.Sum):  # theta series: truncate the Poisson sum at |k| ≤ 20
        f = f.replace(lambda e: isinstance(e, sp.Sum),
                      lambda s: sp.Sum(s.function, (s.limits[0][0], -20, 20)).doit())
    closed = to_numeric(f, [OMEGA])(omegas)
    np.testing.assert_allclose(closed, series, rtol=1e-12, atol=1e-12)
    # the symbol's extremes lie inside the uniform eigenvalue bounds
    b = eigenvalue_bounds(k)
    grid = to_numeric(f, [OMEGA])(np.linspace(0, np.pi, 2001))
    assert grid.min() >= b.lower and grid.max() <= b.upper * (1 + 1e-12)


def test_laplace_bounds_are_the_closed_form():
    b = eigenvalue_bounds(kernel("laplace", ell=2.0))
    assert b.uniform and b.method_lower == b.method_upper == "closed-form"
    assert b.lower == pytest.approx(math.tanh(0.25), rel=1e-11)
    assert b.upper == pytest.approx(1 / math.tanh(0.25), rel=1e-11)
    assert kappa_bound(kernel("laplace", ell=2.0)) == pytest.approx(1 / math.tanh(0.25) ** 2)


@pytest.mark.parametrize("ell", [1.5, 2.0, 3.0, 4.0])
def test_squared_exponential_nearly_singular(ell):
    """docs/theory.md: λ_min ≈ 2√(2π)ℓ·exp(-π²ℓ²/2); below float64 resolution at ℓ = 3."""
    b = eigenvalue_bounds(kernel("squared-exponential", ell=ell))
    approx = 2 * math.sqrt(2 * math.pi) * ell * math.exp(-math.pi**2 * ell**2 / 2)
    assert 0 < b.lower <= approx * (1 + 1e-6) and b.lower >= 0.999 * approx
    assert b.method_lower == "poisson-theta"
    assert kappa_bound(kernel("squared-exponential", ell=ell)) == pytest.approx(
        b.upper / b.lower, rel=1e-9)


def test_squared_exponential_lower_bound_against_high_precision_eigenvalue():
    """At ℓ = 3 float64 cannot see λ_min; mpmath (60 digits) confirms the bound is valid."""
    k = kernel("squared-exponential", ell=3.0)
    H = 24
    with mp.workdps(60):
        g = [mp.exp(-mp.mpf(m) ** 2 / 18) for m in range(H)]
        A = mp.matrix(H, H)
        for i in range(H):
            for j in range(H):
                A[i, j] = g[abs(i - j)]
        lam_min = min(mp.eigsy(A, eigvals_only=True))
    b = eigenvalue_bounds(k)
    assert 0 < b.lower <= lam_min
    assert b.lower < 1e-17  # honest: astronomically ill-conditioned
    assert b.kappa > 1e18


@pytest.mark.parametrize("name, params", [
    ("logarithmic", {"ell": 1.0, "nu": 1.0}), ("logarithmic", {"ell": 4.0, "nu": 2.0}),
    ("power-law", {"ell": 4.0, "nu": 0.5}), ("power-law", {"ell": 2.0, "nu": 1.0}),
    ("rational-quadratic", {"ell": 2.0, "alpha": 0.3}),
    ("rational-quadratic", {"ell": 2.0, "alpha": 0.5}),
])
def test_non_summable_bounds_grow_with_H(name, params):
    k = kernel(name, **params)
    assert not k.summable
    b = eigenvalue_bounds(k)
    assert not b.uniform and math.isinf(b.upper) and "not summable" in b.note
    assert math.isinf(kappa_bound(k))
    expr = upper_bound_expr(k)
    assert expr.free_symbols == {H_SYMBOL}
    lam_max = {}
    for H in (2, 7, 64, 512, 2048):
        lam_max[H] = np.linalg.eigvalsh(k.matrix(H))[-1] if H <= 512 else None
        finite = eigenvalue_bounds(k, H)
        symbolic = float(expr.subs(H_SYMBOL, H).evalf(30))
        assert finite.upper <= symbolic * (1 + UPPER_RTOL)
        if lam_max[H] is not None:
            assert lam_max[H] <= finite.upper * (1 + 1e-12)
    assert lam_max[512] > 1.5 * lam_max[64] > 1.5 * lam_max[7]


def test_summable_upper_bound_expr_is_constant():
    expr = upper_bound_expr(kernel("laplace", ell=2.0))
    assert not expr.free_symbols
    assert float(expr) == pytest.approx(1 / math.tanh(0.25))


def test_products_and_sums_use_schur_and_weyl():
    a, b = kernel("laplace", ell=6.0), kernel("rational-quadratic")
    p = eigenvalue_bounds(a * b)
    assert p.method_lower in ("schur", "numeric-symbol")
    assert p.lower >= max(eigenvalue_bounds(a).lower, eigenvalue_bounds(b).lower) * (1 - 1e-12)
    s = eigenvalue_bounds(0.5 * kernel("squared-exponential") + 0.5 * kernel("matern32"))
    assert s.method_lower in ("weyl", "complete-monotonicity")


def test_to_dict_and_invalid_input():
    b = eigenvalue_bounds(kernel("power-law"), 16)
    d = b.to_dict()
    assert set(d) == {"lower", "upper", "uniform", "method_lower", "method_upper", "note", "H"}
    assert EigenvalueBounds(**d) == b
    with pytest.raises(SpecError, match=r"^H=0: expected an integer ≥ 1$"):
        eigenvalue_bounds(kernel("laplace"), 0)
    with pytest.raises(SpecError, match=r"^kernel='laplace': expected a ditgp kernel$"):
        eigenvalue_bounds("laplace")


@pytest.mark.parametrize("name, params", [
    ("power-law", {"nu": 1e4, "ell": 1e4}), ("stretched-exponential", {"nu": 100.0, "ell": 1.0}),
    ("stretched-exponential", {"nu": 0.1, "ell": 1000.0}),
    ("rational-quadratic", {"alpha": 100.0, "ell": 3.0}),
])
def test_edges_of_the_supported_ranges_are_fast_and_valid(name, params):
    """The largest/smallest supported parameters still give bounds containing Γ_64's
    spectrum (each took < 2 s when measured; the next decade hung)."""
    k = kernel(name, **params)
    b = eigenvalue_bounds(k, 64)
    lam = np.linalg.eigvalsh(k.matrix(64))
    slack = EIG_SLACK_ULPS * EPS * max(abs(lam[-1]), 1.0)
    assert b.lower <= lam[0] + slack and lam[-1] <= b.upper + slack
