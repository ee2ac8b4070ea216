"""Comparison functions on known inputs."""

from __future__ import annotations

import numpy as np
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec
from ditgp.verify import compare as cmp

SPEC = GPSpec(kernel("laplace", ell=2.0), H=6, d=2)


def test_oracle_is_a_score_function_and_matches_a_dense_solve():
    f = cmp.oracle(SPEC)
    assert isinstance(f, cmp.ScoreFunction)

    def dense(X, t):  # -A_t⁻¹ vec X with the Kronecker matrix, column-stacked vec
        a2, s2 = float(SPEC.schedule.alpha2(t)), float(SPEC.schedule.sigma2(t))
        A = a2 * np.kron(SPEC.Gamma, SPEC.Sigma) + s2 * np.eye(SPEC.d * SPEC.H)
        x = np.swapaxes(X, 1, 2).reshape(X.shape[0], -1)
        v = np.linalg.solve(A, x.T).T
        return -np.swapaxes(v.reshape(X.shape[0], SPEC.H, SPEC.d), 1, 2)
    errs = cmp.relative_error_per_time(f, dense, SPEC,
                                       [0.01, 0.1, 1.0], n=4)
    assert np.all(errs < 1e-12) and np.all(errs >= 0)


def test_relative_l2_is_the_frobenius_ratio():
    a = np.array([[[3.0, 0.0], [0.0, 4.0]]])
    b = np.array([[[0.0, 1.0], [1.0, 1.0]]])
    # ‖a-b‖_F = √(9+1+1+9) = √20, ‖b‖_F = √3 (a max-abs norm would give 3/1)
    assert cmp.relative_l2(a, b) == np.sqrt(20.0) / np.sqrt(3.0)
    assert cmp.relative_l2(b, b) == 0.0 and cmp.relative_l2(a, 0 * a) == np.inf


def test_reference_iteration_error_decreases_with_K():
    ref = cmp.oracle(SPEC)
    e5 = cmp.relative_error_per_time(cmp.reference_iteration(SPEC, "gd", 5), ref, SPEC, [0.5])
    e20 = cmp.relative_error_per_time(cmp.reference_iteration(SPEC, "gd", 20), ref, SPEC, [0.5])
    assert e20[0] < e5[0] < 1


def test_denoising_loss_of_oracle_is_at_the_floor():
    res = cmp.denoising_loss(cmp.oracle(SPEC), SPEC, 0.3, n=2000)
    assert abs(res.excess) <= 6 * res.stderr


def test_layer_iteration_map_recovers_the_iterates():
    X = cmp.gp_draws(SPEC, 3, 0)
    its = cmp.reference_iteration(SPEC, "gd", 6).iterates(X, 0.5)
    D = cmp.layer_distances(its[[1, 3, 6]], its)
    np.testing.assert_array_equal(cmp.layer_iteration_map(D), [1, 3, 6])


def test_attention_vs_kernel_on_the_kernel_itself():
    g = SPEC.kernel.gamma(np.arange(6))
    res = cmp.attention_vs_kernel(SPEC.Gamma, g)
    assert res.mean_corr > 0.999999
    np.testing.assert_allclose(res.mean_decay, 0.5, rtol=1e-9)


def test_value_alignment_up_to_scale():
    cos, scale = cmp.value_alignment(3.0 * SPEC.Sigma, SPEC.Sigma)
    assert np.isclose(cos, 1.0) and np.isclose(scale, 3.0)


def test_gaussian_distances_vanish_on_equal_covariances():
    P = np.kron(SPEC.Gamma, SPEC.Sigma)
    assert abs(cmp.gaussian_kl(P, P)) < 1e-10
    assert cmp.gaussian_w2(P, P) < 1e-6
    assert cmp.gaussian_w2(P, 4 * P) > 0


def test_compare_samples_recovers_gamma():
    X = cmp.gp_draws(SPEC, 4000, 1)
    res = cmp.compare_samples(X, SPEC, max_lag=3)
    np.testing.assert_allclose(res.autocorr, res.gamma, atol=0.05)
    assert res.kl_fitted_true < 0.05
