"""``ditgp train`` at the command line: a short run end to end, and every bad input as one
line on stderr with exit status 2."""

from __future__ import annotations

import json

import pytest
import torch
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

from ditgp.cli import main

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
FAST = ["--batch", "4", "--n-eval", "4", "--threads", "1", "--quiet", "--log-every", "1"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """One short CLI run of the tiny preset's DiT (flags override the preset's shape)."""
    root = tmp_path_factory.mktemp("cli")
    spec_file = root / "spec.json"
    spec_file.write_text(SPEC.to_json())
    run = root / "run"
    assert main(["train", "--spec", str(spec_file), "--steps", "2", "--ckpt-every", "1",
                 "--out", str(run), *FAST]) == 0
    return root, spec_file, run


def _err(capsys, argv: list[str]) -> str:
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert "Traceback" not in err
    return err


def test_cli_run_writes_the_run_folder(run_dir, capsys):
    _, _, run = run_dir
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["preset"] == "tiny" and cfg["model"]["width"] == 64
    assert GPSpec.from_dict(cfg["spec"]) == SPEC
    assert (run / "final" / "manifest.json").is_file() and (run / "summary.md").is_file()
    manifest = json.loads((run / "final" / "manifest.json").read_text())
    assert manifest["origin"] == "trained"


def test_cli_resume_extends_the_run(run_dir, capsys, tmp_path):
    import shutil

    _, spec_file, run = run_dir
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    assert main(["train", "--spec", str(spec_file), "--steps", "3", "--ckpt-every", "1",
                 "--out", str(copy), "--resume", *FAST]) == 0
    out = capsys.readouterr().out
    assert "resumed from 2" in out
    lines = [json.loads(x) for x in (copy / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if r["kind"] == "train"] == [1, 2, 3]


@pytest.mark.parametrize("argv, flag", [
    (["--preset", "huge"], "--preset"),
    (["--pos-emb", "learned", "--max-H", "8", "--H", "16"], "--H"),
    (["--device", "cuda"], "--device"),
    (["--dtype", "bf16"], "--dtype"),
    (["--lr", "-1"], "--lr"),
    (["--ema", "1.5"], "--ema"),
    (["--model", "dit", "--init-from", "x"], "--init-from"),
    (["--compile"], "--compile"),
    (["--steps", "0"], "--steps"),
], ids=["unknown-preset", "H-beyond-embedding", "cuda-missing", "bf16-on-cpu", "negative-lr",
        "ema-out-of-range", "init-from-dit", "compile-on-cpu", "zero-steps"])
def test_bad_inputs_before_any_work(capsys, tmp_path, argv, flag):
    if flag == "--device" and torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    steps = [] if "--steps" in argv else ["--steps", "1"]
    err = _err(capsys, ["train", *argv, *steps, "--out", str(tmp_path / "r"), *FAST])
    assert flag in err
    assert not (tmp_path / "r").exists()


def test_non_empty_out_without_resume(capsys, run_dir):
    _, spec_file, run = run_dir
    err = _err(capsys, ["train", "--spec", str(spec_file), "--steps", "2", "--out", str(run), *FAST])
    assert "--out" in err and "--resume" in err


def test_resume_of_a_missing_run(capsys, tmp_path):
    err = _err(capsys, ["train", "--steps", "2", "--out", str(tmp_path / "none"), "--resume", *FAST])
    assert "--resume" in err


def test_resume_with_another_spec(capsys, run_dir):
    _, _, run = run_dir
    err = _err(capsys, ["train", "--kernel", "laplace", "--param", "ell=2", "--H", "8", "--d", "2",
                        "--steps", "3", "--out", str(run), "--resume", *FAST])
    assert "--resume" in err and "spec" in err


def test_resume_with_another_batch(capsys, run_dir):
    _, spec_file, run = run_dir
    argv = ["train", "--spec", str(spec_file), "--steps", "3", "--out", str(run), "--resume", *FAST]
    argv[argv.index("--batch") + 1] = "8"
    err = _err(capsys, argv)
    assert "--batch" in err


def test_resume_with_every_checkpoint_corrupt(capsys, run_dir, tmp_path):
    import shutil

    _, spec_file, run = run_dir
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    for ck in (copy / "checkpoints").iterdir():
        (ck / "model.safetensors").write_bytes(b"not a safetensors file")
    err = _err(capsys, ["train", "--spec", str(spec_file), "--steps", "3", "--out", str(copy),
                        "--resume", *FAST])
    assert "--resume" in err and "sha256" in err


def test_resume_to_fewer_steps_than_reached(capsys, run_dir):
    _, spec_file, run = run_dir
    err = _err(capsys, ["train", "--spec", str(spec_file), "--steps", "1", "--out", str(run),
                        "--resume", *FAST])
    assert "--steps" in err
