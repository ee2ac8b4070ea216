"""Data streams, finite training sets, the forward process, the Bayes floor, the baseline."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch
from ditgp.models import (
    GPStream,
    bayes_floor,
    independent_frames_score,
    load_train_set,
    make_train_set,
    noised,
    save_train_set,
)
from ditgp.models.data import alpha_sigma
from ditgp.numerics import Oracle, dense_score
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2, spatial=Spatial("ar", rho=0.5))


def _cat(parts):
    return tuple(torch.cat([p[i] for p in parts]) for i in range(3))


def test_batch_is_a_pure_function_of_seed_and_k():
    a = GPStream(SPEC, batch=6, seed=3)
    b = GPStream(SPEC, batch=6, seed=3)
    for _ in range(3):  # drawing other batches first changes nothing
        b.batch(7)
    for x, y in zip(a.batch(2), b.batch(2), strict=True):
        assert torch.equal(x, y)
    x2, t2, _ = a.batch(2)
    x3, t3, _ = a.batch(3)
    assert not torch.equal(x2, x3) and not torch.equal(t2, t3)
    other = GPStream(SPEC, batch=6, seed=4).batch(2)
    assert not torch.equal(other[0], x2)


@pytest.mark.parametrize("world", [2, 3, 4])
def test_rank_slices_concatenate_to_the_global_batch(world):
    stream = GPStream(SPEC, batch=7, seed=11, dtype=torch.float64)
    full = stream.batch(5)
    parts = [stream.batch(5, rank=r, world=world) for r in range(world)]
    assert sum(p[0].shape[0] for p in parts) == 7
    for x, y in zip(full, _cat(parts), strict=True):
        assert torch.equal(x, y)


def test_shapes_and_dtypes():
    x0, t, z = GPStream(SPEC, batch=5, seed=0, dtype=torch.float32).batch(0)
    assert x0.shape == z.shape == (5, SPEC.d, SPEC.H)
    assert x0.dtype == z.dtype == torch.float32 and t.dtype == torch.float64 and t.shape == (5,)


def test_bad_rank_world_and_sampling_named():
    s = GPStream(SPEC, batch=4, seed=0)
    with pytest.raises(SpecError, match="rank"):
        s.batch(0, rank=2, world=2)
    with pytest.raises(SpecError, match="world"):
        s.batch(0, rank=0, world=5)
    with pytest.raises(SpecError, match="t_sampling"):
        GPStream(SPEC, batch=4, seed=0, t_sampling="cosine")
    with pytest.raises(SpecError, match="train_set"):
        GPStream(SPEC, batch=4, seed=0, train_set=torch.zeros(3, SPEC.d, SPEC.H + 1))


def _times(sampling: str, n_batches: int = 40) -> np.ndarray:
    s = GPStream(SPEC, batch=64, seed=2, t_sampling=sampling)
    return np.concatenate([s.batch(k)[1].numpy() for k in range(n_batches)])


def test_uniform_times_in_range_and_uniform():
    t0, T = SPEC.schedule.t0, SPEC.schedule.T
    t = _times("uniform")
    assert t.min() >= t0 and t.max() <= T
    assert scipy.stats.kstest(t, "uniform", args=(t0, T - t0)).pvalue > 1e-3
    # the log-uniform law is clearly rejected for these draws (the test can fail)
    assert scipy.stats.kstest(np.log(t), "uniform",
                              args=(math.log(t0), math.log(T / t0))).pvalue < 1e-6


def test_log_uniform_times_follow_the_log_uniform_law():
    t0, T = SPEC.schedule.t0, SPEC.schedule.T
    t = _times("log-uniform")
    assert t.min() >= t0 and t.max() <= T
    assert scipy.stats.kstest(np.log(t), "uniform",
                              args=(math.log(t0), math.log(T / t0))).pvalue > 1e-3
    assert scipy.stats.kstest(t, "uniform", args=(t0, T - t0)).pvalue < 1e-6


def test_clean_draws_have_the_gp_covariance():
    """Sample covariance of vec X0 over many rows against Γ⊗Σ (entrywise, 5 standard errors)."""
    spec = GPSpec(kernel("laplace", ell=2.0), H=4, d=2, spatial=Spatial("ar", rho=0.6))
    s = GPStream(spec, batch=500, seed=9, dtype=torch.float64)
    X = torch.cat([s.batch(k)[0] for k in range(8)]).numpy()  # (4000, d, H)
    V = np.swapaxes(X, 1, 2).reshape(X.shape[0], -1)  # vec stacks columns
    C = V.T @ V / V.shape[0]
    ref = np.kron(spec.Gamma, spec.Sigma)
    se = np.sqrt((ref**2 + np.outer(np.diag(ref), np.diag(ref))) / V.shape[0])
    assert np.all(np.abs(C - ref) <= 5 * se)


def test_finite_train_set_rows_and_round_trip(tmp_path):
    x = make_train_set(SPEC, 10, seed=1)
    assert x.dtype == torch.float64 and x.shape == (10, SPEC.d, SPEC.H)
    path = save_train_set(tmp_path / "train.safetensors", x, SPEC)
    y, spec = load_train_set(path)
    assert torch.equal(x, y) and spec == SPEC
    stream = GPStream(SPEC, batch=16, seed=0, dtype=torch.float64, train_set=y)
    x0, _, _ = stream.batch(0)
    dist = torch.cdist(x0.reshape(16, -1), y.reshape(10, -1))
    assert torch.all(dist.min(dim=1).values == 0)  # every row is a member of the set
    x1, _, _ = GPStream(SPEC, batch=16, seed=0, dtype=torch.float64, train_set=y).batch(0)
    assert torch.equal(x0, x1)


def test_load_train_set_rejects_a_corrupt_file(tmp_path):
    path = save_train_set(tmp_path / "train.safetensors", make_train_set(SPEC, 3, 0), SPEC)
    data = bytearray(path.read_bytes())
    path.write_bytes(bytes(data[: len(data) // 2]))
    with pytest.raises(SpecError, match="train_set"):
        load_train_set(path)
    with pytest.raises(SpecError, match="train_set"):
        load_train_set(tmp_path / "missing.safetensors")


def test_noised_is_the_ou_marginal():
    x0 = torch.randn(3, 2, 4, dtype=torch.float64)
    z = torch.randn(3, 2, 4, dtype=torch.float64)
    t = torch.tensor([0.01, 0.5, 7.0], dtype=torch.float64)
    xt = noised(x0, t, z)
    for i, ti in enumerate(t.tolist()):
        ref = math.exp(-ti / 2) * x0[i] + math.sqrt(1 - math.exp(-ti)) * z[i]
        assert torch.allclose(xt[i], ref, rtol=1e-14, atol=1e-15)
    a, s = alpha_sigma(t)
    assert torch.allclose(a**2 + s**2, torch.ones(3, dtype=torch.float64), atol=1e-15)


@pytest.mark.parametrize("t", [0.05, 0.5, 2.0])
def test_floor_matches_monte_carlo_of_the_optimal_denoiser(t):
    """ε* = -σ_t s(X_t) (exact score from the oracle's eigensolve) reaches the floor."""
    n = 4000
    rng = np.random.default_rng(5)
    oracle = Oracle.for_spec(SPEC)
    x0 = oracle.sample(n, seed=rng)
    z = rng.standard_normal(x0.shape)
    a, s = math.exp(-t / 2), math.sqrt(-math.expm1(-t))
    xt = a * x0 + s * z
    eps_star = -s * oracle.score(xt, t)
    per_seq = np.mean((eps_star - z) ** 2, axis=(1, 2))  # per-element loss of each sequence
    se = per_seq.std(ddof=1) / math.sqrt(n)
    floor = float(bayes_floor(SPEC, t))
    assert abs(per_seq.mean() - floor) <= 4 * se
    # predicting zero costs 1 per element: far above the floor (the check has teeth)
    assert abs(np.mean(z**2) - floor) > 20 * se


def test_floor_equals_the_oracle_floor_per_t():
    t = np.geomspace(SPEC.schedule.t0, SPEC.schedule.T, 7)
    ref = np.array([Oracle.for_spec(SPEC).bayes_floor(ti) for ti in t]) / (SPEC.d * SPEC.H)
    assert np.allclose(bayes_floor(SPEC, t), ref, rtol=1e-13, atol=0)


def test_floor_shape_and_range():
    t = np.array([[0.01, 0.1], [1.0, 10.0]])
    f = bayes_floor(SPEC, t)
    assert f.shape == t.shape and np.all((f > 0) & (f < 1))
    assert np.all(np.diff(f.reshape(-1)) < 0)  # less to denoise at larger t


def test_independent_frames_equals_oracle_when_gamma_is_identity():
    spec = GPSpec(kernel("laplace", ell=3.0), H=1, d=3, spatial=Spatial("random", kappa=5.0,
                                                                      seed=1))
    X = np.random.default_rng(0).standard_normal((4, 3, 1))
    for t in (0.01, 0.3, 3.0):
        assert np.allclose(independent_frames_score(spec, X, t), dense_score(spec, X, t),
                           rtol=1e-12, atol=0)


def test_independent_frames_is_the_per_frame_solve_and_not_the_oracle():
    spec = GPSpec(kernel("laplace", ell=3.0), H=5, d=3,
                  spatial=Spatial("random", kappa=4.0, seed=2), schedule=Schedule())
    X = np.random.default_rng(1).standard_normal((2, 3, 5))
    t = np.array([0.2, 1.5])
    got = independent_frames_score(spec, X, t)
    for i in range(2):
        A = math.exp(-t[i]) * spec.Sigma + -math.expm1(-t[i]) * np.eye(3)
        assert np.allclose(got[i], -np.linalg.solve(A, X[i]), rtol=1e-12)
    assert not np.allclose(got, Oracle.for_spec(spec).score(X, t), rtol=1e-2)
    tg = independent_frames_score(spec, torch.from_numpy(X), torch.from_numpy(t))
    assert isinstance(tg, torch.Tensor) and np.allclose(tg.numpy(), got, rtol=1e-15)
