"""``ditgp sample --exact``: output, report, refusals."""

from __future__ import annotations

import json

import numpy as np

from ditgp.cli import main

SPEC = ["--kernel", "laplace", "--param", "ell=2", "--H", "6", "--d", "2", "--t0", "0.05"]


def test_sample_exact_writes_samples_and_report(tmp_path):
    out = tmp_path / "x.npy"
    assert main(["sample", "--exact", *SPEC, "--n", "300", "--sampler", "ode", "--steps", "30",
                 "--seed", "2", "--output", str(out), "--report", str(tmp_path / "r")]) == 0
    X = np.load(out)
    assert X.shape == (300, 2, 6) and X.dtype == np.float64
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert rep["reports"]["samples"]["autocorrelation"]["max_abs_z"] < 4.5
    assert (tmp_path / "r" / "autocorrelation.png").is_file()
    # same seed, same samples
    out2 = tmp_path / "y.npy"
    assert main(["sample", "--exact", *SPEC, "--n", "300", "--sampler", "ode", "--steps", "30",
                 "--seed", "2", "--output", str(out2)]) == 0
    assert np.array_equal(np.load(out2), X)


def test_sample_refusals(tmp_path, capsys):
    out = tmp_path / "x.npy"
    out.write_bytes(b"")
    assert main(["sample", "--exact", *SPEC, "--n", "3", "--output", str(out)]) == 2
    assert "--output" in capsys.readouterr().err
    assert main(["sample", "--exact", *SPEC, "--n", "0", "--output", str(tmp_path / "z.npy")]) == 2
    assert "--n" in capsys.readouterr().err
    assert main(["sample", "--weights", str(tmp_path / "nope"), "--n", "3",
                 "--output", str(tmp_path / "w.npy")]) == 2
