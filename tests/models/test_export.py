"""Export of trained networks to the bundle format; loading, scoring, inspecting, verifying."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ditgp.models import ModelConfig, build_model, count_parameters
from ditgp.models.export import (
    MEASURE_RTOL,
    export_bundle,
    is_trained_bundle,
    load_network,
    load_trained,
)
from ditgp.numerics import BundleError, Oracle, construct, load_bundle
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.verify.bundle_check import verify_bundle, verify_trained

from ditgp.cli import main

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2, spatial=Spatial("ar", rho=0.4))
T0 = 0.01


def _trained_like(cfg: ModelConfig, seed: int = 0):
    """A network with random (non-zero) weights standing in for a trained one."""
    torch.manual_seed(seed)
    model = build_model(cfg, SPEC)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


CFGS = {
    "dit": ModelConfig("dit", 32, 2, 4),
    "dit-circle-relu": ModelConfig("dit", 32, 1, 4, pos_emb="circle", attention="relu"),
    "theory": ModelConfig("theory", 16, 2, 2, pos_emb="circle"),
}


@pytest.fixture(scope="module", params=sorted(CFGS))
def exported(request, tmp_path_factory):
    cfg = CFGS[request.param]
    model = _trained_like(cfg)
    path = export_bundle(model, cfg, SPEC, tmp_path_factory.mktemp("run") / "final",
                         metrics={"step": 10, "loss": 0.5, "eval": {"t": [0.1], "err": [0.2]}},
                         t0=T0)
    return cfg, model, path


def test_round_trip_equals_the_in_memory_model(exported):
    cfg, model, path = exported
    score, manifest = load_network(path)
    X = Oracle.for_spec(SPEC).sample(5, seed=3, t=0.3)
    with torch.no_grad():
        ref = model.eval().score(torch.from_numpy(X).float(), torch.full((5,), 0.3,
                                                                          dtype=torch.float64))
    got = score(X, 0.3)
    assert got.dtype == np.float64 and got.shape == X.shape
    assert np.array_equal(got, ref.double().numpy())
    assert np.abs(got).max() > 0
    assert manifest["origin"] == "trained" and manifest["architecture"] == cfg.to_dict()


def test_manifest_records_what_it_should(exported):
    cfg, model, path = exported
    m = json.loads((path / "manifest.json").read_text())
    assert m["format"] == "ditgp.bundle/1" and m["origin"] == "trained"
    assert GPSpec.from_dict(m["spec"]) == SPEC
    assert m["time_range"] == [T0, SPEC.schedule.T]
    assert m["resources"]["params"] == count_parameters(model)
    assert m["metrics"]["eval"]["err"] == [0.2]
    meas = m["measured"]
    assert meas["t"][0] == T0 and meas["t"][-1] == SPEC.schedule.T
    assert len(meas["rel_error"]) == len(meas["baseline_rel_error"]) == len(meas["t"])
    assert all(0 < e < 1 for e in meas["baseline_rel_error"])
    import hashlib

    assert m["weights"]["sha256"] == hashlib.sha256((path / "weights.safetensors")
                                                    .read_bytes()).hexdigest()
    assert m["output"] == ("score" if cfg.arch == "theory" else "eps")
    assert is_trained_bundle(path)


def test_verify_and_inspect_accept_a_trained_bundle(exported, capsys):
    _, _, path = exported
    res = verify_bundle(path)
    assert res["passed"], res["checks"]
    assert {c["name"] for c in res["checks"]} == {"load", "resources", "measured",
                                                   "score-vs-oracle"}
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    assert "trained network" in out and "params=" in out
    assert main(["inspect", str(path), "--json", "--check"]) == 0
    info = json.loads(capsys.readouterr().out)
    rec = np.asarray(info["measured"]["rel_error"])
    assert np.allclose(info["rechecked_rel_error"], rec, rtol=MEASURE_RTOL)


def test_score_cli_with_weights(exported, tmp_path, capsys):
    _, _, path = exported
    X = Oracle.for_spec(SPEC).sample(3, seed=1, t=0.5)
    np.save(tmp_path / "X.npy", X)
    rc = main(["score", "--weights", str(path), "--t", "0.5", "--input", str(tmp_path / "X.npy"),
               "--output", str(tmp_path / "S.npy")])
    assert rc == 0
    S = np.load(tmp_path / "S.npy")
    score, _ = load_network(path)
    assert np.array_equal(S, score(X, 0.5))
    capsys.readouterr()
    # a time outside the trained range is refused with one line
    rc = main(["score", "--weights", str(path), "--t", "0.001", "--input",
               str(tmp_path / "X.npy"), "--output", str(tmp_path / "S2.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and "--t=0.001" in err and "this network serves" in err
    assert len(err.strip().splitlines()) == 1


def _copy(path, tmp_path):
    import shutil

    dst = tmp_path / "copy"
    shutil.copytree(path, dst)
    return dst


def test_tampered_weights_are_rejected(exported, tmp_path, capsys):
    _, _, path = exported
    bad = _copy(path, tmp_path)
    data = bytearray((bad / "weights.safetensors").read_bytes())
    data[-5] ^= 0x01  # one bit of one weight
    (bad / "weights.safetensors").write_bytes(bytes(data))
    with pytest.raises(BundleError, match="sha256 mismatch"):
        load_network(bad)
    res = verify_bundle(bad)
    assert not res["passed"] and res["checks"][0]["name"] == "load"
    np.save(tmp_path / "X.npy", np.zeros((1, 1, 1)))  # a valid input: the weights are refused
    rc = main(["score", "--weights", str(bad), "--t", "0.5", "--input", str(tmp_path / "X.npy"),
               "--output", str(tmp_path / "S.npy")])
    err = capsys.readouterr().err
    assert rc == 2 and "sha256" in err and len(err.strip().splitlines()) == 1


def test_tampered_manifest_is_rejected(exported, tmp_path):
    _, _, path = exported
    bad = _copy(path, tmp_path)
    m = json.loads((bad / "manifest.json").read_text())
    m["measured"]["rel_error"][0] *= 0.5  # a better error than the weights deliver
    (bad / "manifest.json").write_text(json.dumps(m))
    res = verify_trained(bad)
    assert not res["passed"]
    assert [c["name"] for c in res["checks"] if not c["passed"]] == ["measured"]
    m = json.loads((path / "manifest.json").read_text())
    m["resources"]["params"] += 1
    (bad / "manifest.json").write_text(json.dumps(m))
    res = verify_trained(bad)  # the one bundle verifier refuses it at load, naming resources
    assert [c["name"] for c in res["checks"] if not c["passed"]] == ["load"]
    assert "resources" in res["checks"][0]["detail"]
    m = json.loads((path / "manifest.json").read_text())
    name = next(iter(m["weights"]["tensors"]))
    m["weights"]["tensors"][name]["shape"] = [1]
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError, match="shape"):
        load_trained(bad)
    m["architecture"]["width"] = 48
    (bad / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(BundleError):
        load_trained(bad)


def test_construction_loader_names_the_right_loader(exported):
    _, _, path = exported
    with pytest.raises(BundleError, match="load_network"):
        load_bundle(path)


def test_export_replaces_a_bundle_but_not_other_folders(tmp_path):
    cfg = CFGS["dit"]
    a, b = _trained_like(cfg, 0), _trained_like(cfg, 5)
    out = tmp_path / "final"
    export_bundle(a, cfg, SPEC, out, metrics={}, t0=T0)
    first = (out / "weights.safetensors").read_bytes()
    export_bundle(b, cfg, SPEC, out, metrics={}, t0=T0)
    assert (out / "weights.safetensors").read_bytes() != first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["final"]  # no temporaries left
    other = tmp_path / "notes"
    other.mkdir()
    (other / "keep.txt").write_text("mine")
    with pytest.raises(BundleError, match="not a ditgp bundle"):
        export_bundle(a, cfg, SPEC, other, metrics={}, t0=T0)
    assert (other / "keep.txt").read_text() == "mine"
    with pytest.raises(SpecError, match="metrics"):
        export_bundle(a, cfg, SPEC, out, metrics={"x": object()}, t0=T0)
    with pytest.raises(SpecError, match="t0"):
        export_bundle(a, cfg, SPEC, out, metrics={}, t0=-1.0)


def test_load_network_runs_a_constructed_bundle_too(tmp_path):
    spec = GPSpec(kernel("laplace", ell=2.0), H=5, d=2)
    con = construct(spec, t=0.2, eps=1e-3, measure=False)
    path = con.save(tmp_path / "con")
    score, manifest = load_network(path)
    X = Oracle.for_spec(spec).sample(3, seed=0, t=0.2)
    assert "origin" not in manifest
    assert np.array_equal(score(X, 0.2), con.score(X, 0.2))


@pytest.mark.parametrize("cfg", [ModelConfig("dit", 32, 2, 4, mlp_ratio=2.0),
                                 ModelConfig("dit", 30, 1, 3, attention="relu", pos_emb="circle"),
                                 ModelConfig("dit", 16, 1, 2, pos_emb="learned", max_H=10)],
                         ids=["sinusoidal-softmax", "circle-relu-odd", "learned"])
def test_documented_dit_forward_pass_matches(cfg, tmp_path):
    """docs/weights-format.md's numpy reference for `dit` bundles reproduces the library's."""
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "weights-format.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), re.S)
    code = next(b for b in blocks if "def forward_dit" in b)
    namespace: dict = {}
    exec(compile(code, str(doc), "exec"), namespace)  # the documented snippet, verbatim
    model = _trained_like(cfg).double()
    path = export_bundle(model, cfg, SPEC, tmp_path / "b", metrics={}, t0=T0)
    X = Oracle.for_spec(SPEC).sample(3, seed=2, t=0.4)
    t = np.array([0.02, 0.4, 5.0])
    eps, score = namespace["forward_dit"](str(path), X, t)
    with torch.no_grad():
        ref = model(torch.from_numpy(X), torch.from_numpy(t)).numpy()
    assert np.abs(ref).max() > 1e-3
    assert np.max(np.abs(eps - ref)) <= 1e-10 * np.max(np.abs(ref))
    fn, _ = load_network(path)
    for i in range(3):
        s_i = fn(X[i:i + 1], t[i])
        assert np.allclose(score[i:i + 1], s_i, rtol=1e-10, atol=1e-12 * np.abs(s_i).max())
