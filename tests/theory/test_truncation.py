"""Tail bounds dominate the actual tails, windows grow as docs/theory.md says per decay class,
Weyl-certified truncations stay positive definite, and ‖Γ - Γ_w‖₂ ≤ 2·tail."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import DecayClass, W, kernel
from ditgp.theory.kernels.examples import EXAMPLES
from ditgp.theory.spectral import eigenvalue_bounds, truncation_keeps_pd
from ditgp.theory.truncation import (
    C_RATE,
    DELTA,
    NU,
    tail_bound,
    tail_bound_expr,
    truncated_gap_bound,
    truncated_matrix,
    window,
    window_asymptotic,
)

IDS = [name for name, _ in EXAMPLES]
FACTORIES = [factory for _, factory in EXAMPLES]
#: Gaps summed for the "actual" tail (a lower estimate of the infinite tail).
ORACLE_TERMS = 200_000
WINDOWS = (0, 1, 2, 3, 5, 8, 13, 21, 50, 100, 300)
#: Relative allowance for float64 sums of the oracle.
SUM_RTOL = 1e-12
#: Rounding slack of float64 matrix norms / eigenvalues, in ulps of ‖Γ‖.
EIG_SLACK_ULPS = 16
EPS = np.finfo(np.float64).eps


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_tail_bound_dominates_actual_tail(factory):
    k = factory()
    g = np.abs(k.gamma(np.arange(ORACLE_TERMS, dtype=np.float64)))
    suffix = np.cumsum(g[::-1])[::-1]  # suffix[j] = Σ_{m ≥ j} |γ(m)| (m < ORACLE_TERMS)
    expr = tail_bound_expr(k)
    if not k.summable:
        assert expr == sp.oo and math.isinf(tail_bound(k, 0))
    for w in WINDOWS:
        actual = suffix[w + 1]
        assert actual <= tail_bound(k, w) * (1 + SUM_RTOL)
        for H in (1, 7, 64, 512):
            exact = suffix[w + 1] - suffix[H] if w + 1 < H else 0.0
            bound = tail_bound(k, w, H)
            assert exact <= bound * (1 + SUM_RTOL) + 1e-300
            assert bound <= exact * (1 + 1e-9) + 1e-300  # with H the bound is the exact sum


@pytest.mark.parametrize("factory", FACTORIES, ids=IDS)
def test_truncation_gap_and_weyl(factory):
    k = factory()
    H = 128
    G = k.matrix(H)
    lam_min = np.linalg.eigvalsh(G)[0]
    for w in (0, 2, 8, 30, 127):
        Gw = truncated_matrix(k, w, H)
        gap = np.max(np.abs(np.linalg.eigvalsh(G - Gw)))  # ‖·‖₂ of a symmetric matrix
        assert gap <= truncated_gap_bound(k, w, H) * (1 + 1e-12) + EIG_SLACK_ULPS * EPS
        if truncation_keeps_pd(k, w, H):
            # Weyl: λ_min(Γ_w) ≥ lower - 2·tail > 0; float64 sees it up to a rounding slack.
            margin = eigenvalue_bounds(k, H).lower - truncated_gap_bound(k, w, H)
            slack = EIG_SLACK_ULPS * EPS * np.max(np.abs(np.linalg.eigvalsh(G)))
            assert margin > 0
            lam_w = np.linalg.eigvalsh(Gw)[0]
            assert lam_w >= margin - slack
            if margin > slack:
                assert lam_w > 0 and lam_min > 0


def test_truncation_keeps_pd_happens():
    k = kernel("laplace", ell=2.0)
    kept = [w for w in range(64) if truncation_keeps_pd(k, w, 256)]
    assert kept and kept == list(range(kept[0], 64))  # monotone in w
    assert np.linalg.eigvalsh(truncated_matrix(k, kept[0], 256))[0] > 0


@pytest.mark.parametrize("factory", [f for i, f in EXAMPLES], ids=IDS)
def test_window_is_smallest(factory):
    k = factory()
    for delta in (0.5, 1e-2, 1e-5):
        for H in (None, 300):
            if H is None and not k.summable:
                with pytest.raises(SpecError, match=r"^H=None: expected a number of frames"):
                    window(k, delta)
                continue
            w = window(k, delta, H)
            assert tail_bound(k, w, H) <= delta
            assert w == 0 or tail_bound(k, w - 1, H) > delta
            if H is not None:
                assert w <= H - 1


def test_window_growth_exponential():
    """w ~ ln(1/δ)/c: the window per decade of δ is constant (ℓ·ln 10 for Laplace)."""
    ell = 5.0
    k = kernel("laplace", ell=ell)
    ws = [window(k, 10.0**-j) for j in range(2, 15)]
    steps = np.diff(ws)
    assert np.all(np.abs(steps - ell * math.log(10)) <= 1.0)
    formula = window_asymptotic(DecayClass.EXPONENTIAL)
    value = float(formula.subs({DELTA: 1e-12, C_RATE: 1 / ell, NU: 1}))
    assert window(k, 1e-12) == pytest.approx(value, rel=0.15)
    se = kernel("squared-exponential", ell=ell)  # ν = 2: w ~ ℓ√(2 ln(1/δ))
    ratio = [window(se, 10.0**-j) / (ell * math.sqrt(2 * j * math.log(10))) for j in (4, 8, 16)]
    assert all(0.9 < r < 1.2 for r in ratio)


def test_window_growth_polynomial():
    """w ~ δ^{-1/(ν-1)}: the power-law tail ℓ/(ν-1)·(1+w/ℓ)^{1-ν} gives (w+ℓ)·δ → ℓ² for
    ν = 2 and (w+ℓ)²·δ → ℓ³/2 for ν = 3."""
    ell = 2.0
    k2 = kernel("power-law", ell=ell, nu=2.0)
    k3 = kernel("power-law", ell=ell, nu=3.0)
    for j in (3, 5, 7):
        delta = 10.0**-j
        assert (window(k2, delta) + ell) * delta == pytest.approx(ell**2, rel=0.01)
        assert (window(k3, delta) + ell) ** 2 * delta == pytest.approx(ell**3 / 2, rel=0.05)
    formula = window_asymptotic("polynomial")
    assert formula.subs({NU: 2}) == 1 / DELTA


def test_window_logarithmic_needs_all_of_H():
    k = kernel("logarithmic", ell=1.0, nu=1.0)
    H = 512
    for delta in (0.1, 1e-3):
        assert window(k, delta, H) == H - 1  # no useful truncation
    assert window(k, 1.0, H) >= 0.95 * H  # even a tail of 1 keeps almost every gap
    assert window(kernel("laplace", ell=1.0), 1e-3, H) < 0.02 * H
    with pytest.raises(SpecError, match="is not summable"):
        window(k, 0.1)
    formula = window_asymptotic(DecayClass.LOGARITHMIC)
    assert float(formula.subs({DELTA: 0.1, NU: 1})) > 2e4  # exp(10) ≫ any H used here


def test_tail_bound_expr_closed_forms():
    rho = sp.exp(-sp.Rational(1, 2))
    assert sp.simplify(tail_bound_expr(kernel("laplace", ell=2.0)) - rho ** (W + 1) / (1 - rho)) \
        == 0
    assert tail_bound_expr(kernel("logarithmic")) == sp.oo
    assert tail_bound_expr(kernel("power-law", nu=1.0)) == sp.oo
    assert tail_bound_expr(kernel("rational-quadratic", alpha=0.5)) == sp.oo


@pytest.mark.parametrize("call, message", [
    pytest.param(lambda: tail_bound(kernel("laplace"), -1), "w=-1: expected an integer ≥ 0",
                 id="negative-w"),
    pytest.param(lambda: tail_bound(kernel("laplace"), 1.5), "w=1.5: expected an integer ≥ 0",
                 id="float-w"),
    pytest.param(lambda: window(kernel("laplace"), 0.0), "delta=0.0: expected a finite number > 0",
                 id="zero-delta"),
    pytest.param(lambda: window(kernel("laplace"), 0.1, H=0), "H=0: expected an integer ≥ 1",
                 id="zero-H"),
    pytest.param(lambda: window_asymptotic("fast"),
                 "decay_class='fast': expected one of exponential, polynomial, logarithmic",
                 id="unknown-class"),
])
def test_invalid_inputs(call, message):
    with pytest.raises(SpecError) as info:
        call()
    assert str(info.value) == message


def test_tail_is_zero_beyond_H():
    k = kernel("power-law", nu=0.5)
    assert tail_bound(k, 9, H=10) == 0.0 and tail_bound(k, 50, H=10) == 0.0
    assert truncated_gap_bound(k, 9, 10) == 0.0
