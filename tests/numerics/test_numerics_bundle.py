"""Weight bundles: exact round trip; every kind of damage is refused with its reason."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from ditgp.numerics import BundleError, Oracle, construct, load_bundle
from ditgp.numerics.bundle import BUNDLE_FORMAT, MANIFEST, WEIGHTS


@pytest.fixture(scope="module")
def con():
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, Spatial

    spec = GPSpec(kernel("laplace", ell=2.0), H=8, d=2, spatial=Spatial("ar", rho=0.3),
                  schedule=Schedule(0.05, 5.0))
    return construct(spec, t=0.3, eps=1e-6, attention="softmax", algorithm="chebyshev")


@pytest.fixture
def bundle(con, tmp_path) -> Path:
    return con.save(tmp_path / "b")


def test_round_trip_exact(con, bundle):
    b = load_bundle(bundle)
    ref = con.module.state_dict()
    got = b.module.state_dict()
    assert set(ref) == set(got)
    for k in ref:
        assert ref[k].dtype == got[k].dtype and torch.equal(ref[k], got[k])
    X = Oracle.for_spec(con.spec).sample(3, seed=0, t=0.3)
    assert np.array_equal(b.score(X, 0.3), con.score(X, 0.3))
    m = b.manifest
    assert m["format"] == BUNDLE_FORMAT and m["weights"]["sha256"]
    assert m["layout"] == con.layout.to_dict()
    assert m["error_bound"] == con.error_bound
    assert m["measured"]["rel_error"] <= m["error_bound"]
    assert b.config == con.config and b.spec == con.spec
    assert not any(p.name.startswith(".") for p in bundle.parent.iterdir())  # no temp leftovers


def test_overwrite_existing_bundle(con, bundle):
    """Saving over a bundle replaces the bundle's own files (new content, no temporaries left
    behind) and keeps every other file in the folder (notes, reports)."""
    other = construct(con.spec, t=0.3, eps=1e-3, attention="compact", algorithm="gd",
                      measure=False)
    (bundle / "stale.txt").write_text("written by hand into the old bundle")
    assert con.save(bundle) == bundle.resolve()
    other.save(bundle)
    b = load_bundle(bundle)
    assert b.config == other.config and b.config != con.config
    assert b.manifest["construction"]["attention"] == "compact"
    assert sorted(p.name for p in bundle.iterdir()) == sorted([MANIFEST, WEIGHTS, "stale.txt"])
    assert (bundle / "stale.txt").read_text() == "written by hand into the old bundle"
    assert not any(p.name.startswith(".") for p in bundle.parent.iterdir())


def test_refuses_to_overwrite_foreign_folder(con, tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep")
    with pytest.raises(BundleError, match="not a ditgp bundle"):
        con.save(tmp_path / "mine")


def _edit_manifest(bundle: Path, fn) -> None:
    m = json.loads((bundle / MANIFEST).read_text())
    fn(m)
    (bundle / MANIFEST).write_text(json.dumps(m))


DAMAGE = {
    "missing-folder": (lambda b: os.rename(b, b.with_name("gone")), "missing"),
    "missing-manifest": (lambda b: (b / MANIFEST).unlink(), "missing manifest"),
    "missing-weights": (lambda b: (b / WEIGHTS).unlink(), "missing weights"),
    "corrupt-manifest": (lambda b: (b / MANIFEST).write_text("{not json"), "corrupt manifest"),
    "truncated-weights": (lambda b: (b / WEIGHTS).write_bytes((b / WEIGHTS).read_bytes()[:100]),
                          "sha256 mismatch"),
    "tampered-weights": (lambda b: (b / WEIGHTS).write_bytes(
        (b / WEIGHTS).read_bytes()[:-8] + b"\x00" * 8), "sha256 mismatch"),
    "incompatible-version": (lambda b: _edit_manifest(
        b, lambda m: m.update(format="ditgp.bundle/99")),
                             "incompatible bundle format"),
    "shape-mismatch": (lambda b: _edit_manifest(
        b, lambda m: m["architecture"].update(heads=m["architecture"]["heads"] + 1)), "shape"),
    "names-mismatch": (lambda b: _edit_manifest(
        b, lambda m: m["architecture"].update(layers=m["architecture"]["layers"] + 1)),
        "tensor names do not match"),
    "table-extra-entry": (lambda b: _edit_manifest(
        b, lambda m: m["weights"]["tensors"].update(extra={"shape": [1], "dtype": "float64"})),
        r"tensor table does not match the weights file \(missing \[\], unexpected \['extra'\]"),
    "table-missing-entry": (lambda b: _edit_manifest(
        b, lambda m: m["weights"]["tensors"].pop("decoder.W")),
        r"tensor table does not match the weights file \(missing \['decoder.W'\]"),
    "table-wrong-dtype": (lambda b: _edit_manifest(
        b, lambda m: m["weights"]["tensors"]["decoder.W"].update(dtype="float32")),
        "tensor table entry 'decoder.W'"),
    "table-wrong-shape": (lambda b: _edit_manifest(
        b, lambda m: m["weights"]["tensors"]["decoder.W"].update(shape=[2, 99])),
        "tensor table entry 'decoder.W'"),
    "table-not-a-mapping": (lambda b: _edit_manifest(
        b, lambda m: m["weights"].update(tensors=[])), "weights.tensors is not a mapping"),
    "bad-architecture": (lambda b: _edit_manifest(
        b, lambda m: m["architecture"].update(attention="x")),
                         "corrupt manifest"),
}


@pytest.mark.parametrize("damage", sorted(DAMAGE), ids=sorted(DAMAGE))
def test_damage_is_refused(bundle, damage):
    fn, message = DAMAGE[damage]
    fn(bundle)
    with pytest.raises(BundleError, match=message):
        load_bundle(bundle)


def test_corrupt_weights_with_matching_hash(bundle):
    """A garbage weights file whose hash was also updated fails safetensors' own check."""
    import hashlib

    (bundle / WEIGHTS).write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{}garbage")
    digest = hashlib.sha256((bundle / WEIGHTS).read_bytes()).hexdigest()
    _edit_manifest(bundle, lambda m: m["weights"].update(sha256=digest))
    with pytest.raises(BundleError, match="corrupt weights|tensor names"):
        load_bundle(bundle)


