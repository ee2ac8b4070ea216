"""Forward process and Bayes floor: formulas against Monte Carlo and dense algebra."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from ditgp.theory import process
from ditgp.theory.bridge import to_numeric
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial

#: two-sided z-score for Monte Carlo comparisons (false alarm ≈ 6e-5 for a fresh seed;
#: the seed is fixed, so the test is deterministic)
MC_Z = 4.0


def test_alpha_sigma_identities():
    assert sp.simplify(process.ALPHA**2 - process.ALPHA2) == 0
    assert sp.simplify(process.ALPHA2 + process.SIGMA2 - 1) == 0


def _sample(spec, n, rng):
    lam, U = np.linalg.eigh(spec.Gamma)
    mu, V = np.linalg.eigh(spec.Sigma)
    Z = rng.standard_normal((n, spec.d, spec.H))
    return (V * np.sqrt(mu)) @ Z @ (U * np.sqrt(np.clip(lam, 0, None))).T, lam, mu, U, V


@pytest.mark.parametrize("t", [0.05, 0.7, 3.0])
def test_bayes_floor_equals_monte_carlo(t, rng):
    spec = GPSpec(kernel("laplace", ell=2.0), H=6, d=3, spatial=Spatial("ar", rho=0.5))
    n = 20000
    X0, lam, mu, U, V = _sample(spec, n, rng)
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    Z = rng.standard_normal(X0.shape)
    Xt = np.sqrt(a2) * X0 + np.sqrt(s2) * Z
    denom = process.eigen_denominator(lam, mu, a2, s2)
    score = -V @ ((V.T @ Xt @ U) / denom) @ U.T
    eps_star = -np.sqrt(s2) * score
    losses = np.sum((eps_star - Z) ** 2, axis=(1, 2))
    floor = process.bayes_floor(lam, mu, a2, s2)
    se = losses.std(ddof=1) / np.sqrt(n)
    assert abs(losses.mean() - floor) <= MC_Z * se
    assert 0 < floor < spec.d * spec.H


def test_eigen_form_equals_dense_solve(rng):
    spec = GPSpec(kernel("laplace", ell=1.5), H=5, d=2, spatial=Spatial("random", kappa=5.0, seed=1))
    X, lam, mu, U, V = _sample(spec, 3, rng)
    a2, s2 = 0.6, 0.4
    A = a2 * np.kron(spec.Gamma, spec.Sigma) + s2 * np.eye(10)
    vecs = np.stack([x.reshape(-1, order="F") for x in X], axis=1)  # vec stacks columns
    dense = -np.linalg.solve(A, vecs)
    eig = -V @ ((V.T @ X @ U) / process.eigen_denominator(lam, mu, a2, s2)) @ U.T
    eig_vec = np.stack([e.reshape(-1, order="F") for e in eig], axis=1)
    assert np.allclose(eig_vec, dense, rtol=1e-12, atol=1e-12)


def test_floor_expression_in_t():
    expr = process.bayes_floor_expr()
    val = float(expr.subs({sp.Symbol("lambda", positive=True): 2, sp.Symbol("mu", positive=True): 3,
                           process.t: 1}))
    a2 = np.exp(-1)
    assert val == pytest.approx(6 * a2 / (6 * a2 + 1 - a2), rel=1e-14)


def test_score_eigen_is_the_gradient_of_the_log_density():
    """``SCORE_EIGEN`` is ``∂/∂x̂ log N(x̂; 0, a)`` with ``a = A_EIGEN`` (sympy diff of the
    log-density written out here, not taken from the module) — a flipped sign fails."""
    xhat = sp.Symbol("xhat", real=True)
    a = process.A_EIGEN
    log_density = -xhat**2 / (2 * a) - sp.log(2 * sp.pi * a) / 2
    assert sp.simplify(sp.diff(log_density, xhat) - process.SCORE_EIGEN) == 0


def test_score_eigen_matches_finite_differences_of_the_dense_log_density(rng):
    """Numerically: the eigen-form score built from ``SCORE_EIGEN`` equals central finite
    differences of ``log N(vec X; 0, A_t)`` with a dense ``A_t`` (step 1e-5: truncation
    error O(h²)·‖A⁻¹‖ ≈ 1e-10, far below the 1e-6 tolerance and far below a sign error)."""
    spec = GPSpec(kernel("matern32", ell=2.0), H=4, d=2, spatial=Spatial("ar", rho=0.4))
    a2, s2 = 0.7, 0.3
    A = a2 * np.kron(spec.Gamma, spec.Sigma) + s2 * np.eye(8)
    A_inv = np.linalg.inv(A)

    def log_density(vec):
        return -0.5 * vec @ A_inv @ vec

    lam, U = np.linalg.eigh(spec.Gamma)
    mu, V = np.linalg.eigh(spec.Sigma)
    score_coord = to_numeric(process.SCORE_EIGEN, [sp.Symbol("xhat", real=True),
                                                   process.alpha2_s, process.sigma2_s,
                                                   process.lam, process.mu])
    X = rng.standard_normal((2, 4))
    xhat = V.T @ X @ U
    s = V @ score_coord(xhat, a2, s2, lam[None, :], mu[:, None]) @ U.T
    vec = X.reshape(-1, order="F")
    h = 1e-5
    fd = np.array([(log_density(vec + h * e) - log_density(vec - h * e)) / (2 * h)
                   for e in np.eye(8)])
    assert np.allclose(s.reshape(-1, order="F"), fd, rtol=0, atol=1e-6)


def test_score_matrix_form_evaluates_to_the_dense_score():
    """The displayed matrix form ``-(α²Γ⊗Σ + σ²I)⁻¹ vec X`` (used by ``derive``), made
    concrete with n = 2 explicit matrices, equals the dense numpy score (mutation testing
    found this expression untested: ``*`` → ``/`` or ``+`` → ``*`` survived)."""
    expr = process.score_matrix_form()
    syms = {s.name: s for s in expr.free_symbols}
    n = next(s for s in expr.atoms(sp.Symbol) if s.name == "n")
    concrete = expr.subs(n, 2)
    mats = {m.name: m for m in concrete.atoms(sp.MatrixSymbol)}
    assert {k: m.shape for k, m in mats.items()} == {"Gamma": (2, 2), "Sigma": (2, 2),
                                                     "vecX": (4, 1)}
    assert concrete.shape == (4, 1)
    Gam = np.array([[1.0, 0.5], [0.5, 1.0]])
    Sig = np.array([[2.0, 0.3], [0.3, 1.0]])
    x = np.array([1.0, -2.0, 0.5, 3.0])
    value = concrete.subs({mats["Gamma"]: sp.ImmutableMatrix(Gam),
                           mats["Sigma"]: sp.ImmutableMatrix(Sig),
                           mats["vecX"]: sp.ImmutableMatrix(x.reshape(4, 1)),
                           syms.get("t", process.t): 1}).doit()
    got = np.array(sp.N(sp.ImmutableMatrix(value)), dtype=float).ravel()
    a2 = np.exp(-1.0)
    dense = -np.linalg.solve(a2 * np.kron(Gam, Sig) + (1 - a2) * np.eye(4), x)
    assert np.allclose(got, dense, rtol=1e-12, atol=0)
