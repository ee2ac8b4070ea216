"""The fast long-sequence paths (the speed work): circulant + skew-circulant split, the
Ammar–Gader inverse on packed pairs, its residual certificate and CG refinement, and the
decimated circulant-embedding sampler.  Each check has its planted bug next to it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.linalg
from ditgp.numerics.fft import circulant_embedding as ce
from ditgp.numerics.fft import fft_oracle as fo
from ditgp.numerics.fft.circulant_embedding import CirculantEmbedding
from ditgp.numerics.fft.fft_oracle import FFTOracle
from ditgp.numerics.fft.split_toeplitz import (
    AmmarGaderInverse,
    SplitToeplitz,
    split_first_columns,
)
from ditgp.numerics.oracle import Oracle
from ditgp.numerics.tolerances import FFT_EIG_MATCH, fft_eig_tolerance
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial


def _complex(shape, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal(shape) + 1j * rng.standard_normal(shape)


@pytest.mark.parametrize("H", [1, 2, 3, 16, 37, 64])
def test_split_product_equals_dense(H):
    g = kernel("power-law", ell=1.0, nu=0.7).gamma(np.arange(H))
    G = scipy.linalg.toeplitz(g)
    c, s = split_first_columns(g)
    assert np.allclose(c + s, g, rtol=0, atol=1e-15)
    op = SplitToeplitz(g)
    assert op.norm_bound >= np.linalg.norm(G, 2) * (1 - 1e-12)
    Z = _complex((2, 3, H), H)
    a, sh = np.array([0.3, 1.0, 4.0]), np.array([0.1, 0.2, 0.3])
    ref = np.stack([Z[:, i] @ (a[i] * G + sh[i] * np.eye(H)) for i in range(3)], axis=1)
    assert np.max(np.abs(op.apply(Z, a, sh) - ref)) <= 1e-13 * np.abs(ref).max()
    # packing: a real operator acts on the real and imaginary parts separately
    assert np.allclose(op.apply(Z.real, a, sh).real, ref.real, rtol=0, atol=1e-13)
    if H > 2:  # planted bug: a skew-circulant phase e^{-iπj/H} (wrong sign) breaks it
        bad = SplitToeplitz(g)
        bad.D = bad.D.conj()
        assert np.max(np.abs(bad.apply(Z, a, sh) - ref)) > 1e-3 * np.abs(ref).max()


@pytest.mark.parametrize("H", [1, 2, 5, 64, 101])
def test_ammar_gader_inverse_equals_dense_inverse(H):
    g = kernel("rational-quadratic", ell=2.0, alpha=1.0).gamma(np.arange(H))
    Ts = [a * scipy.linalg.toeplitz(g) + 0.05 * np.eye(H) for a in (0.8, 3.0)]
    x = np.stack([np.linalg.solve(T, np.eye(H)[0]) for T in Ts])
    inv = AmmarGaderInverse(x)
    Z = _complex((3, 2, H), 0)
    ref = np.stack([np.linalg.solve(Ts[i], Z[:, i].T).T for i in range(2)], axis=1)
    assert np.max(np.abs(inv.apply(Z) - ref)) <= 1e-11 * np.abs(ref).max()
    if H > 2:
        # planted bug: one generator entry with its sign flipped
        xb = x.copy()
        xb[:, 1] *= -1
        assert np.max(np.abs(AmmarGaderInverse(xb).apply(Z) - ref)) > 1e-4 * np.abs(ref).max()
        # planted bug: C Sᵀ - Cᵀ S (a sign in the formula)
        bad = AmmarGaderInverse(x)
        bad._c_conj = -bad._c_conj
        assert np.max(np.abs(bad.apply(Z) - ref)) > 1e-2 * np.abs(ref).max()
    with pytest.raises(ValueError, match="x₀ > 0"):
        AmmarGaderInverse(-x)


SPEC = GPSpec(kernel("laplace", ell=4.0), H=96, d=3, spatial=Spatial("ar", rho=0.5))


@pytest.mark.parametrize("n", [1, 2, 5])
@pytest.mark.parametrize("chunk", [1, 10 ** 6])
def test_direct_solve_equals_eig_any_batch_and_chunking(n, chunk, monkeypatch):
    """Odd batches (a zero partner), one pair per chunk on threads, or one chunk."""
    monkeypatch.setattr(fo, "PAIR_CHUNK_ELEMENTS", chunk)
    X = np.random.default_rng(n).standard_normal((n, 3, 96))
    o, f = Oracle(SPEC), FFTOracle(SPEC)
    for t in (1e-3, 0.3):
        res = f.solve_certified(X, t, rtol=1e-11)
        exact = o.solve(X, t)
        assert res.met and np.all(res.iterations == 0)  # certified directly
        err = np.linalg.norm(res.V - exact, axis=(1, 2))
        assert np.all(err <= res.error_bound + 1e-14 * np.linalg.norm(exact, axis=(1, 2)))
        assert np.max(err / np.linalg.norm(exact, axis=(1, 2))) <= fft_eig_tolerance(o.kappa(t))


def test_packed_pair_of_very_different_sizes_is_still_certified():
    """A tiny sequence packed with a big one gets the big one's rounding: CG refines it."""
    X = np.random.default_rng(3).standard_normal((2, 3, 96))
    X[1] *= 1e-9
    res = FFTOracle(SPEC).solve_certified(X, 0.2, rtol=1e-10)
    exact = Oracle(SPEC).solve(X, 0.2)
    assert res.met
    rel = np.linalg.norm(res.V - exact, axis=(1, 2)) / np.linalg.norm(exact, axis=(1, 2))
    assert np.all(rel <= FFT_EIG_MATCH) and np.all(rel <= res.rel_error_bound)


