"""The long-sequence FFT path against the eigen oracle, Levinson and dense solves."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
from ditgp.numerics.fft.circulant import chan_eigenvalues, strang_eigenvalues
from ditgp.numerics.fft.circulant_embedding import CirculantEmbedding, EmbeddingError
from ditgp.numerics.fft.fft_oracle import FFTOracle, eig_memory_bytes, fft_memory_bytes, lanczos_spectrum
from ditgp.numerics.fft.gohberg_semencul import GSInverse, trace_inverse
from ditgp.numerics.fft.toeplitz import dense_toeplitz
from ditgp.numerics.fft.toeplitz_solve import ToeplitzShiftSolver
from ditgp.numerics.oracle import (
    AUTO_SWITCH_H,
    Oracle,
    dense_score,
    exact_score,
    oracle_for,
    select_method,
)
from ditgp.numerics.tolerances import FFT_EIG_MATCH, MC_SIGMAS, fft_eig_tolerance
from ditgp.theory.derive import DENSE_MAX_H, dense_spectrum, derive
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.kernels.examples import EXAMPLES
from ditgp.theory.spec import GPSpec, Schedule, Spatial

SPATIALS = (Spatial("identity"), Spatial("ar", rho=0.6), Spatial("random", kappa=30.0, seed=3))
TIMES = (1e-3, 0.3, 3.0)


def _rel(a, b):
    return np.linalg.norm(a - b, axis=(1, 2)) / np.linalg.norm(b, axis=(1, 2))


@pytest.mark.parametrize("name,factory", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_fft_equals_eig_every_kernel(name, factory):
    """FFT path = eigen path to 1e-12 (or 16·u·κ_t when the eig path's own rounding is
    larger), every family and composite, three Σ, three t."""
    i = [e[0] for e in EXAMPLES].index(name)
    spec = GPSpec(factory(), H=192, d=3, spatial=SPATIALS[i % 3])
    o, f = Oracle(spec), FFTOracle(spec)
    X = o.sample(3, seed=i, t=0.5)
    for t, generator in zip(TIMES, (False, True, i % 2 == 0), strict=True):
        res = f.solve_certified(X, t, rtol=FFT_EIG_MATCH / 10, use_generator=generator)
        exact = o.solve(X, t)
        assert np.max(_rel(res.V, exact)) <= fft_eig_tolerance(o.kappa(t))
        # the certificate holds (the eig path is exact up to its own rounding u·κ)
        assert np.all(np.linalg.norm(res.V - exact, axis=(1, 2)) <= res.error_bound
                      + 1e-13 * np.linalg.norm(exact, axis=(1, 2)))


@pytest.mark.slow
@pytest.mark.parametrize("kname,params", [("power-law", {"ell": 1.0, "nu": 1.5}),
                                          ("logarithmic", {"ell": 1.0, "nu": 1.0})])
def test_fft_equals_eig_H2048(kname, params):
    spec = GPSpec(kernel(kname, **params), H=2048, d=2, spatial=Spatial("ar", rho=0.5))
    o, f = Oracle(spec), FFTOracle(spec)
    X = f.sample(2, seed=1, t=0.1)
    res = f.solve_certified(X, 0.1, rtol=FFT_EIG_MATCH / 10)
    assert np.max(_rel(res.V, o.solve(X, 0.1))) <= FFT_EIG_MATCH


def test_matches_levinson_and_dense():
    spec = GPSpec(kernel("matern32", ell=3.0), H=64, d=2, spatial=Spatial("ar", rho=0.4))
    X = np.random.default_rng(0).standard_normal((2, 2, 64))
    S = -FFTOracle(spec).solve_certified(X, 0.2, rtol=1e-13).V
    assert np.max(_rel(S, dense_score(spec, X, 0.2))) <= FFT_EIG_MATCH
    # Levinson (scipy.linalg.solve_toeplitz) on one system of the eigenbasis
    g = spec.kernel.gamma(np.arange(64))
    a2, s2 = float(spec.schedule.alpha2(0.2)), float(spec.schedule.sigma2(0.2))
    solver = ToeplitzShiftSolver(g, 0.0)
    b = X[0, 0]
    y = solver.solve(b[None], a2 * 0.7, s2, rtol=1e-13).y[0]
    lev = scipy.linalg.solve_toeplitz(a2 * 0.7 * g + s2 * (np.arange(64) == 0), b)
    assert np.linalg.norm(y - lev) <= 1e-12 * np.linalg.norm(lev)


@pytest.mark.parametrize("kname,params", [("laplace", {"ell": 8.0}),
                                          ("squared-exponential", {"ell": 2.0}),
                                          ("power-law", {"ell": 4.0, "nu": 0.5})])
def test_certificate_holds_and_is_within_stated_factor(kname, params):
    """At a loose rtol the CG error dominates rounding: true ≤ bound ≤ κ̄·true·(1+slack)."""
    H = 400
    g = kernel(kname, **params).gamma(np.arange(H))
    from ditgp.theory.spectral import eigenvalue_bounds

    eb = eigenvalue_bounds(kernel(kname, **params), H)
    solver = ToeplitzShiftSolver(g, eb.lower, eb.upper)
    T_dense = dense_toeplitz(g)
    B = np.random.default_rng(2).standard_normal((4, H))
    a = np.array([0.05, 0.5, 2.0, 9.0])
    s = 0.1
    for rtol in (1e-3, 1e-6, 1e-9):
        res = solver.solve(B, a, s, rtol=rtol)
        assert res.met
        for r in range(4):
            exact = np.linalg.solve(a[r] * T_dense + s * np.eye(H), B[r])
            err = np.linalg.norm(res.y[r] - exact)
            assert err <= res.error_bound[r]
            assert res.error_bound[r] <= rtol * np.linalg.norm(res.y[r]) * (1 + 1e-12)
            factor = solver.looseness(a[r:r + 1], np.array([s]))[0]
            rounding = solver.rounding(res.y[r:r + 1], B[r:r + 1], a[r:r + 1],
                                       np.array([s]))[0] / solver.lam_lo(a[r], s)
            assert res.error_bound[r] <= factor * err * (1 + 1e-6) + 2 * rounding


def test_certificate_fails_for_a_wrong_lower_bound():
    """Planted bug: λ_lo above the true λ_min (dropping σ²) makes the 'bound' false."""
    H = 300
    g = kernel("squared-exponential", ell=2.0).gamma(np.arange(H))
    lam = np.linalg.eigvalsh(dense_toeplitz(g))
    wrong = ToeplitzShiftSolver(g, lam[-1])  # claims λ_min(Γ) = λ_max(Γ)
    B = np.random.default_rng(0).standard_normal((1, H))
    res = wrong.solve(B, 1.0, 1e-3, rtol=1e-4)
    exact = np.linalg.solve(dense_toeplitz(g) + 1e-3 * np.eye(H), B[0])
    assert np.linalg.norm(res.y[0] - exact) > res.error_bound[0]


def test_cg_iterations_bounded_in_H():
    """Summable kernels: Chan-preconditioned CG needs O(1) iterations as H grows 64×."""
    its = {}
    for kname, params in (("laplace", {"ell": 4.0}), ("power-law", {"ell": 1.0, "nu": 2.0})):
        from ditgp.theory.spectral import eigenvalue_bounds

        k = kernel(kname, **params)
        for H in (256, 1024, 4096, 16384):
            solver = ToeplitzShiftSolver(k.gamma(np.arange(H)), eigenvalue_bounds(k).lower)
            B = np.random.default_rng(H).standard_normal((2, H))
            its[kname, H] = int(solver.solve(B, np.exp(-1e-3), -np.expm1(-1e-3),
                                             rtol=1e-10).iterations.max())
        assert its[kname, 16384] <= its[kname, 256] + 3, its
    # without preconditioning the count grows (the preconditioner is what bounds it)
    k = kernel("power-law", ell=1.0, nu=2.0)
    plain = ToeplitzShiftSolver(k.gamma(np.arange(4096)), 0.0, preconditioner="none")
    B = np.random.default_rng(0).standard_normal((1, 4096))
    assert plain.solve(B, 1.0, 1e-3, rtol=1e-10).iterations.max() > 3 * its["power-law", 4096]


def test_chan_preconditioner_is_positive_strang_may_not_be():
    g = kernel("power-law", ell=4.0, nu=0.5).gamma(np.arange(512))
    assert chan_eigenvalues(g).min() > 0
    assert chan_eigenvalues(g).min() >= np.linalg.eigvalsh(dense_toeplitz(g))[0] - 1e-10
    g2 = kernel("damped-cosine", ell=2.0, omega=3.0).gamma(np.arange(64))
    lam = np.linalg.eigvalsh(dense_toeplitz(g2))
    assert lam[0] - 1e-12 <= chan_eigenvalues(g2).min()
    assert np.isfinite(strang_eigenvalues(g2)).all()


def test_gohberg_semencul_inverse_and_trace():
    H = 200
    g = kernel("rational-quadratic", ell=2.0, alpha=1.0).gamma(np.arange(H))
    T = 0.8 * dense_toeplitz(g) + 0.05 * np.eye(H)
    Ti = np.linalg.inv(T)
    gs = GSInverse(Ti[:1])
    B = np.random.default_rng(0).standard_normal((3, H))
    assert np.max(np.abs(gs.apply(B, np.zeros(3, int)) - B @ Ti)) <= 1e-10 * np.abs(Ti).max()
    tr, err = trace_inverse(Ti[0], 1e-12)
    assert abs(tr - np.trace(Ti)) <= err
    # planted bug: dropping the (H - j) weights is far outside the bound
    y = np.r_[0.0, Ti[0, :0:-1]]
    wrong = np.sum(Ti[0] ** 2 - y ** 2) / Ti[0, 0]
    assert abs(wrong - np.trace(Ti)) > err


@pytest.mark.parametrize("t", [1e-3, 0.2, 4.0])
def test_bayes_floor_exact_with_bound(t):
    spec = GPSpec(kernel("matern52", ell=4.0), H=700, d=3, spatial=Spatial("random", kappa=5.0,
                                                                           seed=1))
    est = FFTOracle(spec).bayes_floor_with_error(t)
    exact = Oracle(spec).bayes_floor(t)
    assert abs(est.value - exact) <= est.error_bound + 1e-12 * exact
    assert est.error_bound <= 1e-6 * exact


def test_log_density_within_its_standard_error():
    spec = GPSpec(kernel("laplace", ell=4.0), H=512, d=2, spatial=Spatial("ar", rho=0.3))
    o, f = Oracle(spec), FFTOracle(spec)
    X = o.sample(3, seed=2, t=0.1)
    for t in (0.1, None):
        est = f.log_density_with_error(X, t)
        exact = o.log_density(X, t)
        assert np.all(np.abs(est.value - exact) <= MC_SIGMAS * est.stderr + est.quad_error_bound)
        assert est.stderr < 1e-3 * np.abs(exact).min()


def test_lanczos_extremes_within_radius():
    spec = GPSpec(kernel("power-law", ell=1.0, nu=1.5), H=600, d=1)
    ex = FFTOracle(spec).extremes()
    lam = np.linalg.eigvalsh(spec.Gamma)
    assert abs(ex.lam_max - lam[-1]) <= ex.radius_max + 1e-12
    assert abs(ex.lam_min - lam[0]) <= max(ex.radius_min, 1e-6)
    assert lam[0] - 1e-12 <= ex.lam_min and ex.lam_max <= lam[-1] + 1e-12


# -- sampling -----------------------------------------------------------------------------

def test_sampling_law_and_seed():
    spec = GPSpec(kernel("laplace", ell=3.0), H=50, d=2, spatial=Spatial("ar", rho=0.5))
    f = FFTOracle(spec)
    a, b = f.sample(3, seed=7), f.sample(3, seed=7)
    assert np.array_equal(a, b) and not np.array_equal(a, f.sample(3, seed=8))
    # the documented law, rebuilt by hand (one length-N FFT, not the sampler's two of N/2)
    emb = f.embedding
    rng = np.random.default_rng(7)
    (kid,) = rng.spawn(1)  # 6 rows = 3 complex rows: one block
    W = kid.standard_normal((3, emb.N, 2))
    Y = np.fft.fft(emb.sqrt_lam * (W[..., 0] + 1j * W[..., 1]), axis=-1)[:, :50]
    rows = np.empty((6, 50))
    rows[0::2], rows[1::2] = Y.real, Y.imag
    Z = rows.reshape(3, 2, 50)
    X = np.einsum("ij,njh->nih", f.U_Sigma * np.sqrt(f.mu), Z)
    assert np.allclose(a, X, rtol=0, atol=1e-12)
    # with t: the noise comes from a second spawn, in blocks of 16 rows
    (noise_kid,) = rng.spawn(1)
    Wt = noise_kid.standard_normal((6, 50)).reshape(3, 2, 50)
    a2, s2 = float(spec.schedule.alpha2(0.4)), float(spec.schedule.sigma2(0.4))
    assert np.allclose(f.sample(3, seed=7, t=0.4), np.sqrt(a2) * X + np.sqrt(s2) * Wt,
                       rtol=0, atol=1e-12)
    # prefix property: more draws keep the first ones (blocks are independent streams)
    assert np.allclose(f.sample(40, seed=7)[:3], a, rtol=0, atol=1e-12)
    legacy = np.random.MT19937(0)
    legacy._legacy_seeding(0)  # a bit generator without a SeedSequence cannot spawn
    with pytest.raises(SpecError, match="seed"):
        f.sample(2, seed=np.random.Generator(legacy))


def _cov_statistic(samples, Gamma):
    """n/2·‖S - I‖²-type statistic of whitened samples, ≈ χ²(H(H+1)/2) under the null."""
    L = np.linalg.cholesky(Gamma)
    W = scipy.linalg.solve_triangular(L, samples.T, lower=True).T
    n, H = W.shape
    S = W.T @ W / n
    off = np.triu(S - np.eye(H), 1)
    return n * (np.sum(off ** 2) + np.sum((np.diag(S) - 1) ** 2) / 2), H * (H + 1) // 2


def test_embedding_samples_have_the_covariance_with_stated_power():
    """Level 1e-3 χ² test on whitened samples (n = 4000, H = 24); power ≥ 0.99 against a
    sampler with ℓ off by 10% (computed from the non-central χ², stated here)."""
    H, n = 24, 4000
    k = kernel("laplace", ell=3.0)
    G = dense_toeplitz(k.gamma(np.arange(H)))
    emb = CirculantEmbedding(k.gamma, H)
    stat, df = _cov_statistic(emb.sample(n, np.random.default_rng(11)), G)
    crit = scipy.stats.chi2.ppf(1 - 1e-3, df)
    assert stat <= crit
    # power against ℓ' = 1.1ℓ: non-centrality n·(Σ_{i<j}Δ² + ΣΔ_ii²/2), Δ = L⁻¹Γ'L⁻ᵀ - I
    G_alt = dense_toeplitz(kernel("laplace", ell=3.3).gamma(np.arange(H)))
    L = np.linalg.cholesky(G)
    D = scipy.linalg.solve_triangular(L, scipy.linalg.solve_triangular(L, G_alt, lower=True).T,
                                      lower=True) - np.eye(H)
    nc = n * (np.sum(np.triu(D, 1) ** 2) + np.sum(np.diag(D) ** 2) / 2)
    assert scipy.stats.ncx2.sf(crit, df, nc) >= 0.99
    bad = CirculantEmbedding(kernel("laplace", ell=3.3).gamma, H)
    assert _cov_statistic(bad.sample(n, np.random.default_rng(11)), G)[0] > crit


def test_embedding_negative_pads_or_refuses(monkeypatch):
    k = kernel("matern52", ell=10.0)
    emb = CirculantEmbedding(k.gamma, 20)  # minimal size 38 has λ_min ≈ -0.08: padded
    assert emb.N > 2 * 19 * 2 and emb.min_eigenvalue >= -emb.tolerance
    G = dense_toeplitz(k.gamma(np.arange(20)))
    stat, df = _cov_statistic(emb.sample(4000, np.random.default_rng(1)), G)
    assert stat <= scipy.stats.chi2.ppf(1 - 1e-3, df)
    import ditgp.numerics.fft.circulant_embedding as ce

    monkeypatch.setattr(ce, "MAX_PAD_FACTOR", 1)
    with pytest.raises(EmbeddingError, match="method='eig'"):
        CirculantEmbedding(k.gamma, 20)


# -- selection, API and memory ---------------------------------------------------------------

def test_method_selection_and_api():
    small = GPSpec(kernel("laplace", ell=2.0), H=16, d=2)
    big = GPSpec(kernel("laplace", ell=2.0), H=AUTO_SWITCH_H, d=1)
    assert select_method(small) == "eig" and select_method(big) == "fft"
    assert select_method(big, "eig") == "eig"
    assert isinstance(oracle_for(big), FFTOracle)
    with pytest.raises(SpecError, match="method"):
        select_method(small, "cholesky")
    X = np.ones((1, 2, 16))
    assert np.max(_rel(exact_score(small, X, 0.5, method="fft"),
                       exact_score(small, X, 0.5, method="eig"))) <= 1e-10  # default rtol
    import torch

    St = FFTOracle(small).score(torch.ones(1, 2, 16, dtype=torch.float64), 0.5)
    assert isinstance(St, torch.Tensor)
    with pytest.raises(SpecError, match="rtol"):
        FFTOracle(small).solve_certified(X, 0.5, rtol=0.0)


def test_fft_path_never_forms_gamma():
    spec = GPSpec(kernel("laplace", ell=4.0), H=20000, d=1, schedule=Schedule(1e-3, 10.0))
    f = FFTOracle(spec)
    f.score(np.ones((1, 1, 20000)), 0.5)
    assert "Gamma" not in spec.__dict__  # cached_property never evaluated
    assert fft_memory_bytes(64, 8, 65536) < 4 * 2**30 < eig_memory_bytes(8, 65536)
    assert fft_memory_bytes(1, 8, 2 * 65536) <= 2.1 * fft_memory_bytes(1, 8, 65536)


# -- the long-H spectrum provider in derive ---------------------------------------------------
def test_lanczos_provider_matches_dense():
    spec = GPSpec(kernel("matern32", ell=3.0), H=500, d=2, spatial=Spatial("ar", rho=0.3))
    fast, dense = lanczos_spectrum(spec, 0.1), dense_spectrum(spec, 0.1)
    assert abs(fast["lambda_max"] - dense["lambda_max"]) <= fast["radius_max"] + 1e-12
    assert abs(fast["lambda_min"] - dense["lambda_min"]) <= fast["radius_min"] + 1e-12
    assert abs(fast["bayes_floor"] - dense["bayes_floor"]) <= fast["bayes_floor_error_bound"] \
        + 1e-12 * dense["bayes_floor"]


def test_derive_large_H_never_forms_gamma():
    spec = GPSpec(kernel("laplace", ell=4.0), H=DENSE_MAX_H + 1, d=1)
    plain = derive(spec, 0.1, 1e-6).to_dict()
    assert plain["spectrum"]["exact_lambda_min"] is None
    assert "not computed" in plain["spectrum"]["exact_method"]
    d = derive(spec, 0.1, 1e-6, spectrum=lanczos_spectrum).to_dict()
    s = d["spectrum"]
    assert s["lambda_min"] <= s["exact_lambda_min"] <= s["exact_lambda_max"] <= s["lambda_max"]
    assert d["score"]["bayes_floor"] > 0
    assert "Gamma" not in spec.__dict__