def test_no_pickle_anywhere():
    import inspect

    import ditgp.numerics as pkg

    root = Path(inspect.getfile(pkg)).parent
    for path in root.glob("*.py"):
        text = path.read_text()
        assert "torch.load" not in text and "import pickle" not in text, path


@pytest.mark.parametrize("choice", [dict(attention="paper", algorithm="gd"),
                                    dict(attention="softmax", algorithm="chebyshev"),
                                    dict(attention="compact", time_conditioning="gated")],
                         ids=["paper-gd", "softmax-cheb", "compact-gated"])
def test_documented_forward_pass_matches(choice, tmp_path):
    """docs/weights-format.md's numpy reference forward pass reproduces the library's."""
    import re

    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule

    doc = Path(__file__).resolve().parents[2] / "docs" / "weights-format.md"
    code = re.search(r"```python\n(.*?)```", doc.read_text(), re.S).group(1)
    namespace: dict = {}
    exec(compile(code, str(doc), "exec"), namespace)  # the documented snippet, verbatim
    spec = GPSpec(kernel("damped-cosine", ell=4.0, omega=0.9), H=8, d=2,
                  schedule=Schedule(0.05, 5.0))
    con = construct(spec, t=0.3, eps=1e-5, **choice)
    path = con.save(tmp_path / "b")
    X = Oracle.for_spec(spec).sample(2, seed=1, t=0.3)
    ours = namespace["forward"](str(path), X, 0.3)
    assert np.max(np.abs(ours - con.score(X, 0.3))) <= 1e-12 * np.max(np.abs(con.score(X, 0.3)))


@pytest.mark.parametrize("choice", [dict(attention="paper", algorithm="gd"),
                                    dict(attention="compact", algorithm="chebyshev"),
                                    dict(attention="compact", time_conditioning="gated")],
                         ids=["paper-gd", "compact-cheb", "compact-gated"])
