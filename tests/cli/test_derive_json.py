"""``ditgp derive`` end to end: JSON keys, --spec files, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

from ditgp.cli import main


def run_cli(*argv: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ditgp", *argv], capture_output=True, text=True)


def test_derive_json_has_the_documented_keys(capsys):
    assert main(["derive", "--kernel", "power-law", "--param", "ell=2", "--param", "nu=3",
                 "--H", "32", "--d", "2", "--t", "0.1", "--eps", "1e-4", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["kernel"]["name"] == "power-law"
    assert data["kernel"]["decay_class"] == "polynomial"
    for key in ("lambda_min", "lambda_max"):
        assert key in data["spectrum"]
    for section, key in [("gd", "eta"), ("gd", "rho"), ("gd", "steps"), ("chebyshev", "steps"),
                         ("window", "w"), ("window", "tail_bound")]:
        assert key in data[section]
    assert "kappa_t" in data


def test_derive_accepts_a_spec_file(tmp_path, capsys):
    spec = GPSpec(kernel("laplace", ell=5.0), H=20, d=3)
    path = tmp_path / "spec.json"
    path.write_text(spec.to_json())
    assert main(["derive", "--spec", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert GPSpec.from_dict(data["spec"]) == spec


def test_derive_text_and_latex(capsys):
    assert main(["derive", "--H", "8", "--d", "2"]) == 0
    assert "gd.steps" in capsys.readouterr().out
    assert main(["derive", "--H", "8", "--d", "2", "--latex"]) == 0
    assert r"\begin{align*}" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--param", "ell=-1"], "laplace.ell=-1.0: expected a number in (0, ∞)"),
    (["--H", "0"], "H=0: expected an integer ≥ 1"),
    (["--t", "50"], "t=50.0: expected a time in [t0, T] = [0.001, 10]"),
    (["--kernel", "nope"], "kernel='nope': expected one of laplace"),
    (["--spatial", "ar:2"], "spatial.rho=2.0: expected a number in (-1, 1)"),
    (["--param", "ell"], "--param='ell': expected KEY=VALUE"),
    (["--spec", "/nonexistent.json"], "spec='/nonexistent.json': expected a readable JSON file"),
], ids=["ell", "H", "t", "kernel", "spatial", "param-syntax", "spec-file"])
def test_invalid_input_is_one_line_and_nonzero(argv, message):
    proc = run_cli("derive", *argv)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert message in lines[0]


def test_list_kernels(capsys):
    assert main(["derive", "--list-kernels"]) == 0
    out = capsys.readouterr().out
    assert "laplace" in out and "logarithmic" in out
