"""Covariance propagation of a linear sampler with a score that is **not** symmetric: the step
map ``M`` then differs from ``Mᵀ``, and only ``C ← M C Mᵀ`` (not ``Mᵀ C M``) is the covariance
of the sampler's output — checked against the recursion written out by hand and against Monte
Carlo with the sampler itself.  (With the oracle's symmetric score both orders agree, which
is why the transposed product survived the other tests.)"""

from __future__ import annotations

import numpy as np
from ditgp.models.sampling import linear_sampler_covariance, sample, time_grid
from ditgp.numerics.oracle import dense_covariance, unvec, vec
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule

SPEC = GPSpec(kernel("laplace", ell=2.0), H=3, d=1, schedule=Schedule(0.05, 2.0))
#: a fixed, non-symmetric linear "score" s(x) = B x (time-independent), in vec order
B = np.array([[-1.0, 0.8, 0.0], [0.0, -1.5, 0.6], [0.3, 0.0, -2.0]])


def score(X, t):
    return unvec(vec(X) @ B.T, SPEC.d, SPEC.H)  # rows: vec(x) ↦ B vec(x)


def test_sde_covariance_is_M_C_Mt_for_a_non_symmetric_score():
    steps = 6
    C = linear_sampler_covariance(score, SPEC, sampler="sde", steps=steps, grid="uniform")
    ts = time_grid(SPEC.schedule.t0, SPEC.schedule.T, steps, "uniform")
    want = dense_covariance(SPEC, SPEC.schedule.T)
    for k in range(steps):
        h = ts[k] - ts[k + 1]
        M = np.eye(3) + h * (0.5 * np.eye(3) + B)  # X ← X + h(½X + Bx) + √h Z
        want = M @ want @ M.T + h * np.eye(3)
    assert np.allclose(C, want, rtol=1e-12, atol=1e-14)
    # the sampler's own output agrees with it (Monte Carlo, 40000 draws: SE ≈ 1 % of an entry)
    X = sample(score, SPEC, 40000, sampler="sde", steps=steps, grid="uniform", seed=3)
    emp = np.cov(vec(X).T)
    assert np.max(np.abs(emp - C)) < 0.05 * np.max(np.abs(C))
