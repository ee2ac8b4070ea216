"""Data streams (Philox, the stream's contract and its pinned laws), finite training sets, the
forward process, the Bayes floor, the baseline."""

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


def test_train_set_is_used_in_epochs_and_slices_like_the_global_batch():
    x = make_train_set(SPEC, 10, seed=2)
    stream = GPStream(SPEC, batch=4, seed=7, dtype=torch.float64, train_set=x)
    rows = torch.cat([stream.batch(k)[0] for k in range(5)])  # 20 rows = 2 epochs of 10
    flat = x.reshape(10, -1)
    which = [int(torch.nonzero((flat == r.reshape(1, -1)).all(1))[0]) for r in rows]
    assert sorted(which[:10]) == list(range(10)) and sorted(which[10:]) == list(range(10))
    assert which[:10] != which[10:]  # a fresh permutation each epoch
    fresh = GPStream(SPEC, batch=4, seed=7, dtype=torch.float64, train_set=x)
    for x_, y_ in zip(fresh.batch(3), _cat([fresh.batch(3, r, 3) for r in range(3)]),
                      strict=True):
        assert torch.equal(x_, y_)
    assert torch.equal(fresh.batch(4)[0], stream.batch(4)[0])


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


# -- the counter-based generator and the stream's contract ---------------------------------
def _philox_reference(ctr: list[int], key: list[int], rounds: int = 10) -> list[int]:
    """Philox4x32 on Python integers, straight from the definition (an independent oracle)."""
    M0, M1, W0, W1, mask = 0xD2511F53, 0xCD9E8D57, 0x9E3779B9, 0xBB67AE85, 0xFFFFFFFF
    c, (k0, k1) = list(ctr), key
    for _ in range(rounds):
        p0, p1 = M0 * c[0], M1 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k0, p1 & mask, (p0 >> 32) ^ c[3] ^ k1, p0 & mask]
        k0, k1 = (k0 + W0) & mask, (k1 + W1) & mask
    return c


#: Known-answer vectors of Philox4x32-10 (the Random123 distribution's kat_vectors)
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF,) * 2, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def test_philox_known_answers_and_the_reference_on_random_counters():
    from ditgp.models.philox import philox4x32

    for ctr, key, want in PHILOX_KAT:
        got = philox4x32(*(torch.tensor([c]) for c in ctr), key)
        assert tuple(int(w) for w in got) == want
        assert tuple(_philox_reference(list(ctr), list(key))) == want
    rng = np.random.default_rng(0)
    ctr = rng.integers(0, 2**32, size=(4, 200), dtype=np.uint64).astype(np.int64)
    key = (0xDEADBEEF, 0x12345678)
    got = torch.stack(philox4x32(*(torch.from_numpy(c) for c in ctr), key)).numpy()
    for i in range(200):
        assert list(got[:, i]) == _philox_reference([int(c) for c in ctr[:, i]], list(key))
    # the per-slice block (rounds 1-2 precomputed) gives the same words for any word 2
    from ditgp.models.philox import Philox4x32Block

    block = Philox4x32Block(*(torch.from_numpy(c) for c in (ctr[0], ctr[1], ctr[3])), key)
    for c2 in (0, 1, 2**31, 2**32 - 1, 987654321):
        full = philox4x32(*(torch.from_numpy(c) for c in (ctr[0], ctr[1])),
                          torch.full((200,), c2), torch.from_numpy(ctr[3]), key)
        assert all(torch.equal(a, b) for a, b in zip(block(c2), full, strict=True))
    # the check can fail: nine rounds give other words
    assert tuple(int(w) for w in philox4x32(*(torch.tensor([0]),) * 4, (0, 0), rounds=9)) \
        != PHILOX_KAT[0][2]


def test_box_muller_normals_are_bounded_and_standard():
    from ditgp.models.philox import MAX_NORMAL, box_muller

    w = torch.tensor([0, 2**32 - 1, 2**31], dtype=torch.int64)
    c, s = box_muller(w, torch.zeros_like(w))
    assert float(c[0]) == pytest.approx(MAX_NORMAL, rel=1e-12) and torch.all(s == 0)
    words = torch.from_numpy(np.random.default_rng(1).integers(0, 2**32, (2, 20000)))
    z = torch.cat(box_muller(words[0], words[1])).numpy()
    assert np.abs(z).max() <= MAX_NORMAL
    assert scipy.stats.kstest(z, "norm").pvalue > 1e-3


