"""GP spec and schedule: validation (exact messages), JSON round trip, matrices."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ditgp.theory.errors import NotPositiveDefiniteError, SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial, parse_spatial

LAPLACE = kernel("laplace", ell=3.0)


def make(**overrides):
    args = dict(kernel=LAPLACE, H=8, d=3)
    args.update(overrides)
    return GPSpec(**args)


INVALID = [
    ("H=0", lambda: make(H=0), SpecError, "H=0: expected an integer ≥ 1"),
    ("H-float", lambda: make(H=2.5), SpecError, "H=2.5: expected an integer ≥ 1"),
    ("d=-1", lambda: make(d=-1), SpecError, "d=-1: expected an integer ≥ 1"),
    ("negative-ell", lambda: kernel("laplace", ell=-1.0), SpecError,
     "laplace.ell=-1.0: expected a number in (0, ∞)"),
    ("unknown-kernel", lambda: kernel("gaussian"), SpecError, "kernel='gaussian': expected one of"),
    ("unknown-param", lambda: kernel("laplace", nu=2.0), SpecError,
     "laplace.nu=2.0: expected a parameter of laplace: one of ell"),
    ("t0-zero", lambda: Schedule(t0=0.0), SpecError,
     "t0=0.0: expected a number > 0 (early stopping time)"),
    ("T-below-t0", lambda: Schedule(t0=0.5, T=0.1), SpecError, "T=0.1: expected a number > t0=0.5"),
    ("t-outside", lambda: Schedule(t0=1e-3, T=10.0).check_time(11.0), SpecError,
     "t=11.0: expected a time in [t0, T] = [0.001, 10]"),
    ("t-below", lambda: Schedule(t0=1e-3, T=10.0).check_time([0.5, 1e-4]), SpecError,
     "t=0.0001: expected a time in [t0, T] = [0.001, 10]"),
    ("ar-rho", lambda: Spatial("ar", rho=1.0), SpecError, "spatial.rho=1.0: expected a number in (-1, 1)"),
    ("random-kappa", lambda: Spatial("random", kappa=0.5, seed=1), SpecError,
     "spatial.kappa=0.5: expected a condition number ≥ 1"),
    ("non-spd-sigma", lambda: Spatial("explicit", matrix=((1.0, 2.0), (2.0, 1.0))),
     NotPositiveDefiniteError, "expected a positive definite matrix (smallest eigenvalue -1 ≤ 0)"),
    ("asymmetric-sigma", lambda: Spatial("explicit", matrix=((1.0, 0.5), (0.0, 1.0))), SpecError,
     "expected a symmetric matrix"),
    ("sigma-shape", lambda: make(d=3, spatial=Spatial("explicit", matrix=((2.0, 0.0), (0.0, 1.0)))),
     SpecError, "expected shape (3, 3) to match d=3"),
    ("spatial-syntax", lambda: parse_spatial("ar"), SpecError,
     "spatial='ar': expected identity, ar:RHO, random:KAPPA:SEED or file:PATH.npy"),
    ("unnormalised", lambda: make(kernel=2.0 * LAPLACE), SpecError, "γ(0) = 1"),
    ("bad-json", lambda: GPSpec.from_json("{"), SpecError, "expected valid JSON"),
    ("bad-format", lambda: GPSpec.from_dict({**make().to_dict(), "format": "x"}), SpecError,
     "spec.format='x': expected 'ditgp.gpspec/1'"),
]


@pytest.mark.parametrize("build, exc, message", [c[1:] for c in INVALID], ids=[c[0] for c in INVALID])
def test_invalid_inputs_raise_named_errors(build, exc, message):
    with pytest.raises(exc) as info:
        build()
    assert message in str(info.value)


def test_error_carries_field_value_expected():
    with pytest.raises(SpecError) as info:
        make(H=0)
    assert (info.value.field, info.value.value) == ("H", 0)


@pytest.mark.parametrize(
    "spatial",
    [Spatial(), Spatial("ar", rho=-0.4), Spatial("random", kappa=30.0, seed=7),
     Spatial("explicit", matrix=((2.0, 0.3), (0.3, 1.0)))],
    ids=["identity", "ar", "random", "explicit"],
)
def test_json_round_trip_is_exact(spatial):
    d = 2 if spatial.kind == "explicit" else 5
    spec = make(d=d, spatial=spatial, schedule=Schedule(t0=0.01, T=5.0))
    again = GPSpec.from_json(spec.to_json())
    assert again == spec
    assert np.array_equal(again.Sigma, spec.Sigma)
    assert json.loads(again.to_json()) == json.loads(spec.to_json())


def test_random_sigma_has_requested_condition_number_and_is_seeded():
    a = Spatial("random", kappa=50.0, seed=3).build(6)
    b = Spatial("random", kappa=50.0, seed=3).build(6)
    c = Spatial("random", kappa=50.0, seed=4).build(6)
    mu = np.linalg.eigvalsh(a)
    assert np.array_equal(a, b) and not np.allclose(a, c)
    assert mu[-1] / mu[0] == pytest.approx(50.0, rel=1e-10)


def test_ar_sigma_and_gamma_are_toeplitz():
    spec = make(spatial=Spatial("ar", rho=0.5), d=4)
    assert spec.Sigma[0, 3] == pytest.approx(0.125)
    assert spec.Gamma[2, 5] == pytest.approx(np.exp(-1.0))
    assert not spec.Gamma.flags.writeable


def test_parse_spatial_file(tmp_path):
    path = tmp_path / "sigma.npy"
    np.save(path, np.array([[1.0, 0.2], [0.2, 1.0]]))
    sp = parse_spatial(f"file:{path}")
    assert sp.kind == "explicit" and sp.build(2)[0, 1] == 0.2
    with pytest.raises(SpecError, match="expected a readable .npy file"):
        parse_spatial(f"file:{tmp_path / 'missing.npy'}")


def test_schedule_coefficients():
    s = Schedule()
    t = np.array([1e-3, 0.5, 10.0])
    assert np.allclose(s.alpha2(t) + s.sigma2(t), 1.0, rtol=0, atol=1e-15)
    assert s.sigma2(1e-3) == pytest.approx(1e-3 - 5e-7, rel=1e-6)
