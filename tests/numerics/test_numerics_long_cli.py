"""Long-H path through derive and the CLI (``derive --method``, ``score --method``,
``bench long``)."""

from __future__ import annotations

import json

import numpy as np
from ditgp.numerics.fft.fft_oracle import lanczos_spectrum
from ditgp.theory.derive import DENSE_MAX_H, dense_spectrum, derive
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial

from ditgp.cli import main


def test_lanczos_provider_matches_dense():
    spec = GPSpec(kernel("matern32", ell=3.0), H=500, d=2, spatial=Spatial("ar", rho=0.3))
    fast, dense = lanczos_spectrum(spec, 0.1), dense_spectrum(spec, 0.1)
    assert abs(fast["lambda_max"] - dense["lambda_max"]) <= fast["radius_max"] + 1e-12
    assert abs(fast["lambda_min"] - dense["lambda_min"]) <= fast["radius_min"] + 1e-12
    assert abs(fast["bayes_floor"] - dense["bayes_floor"]) <= fast["bayes_floor_error_bound"] \
        + 1e-12 * dense["bayes_floor"]


def test_derive_large_H_never_forms_gamma():
    spec = GPSpec(kernel("laplace", ell=4.0), H=DENSE_MAX_H + 1, d=1)
    plain = derive(spec, 0.1, 1e-6).to_dict()
    assert plain["spectrum"]["exact_lambda_min"] is None
    assert "not computed" in plain["spectrum"]["exact_method"]
    d = derive(spec, 0.1, 1e-6, spectrum=lanczos_spectrum).to_dict()
    s = d["spectrum"]
    assert s["lambda_min"] <= s["exact_lambda_min"] <= s["exact_lambda_max"] <= s["lambda_max"]
    assert d["score"]["bayes_floor"] > 0
    assert "Gamma" not in spec.__dict__


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