def test_rows_do_not_depend_on_the_batch_size_or_the_slicing():
    """Row ``i`` of batch ``k`` is a function of ``(seed, k, i)`` only: the same bytes in a
    7-row and a 12-row batch and in every rank slice (the exact transform makes the GEMM's
    rounding independent of the number of rows)."""
    spec = GPSpec(kernel("laplace", ell=4.0), H=16, d=3, spatial=Spatial("ar", rho=0.4))
    small = GPStream(spec, batch=7, seed=5, dtype=torch.float64).batch(4)
    big = GPStream(spec, batch=12, seed=5, dtype=torch.float64).batch(4)
    for a, b in zip(small, big, strict=True):
        assert torch.equal(a, b[:7])
    s = GPStream(spec, batch=12, seed=5, dtype=torch.float64)
    for world in (5, 12):
        for a, b in zip(big, _cat([s.batch(4, r, world) for r in range(world)]), strict=True):
            assert torch.equal(a, b)


def _plain_transform(self, g):
    """The transform as two plain float64 GEMMs (the planted bug of the tests below)."""
    lam = torch.as_tensor(np.maximum(self.oracle.lam, 0.0))
    mu = torch.as_tensor(np.maximum(self.oracle.mu, 0.0))
    return self._U_S @ ((g * torch.sqrt(torch.outer(mu, lam))) @ self._U_GT)


