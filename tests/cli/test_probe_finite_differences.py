"""``ditgp probe`` against an independent finite-difference Jacobian computed through
``ditgp score --weights`` (the network as a black box), for a construction bundle and a
trained run; and its refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ditgp.numerics.oracle import dense_covariance
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.verify.operator import base_points
from trained_runs import SPEC, tiny_run  # noqa: F401

from ditgp.cli import main

#: agreement required by the issue: probe vs finite differences, relative
AGREE = 0.02
CON_SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2, spatial=Spatial("ar", rho=0.5))


def _probe_json(capsys, args):
    capsys.readouterr()
    assert main(["probe", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def _fd_jacobian(tmp_path, weights, spec, X, t, h):
    """Central differences through ``ditgp score --weights``: J[a, i, b, j] per base point."""
    d, H = spec.d, spec.H
    n = X.shape[0]
    E = np.eye(d * H).reshape(d * H, H, d).transpose(0, 2, 1)  # unit inputs (b, j) in vec order
    pts = np.concatenate([X[k][None] + s * h * E for k in range(n) for s in (1.0, -1.0)])
    inp, out = tmp_path / "X.npy", tmp_path / "S.npy"
    np.save(inp, pts)
    assert main(["score", "--weights", str(weights), "--t", str(t), "--input", str(inp),
                 "--output", str(out)]) == 0
    S = np.load(out).reshape(n, 2, d * H, d, H)
    cols = (S[:, 0] - S[:, 1]) / (2 * h)  # (n, dH: column (b, j) in vec order, d, H)
    return cols.reshape(n, H, d, d, H).transpose(0, 3, 4, 2, 1)  # (n, a, i, b, j)


def _summaries(J, spec, t):
    d, H = spec.d, spec.H
    Js = -np.linalg.inv(dense_covariance(spec, t)).reshape(H, d, H, d).transpose(1, 0, 3, 2)
    rel = [np.linalg.norm(j - Js) / np.linalg.norm(Js) for j in J]
    norms = np.sqrt(np.einsum("naibj,naibj->nij", J, J))
    G = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    prof = np.mean([[nm[G == m].mean() for m in range(H)] for nm in norms], axis=0)
    return float(np.mean(rel)), prof


def _check(doc, fd_rel, fd_prof):
    j = doc["jacobian"]
    assert j["rel_error"][0] == pytest.approx(fd_rel, rel=AGREE)
    for m in range(4):
        assert j["gap_profile"][0][m] == pytest.approx(fd_prof[m], rel=AGREE)


def test_probe_of_a_construction_agrees_with_finite_differences(tmp_path, capsys):
    bundle = tmp_path / "con"
    assert main(["construct", "--kernel", "laplace", "--param", "ell=3", "--H", "8", "--d", "2",
                 "--spatial", "ar:0.5", "--t", "0.1", "--eps", "1e-2", "--attention", "compact",
                 "--algorithm", "chebyshev", "--time-conditioning", "gated", "--out",
                 str(bundle)]) == 0
    t = 0.05
    doc = _probe_json(capsys, ["--weights", str(bundle), "--t", str(t), "--n-base", "2"])
    X = base_points(CON_SPEC, t, 2, 0, 0)
    J = _fd_jacobian(tmp_path, bundle, CON_SPEC, X, t, h=1e-4)  # linear: any h, float64
    rel, prof = _summaries(J, CON_SPEC, t)
    _check(doc, rel, prof)
    assert 0 < rel < 1e-2  # the construction's accuracy, not zero


def test_probe_of_a_trained_run_agrees_with_finite_differences(tmp_path, capsys, tiny_run):  # noqa: F811
    t = 0.2
    doc = _probe_json(capsys, ["--run", str(tiny_run), "--t", str(t), "--n-base", "2"])
    X = base_points(SPEC, t, 2, 0, 0)
    # the bundle runs in float32: h = 1e-2 keeps rounding (~ε₃₂·‖s‖/h ≈ 1e-5) and the
    # curvature term (~h²) both far below 2 %
    J = _fd_jacobian(tmp_path, tiny_run / "final", SPEC, X, t, h=1e-2)
    rel, prof = _summaries(J, SPEC, t)
    _check(doc, rel, prof)
    # plant: a probe at another t does not agree (the check can fail)
    other = _probe_json(capsys, ["--run", str(tiny_run), "--t", "1.0", "--n-base", "2"])
    assert abs(other["jacobian"]["gap_profile"][0][0] - prof[0]) > AGREE * prof[0]


def test_probe_writes_its_report_and_refuses_to_overwrite(tmp_path, capsys, tiny_run):  # noqa: F811
    out = tmp_path / "p"
    assert main(["probe", "--run", str(tiny_run), "--t", "0.2,1", "--n-base", "2",
                 "--out", str(out)]) == 0
    assert {"probe.json", "probe.md", "gap_profile.png"} <= {p.name for p in out.iterdir()}
    doc = json.loads((out / "probe.json").read_text())
    assert doc["t"] == [0.2, 1.0] and len(doc["jacobian"]["same_frame_cos"]) == 2
    assert main(["probe", "--run", str(tiny_run), "--out", str(out)]) == 2
    assert main(["probe", "--run", str(tiny_run), "--t", "0.2", "--n-base", "2", "--out", str(out),
                 "--force"]) == 0


@pytest.mark.parametrize("args", [
    ["--n-base", "1"], ["--t", "20"], ["--t", "x"], ["--frames", "1"], ["--seed", "-1"],
], ids=["n-base", "t-range", "t-text", "frames", "seed"])
def test_probe_bad_inputs_one_line_exit_2(tiny_run, capsys, args):  # noqa: F811
    capsys.readouterr()
    assert main(["probe", "--run", str(tiny_run), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "ditgp probe: error:" in err[0]


def test_probe_refuses_a_missing_run_and_other_times_of_a_fixed_t_construction(tmp_path, capsys):
    assert main(["probe", "--run", str(tmp_path / "none")]) == 2
    bundle = tmp_path / "fixed"
    assert main(["construct", "--kernel", "laplace", "--param", "ell=3", "--H", "8", "--d", "2",
                 "--t", "0.1", "--eps", "1e-2", "--out", str(bundle)]) == 0
    capsys.readouterr()
    assert main(["probe", "--weights", str(bundle), "--t", "0.2"]) == 2
    assert "t = 0.1 only" in capsys.readouterr().err
    doc = _probe_json(capsys, ["--weights", str(bundle), "--n-base", "2"])
    assert doc["t"] == [0.1]
