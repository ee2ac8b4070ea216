"""Each refusal case a user met is a row of one table.

Every row sets up what the user had (a run, a bundle, a results folder, possibly damaged),
runs the command in-process and checks the answer: exit status 2 and **one** line on stderr
that names the file or flag and says what to do — or, for the cases that should simply
work, exit 0.  Refusals must leave every file as it was (nothing written, nothing deleted).

The artefacts are tiny (``H = 8``, ``d = 2``, two training steps) and built once per module.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from ditgp.cli import main

SPEC = ["--H", "8", "--d", "2"]
FAST = ["--batch", "4", "--n-eval", "4", "--threads", "1", "--quiet", "--log-every", "1"]


@dataclass
class World:
    """What the user has lying around: built once (module scope), copied by each row."""

    root: Path
    run: Path  # a tiny finished DiT run (2 steps, a checkpoint per step)
    run_n: Path  # the same with --n-train 8 (train_set.safetensors)
    con: Path  # a fixed-t construction at t = 0.1
    gated: Path  # a gated construction (serves every t)

    def copy(self, src: Path, dst: Path) -> Path:
        shutil.copytree(src, dst)
        return dst


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> World:
    root = tmp_path_factory.mktemp("world")
    run, run_n = root / "run", root / "run_n"
    assert main(["train", *SPEC, "--steps", "2", "--ckpt-every", "1", "--out", str(run),
                 *FAST]) == 0
    assert main(["train", *SPEC, "--steps", "2", "--ckpt-every", "1", "--n-train", "8",
                 "--out", str(run_n), *FAST]) == 0
    con, gated = root / "con", root / "gated"
    assert main(["construct", *SPEC, "--t", "0.1", "--eps", "1e-3", "--out", str(con)]) == 0
    assert main(["construct", *SPEC, "--eps", "1e-3", "--time-conditioning", "gated",
                 "--out", str(gated)]) == 0
    return World(root, run, run_n, con, gated)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


def _resume(run: Path, steps: int = 3) -> list[str]:
    return ["train", *SPEC, "--steps", str(steps), "--ckpt-every", "1", "--out", str(run),
            "--resume", *FAST]


# -- the set-ups: each returns the argv to run in the folder ``tmp`` ----------------------------
def _rewrite_json(path: Path, edit: Callable[[dict], object]) -> None:
    data = json.loads(path.read_text())
    new = edit(data)
    path.write_text(json.dumps(data if new is None else new))


def _resave(bundle: Path, dtype: torch.dtype, table: bool = False) -> None:
    """Re-save a bundle's float tensors in ``dtype`` with a recomputed sha256 (the table too
    with ``table``): a bundle that hashes fine and is not what training wrote."""
    from ditgp.numerics.atomic import sha256_file
    from safetensors.torch import load_file, save_file

    w = bundle / "weights.safetensors"
    t = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in load_file(str(w)).items()}
    save_file(t, str(w))

    def edit(m):
        m["weights"]["sha256"] = sha256_file(w)
        if table:
            m["weights"]["dtype"] = str(dtype).removeprefix("torch.")
            for k, v in t.items():
                m["weights"]["tensors"][k]["dtype"] = str(v.dtype).removeprefix("torch.")

    _rewrite_json(bundle / "manifest.json", edit)


def _experiment_folder(tmp: Path, name: str = "attention") -> tuple[Path, list]:
    """A results folder of ``reproduce NAME --preset toy`` as ditgp writes it: the record of
    the set-up and one finished cell (fabricated, hashed like a real one)."""
    from ditgp.verify.reproduce import experiment
    from ditgp.verify.reproduce.base import to_jsonable, write_json
    from ditgp.verify.reproduce.folder import cell_hash

    exp = experiment(name)
    params = exp.params("toy")
    root = tmp / "res" / name
    write_json(root / "experiment.json", {"experiment": name, "preset": "toy",
                                          "params": to_jsonable(params)})
    cells = exp.cells(params, (0,))
    rec = {"cell": cells[0].id, "params": cells[0].params, "result": {"error": 0.25},
           "seconds": 1.0, "device": "cpu", "device_name": "cpu", "dtype": "float32"}
    rec["sha256"] = cell_hash(rec)
    write_json(root / "cells" / f"{cells[0].id}.json", rec)
    return root, cells


def _reproduce(tmp: Path) -> list[str]:
    return ["reproduce", "attention", "--preset", "toy", "--out", str(tmp / "res"), "--quiet"]


def case_resume_without_checkpoints(w, tmp):
    run = w.copy(w.run, tmp / "r")
    for p in (run / "checkpoints").iterdir():
        shutil.rmtree(p)
    return _resume(run)


def _config(value):
    def setup(w, tmp):
        run = w.copy(w.run, tmp / "r")
        if callable(value):
            _rewrite_json(run / "config.json", value)
        else:
            (run / "config.json").write_text(value)
        return _resume(run)
    return setup


def case_metrics_not_utf8(w, tmp):
    run = w.copy(w.run, tmp / "r")
    with open(run / "metrics.jsonl", "ab") as f:
        f.write(b'{"kind": "train", "step": 1, "loss": \xff}\n')
    return _resume(run)


def case_train_set_bit_flip(w, tmp):
    run = w.copy(w.run_n, tmp / "r")
    p = run / "train_set.safetensors"
    data = bytearray(p.read_bytes())
    data[-3] ^= 0x10  # one bit of one stored sequence
    p.write_bytes(bytes(data))
    return ["train", *SPEC, "--steps", "3", "--ckpt-every", "1", "--n-train", "8", "--out",
            str(run), "--resume", *FAST]


def case_final_is_a_file(w, tmp):
    run = w.copy(w.run, tmp / "r")
    shutil.rmtree(run / "final")
    (run / "final").write_text("my notes\n")
    return _resume(run)


def case_checkpoints_is_a_file(w, tmp):
    run = w.copy(w.run, tmp / "r")
    shutil.rmtree(run / "checkpoints")
    (run / "checkpoints").write_text("my notes\n")
    return _resume(run)


def case_out_dangling_link(w, tmp):
    (tmp / "link").symlink_to(tmp / "missing-target")
    return ["train", *SPEC, "--steps", "1", "--out", str(tmp / "link"), *FAST]


def case_out_not_utf8(w, tmp):
    return ["train", *SPEC, "--steps", "1", "--out", os.fsdecode(bytes(tmp / "r") + b"\xff"),
            *FAST]


def case_init_from_fixed_t(w, tmp):
    return ["train", *SPEC, "--steps", "1", "--model", "theory", "--init-from", str(w.con),
            "--out", str(tmp / "r"), *FAST]


def case_lr_negative_scientific(w, tmp):
    return ["train", *SPEC, "--steps", "1", "--lr", "-1e-3", "--out", str(tmp / "r"), *FAST]


def _trained_bundle(edit):
    def setup(w, tmp):
        b = w.copy(w.run / "final", tmp / "b")
        edit(b)
        return ["inspect", str(b)]
    return setup


def _drop(key):
    def edit(m):
        del m[key]

    return lambda b: _rewrite_json(b / "manifest.json", edit)


def _set(key, value):
    return lambda b: _rewrite_json(b / "manifest.json", lambda m: m.__setitem__(key, value))


def _sha_null(b):
    _rewrite_json(b / "manifest.json", lambda m: m["weights"].__setitem__("sha256", None))


def case_score_fixed_t_elsewhere(w, tmp):
    np.save(tmp / "X.npy", np.random.default_rng(0).standard_normal((3, 2, 8)))
    return ["score", "--weights", str(w.con), "--t", "0.2", "--input", str(tmp / "X.npy"),
            "--output", str(tmp / "S.npy")]


def case_score_huge_inputs(w, tmp):
    np.save(tmp / "X.npy", np.full((3, 2, 8), 1e300))
    return ["score", "--weights", str(w.run / "final"), "--t", "0.1", "--input",
            str(tmp / "X.npy"), "--output", str(tmp / "S.npy")]


def case_score_weights_with_kernel(w, tmp):
    np.save(tmp / "X.npy", np.zeros((3, 2, 8)))
    return ["score", "--weights", str(w.run / "final"), "--kernel", "matern32", "--input",
            str(tmp / "X.npy"), "--output", str(tmp / "S.npy")]


def case_score_weights_wrong_shape(w, tmp):
    np.save(tmp / "X.npy", np.zeros((3, 4, 32)))
    return ["score", "--weights", str(w.run / "final"), "--input", str(tmp / "X.npy"),
            "--output", str(tmp / "S.npy")]


def _sample(*extra):
    def setup(w, tmp):
        return ["sample", "--run", str(w.run), "--n", "4", "--steps", "5", "--threads", "1",
                "--output", str(tmp / "s.npy"), *extra]
    return setup


def case_sample_report_over_verify_report(w, tmp):
    (tmp / "rep").mkdir()
    (tmp / "rep" / "report.md").write_text("# my verify report\n")
    return _sample("--report", str(tmp / "rep"))(w, tmp)


def case_sample_huge_n(w, tmp):
    return ["sample", "--run", str(w.run), "--n", "10000000", "--steps", "2000", "--threads",
            "1", "--output", str(tmp / "s.npy")]


def case_compare_out_holds_compare_md(w, tmp):
    (tmp / "cmp").mkdir()
    (tmp / "cmp" / "compare.md").write_text("my own notes\n")
    return ["compare", "--run", str(w.run), "--n", "4", "--out", str(tmp / "cmp")]


def case_compare_bundle_trained(w, tmp):
    return ["compare", "--run", str(w.run), "--bundle", str(w.run / "final"), "--n", "4",
            "--out", str(tmp / "cmp")]


def case_reproduce_cell_edited(w, tmp):
    root, cells = _experiment_folder(tmp)
    _rewrite_json(root / "cells" / f"{cells[0].id}.json",
                  lambda r: r["result"].__setitem__("error", 0.001))
    return _reproduce(tmp)


def case_reproduce_cell_list(w, tmp):
    root, cells = _experiment_folder(tmp)
    (root / "cells" / f"{cells[0].id}.json").write_text("[]")
    return _reproduce(tmp)


def case_reproduce_cell_not_utf8(w, tmp):
    root, cells = _experiment_folder(tmp)
    p = root / "cells" / f"{cells[0].id}.json"
    p.write_bytes(p.read_bytes().replace(b"0.25", b"0.2\xff"))
    return _reproduce(tmp)


def case_reproduce_experiment_json_corrupt(w, tmp):
    root, _ = _experiment_folder(tmp)
    (root / "experiment.json").write_text('{"experiment": "attention", "pre')
    return _reproduce(tmp)


def case_reproduce_set_negative_steps(w, tmp):
    return [*_reproduce(tmp), "--set", "steps=-5"]


#: (id, set-up(world, tmp) -> argv, text the one line must contain)
CASES = [
    # data loss and wrong passes of training runs
    ("resume-without-checkpoints", case_resume_without_checkpoints, "holds none"),
    ("config-json-list", _config("[1, 2, 3]"), "config.json"),
    ("config-json-null", _config("null"), "config.json"),
    ("config-train-oops", _config(lambda c: c.__setitem__("train", "oops")), "'train'"),
    ("metrics-not-utf8", case_metrics_not_utf8, "metrics.jsonl"),
    ("train-set-bit-flip", case_train_set_bit_flip, "train_set.safetensors"),
    ("final-is-a-file", case_final_is_a_file, "final"),
    ("checkpoints-is-a-file", case_checkpoints_is_a_file, "checkpoints"),
    ("out-dangling-symlink", case_out_dangling_link, "dangling symbolic link"),
    ("out-not-utf8", case_out_not_utf8, "UTF-8"),
    ("init-from-fixed-t", case_init_from_fixed_t, "--time-conditioning gated"),
    ("lr-negative-scientific", case_lr_negative_scientific, "--lr=-0.001"),
    # trained bundles keep every promise (the one verifier)
    ("bundle-float16-resaved", _trained_bundle(lambda b: _resave(b, torch.float16)), "dtype"),
    ("bundle-float16-table-too", _trained_bundle(lambda b: _resave(b, torch.float16, True)),
     "weights.dtype 'float16'"),
    ("bundle-output-missing", _trained_bundle(_drop("output")), "'output'"),
    ("bundle-output-swapped", _trained_bundle(_set("output", "score")), "returns 'eps'"),
    ("bundle-resources-missing", _trained_bundle(_drop("resources")), "'resources'"),
    ("bundle-time-range-outside", _trained_bundle(_set("time_range", [1e-3, 50.0])),
     "time_range"),
    ("bundle-sha256-null", _trained_bundle(_sha_null), "the hash is never skipped"),
    # a network serves only its times; scores are finite; spec flags are not ignored
    ("score-fixed-t-elsewhere", case_score_fixed_t_elsewhere, "--t=0.2: expected t=0.1"),
    ("score-weights-1e300", case_score_huge_inputs, "not finite"),
    ("score-weights-kernel", case_score_weights_with_kernel, "--kernel='matern32'"),
    ("score-weights-wrong-shape", case_score_weights_wrong_shape, "reshape the input"),
    ("sample-run-H", _sample("--H", "32"), "--H=32"),
    ("sample-run-t0", _sample("--t0", "0.5"), "--t0=0.5"),
    ("sample-report-over-verify-report", case_sample_report_over_verify_report, "--force"),
    ("sample-n-1e7", case_sample_huge_n, "budget"),
    ("compare-out-holds-compare-md", case_compare_out_holds_compare_md, "compare.md exists"),
    ("compare-bundle-trained", case_compare_bundle_trained, "a construction bundle"),
    ("verify-bundle-without-run",
     lambda w, t: ["verify", "--bundle", str(w.con), "--claims", "1", "--out", str(t / "v")],
     "--run RUN"),
    ("verify-claims-101-without-run",
     lambda w, t: ["verify", "--claims", "101", "--out", str(t / "v")], "--run RUN"),
    # reproduce: records checked, settings checked before planning
    ("reproduce-cell-edited", case_reproduce_cell_edited, "does not match its sha256"),
    ("reproduce-cell-list", case_reproduce_cell_list, "main-l1-s0.json"),
    ("reproduce-cell-not-utf8", case_reproduce_cell_not_utf8, "main-l1-s0.json"),
    ("reproduce-experiment-json-corrupt", case_reproduce_experiment_json_corrupt,
     "experiment.json"),
    ("reproduce-set-steps-negative", case_reproduce_set_negative_steps, "--set steps=-5"),
    ("reproduce-list-set-unknown",
     lambda w, t: ["reproduce", "attention", "--list", "--set", "foo=1"], "--set='foo'"),
    ("reproduce-seeds-1e8-dry-run",
     lambda w, t: ["reproduce", "attention", "--seeds", "100000000", "--dry-run"],
     "at most 10000 seeds"),
    # bench
    ("bench-train-steps-negative", lambda w, t: ["bench", "train", "--steps", "-1"], "--steps=-1"),
    ("bench-train-steps-0", lambda w, t: ["bench", "train", "--steps", "0"], "--steps=0"),
    ("bench-train-device-tpu", lambda w, t: ["bench", "train", "--device", "tpu"],
     "--device='tpu'"),
    ("bench-long-duplicate-lengths", lambda w, t: ["bench", "long", "--lengths", "64,64"],
     "distinct"),
]


@pytest.mark.parametrize("name, setup, needle", CASES, ids=[c[0] for c in CASES])
def test_case_is_one_line_exit_2_and_loses_nothing(world, tmp_path, capsys, name, setup,
                                                   needle):
    argv = setup(world, tmp_path)
    before, world_before = _snapshot(tmp_path), _snapshot(world.root)
    capsys.readouterr()
    code = main(argv)
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert code == 2, (name, err)
    assert len(lines) == 1, err
    assert lines[0].startswith((f"ditgp {argv[0]}: error: ", "ditgp: error: ")), lines[0]
    assert needle in lines[0], lines[0]
    assert "Traceback" not in err
    assert _snapshot(tmp_path) == before, "a refused command wrote or deleted a file"
    assert _snapshot(world.root) == world_before


# -- the cases that now work -------------------------------------------------------------------
def test_resume_keeps_a_report_written_into_final(world, tmp_path, capsys):
    """``verify --weights R/final --out R/final/report`` then ``train --resume``: the new final
    bundle replaces the bundle's two files only; the report (and any user file) stays."""
    run = world.copy(world.run, tmp_path / "r")
    assert main(["verify", "--weights", str(run / "final"), "--out",
                 str(run / "final" / "report"), "--no-plots"]) == 0
    (run / "final" / "notes.txt").write_text("mine\n")
    kept = _snapshot(run / "final" / "report")
    assert main(_resume(run)) == 0
    assert _snapshot(run / "final" / "report") == kept
    assert (run / "final" / "notes.txt").read_text() == "mine\n"
    assert main(["inspect", str(run / "final")]) == 0


