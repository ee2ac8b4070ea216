"""Long-H path through the CLI (``derive --method``, ``score --method``, ``bench long``)."""

from __future__ import annotations

import json

import numpy as np

from ditgp.cli import main


def test_cli_derive_method_fft_and_refusal(capsys):
    argv = ["derive", "--kernel", "laplace", "--param", "ell=4", "--H", "3000", "--d", "2",
            "--t", "0.1", "--json"]
    assert main([*argv, "--method", "fft"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["spectrum"]["exact_method"].startswith("Lanczos")
    big = ["derive", "--kernel", "laplace", "--param", "ell=4", "--H", "4000000", "--d", "2",
           "--t", "0.1", "--method", "eig"]
    assert main(big) == 2
    err = capsys.readouterr().err
    assert "--method fft" in err and err.count("\n") == 1


def test_cli_score_method(tmp_path, capsys):
    X = np.random.default_rng(0).standard_normal((2, 2, 40))
    np.save(tmp_path / "x.npy", X)
    outs = {}
    for m in ("eig", "fft"):
        argv = ["score", "--kernel", "laplace", "--param", "ell=2", "--H", "40", "--d", "2",
                "--t", "0.3", "--input", str(tmp_path / "x.npy"), "--output",
                str(tmp_path / f"{m}.npy"), "--method", m]
        assert main(argv) == 0
        outs[m] = np.load(tmp_path / f"{m}.npy")
    capsys.readouterr()
    assert np.max(np.abs(outs["fft"] - outs["eig"])) <= 1e-10 * np.max(np.abs(outs["eig"]))
    assert main(["score", "--method", "cholesky"]) == 2  # argparse: one line, exit 2
    assert "--method" in capsys.readouterr().err


def test_cli_bench_long_small(capsys):
    argv = ["bench", "long", "--lengths", "64,128", "--kernels", "laplace", "--batch", "2",
            "--d", "2", "--json"]
    assert main(argv) == 0
    res = json.loads(capsys.readouterr().out)
    assert len(res["rows"]) == 2 and all(r["met"] for r in res["rows"])
    assert all("ratio_eig_cold" in r and "levinson_s" in r for r in res["rows"])
    assert main(["bench", "long", "--lengths", "64,x"]) == 2
    assert "--lengths" in capsys.readouterr().err
