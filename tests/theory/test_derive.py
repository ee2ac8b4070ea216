"""``derive``: the derivation agrees with the parts it is made of and with numerics."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ditgp.theory import iterations as it
from ditgp.theory.derive import derive
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial

REQUIRED_KEYS = [
    "kernel.name", "kernel.decay_class", "kernel.valid", "spectrum.lambda_min",
    "spectrum.lambda_max", "kappa_t", "gd.eta", "gd.rho", "gd.steps", "chebyshev.steps",
    "window.w", "window.tail_bound",
]


def _get(d, dotted):
    for part in dotted.split("."):
        d = d[part]
    return d


@pytest.fixture(scope="module")
def laplace_derivation():
    spec = GPSpec(kernel("laplace", ell=3.0), H=48, d=3, spatial=Spatial("ar", rho=0.3))
    return derive(spec, t=0.05, eps=1e-6)


def test_required_keys_and_json(laplace_derivation):
    data = json.loads(json.dumps(laplace_derivation.to_dict()))
    for key in REQUIRED_KEYS:
        _get(data, key)
    assert data["kernel"]["valid"] is True
    assert data["kernel"]["decay_class"] == "exponential"


def test_bounds_contain_the_exact_spectrum(laplace_derivation):
    s = laplace_derivation.to_dict()["spectrum"]
    assert s["lambda_min"] <= s["exact_lambda_min"] <= s["exact_lambda_max"] <= s["lambda_max"]
    # Laplace: the symbol bounds are (1-ρ)/(1+ρ), (1+ρ)/(1-ρ) with ρ = exp(-1/ℓ)
    rho = math.exp(-1 / 3.0)
    assert s["lambda_min"] == pytest.approx((1 - rho) / (1 + rho), rel=1e-9)
    assert s["lambda_max"] == pytest.approx((1 + rho) / (1 - rho), rel=1e-9)


def test_iteration_numbers_are_consistent(laplace_derivation):
    d = laplace_derivation.to_dict()
    a_min, a_max = d["a_t"]["a_min"], d["a_t"]["a_max"]
    assert d["kappa_t"] == pytest.approx(a_max / a_min)
    assert d["gd"]["rho"] ** d["gd"]["steps"] <= 1e-6
    assert d["gd"]["steps"] == it.gd_steps(a_min, a_max, 1e-6)
    assert d["chebyshev"]["steps"] <= math.ceil(math.sqrt(d["kappa_t"]) / 2 * math.log(2e6))
    assert d["window"]["tail_bound"] <= 1e-6
    assert d["resources"]["heads_paper"] == 4 * (d["window"]["w"] + 1)


def test_gd_steps_reach_eps_on_the_real_system(laplace_derivation, rng):
    """The derived step and step count reach eps on the actual A_t of this spec."""
    d = laplace_derivation.to_dict()
    spec = laplace_derivation.spec
    a2, s2 = d["process"]["alpha2"], d["process"]["sigma2"]
    X = rng.standard_normal((spec.d, spec.H))
    lam, U = np.linalg.eigh(spec.Gamma)
    mu, V = np.linalg.eigh(spec.Sigma)
    vstar = V @ ((V.T @ X @ U) / (a2 * np.outer(mu, lam) + s2)) @ U.T
    v = np.zeros_like(X)
    for _ in range(d["gd"]["steps"]):
        v = v - d["gd"]["eta"] * (a2 * spec.Sigma @ v @ spec.Gamma + s2 * v - X)
    assert np.linalg.norm(v - vstar) / np.linalg.norm(vstar) <= 1e-6


def test_text_and_latex_render(laplace_derivation):
    text = laplace_derivation.to_text()
    assert "gd.steps" in text and "window.w" in text
    tex = laplace_derivation.to_latex()
    assert tex.startswith(r"\begin{align*}") and r"\kappa_t" in tex


@pytest.mark.parametrize("t, eps, message", [
    (20.0, 1e-6, "t=20.0: expected a time in [t0, T]"),
    (0.1, 0.0, "eps=0.0: expected a relative error in (0, 1)"),
    (0.1, 2.0, "eps=2.0: expected a relative error in (0, 1)"),
])
def test_invalid_time_or_eps(t, eps, message):
    spec = GPSpec(kernel("laplace", ell=2.0), H=8, d=2)
    with pytest.raises(SpecError) as info:
        derive(spec, t=t, eps=eps)
    assert message in str(info.value)