def test_exact_transform_equals_the_plain_product_to_1e11():
    spec = GPSpec(kernel("laplace", ell=8.0), H=96, d=8, spatial=Spatial("ar", rho=0.5))
    s = GPStream(spec, batch=4, seed=0, dtype=torch.float64)
    g = torch.randn(16, spec.d, spec.H, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    exact, plain = s.transform(g), _plain_transform(s, g)
    assert float((exact - plain).norm() / plain.norm()) < 1e-11


def _batch_scaled_transform(self, g):
    """The plain GEMMs on inputs scaled by the batch's largest entry (a transform whose
    rounding depends on which rows share the batch, whatever the BLAS)."""
    m = g.abs().max() * 1.1
    return _plain_transform(self, g / m) * m


def test_batch_dependent_rounding_breaks_the_slicing_planted(monkeypatch):
    """Planted bug for the two tests above: a transform whose rounding depends on the rows
    that share the batch (some BLAS round plain GEMMs by the number of rows; this plant does it
    on every BLAS) gives a 1-row slice that differs from the batch in the last bits."""
    monkeypatch.setattr(GPStream, "transform", _batch_scaled_transform)
    stream = GPStream(SPEC, batch=7, seed=11, dtype=torch.float64)
    full = stream.batch(5)[0]
    sliced = torch.cat([stream.batch(5, r, w)[0] for w in (2, 3, 4, 7) for r in range(w)])
    assert not torch.equal(full.repeat(4, 1, 1), sliced)


def test_prefetched_batches_are_the_stream_batches():
    from ditgp.models.data import Prefetcher

    s = GPStream(SPEC, batch=6, seed=2)
    with Prefetcher(s, rank=1, world=2) as pre:
        for k in (0, 1, 2, 5, 6):  # in order (prefetched) and a jump (computed at once)
            x0, t, z, t_host = pre.get(k)
            ref = s.batch(k, 1, 2)
            for a, b in zip((x0, t, z), ref, strict=True):
                assert torch.equal(a, b)
            assert np.array_equal(t_host, ref[1].numpy())


def test_seed_and_batch_index_range():
    s = GPStream(SPEC, batch=2, seed=2**64 - 1)
    assert s.batch(2**40)[0].shape == (2, SPEC.d, SPEC.H)
    assert not torch.equal(s.batch(2**32)[0], s.batch(0)[0])  # the high word of k counts
    with pytest.raises(SpecError, match="seed"):
        GPStream(SPEC, batch=2, seed=2**64)
    with pytest.raises(SpecError, match="k"):
        s.batch(2**56)


# -- the laws (pinned; the stream's numbers may change, its law may not) ------------------
#: false-alarm rate of the law tests below: a correct stream fails them with this probability
#: for a random seed (the seeds are fixed, so the tests are deterministic)
LAW_ALPHA = 1e-3


def _covariance_lrt(W: np.ndarray, C: np.ndarray) -> tuple[float, float]:
    """Likelihood-ratio statistic of ``Cov = C`` for zero-mean rows ``W`` ``(n, p)``:
    whitened sample covariance ``S``, ``n·(tr S − ln det S − p)`` ~ ``χ²`` with ``p(p+1)/2``
    degrees of freedom (``n·S`` is Wishart under the null); returns ``(statistic, threshold)``."""
    n, p = W.shape
    evals, evecs = np.linalg.eigh(C)
    Wh = W @ evecs / np.sqrt(evals)  # whitened: N(0, I) under the null
    S = Wh.T @ Wh / n
    stat = n * (np.trace(S) - np.linalg.slogdet(S)[1] - p)
    return float(stat), float(scipy.stats.chi2.isf(LAW_ALPHA, p * (p + 1) // 2))


LAW_SPEC = GPSpec(kernel("laplace", ell=2.0), H=4, d=2, spatial=Spatial("ar", rho=0.6))


def _law_rows(stream: GPStream, which: int = 0) -> np.ndarray:
    X = torch.cat([stream.batch(k)[which] for k in range(8)]).numpy()  # (4096, d, H)
    return np.swapaxes(X, 1, 2).reshape(X.shape[0], -1)  # vec stacks columns: Cov = Γ⊗Σ


def test_law_of_x0_and_z_pinned_by_a_wishart_likelihood_ratio():
    s = GPStream(LAW_SPEC, batch=512, seed=9, dtype=torch.float64)
    stat, thr = _covariance_lrt(_law_rows(s, 0), np.kron(LAW_SPEC.Gamma, LAW_SPEC.Sigma))
    assert stat < thr, (stat, thr)
    stat, thr = _covariance_lrt(_law_rows(s, 2), np.eye(LAW_SPEC.d * LAW_SPEC.H))
    assert stat < thr, (stat, thr)


@pytest.mark.parametrize("bug", ["no square root", "U_Gamma not transposed"])
def test_law_test_catches_planted_transform_bugs(bug):
    s = GPStream(LAW_SPEC, batch=512, seed=9, dtype=torch.float64)
    lam, mu = np.maximum(s.oracle.lam, 0.0), np.maximum(s.oracle.mu, 0.0)
    if bug == "no square root":  # √(μλᵀ) → μλᵀ
        s._exact_plan(lam**2, mu**2)
    else:
        s._U_GT = s._U_GT.T.contiguous()
        s._exact_plan(lam, mu)
    stat, thr = _covariance_lrt(_law_rows(s, 0), np.kron(LAW_SPEC.Gamma, LAW_SPEC.Sigma))
    assert stat > thr, (stat, thr)


T_SPEC = GPSpec(kernel("laplace", ell=3.0), H=4, d=1, schedule=Schedule(t0=0.5, T=10.0))


def _t_draws(sampling: str = "uniform") -> np.ndarray:
    s = GPStream(T_SPEC, batch=64, seed=3, t_sampling=sampling)
    return np.concatenate([s.batch(k)[1].numpy() for k in range(80)])  # 5120 draws


def test_law_of_t_with_t0_over_T_of_5_percent():
    """Uniform on [t0, T] (KS, false alarms LAW_ALPHA) on a schedule where t0/T = 0.05, so
    that the wrong map t0 + T·u (5 % of the mass clamped at T) is caught (next test)."""
    t0, T = T_SPEC.schedule.t0, T_SPEC.schedule.T
    t = _t_draws()
    assert t.min() >= t0 and t.max() <= T
    assert scipy.stats.kstest(t, "uniform", args=(t0, T - t0)).pvalue > LAW_ALPHA
    lt = _t_draws("log-uniform")
    assert scipy.stats.kstest(np.log(lt), "uniform",
                              args=(math.log(t0), math.log(T / t0))).pvalue > LAW_ALPHA


def test_law_of_t_catches_t0_plus_T_u_planted(monkeypatch):
    import ditgp.models.data as D

    def wrong(u, t0, T, sampling):
        return (u * T + t0).clamp_(t0, T)

    monkeypatch.setattr(D, "sample_times", wrong)
    t0, T = T_SPEC.schedule.t0, T_SPEC.schedule.T
    assert scipy.stats.kstest(_t_draws(), "uniform", args=(t0, T - t0)).pvalue < LAW_ALPHA


def test_train_set_files_of_identical_sets_are_byte_identical(tmp_path):
    """safetensors writes its metadata map in random order; the train set's writer sorts it (the
    file's sha256 is recorded in config.json and checked on resume)."""
    from ditgp.models.data import make_train_set, save_train_set
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec

    spec = GPSpec(kernel("laplace", ell=2.0), H=4, d=2)
    x = make_train_set(spec, 3, seed=1)
    blobs = {save_train_set(tmp_path / f"{i}.safetensors", x, spec).read_bytes() for i in range(6)}
    assert len(blobs) == 1
