"""Certificates of the long-sequence path, each pinned where a one-line slip survived before:
every row of a warm start must be certified, a sequence is refined when *any* of its rows
misses, the Gohberg–Semencul trace bound keeps its factor ``H``, and a Ritz radius is the
residual of its Ritz pair (the *last* component of the eigenvector)."""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.linalg
from ditgp.numerics.fft.fft_oracle import FFTOracle
from ditgp.numerics.fft.gohberg_semencul import trace_inverse
from ditgp.numerics.fft.lanczos import lanczos, ritz_extremes
from ditgp.numerics.fft.split_toeplitz import AmmarGaderInverse
from ditgp.numerics.fft.toeplitz_solve import ToeplitzShiftSolver
from ditgp.numerics.oracle import Oracle
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.theory.spectral import eigenvalue_bounds

H = 64


def test_a_warm_start_returns_at_once_only_if_every_row_is_certified():
    """Row 0 starts at its exact solution, row 1 at 0: CG must still run for row 1 (a check
    of *any* row returned the zero start of row 1 as "certified")."""
    k = kernel("laplace", ell=4.0)
    g = k.gamma(np.arange(H))
    solver = ToeplitzShiftSolver(g, eigenvalue_bounds(k).lower)
    a, s = np.array([0.9, 0.9]), np.array([0.1, 0.1])
    B = np.random.default_rng(0).standard_normal((2, H))
    T = 0.9 * scipy.linalg.toeplitz(g) + 0.1 * np.eye(H)
    exact = np.linalg.solve(T, B.T).T
    y0 = np.stack([exact[0], np.zeros(H)])
    res = solver.solve(B, a, s, rtol=1e-10, y0=y0)
    err = np.linalg.norm(res.y - exact, axis=1)
    assert res.met and res.iterations[1] > 0
    assert np.all(err <= res.error_bound)
    assert err[1] <= 1e-9 * np.linalg.norm(exact[1])


def test_a_sequence_is_refined_when_any_of_its_rows_misses():
    """Only the generator of row 0 (of d = 3 rows in Σ's eigenbasis) is off: every sequence
    has one row that misses its target and must be refined by CG (refining only sequences
    whose rows *all* miss left them uncertified)."""
    spec = GPSpec(kernel("laplace", ell=4.0), H=96, d=3, spatial=Spatial("ar", rho=0.5))
    X = np.random.default_rng(5).standard_normal((3, 3, 96))
    exact = Oracle(spec).solve(X, 0.2)
    f = FFTOracle(spec)
    inv = f.inverse_generator(0.2)
    x = inv.x.copy()
    x[0] *= 1 + 1e-6 * np.random.default_rng(0).standard_normal(x.shape[1])
    f._gs[0.2] = dataclasses.replace(inv, inverse=AmmarGaderInverse(x), x=x)
    res = f.solve_certified(X, 0.2, rtol=1e-10)
    err = np.linalg.norm(res.V - exact, axis=(1, 2))
    assert res.met and np.all(res.iterations[:, 0] > 0)
    assert np.all(err <= res.error_bound) and np.all(res.rel_error_bound <= 1e-10 * (1 + 1e-9))


def test_the_trace_bound_holds_for_every_column_within_delta():
    """``|tr(x̂) − tr(x)| ≤ err(x̂, δ)`` whenever ``‖x̂ − x‖ ≤ δ`` — the statement of the bound,
    for any ``x``.  With ``x = e₀ + e_{H−1}`` the sum ``S`` nearly cancels (weights ``H`` and
    ``2 − H``) while its gradient is ``≈ 2√2·H``: without the factor ``H`` in ``E_S`` the bound
    is ~``H/4`` times too small and fails."""
    x = np.zeros(H)
    x[0] = x[-1] = 1.0
    tr_x, _ = trace_inverse(x)
    delta = 1e-6
    e = np.zeros(H)
    e[0], e[-1] = 1.0, -1.0  # along the gradient of S
    xh = x + delta * e / np.linalg.norm(e)
    tr_h, err = trace_inverse(xh, delta)
    assert abs(tr_h - tr_x) <= err
    assert abs(tr_h - tr_x) > 0.25 * err  # and it is not loose by orders of magnitude
    # a real generator x = T⁻¹e₁ with many perturbations: the bound always holds
    g = kernel("laplace", ell=8.0).gamma(np.arange(H))
    Ti = np.linalg.inv(0.9 * scipy.linalg.toeplitz(g) + 0.1 * np.eye(H))
    x = Ti[:, 0]
    rng = np.random.default_rng(1)
    for _ in range(20):
        d = rng.standard_normal(H)
        dx = 1e-5 * np.linalg.norm(x) * d / np.linalg.norm(d)
        tr_h, err = trace_inverse(x + dx, 1e-5 * np.linalg.norm(x))
        assert abs(tr_h - np.trace(Ti)) <= err


def test_a_ritz_radius_is_the_residual_of_its_ritz_pair():
    """``β_k |s_k|`` with ``s_k`` the **last** component of the tridiagonal eigenvector equals
    ``‖M y − θ y‖`` for the Ritz vector ``y = Q s`` (checked against an explicit Lanczos basis
    with full reorthogonalisation), and an eigenvalue lies within it."""
    rng = np.random.default_rng(2)
    A = rng.standard_normal((40, 40))
    M = A + A.T
    v0 = rng.standard_normal(40)
    k = 6  # far from converged: the radii are large and differ by orders of magnitude
    alpha, beta = lanczos(lambda V: V @ M, v0[None, :], k)
    ext = ritz_extremes(alpha[0], beta[0])
    Q = np.zeros((40, k))  # explicit basis (Gram–Schmidt twice)
    q = v0 / np.linalg.norm(v0)
    for j in range(k):
        Q[:, j] = q
        w = M @ q
        for _ in range(2):
            w -= Q[:, :j + 1] @ (Q[:, :j + 1].T @ w)
        q = w / np.linalg.norm(w)
    theta, S = np.linalg.eigh(Q.T @ M @ Q)
    for i, (lam, rad) in ((0, (ext.lam_min, ext.radius_min)), (-1, (ext.lam_max, ext.radius_max))):
        y = Q @ S[:, i]
        resid = np.linalg.norm(M @ y - theta[i] * y)
        assert abs(lam - theta[i]) <= 1e-9 * np.abs(theta).max()
        assert abs(rad - resid) <= 1e-6 * resid, (rad, resid)
        assert np.min(np.abs(np.linalg.eigvalsh(M) - lam)) <= rad * (1 + 1e-9)