def test_a_diverged_fresh_run_can_simply_be_run_again(world, tmp_path, capsys):
    """``--lr 1e30`` diverges before the first checkpoint: the message names --lr, the folder
    is left as it was found (missing), so the same command with a lower --lr works."""
    out = tmp_path / "r"
    argv = ["train", *SPEC, "--steps", "3", "--out", str(out), *FAST]
    capsys.readouterr()
    assert main([*argv, "--lr", "1e30"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert "--lr" in err[-1] and "rerun the command" in err[-1]
    assert not out.exists()
    assert main([*argv, "--lr", "1e-3"]) == 0


def test_init_from_a_fixed_t_construction_leaves_nothing_and_gated_works(world, tmp_path):
    out = tmp_path / "r"
    argv = ["train", *SPEC, "--steps", "2", "--model", "theory", "--out", str(out), *FAST]
    assert main([*argv, "--init-from", str(world.con)]) == 2
    assert not out.exists()  # nothing left behind: a retry is not refused
    assert main([*argv, "--init-from", str(world.gated)]) == 0


def test_compare_a_theory_run_from_a_gated_construction(world, tmp_path):
    """It used to stop with "expected scalar type Double but found Float": the float32
    trained family network carried the construction's float64 architecture."""
    run = tmp_path / "theory"
    assert main(["train", *SPEC, "--steps", "2", "--model", "theory", "--init-from",
                 str(world.gated), "--out", str(run), *FAST]) == 0
    assert main(["compare", "--run", str(run), "--n", "4", "--t-grid", "0.1,1", "--out",
                 str(tmp_path / "cmp"), "--threads", "1"]) == 0
    assert (tmp_path / "cmp" / "compare.md").is_file()


def test_a_full_disk_is_one_line_naming_the_file(world, tmp_path):
    """``ulimit -f`` (a file-size limit: writes fail like on a full disk): the checkpoint's
    write fails with an OSError naming the file (not safetensors' own error type), exit 2,
    and the fresh run removes what it wrote."""
    import resource
    import subprocess
    import sys

    limit = 256 * 1024  # config.json and metrics fit; a 1.3 MB weight file does not

    def cap():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    out = tmp_path / "r"
    proc = subprocess.run([sys.executable, "-m", "ditgp", "train", *SPEC, "--steps", "2",
                           "--ckpt-every", "1", "--out", str(out), *FAST],
                          preexec_fn=cap, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stderr
    assert "File too large" in lines[-1] and "model.safetensors" in lines[-1], lines[-1]
    assert "Traceback" not in proc.stderr
    assert not out.exists()


def test_verify_weights_fails_a_bundle_resaved_in_float16(world, tmp_path, capsys):
    """The same verifier behind ``verify --weights``: its ``load`` check fails naming the
    dtype, and the exit status is 1 (a failed check), not 0."""
    b = world.copy(world.run / "final", tmp_path / "b")
    _resave(b, torch.float16)
    capsys.readouterr()
    assert main(["verify", "--weights", str(b), "--out", str(tmp_path / "v"), "--no-plots"]) == 1
    cap = capsys.readouterr()
    assert "failed: load" in cap.err and "dtype float16" in cap.out
