"""Unrolled iterations: symbolic forms equal the numeric iterations they describe."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp
from ditgp.theory import iterations as it
from ditgp.theory.bridge import to_numeric
from ditgp.theory.errors import SpecError

#: float64 rounding slack for recurrences of ≤ a few hundred steps on O(1) spectra
ROUNDING_RTOL = 1e-10


def spd(rng, n, a_min, a_max):
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    ev = np.geomspace(a_min, a_max, n)
    return (q * ev) @ q.T, ev


def test_gd_closed_form_equals_iterating(rng):
    A, ev = spd(rng, 12, 0.05, 2.0)
    x = rng.standard_normal(12)
    eta = float(it.gd_step_size(ev[0], ev[-1]))
    v = np.zeros(12)
    K = 40
    for _ in range(K):
        v = v - eta * (A @ v - x)
    factor = to_numeric(it.GD_ITERATE_FACTOR, [it.eta_s, it.a_s, it.k_s])
    w, U = np.linalg.eigh(A)
    closed = U @ (factor(eta, w, K) * (U.T @ x))
    assert np.allclose(v, closed, rtol=ROUNDING_RTOL, atol=ROUNDING_RTOL * np.linalg.norm(x))


def test_gd_error_within_rho_power(rng):
    A, ev = spd(rng, 20, 0.01, 1.0)
    x = rng.standard_normal(20)
    vstar = np.linalg.solve(A, x)
    eta = float(it.gd_step_size(ev[0], ev[-1]))
    rho = float(it.gd_rate(ev[0], ev[-1]))
    v = np.zeros(20)
    for k in range(1, 200):
        v = v - eta * (A @ v - x)
        err = np.linalg.norm(v - vstar) / np.linalg.norm(vstar)
        assert err <= rho**k * (1 + ROUNDING_RTOL) + 1e-15
    assert rho == pytest.approx((100 - 1) / (100 + 1))


@pytest.mark.parametrize("kappa", [1.5, 10.0, 1e3, 1e5])
@pytest.mark.parametrize("eps", [1e-2, 1e-6, 1e-12])
def test_steps_are_minimal(kappa, eps):
    a, b = 1.0, kappa
    k = it.gd_steps(a, b, eps)
    assert it.gd_error_bound(a, b, k) <= eps < it.gd_error_bound(a, b, k - 1) or k == 1
    kc = it.chebyshev_steps(a, b, eps)
    assert it.chebyshev_error_bound(a, b, kc) <= eps
    assert kc == 1 or it.chebyshev_error_bound(a, b, kc - 1) > eps
    # the familiar approximations are upper bounds (up to the ceiling)
    assert kc <= math.ceil(math.sqrt(kappa) / 2 * math.log(2 / eps))
    assert k <= math.ceil(kappa / 2 * math.log(1 / eps)) + 1


def test_chebyshev_recurrence_reproduces_chebyshev_polynomials(rng):
    """The plan's coefficients make the error polynomial T_k((θ-λ)/δ)/T_k(σ), exactly."""
    a, b = 0.02, 3.0
    K = 30
    plan = it.chebyshev_plan(a, b, K)
    lam = np.linspace(a, b, 41)
    theta, delta = (a + b) / 2, (b - a) / 2
    # scalar iteration per eigenvalue with x = lam (so v* = 1 and error e_k = v_k - 1)
    v_prev = np.zeros_like(lam)
    v = np.zeros_like(lam)
    for k in range(K):
        r = lam - lam * v
        w = plan.omega[k]
        v, v_prev = v + (w / theta) * r + (w - 1) * (v - v_prev), v
        T = np.polynomial.chebyshev.Chebyshev.basis(k + 1)
        expected = -T((theta - lam) / delta) / T(theta / delta)
        assert np.allclose(v - 1, expected, rtol=0, atol=ROUNDING_RTOL)
        assert np.max(np.abs(v - 1)) <= plan.bounds[k + 1] * (1 + ROUNDING_RTOL)


def test_symbolic_chebyshev_bound_matches_numeric():
    bound = to_numeric(it.CHEB_ERROR_BOUND, [it.a_min_s, it.a_max_s, it.k_s])
    for k in (0, 1, 5, 40):
        assert float(bound(0.1, 7.0, k)) == pytest.approx(it.chebyshev_error_bound(0.1, 7.0, k), rel=1e-12)


def test_symbolic_gd_forms():
    assert sp.simplify(it.GD_RATE - (it.KAPPA - 1) / (it.KAPPA + 1)) == 0
    # the optimal step balances the two ends of the spectrum
    lo = 1 - it.GD_STEP * it.a_min_s
    hi = it.GD_STEP * it.a_max_s - 1
    assert sp.simplify(lo - hi) == 0 and sp.simplify(lo - it.GD_RATE) == 0


def test_chebyshev_beats_gd_by_sqrt_kappa():
    for kappa in (10.0, 1e2, 1e3, 1e4):
        ratio = it.gd_steps(1, kappa, 1e-6) / it.chebyshev_steps(1, kappa, 1e-6)
        assert ratio >= 0.5 * math.sqrt(kappa)


def test_degenerate_spectrum_and_bad_input():
    assert it.gd_steps(2.0, 2.0, 1e-9) == 1
    assert it.chebyshev_steps(2.0, 2.0, 1e-9) == 1
    with pytest.raises(SpecError, match="a_min=0.0: expected a finite number > 0"):
        it.gd_rate(0.0, 1.0)
    with pytest.raises(SpecError, match="a_max=0.5: expected a finite number ≥ a_min"):
        it.gd_rate(1.0, 0.5)
    with pytest.raises(SpecError, match="eps=1.5: expected a relative error in"):
        it.gd_steps(1.0, 2.0, 1.5)


def test_a_t_extremes_are_the_exact_extreme_products():
    """Including an indefinite Γ (a truncated Γ_w): the ends equal those of α²Γ⊗Σ + σ²I."""
    for lam in (np.array([0.3, 1.0, 2.5]), np.array([-0.05, 0.7, 3.0])):
        mu = np.array([0.5, 2.0])
        a2, s2 = 0.8, 0.2
        ev = np.sort(a2 * np.kron(lam, mu) + s2)
        lo, hi = it.a_t_extremes(lam[0], lam[-1], mu[0], mu[-1], a2, s2)
        assert float(lo) == pytest.approx(ev[0]) and float(hi) == pytest.approx(ev[-1])
