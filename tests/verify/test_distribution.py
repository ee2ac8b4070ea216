"""Distribution metrics: exact samples pass within their stated errors, planted defects fail,
closed forms of KL/W2 and the Wishart KL bias."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial
from ditgp.verify.distribution import (
    autocorrelation,
    full_kl_bias,
    gaussian_fit,
    gaussian_kl,
    gaussian_w2,
    spatial_covariance,
)

SPEC = GPSpec(kernel("laplace", ell=2.0), H=6, d=2, spatial=Spatial("ar", rho=0.4),
              schedule=Schedule(0.05, 5.0))
T0 = 0.05
#: z-score band for a family of ≤ 12 Gaussian statistics: P(max |z| > 4.5) < 1e-4
Z_BAND = 4.5


def _exact(n, seed, t=T0, spec=SPEC):
    return Oracle.for_spec(spec).sample(n, seed=seed, t=t)


def test_exact_samples_pass_autocorrelation_and_spatial():
    X = _exact(3000, 1)
    ac = autocorrelation(X, SPEC, T0)
    assert ac["max_abs_z"] < Z_BAND
    assert np.isclose(ac["estimate"][0], 1.0)
    sp = spatial_covariance(X, SPEC, T0)
    assert sp["rel_error"] < 3 * sp["noise_floor"]


def test_data_law_target_is_gamma():
    ac = autocorrelation(_exact(10, 0, t=None), SPEC, None)
    assert np.allclose(ac["target"], SPEC.Gamma[:, 0])


def test_planted_wrong_kernel_fails_autocorrelation():
    wrong = GPSpec(kernel("laplace", ell=2.6), H=6, d=2, spatial=Spatial("ar", rho=0.4),
                   schedule=Schedule(0.05, 5.0))
    ac = autocorrelation(_exact(3000, 2, spec=wrong), SPEC, T0)
    assert ac["max_abs_z"] > Z_BAND


def test_planted_scale_fails_spatial_and_kl():
    X = 1.1 * _exact(3000, 3)
    sp = spatial_covariance(X, SPEC, T0)
    assert sp["rel_error"] > 3 * sp["noise_floor"]
    g = gaussian_fit(X, SPEC, T0, fit="full", null_reps=8)
    assert g["kl_excess"] > Z_BAND * g["kl_se"]


@pytest.mark.parametrize("fit", ["full", "stationary", "kronecker"])
def test_exact_samples_kl_within_null(fit):
    g = gaussian_fit(_exact(2000, 4), SPEC, T0, fit=fit, null_reps=12, seed=1)
    assert g["fit"] == fit
    assert abs(g["kl_excess"]) < Z_BAND * g["kl_se"]
    assert abs(g["w2_excess"]) < Z_BAND * g["w2_se"]


def test_full_kl_bias_matches_its_null_distribution():
    """Exact Wishart formula vs the Monte-Carlo null mean (independent computations)."""
    g = gaussian_fit(_exact(400, 5), SPEC, T0, fit="full", null_reps=40, seed=2)
    assert abs(g["kl_bias"] - g["kl_bias_exact"]) < Z_BAND * g["kl_se"] / math.sqrt(40)
    p, n = 12, 400
    assert abs(full_kl_bias(n, p) - p * (p + 1) / (4 * n)) < 0.1 * full_kl_bias(n, p)


def test_closed_forms():
    p = 5
    assert np.isclose(gaussian_w2(np.eye(p), 4 * np.eye(p)), math.sqrt(p))
    # KL(N(0, s I) || N(0, I)) = p/2 (s - 1 - log s)
    s = 1.7
    assert np.isclose(gaussian_kl(s * np.eye(p), np.eye(p)), p / 2 * (s - 1 - math.log(s)))
    assert gaussian_kl(np.eye(p), np.eye(p)) == 0.0


def test_too_few_samples_for_a_full_fit():
    with pytest.raises(SpecError, match="fit"):
        gaussian_fit(_exact(8, 0), SPEC, T0, fit="full", null_reps=0)
    with pytest.raises(SpecError, match="samples"):
        autocorrelation(np.zeros((4, 3, 6)), SPEC)
