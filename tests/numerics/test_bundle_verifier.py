"""The one bundle verifier on constructions: the hash is never skipped, each promise of the
manifest is checked, a network is asked only for the times it serves, and ``validate_bundle``
looks at every entry and every time — each check with the slip that used to pass it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ditgp.numerics import BundleError, construct, load_bundle, validate_bundle
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=2.0), H=8, d=2)


@pytest.fixture(scope="module")
def fixed(tmp_path_factory):
    out = tmp_path_factory.mktemp("fixed") / "b"
    construct(SPEC, t=0.3, eps=1e-3).save(out)
    return out


@pytest.fixture(scope="module")
def gated(tmp_path_factory):
    out = tmp_path_factory.mktemp("gated") / "b"
    construct(SPEC, t=0.3, eps=1e-3, time_conditioning="gated").save(out)
    return out


def _edit(src, tmp_path, edit):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(src, dst)
    m = json.loads((dst / "manifest.json").read_text())
    edit(m)
    (dst / "manifest.json").write_text(json.dumps(m))
    return dst


def test_manifest_records_output_and_the_times_served(fixed, gated):
    assert json.loads((fixed / "manifest.json").read_text())["time_range"] == [0.3, 0.3]
    m = json.loads((gated / "manifest.json").read_text())
    assert m["time_range"] == [SPEC.schedule.t0, SPEC.schedule.T] and m["output"] == "score"


@pytest.mark.parametrize("edit, needle", [
    (lambda m: m["weights"].__setitem__("sha256", None), "never skipped"),
    (lambda m: m["weights"].pop("sha256"), "never skipped"),
    (lambda m: m.__setitem__("output", "eps"), "output 'eps'"),
    (lambda m: m.__setitem__("time_range", [0.001, 10.0]), "time_range"),
    (lambda m: m["resources"].__setitem__("L", 1), "resources"),
    (lambda m: m.pop("resources"), "'resources'"),
    (lambda m: m.pop("plan"), "'plan'"),
], ids=["sha256-null", "sha256-missing", "output-eps", "time-range-wider", "resources-L",
        "resources-missing", "plan-missing"])
def test_a_broken_promise_is_refused(fixed, tmp_path, edit, needle):
    with pytest.raises(BundleError, match=needle):
        load_bundle(_edit(fixed, tmp_path, edit))


def test_a_bundle_written_before_output_and_time_range_is_still_read(fixed, tmp_path):
    def old(m):
        del m["output"], m["time_range"]

    assert load_bundle(_edit(fixed, tmp_path, old)).time_range == (0.3, 0.3)


def test_a_fixed_t_network_serves_only_its_t(fixed, gated):
    b = load_bundle(fixed)
    X = np.random.default_rng(0).standard_normal((2, 2, 8))
    b.score(X, 0.3)
    with pytest.raises(SpecError, match="t=0.3, the only time"):
        b.score(X, 0.2)
    con = construct(SPEC, t=0.3, eps=1e-3)
    with pytest.raises(SpecError, match="the only time"):
        con.score(X, 1.0)
    g = load_bundle(gated)
    for t in (SPEC.schedule.t0, 0.2, 1.0, SPEC.schedule.T):
        assert np.all(np.isfinite(g.score(X, t)))


def test_weights_finite_looks_at_every_entry(fixed):
    """One NaN among finite entries fails (a check that *any* entry is finite passed it)."""
    b = load_bundle(fixed)
    assert validate_bundle(b).ok
    with torch.no_grad():
        b.module.decoder.W[0, 0] = float("nan")
    check = validate_bundle(b)
    assert [i.name for i in check.failures][0] == "weights-finite"


def test_the_recheck_reports_the_worst_time_not_the_last(gated):
    """A network wrong only at ``t0`` fails the recheck and reports that error (keeping the
    last time's error hid ``t0``: ``T`` is checked last)."""
    b = load_bundle(gated)
    good = validate_bundle(b)
    assert good.ok
    real = b.score
    t0 = SPEC.schedule.t0

    def wrong_at_t0(X, t=None):
        out = real(X, t)
        return 1.5 * out if abs(float(t) - t0) < 1e-15 else out

    b.score = wrong_at_t0
    bad = validate_bundle(b)
    assert "recheck" in [i.name for i in bad.failures]
    assert bad.rechecked_rel_error == pytest.approx(0.5, rel=1e-2)
