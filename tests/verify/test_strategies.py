"""The public hypothesis strategies: valid draws, bounded sizes, arguments validated first."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ditgp.theory.spec import GPSpec
from ditgp.verify import strategies as ds
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import InvalidArgument

FAST = settings(max_examples=30, deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(ds.spd_matrices(4, 50.0))
def test_spd_matrices_are_spd_with_bounded_condition(m):
    assert m.shape == (4, 4)
    np.testing.assert_array_equal(m, m.T)
    w = np.linalg.eigvalsh(m)
    assert w[0] > 0
    assert w[-1] / w[0] <= 50.0 * (1 + 1e-9)


@FAST
@given(ds.gp_specs(max_H=8, max_d=2))
def test_gp_specs_are_valid_and_round_trip(spec):
    assert 1 <= spec.H <= 8 and 1 <= spec.d <= 2
    assert GPSpec.from_json(spec.to_json()) == spec
    json.loads(spec.to_json())


@FAST
@given(ds.kernels(decay_class="polynomial"))
def test_kernels_by_decay_class(k):
    assert k.decay_class.value == "polynomial"


@FAST
@given(ds.kernels(family="laplace"))
def test_kernels_by_family(k):
    assert k.name == "laplace" and 0.5 <= k.params["ell"] <= 6.0


@FAST
@given(ds.gp_specs(max_H=4).flatmap(lambda s: ds.times(s).map(lambda t: (s, t))))
def test_times_lie_in_the_schedule(st_pair):
    spec, t = st_pair
    assert spec.schedule.t0 <= t <= spec.schedule.T


@FAST
@given(ds.spatial_covariances(3, 20.0))
def test_spatial_covariances_respect_condition(sp):
    m = sp.build(3)
    w = np.linalg.eigvalsh(m)
    assert w[-1] / w[0] <= 20.0 * (1 + 1e-6)


@FAST
@given(ds.constructions())
def test_constructions_are_requests(req):
    assert req.attention in ds.ATTENTION_REALISATIONS and req.algorithm in ds.ALGORITHMS
    assert 1e-8 <= req.eps <= 1e-2


INVALID = [
    ("spd-d0", lambda: ds.spd_matrices(0), "d=0 must be ≥ 1"),
    ("spd-cond", lambda: ds.spd_matrices(3, 0.5), "max_condition=0.5 must be ≥ 1"),
    ("family", lambda: ds.kernels(family="gauss"), "family='gauss' not one of"),
    ("decay", lambda: ds.kernels(decay_class="fast"), "decay_class='fast' not one of"),
    ("H-order", lambda: ds.gp_specs(min_H=5, max_H=2), "min_H=5 must be ≤ max_H=2"),
    ("H-cap", lambda: ds.gp_specs(max_H=5000), "max_H=5000 must be ≤ 1024"),
    ("attention", lambda: ds.constructions(attention="linear"), "attention='linear' not one of"),
    ("eps", lambda: ds.constructions(eps=(0.1, 2.0)), "eps=2.0 must be"),
    ("param", lambda: ds.kernels(family="laplace", params={"nu": (1, 2)}),
     "params['nu'] is not a parameter of laplace"),
    ("both", lambda: ds.gp_specs(kernels=ds.kernels(), family="laplace"), "cannot be combined"),
]


@pytest.mark.parametrize(("make", "message"), [(m, msg) for _, m, msg in INVALID],
                         ids=[i for i, _, _ in INVALID])
def test_invalid_arguments_name_the_culprit(make, message):
    with pytest.raises(InvalidArgument, match=message.replace("(", r"\(").replace(")", r"\)")
                       .replace("[", r"\[").replace("]", r"\]")):
        make()
