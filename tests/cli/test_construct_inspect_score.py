"""``ditgp construct / inspect / score / bench`` end to end through ``main(argv)``."""

from __future__ import annotations

import json
import os
import stat

import numpy as np
import pytest
import torch

from ditgp.cli import main


@pytest.fixture(autouse=True)
def _single_thread_torch():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)

SPEC = ["--kernel", "laplace", "--param", "ell=2", "--H", "8", "--d", "2", "--spatial", "ar:0.3",
        "--t0", "0.05"]


def run_json(capsys, argv):
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture
def bundle(tmp_path, capsys):
    out = tmp_path / "bundle"
    info = run_json(capsys, ["construct", *SPEC, "--t", "0.2", "--eps", "1e-6",
                             "--attention", "paper",
                             "--algorithm", "chebyshev", "--out", str(out), "--json"])
    return out, info


def test_construct_json(bundle):
    out, info = bundle
    for key in ("layers", "heads", "width", "params", "weight_norm", "window", "rel_error",
                "error_bound", "bundle"):
        assert key in info
    assert info["heads"] == 4 * (info["window"] + 1)
    assert info["rel_error"] <= info["error_bound"] <= 1e-6
    assert info["bundle"] == str(out.resolve())


def test_construct_text_and_gated(tmp_path, capsys):
    assert main(["construct", *SPEC, "--eps", "1e-4", "--time-conditioning", "gated",
                 "--out", str(tmp_path / "g")]) == 0
    text = capsys.readouterr().out
    assert "gated" in text and "bound" in text


def test_inspect(bundle, capsys):
    out, info = bundle
    got = run_json(capsys, ["inspect", str(out), "--json", "--check"])
    assert got["valid"] and got["layers"] == info["layers"]
    assert got["rechecked_rel_error"] <= got["error_bound"]
    assert main(["inspect", str(out)]) == 0
    assert "valid" in capsys.readouterr().out


def test_inspect_tampered_exits_with_one_line(bundle, capsys):
    out, _ = bundle
    w = out / "weights.safetensors"
    w.write_bytes(w.read_bytes()[:-4] + b"\x01\x02\x03\x04")
    assert main(["inspect", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "sha256 mismatch" in err and "Traceback" not in err


def test_score_end_to_end(tmp_path, capsys):
    from ditgp.numerics import exact_score
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, Spatial

    X = np.random.default_rng(0).standard_normal((5, 2, 8))
    np.save(tmp_path / "X.npy", X)
    assert main(["score", *SPEC, "--t", "0.3", "--input", str(tmp_path / "X.npy"),
                 "--output", str(tmp_path / "S.npy")]) == 0
    S = np.load(tmp_path / "S.npy")
    spec = GPSpec(kernel("laplace", ell=2.0), H=8, d=2, spatial=Spatial("ar", rho=0.3),
                  schedule=Schedule(0.05, 10.0))
    assert S.dtype == np.float64 and np.array_equal(S, exact_score(spec, X, 0.3))


@pytest.mark.parametrize("case", ["shape", "missing", "time"])
def test_score_bad_input_one_line(tmp_path, capsys, case):
    np.save(tmp_path / "X.npy", np.zeros((5, 3, 8) if case == "shape" else (5, 2, 8)))
    inp = tmp_path / ("nope.npy" if case == "missing" else "X.npy")
    t = "99" if case == "time" else "0.3"
    code = main(["score", *SPEC, "--t", t, "--input", str(inp),
                 "--output", str(tmp_path / "S.npy")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and err.startswith("ditgp score: error:")
    assert not (tmp_path / "S.npy").exists()


def test_bench_keys_tiny(capsys):
    res = run_json(capsys, ["bench", "oracle", "--sizes", "8x2,16x2", "--batch", "4", "--json"])
    assert "ratio_16_2" in res and res["sizes"][0]["max_rel_diff"] < 1e-10
    res = run_json(capsys, ["bench", "depth", "--kappas", "10,100", "--json"])
    assert [r["kappa"] for r in res["layers"]] == [10.0, 100.0]
    assert all(r["chebyshev_layers"] <= r["chebyshev_bound"] for r in res["layers"])
    assert all(r["paper_heads"] == 4 * (r["window"] + 1) for r in res["heads"])


def test_inspect_check_fails_a_wrong_error_bound(bundle, capsys):
    """``inspect --check`` calls ditgp.numerics.validate_bundle: a manifest promising an
    error bound float64 cannot reach fails (exit 1, the failed checks named)."""
    import json

    out, _ = bundle
    m = json.loads((out / "manifest.json").read_text())
    m["error_bound"] = 1e-30
    (out / "manifest.json").write_text(json.dumps(m))
    assert main(["inspect", str(out), "--check"]) == 1
    captured = capsys.readouterr()
    assert "INVALID" in captured.out
    assert captured.err.strip().endswith("check failed (error-bound, measured, recheck)")


def test_construct_into_a_bundle_keeps_other_files_and_respects_umask(tmp_path, capsys):
    out = tmp_path / "b"
    argv = ["construct", *SPEC, "--eps", "1e-3", "--out", str(out)]
    old = os.umask(0o022)
    try:
        assert main(argv) == 0
        (out / "notes.md").write_text("my notes\n")
        first = (out / "manifest.json").read_text()
        assert main([*argv[:-2], "--t", "0.3", "--out", str(out)]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert (out / "notes.md").read_text() == "my notes\n"  # not deleted by the overwrite
    assert (out / "manifest.json").read_text() != first  # the bundle itself was replaced
    assert stat.S_IMODE(out.stat().st_mode) == 0o755
    assert stat.S_IMODE((out / "weights.safetensors").stat().st_mode) == 0o644
    assert main(["inspect", str(out)]) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b"]  # no temporary folders left


def test_score_output_mode_follows_umask_and_force_replaces_foreign_npy(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.zeros((2, 2, 8)))
    foreign = tmp_path / "S.npy"
    foreign.write_text("not an array\n")
    argv = ["score", *SPEC, "--input", str(tmp_path / "X.npy"), "--output", str(foreign)]
    assert main(argv) == 2
    assert foreign.read_text() == "not an array\n"
    old = os.umask(0o027)
    try:
        assert main([*argv, "--force"]) == 0
    finally:
        os.umask(old)
    capsys.readouterr()
    assert np.load(foreign).shape == (2, 2, 8)
    assert stat.S_IMODE(foreign.stat().st_mode) == 0o640
