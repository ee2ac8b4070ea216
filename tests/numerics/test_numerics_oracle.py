"""The exact oracle against independent references: dense solve, scipy's Gaussian
log-density and its finite-difference gradient, dense Toeplitz products."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.stats
import torch
from ditgp.numerics import Oracle, dense_score, exact_score, toeplitz_matmul
from ditgp.numerics.fft.toeplitz import dense_toeplitz
from ditgp.numerics.oracle import dense_covariance, unvec, vec
from ditgp.numerics.tolerances import ORACLE_MATCH
from ditgp.theory.errors import SpecError

TOL = ORACLE_MATCH["float64"]


def rel(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a) - np.asarray(b))) / np.max(np.abs(np.asarray(b))))


@pytest.mark.parametrize("t", [0.05, 0.3, 2.0, 5.0])
def test_score_equals_dense_solve(spec, t):
    X = Oracle.for_spec(spec).sample(5, seed=0, t=t)
    assert rel(exact_score(spec, X, t), dense_score(spec, X, t)) < TOL


def test_per_sample_times(small_spec):
    o = Oracle.for_spec(small_spec)
    ts = np.array([0.05, 0.1, 1.0, 4.0])
    X = o.sample(4, seed=1)
    got = o.score(X, ts)
    for i, t in enumerate(ts):
        assert rel(got[i], dense_score(small_spec, X[i:i + 1], t)[0]) < TOL


def test_torch_in_torch_out(small_spec):
    X = Oracle.for_spec(small_spec).sample(3, seed=2)
    ts = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    out = exact_score(small_spec, torch.as_tensor(X), ts)
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float64
    assert rel(out.numpy(), exact_score(small_spec, X, np.array([0.1, 0.2, 0.3]))) < 1e-14


def test_cache_is_per_spec(small_spec, make_spec):
    assert Oracle.for_spec(small_spec) is Oracle.for_spec(make_spec())
    assert Oracle.for_spec(small_spec) is not Oracle.for_spec(make_spec(H=11))


def test_gradient_of_scipy_logpdf_by_finite_differences(small_spec):
    spec, t = small_spec, 0.2
    cov = dense_covariance(spec, t)
    law = scipy.stats.multivariate_normal(mean=np.zeros(len(cov)), cov=cov)
    x = vec(Oracle.for_spec(spec).sample(1, seed=3, t=t))[0]
    h = 1e-5
    grad = np.array([(law.logpdf(x + h * e) - law.logpdf(x - h * e)) / (2 * h)
                     for e in np.eye(len(x))])
    score = vec(exact_score(spec, unvec(x[None], spec.d, spec.H), t))[0]
    assert rel(score, grad) < 1e-6  # central differences: O(h²) truncation, O(eps/h) rounding


def test_log_density_equals_scipy(small_spec):
    spec, t = small_spec, 0.4
    o = Oracle.for_spec(spec)
    X = o.sample(3, seed=4, t=t)
    law = scipy.stats.multivariate_normal(mean=np.zeros(spec.d * spec.H),
                                          cov=dense_covariance(spec, t))
    assert rel(o.log_density(X, t), law.logpdf(vec(X))) < 1e-12
    data = scipy.stats.multivariate_normal(mean=np.zeros(spec.d * spec.H),
                                           cov=np.kron(spec.Gamma, spec.Sigma))
    assert rel(o.log_density(X), data.logpdf(vec(X))) < 1e-10


def test_bayes_floor_is_trace_formula(small_spec):
    spec = small_spec
    o = Oracle.for_spec(spec)
    for t in (0.05, 1.0):
        A = dense_covariance(spec, t)
        s2 = float(spec.schedule.sigma2(t))
        expected = np.trace(np.eye(len(A)) - s2 * np.linalg.inv(A))  # E‖σ s + z‖² minimum
        assert abs(o.bayes_floor(t) - expected) < 1e-10 * spec.d * spec.H
    assert o.bayes_floor(np.array([0.05, 1.0])).shape == (2,)


def test_sampling_covariance(small_spec, make_spec):
    spec = make_spec(H=6, d=2)
    X = Oracle.for_spec(spec).sample(40000, seed=5)
    emp = np.cov(vec(X).T)
    assert np.max(np.abs(emp - np.kron(spec.Gamma, spec.Sigma))) < 0.05


#: Monte-Carlo z-score of the sampling-covariance checks: with 78 distinct entries a
#: Gaussian-approximation false alarm at 6σ has probability < 1e-7 (seeds are fixed anyway).
SAMPLE_Z = 6.0


@pytest.mark.parametrize("t", [0.05, 0.7, 3.0])
def test_sampling_covariance_at_diffusion_time(make_spec, t):
    """``sample(t=…)`` draws ``N(0, A_t)``: every entry of the empirical covariance within
    ``SAMPLE_Z`` standard errors ``√((A_ii A_jj + A_ij²)/n)`` of the dense ``A_t``.  Sampling
    with ``α²λμ+σ²`` instead of its square root is off by up to 0.79 (≫ 6σ ≈ 0.04)."""
    spec = make_spec(H=6, d=2)
    n = 40000
    X = Oracle.for_spec(spec).sample(n, seed=11, t=t)
    A = dense_covariance(spec, t)
    se = np.sqrt((np.outer(np.diag(A), np.diag(A)) + A * A) / n)
    z = np.abs(np.cov(vec(X).T) - A) / se
    assert np.max(z) < SAMPLE_Z, np.max(z)


def test_sampling_without_cholesky_on_singular_gamma(monkeypatch, small_spec):
    """Exact sampling uses eigen square roots: a PSD-but-singular Γ still samples."""
    o = Oracle(small_spec)
    lam = o.lam.copy()
    lam[:3] = [-1e-18, 0.0, 1e-17]  # numerically singular spectrum
    monkeypatch.setattr(o, "lam", lam)
    X = o.sample(4, seed=6)
    assert np.all(np.isfinite(X))


def test_bad_inputs(small_spec):
    o = Oracle.for_spec(small_spec)
    with pytest.raises(SpecError, match="X="):
        o.score(np.zeros((2, 3, 10)), 0.1)
    with pytest.raises(SpecError, match="t="):
        o.score(np.zeros((2, 2, 10)), 100.0)
    with pytest.raises(SpecError, match="n="):
        o.sample(0)


@pytest.mark.parametrize("H", [1, 2, 3, 8, 17, 64, 200])
def test_fft_toeplitz_equals_dense(H, rng):
    g = np.exp(-np.arange(H) / 3.0) * np.cos(0.7 * np.arange(H))
    V = rng.standard_normal((4, 3, H))
    dense = V @ dense_toeplitz(g)
    assert rel(toeplitz_matmul(V, g), dense) < 1e-13
    got_t = toeplitz_matmul(torch.as_tensor(V), g)
    assert isinstance(got_t, torch.Tensor) and rel(got_t.numpy(), dense) < 1e-13


def test_singular_squared_exponential():
    """SE with ℓ = 3: λ_min(Γ) is below float64 resolution; sampling and the score still work."""
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec

    spec = GPSpec(kernel("squared-exponential", ell=3.0), H=64, d=2)
    o = Oracle.for_spec(spec)
    assert o.lam[0] < 1e-12 * o.lam[-1]
    X = o.sample(2000, seed=7)
    assert np.all(np.isfinite(X))
    emp = np.einsum("nih,njh->ij", X, X) / (2000 * spec.H)  # spatial covariance estimate
    assert np.max(np.abs(emp - spec.Sigma)) < 0.1
    Xt = o.sample(3, seed=8, t=0.05)
    assert rel(o.score(Xt, 0.05), dense_score(spec, Xt, 0.05)) < TOL


@pytest.mark.parametrize("make_X, field, message", [
    (lambda X: X.tolist(), "X", "a numpy array or torch tensor"),
    (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), "X",
     "finite values"),
    (lambda X: np.full_like(X, np.inf), "X", "finite values"),
    (lambda X: X + 1j, "X", "a real"),
    (lambda X: torch.full(X.shape, float("nan"), dtype=torch.float64), "X", "finite values"),
    (lambda X: torch.zeros(X.shape, dtype=torch.complex128), "X", "a real"),
])
def test_exact_score_refuses_bad_X(small_spec, make_X, field, message):
    """A clear SpecError naming ``X`` (never an AttributeError, a numpy warning, or NaN out)."""
    X = Oracle.for_spec(small_spec).sample(2, seed=0, t=0.3)
    with pytest.raises(SpecError, match=rf"^{field}=.*expected {message}"):
        exact_score(small_spec, make_X(X), 0.3)


@pytest.mark.parametrize("t", [float("nan"), 0.3 + 1j, "0.3", [0.3, None], 1e9])
def test_exact_score_refuses_bad_t(small_spec, t):
    X = Oracle.for_spec(small_spec).sample(2, seed=0, t=0.3)
    with pytest.raises(SpecError, match=r"^t=.*expected (a real time|a time) in \[t0, T\]"):
        exact_score(small_spec, X, t)


@pytest.mark.parametrize("spec", [None, "laplace", {"kernel": "laplace"}])
def test_exact_score_refuses_a_non_spec(spec):
    with pytest.raises(SpecError, match=r"^spec=.*expected a GPSpec$"):
        exact_score(spec, np.zeros((1, 2, 10)), 0.3)
