"""Samplers: order of accuracy (exact, by covariance propagation), the closed form, Monte
Carlo agreement, seeding and bad inputs."""

from __future__ import annotations

import numpy as np
import pytest
from ditgp.models import sampling
from ditgp.models.sampling import (
    convergence_errors,
    exact_sampler_variances,
    exact_score_fn,
    linear_sampler_covariance,
    sample,
    time_grid,
)
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial

SPEC = GPSpec(kernel("laplace", ell=2.0), H=5, d=2, spatial=Spatial("ar", rho=0.5),
              schedule=Schedule(0.05, 5.0))
#: asymptotic error ratio on halving the step is 2^order; at K = 40..160 the next term of the
#: expansion moves it by O(h) relative (measured ≤ 3 %), so a ±10 % band separates order 2
#: from order 1 (ratio 2) and a step-size bug (ratio 1 or divergence) without flakiness
ORDER_BAND = 0.10
STEPS = [40, 80, 160]


@pytest.mark.parametrize("sampler,order", [("ode", 2), ("sde", 1)])
@pytest.mark.parametrize("grid", ["uniform", "log"])
def test_order_of_the_exact_score_sampler(sampler, order, grid):
    res = convergence_errors(exact_score_fn(SPEC), SPEC, sampler=sampler, steps=STEPS, grid=grid)
    assert all(e > 0 for e in res["errors"])
    for r in res["ratios"]:
        assert abs(r / 2 ** order - 1) < ORDER_BAND, res


def test_planted_euler_ode_step_loses_an_order(monkeypatch):
    """Plant: the ODE's Heun corrector dropped (plain Euler) → ratio ≈ 2, the check fails."""
    def euler(score_fn, X, t, t_next, noise=None):
        return X + (t_next - t) * (-0.5 * X - 0.5 * score_fn(X, t))

    monkeypatch.setitem(sampling._STEPS, "ode", euler)
    res = convergence_errors(exact_score_fn(SPEC), SPEC, sampler="ode", steps=STEPS)
    assert not all(abs(r / 4 - 1) < ORDER_BAND for r in res["ratios"])


def test_planted_missing_noise_scale_breaks_sde_weak_order(monkeypatch):
    """Plant: EM noise √h → h (a dropped square root) → the covariance does not converge."""
    def bad(score_fn, X, t, t_next, noise):
        h = t - t_next
        out = X + h * (0.5 * X + score_fn(X, t))
        return out if noise is None else out + h * noise

    monkeypatch.setitem(sampling._STEPS, "sde", bad)
    v, _ = exact_sampler_variances(SPEC, sampler="sde", steps=80)  # independent closed form
    X = sample(exact_score_fn(SPEC), SPEC, 4000, sampler="sde", steps=80, seed=1)
    # total variance: SE ≈ √(2/n)·‖v‖/Σv ≈ 1 %; the planted bug is off by far more
    assert abs(float((X ** 2).mean(axis=0).sum()) / float(v.sum()) - 1) > 0.2


@pytest.mark.parametrize("sampler", ["sde", "ode"])
@pytest.mark.parametrize("prior", ["exact", "standard"])
def test_propagated_covariance_equals_the_closed_form(sampler, prior):
    """The generic propagation (the sampler's own step functions on the basis) and the
    independent eigenbasis recursion agree to rounding."""
    o = Oracle.for_spec(SPEC)
    C = linear_sampler_covariance(exact_score_fn(SPEC), SPEC, sampler=sampler, steps=30,
                                  prior=prior)
    v, _ = exact_sampler_variances(SPEC, sampler=sampler, steps=30, prior=prior)
    U = np.kron(o.U_Gamma, o.U_Sigma)  # eigenbasis in vec order (index h·d + i)
    D = U.T @ C @ U
    want = v.T.reshape(-1)  # vec order of (d, H)
    assert np.allclose(np.diag(D), want, rtol=1e-11, atol=1e-13)
    assert np.max(np.abs(D - np.diag(np.diag(D)))) < 1e-12


@pytest.mark.parametrize("sampler", ["sde", "ode"])
def test_monte_carlo_samples_match_the_exact_covariance(sampler):
    """Sample variances per eigen-coordinate vs the propagated ones: each has SE v·√(2/n);
    all dH = 10 z-scores within 4.5 (family-wise false alarm < 1e-4)."""
    n = 6000
    X = sample(exact_score_fn(SPEC), SPEC, n, sampler=sampler, steps=30, seed=11)
    v, _ = exact_sampler_variances(SPEC, sampler=sampler, steps=30)
    o = Oracle.for_spec(SPEC)
    Y = o.U_Sigma.T @ X @ o.U_Gamma
    emp = (Y ** 2).mean(axis=0)
    z = (emp - v) / (v * np.sqrt(2 / n))
    assert np.max(np.abs(z)) < 4.5, z
    # plant: a 5 % wrong variance is detected at this n (z ≈ 0.05/√(2/6000) ≈ 2.7 per coordinate,
    # max over 10 coordinates well beyond the band only for a larger error: use 15 %)
    z_bad = (emp - 1.15 * v) / (v * np.sqrt(2 / n))
    assert np.max(np.abs(z_bad)) > 4.5


def test_seeding_is_reproducible_and_chunked():
    f = exact_score_fn(SPEC)
    a = sample(f, SPEC, 7, steps=5, seed=3, batch=4)
    b = sample(f, SPEC, 7, steps=5, seed=3, batch=4)
    c = sample(f, SPEC, 7, steps=5, seed=4, batch=4)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert a.shape == (7, 2, 5) and a.dtype == np.float64


def test_grid_endpoints_and_shape():
    g = time_grid(0.01, 3.0, 7, "log")
    assert g[0] == 3.0 and g[-1] == 0.01 and len(g) == 8 and np.all(np.diff(g) < 0)
    u = time_grid(0.01, 3.0, 4, "uniform")
    assert np.allclose(np.diff(u), -(3.0 - 0.01) / 4)


@pytest.mark.parametrize("kw,name", [({"sampler": "euler"}, "--sampler"), ({"steps": 0}, "--steps"),
                                     ({"grid": "cosine"}, "--grid"), ({"prior": "x"}, "--prior"),
                                     ({"seed": -1}, "--seed")])
def test_bad_inputs_name_the_argument(kw, name):
    with pytest.raises(SpecError, match=name):
        sample(exact_score_fn(SPEC), SPEC, 3, **kw)


def test_constructed_bundle_sampler_and_fixed_t_refusal(tmp_path):
    """A gated construction serves all t: the sampler runs with its bundle, and because the
    network is linear in x its output covariance is exact by propagation — within its
    accuracy of the exact-score sampler's. A fixed-t construction is refused."""
    from ditgp.models.sampling import load_score
    from ditgp.numerics import construct

    con = construct(SPEC, eps=1e-6, time_conditioning="gated")
    con.save(tmp_path / "gated")
    fn, spec, _ = load_score(tmp_path / "gated")
    assert spec == SPEC
    C_net = linear_sampler_covariance(fn, SPEC, sampler="ode", steps=40)
    C_ex = linear_sampler_covariance(exact_score_fn(SPEC), SPEC, sampler="ode", steps=40)
    assert np.linalg.norm(C_net - C_ex) / np.linalg.norm(C_ex) < 1e-4
    construct(SPEC, t=0.1, eps=1e-3).save(tmp_path / "fixed")
    with pytest.raises(SpecError, match="--weights"):
        load_score(tmp_path / "fixed")