def test_relu_bundles_serve_shorter_sequences(choice, tmp_path):
    """docs/weights-format.md: a relu bundle serves every H' ≤ H within ``error_bound`` of the
    H'-frame spec's score."""
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, Spatial

    def spec_of(H):
        return GPSpec(kernel("damped-cosine", ell=4.0, omega=0.9), H=H, d=2,
                      spatial=Spatial("ar", rho=0.3), schedule=Schedule(0.05, 5.0))

    con = construct(spec_of(12), t=0.3, eps=1e-6, **choice)
    b = load_bundle(con.save(tmp_path / "b"))
    for Hp in (1, 2, 7, 11, 12):
        o = Oracle.for_spec(spec_of(Hp))
        X = o.sample(3, seed=Hp, t=0.3)
        s = o.score(X, 0.3)
        rel = np.linalg.norm(b.score(X, 0.3) - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
        assert np.all(rel <= b.manifest["error_bound"]), (Hp, rel)


def test_softmax_bundles_refuse_other_lengths(con, bundle):
    """A softmax bundle on H' = H − 5 frames would be wrong by far more than its bound (the
    sink bias is computed for rows of length H): it is refused, and H' = H still works."""
    from ditgp.numerics.constructions.architecture import network_score
    from ditgp.theory.errors import SpecError
    from ditgp.theory.spec import GPSpec

    b = load_bundle(bundle)
    Hp = con.spec.H - 5
    short = GPSpec(con.spec.kernel, H=Hp, d=con.spec.d, spatial=con.spec.spatial,
                   schedule=con.spec.schedule)
    X = Oracle.for_spec(short).sample(4, seed=3, t=0.3)
    s = Oracle.for_spec(short).score(X, 0.3)
    raw = network_score(b.module, X, 0.3)  # the unchecked forward pass
    wrong = np.linalg.norm(raw - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
    assert wrong.max() > 1e3 * b.manifest["error_bound"]
    for scorer in (b.score, con.score):
        with pytest.raises(SpecError, match=r"exactly H=8 frames"):
            scorer(X, 0.3)
    full = Oracle.for_spec(con.spec).sample(2, seed=4, t=0.3)
    assert np.all(np.isfinite(b.score(full, 0.3)))


# -- validate_bundle: checks that must fail when the bundle is wrong ------------------------
def _rewrite_weights(bundle: Path, fn) -> None:
    """Apply ``fn`` to the tensors dict and rewrite the file with a *recomputed* hash and
    tensor table (so only the semantic checks can notice)."""
    import hashlib

    from safetensors.torch import load_file, save_file

    tensors = load_file(str(bundle / WEIGHTS))
    fn(tensors)
    save_file(tensors, str(bundle / WEIGHTS))
    digest = hashlib.sha256((bundle / WEIGHTS).read_bytes()).hexdigest()

    def fix(m):
        m["weights"]["sha256"] = digest
        m["weights"]["tensors"] = {k: {"shape": list(v.shape),
                                       "dtype": str(v.dtype).removeprefix("torch.")}
                                   for k, v in tensors.items()}
    _edit_manifest(bundle, fix)


def _failed(bundle) -> set[str]:
    from ditgp.numerics import validate_bundle

    return {i.name for i in validate_bundle(bundle).failures}


@pytest.mark.parametrize("choice", [dict(attention="softmax", algorithm="chebyshev"),
                                    dict(attention="compact", time_conditioning="gated"),
                                    dict(attention="compact", time_conditioning="multiply")],
                         ids=["softmax-fixed", "gated", "multiply"])
def test_validate_accepts_good_bundles(choice, tmp_path):
    from ditgp.numerics import validate_bundle
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, Spatial

    spec = GPSpec(kernel("laplace", ell=2.0), H=6, d=2, spatial=Spatial("ar", rho=0.3),
                  schedule=Schedule(0.2, 2.0))
    con = construct(spec, t=0.3, eps=1e-3, **choice)
    check = validate_bundle(con.save(tmp_path / "b"))
    assert check.ok, check.to_dict()
    assert {i.name for i in check.items} >= {"weights-finite", "layout", "error-bound",
                                             "measured", "recheck"}
    assert 0 < check.rechecked_rel_error <= check.error_bound


def test_validate_fails_all_nan_weights_with_recomputed_hash(bundle):
    def nan(tensors):
        for k, v in tensors.items():
            if v.is_floating_point() and not k.startswith("spec."):
                tensors[k] = torch.full_like(v, float("nan"))
    _rewrite_weights(bundle, nan)
    assert {"weights-finite", "recheck"} <= _failed(bundle)


@pytest.mark.parametrize("value", [1e-30, "NaN", None, "inf", -1.0, 0.0])
def test_validate_fails_an_impossible_error_bound(bundle, value):
    def edit(m):
        m["error_bound"] = float("nan") if value == "NaN" else value
    _edit_manifest(bundle, edit)
    assert {"error-bound", "recheck"} <= _failed(bundle)


def test_validate_fails_an_inconsistent_layout(bundle):
    _edit_manifest(bundle, lambda m: m["layout"].update(width=99))
    assert _failed(bundle) == {"layout"}


def test_manifest_spec_that_does_not_match_the_weights(con, bundle):
    """``ell=1`` stated for weights built for ``ell=2``: refused at load by the stored γ,
    and — for a bundle without the spec tensors — failed by the recheck against the oracle."""
    def lie(m):
        m["spec"]["kernel"]["params"]["ell"] = 1.0
    _edit_manifest(bundle, lie)
    with pytest.raises(BundleError, match=r"'spec.gamma' differs from the manifest spec"):
        load_bundle(bundle)
    _rewrite_weights(bundle, lambda ts: [ts.pop(k) for k in ("spec.Sigma", "spec.gamma")])
    from ditgp.numerics import validate_bundle

    check = validate_bundle(bundle)
    assert {i.name for i in check.failures} == {"recheck"}
    assert check.rechecked_rel_error > 1e3 * check.error_bound


def test_bundle_stores_sigma_and_gamma(con, bundle):
    """Self-contained: Σ and γ(0..H-1) are tensors of the weights file."""
    from safetensors.numpy import load_file

    W = load_file(str(bundle / WEIGHTS))
    assert np.array_equal(W["spec.Sigma"], con.spec.Sigma)
    lags = np.arange(con.spec.H)
    assert np.allclose(W["spec.gamma"], np.exp(-lags / 2.0), rtol=1e-15, atol=0)
    b = load_bundle(bundle)
    assert set(b.data) == {"spec.Sigma", "spec.gamma"}