def _corrupt_generator(f: FFTOracle, t: float, scale: float) -> None:
    inv = f.inverse_generator(t)
    x = inv.x * (1 + scale * np.random.default_rng(0).standard_normal(inv.x.shape))
    f._gs[float(t)] = dataclasses.replace(inv, inverse=AmmarGaderInverse(x), x=x)


def test_residual_certificate_catches_a_bad_generator_and_cg_repairs_it(monkeypatch):
    """Generators off by 1e-6: the residual exposes it, CG refines to the target; a solver
    that skipped the residual (planted: residual forced to 0) would return a false bound."""
    X = np.random.default_rng(5).standard_normal((3, 3, 96))
    exact = Oracle(SPEC).solve(X, 0.2)
    f = FFTOracle(SPEC)
    _corrupt_generator(f, 0.2, 1e-6)
    res = f.solve_certified(X, 0.2, rtol=1e-10)
    err = np.linalg.norm(res.V - exact, axis=(1, 2))
    assert res.met and np.all(res.iterations > 0)
    assert np.all(err <= res.error_bound) and np.all(res.rel_error_bound <= 1e-10 * (1 + 1e-9))
    # planted bug: no residual (R = 0): the bound is rounding only and false
    monkeypatch.setattr(FFTOracle, "_residual", lambda self, Z, W, inv, workers: 0 * Z)
    res = f.solve_certified(X, 0.2, rtol=1e-10)
    err = np.linalg.norm(res.V - exact, axis=(1, 2))
    assert np.all(res.iterations == 0) and np.any(err > res.error_bound)


def test_refinement_is_preconditioned(monkeypatch):
    """Generators off by 1e-4: Chan-preconditioned CG repairs the direct solution in a few
    steps (6 measured); planted bug: a preconditioner replaced by the identity takes ~30."""
    X = np.random.default_rng(6).standard_normal((2, 3, 96))
    its = {}
    for pc in ("chan", "identity"):
        f = FFTOracle(SPEC)
        _corrupt_generator(f, 0.2, 1e-4)
        if pc == "identity":
            f.solver._pc = np.ones_like(f.solver._pc)
        res = f.solve_certified(X, 0.2, rtol=1e-10)
        assert res.met
        its[pc] = int(res.iterations.max())
    assert its["chan"] <= 10 < its["identity"], its


# -- sampling ------------------------------------------------------------------------------

@pytest.mark.parametrize("H", [1, 2, 3, 20, 51])
def test_decimated_embedding_equals_one_long_fft(H):
    """Two FFTs of length N/2 give the first H outputs of the length-N FFT (also when
    N = 2(H-1), where output H-1 = N/2 wraps), for several blocks of streams."""
    emb = CirculantEmbedding(kernel("laplace", ell=3.0).gamma, H)
    rows = 2 * ce.SAMPLE_BLOCK + 5
    got = emb.sample(rows, np.random.default_rng(9))
    P, B = (rows + 1) // 2, ce.SAMPLE_BLOCK
    kids = np.random.default_rng(9).spawn(-(-P // B))
    W = np.concatenate([k.standard_normal((min(B, P - B * i), emb.N, 2))
                        for i, k in enumerate(kids)])
    Y = np.fft.fft(emb.sqrt_lam * (W[..., 0] + 1j * W[..., 1]), axis=-1)[:, :H]
    ref = np.empty((2 * Y.shape[0], H))
    ref[0::2], ref[1::2] = Y.real, Y.imag
    assert np.max(np.abs(got - ref[:rows])) <= 1e-13 * max(1.0, np.abs(ref).max())


def test_draw_does_not_depend_on_thread_count(monkeypatch):
    f = FFTOracle(SPEC)
    a = f.sample(9, seed=4, t=0.3)
    monkeypatch.setattr(ce, "SAMPLE_THREADS", 1)
    assert np.array_equal(a, f.sample(9, seed=4, t=0.3))
