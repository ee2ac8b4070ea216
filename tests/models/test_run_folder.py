"""The run folder and its checkpoints: every number a resume must keep is refused when
changed, identical runs give identical bytes, files have ordinary permissions, a user's
folder is never taken for a checkpoint, renames are made durable, and a killed export's
temporaries are removed by the next run."""

from __future__ import annotations

import dataclasses
import os
import shutil

import pytest
import torch
from ditgp.models.checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    read_checkpoint,
    step_name,
    write_checkpoint,
)
from ditgp.models.config import ModelConfig
from ditgp.models.train import TrainConfig, train
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
CFG = ModelConfig("dit", width=16, depth=1, heads=2)


def _tc(**kw) -> TrainConfig:
    base = dict(steps=2, batch=4, lr=3e-3, warmup=1, ema=0.9, eval_every=2, ckpt_every=1,
                log_every=1, n_eval=4, eval_points=3, threads=1)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("rf") / "run"
    train(SPEC, CFG, _tc(), out, quiet=True, report=False)
    return out


#: Every training number a resume must keep, with a value that differs from the run's and the
#: flag the refusal names.  Written out here (not read from ``train._RESUME_FIXED``): dropping a
#: key from the code's list must fail this table.
FIXED = [
    ("batch", 8, "--batch"), ("lr", 1e-2, "--lr"), ("warmup", 0, "--warmup"),
    ("ema", 0.5, "--ema"), ("weight_decay", 0.1, "--weight-decay"), ("clip", 0.5, "--clip"),
    ("seed", 1, "--seed"), ("n_train", 4, "--n-train"), ("t_sampling", "log-uniform",
                                                         "--t-sampling"),
    ("loss", "score", "--loss"), ("dtype", "float64", "--dtype"), ("decay_steps", 9, "--decay-steps"),
    ("log_every", 2, "--log-every"), ("n_eval", 5, "--n-eval"), ("eval_points", 4, "--eval-points"),
]


@pytest.mark.parametrize("key, value, flag", FIXED, ids=[k for k, _, _ in FIXED])
def test_resume_refuses_every_fixed_number(run, key, value, flag):
    tc = dataclasses.replace(_tc(steps=3), **{key: value})
    with pytest.raises(SpecError) as exc:
        train(SPEC, CFG, tc, run, resume=True, quiet=True, report=False)
    assert exc.value.field == flag, str(exc.value)
    assert "resume keeps it" in str(exc.value)


def test_the_fixed_table_covers_every_training_number_but_the_free_ones():
    free = {"steps", "device", "compile", "threads", "minutes", "eval_every", "ckpt_every",
            "keep"}
    assert {k for k, _, _ in FIXED} | free == {f.name for f in dataclasses.fields(TrainConfig)}


def test_identical_runs_write_identical_checkpoint_and_bundle_bytes(run, tmp_path):
    """safetensors writes its metadata map in a random key order; sorted, identical runs give
    identical files (the planted check: unsorted metadata differs between two writes)."""
    again = tmp_path / "again"
    train(SPEC, CFG, _tc(), again, quiet=True, report=False)
    for ck in list_checkpoints(run / "checkpoints"):
        for f in sorted(ck.iterdir()):
            if f.suffix == ".safetensors":
                assert f.read_bytes() == (again / "checkpoints" / ck.name / f.name).read_bytes(), f
    w = "final/weights.safetensors"
    assert (run / w).read_bytes() == (again / w).read_bytes()


def test_safetensors_metadata_is_written_sorted():
    import json

    from ditgp.numerics.atomic import safetensors_bytes

    meta = {f"k{i}": str(i) for i in (5, 1, 9, 3, 7, 2, 8)}
    data = safetensors_bytes({"x": torch.zeros(3)}, meta)
    n = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + n])
    assert list(header["__metadata__"]) == sorted(meta)
    from safetensors.torch import load

    assert torch.equal(load(data)["x"], torch.zeros(3))


def test_checkpoint_and_bundle_files_have_ordinary_permissions(tmp_path):
    mask = os.umask(0o022)
    try:
        out = tmp_path / "run"
        train(SPEC, CFG, _tc(steps=1), out, quiet=True, report=False)
    finally:
        os.umask(mask)
    for p in [*(out / "checkpoints").rglob("*"), *(out / "final").rglob("*"), out / "final"]:
        want = 0o755 if p.is_dir() else 0o644
        assert p.stat().st_mode & 0o777 == want, (p, oct(p.stat().st_mode & 0o777))


def test_a_user_folder_named_like_a_checkpoint_is_not_one(run, tmp_path):
    """``step-00000004.bak`` (a user's copy) is neither resumed from nor pruned."""
    root = tmp_path / "ck"
    shutil.copytree(run / "checkpoints", root)
    bak = root / (step_name(4) + ".bak")
    shutil.copytree(root / step_name(2), bak)
    (root / "step-4").mkdir()  # too few digits: not a checkpoint name either
    assert [p.name for p in list_checkpoints(root)] == [step_name(1), step_name(2)]
    ck, _ = latest_checkpoint(root)
    assert ck.step == 2
    t = {g: v for g, v in read_checkpoint(root / step_name(2)).tensors.items()}
    write_checkpoint(root, 3, t, {"x": 1}, keep=1)
    assert bak.is_dir() and (root / "step-4").is_dir()
    assert [p.name for p in list_checkpoints(root)] == [step_name(3)]


def test_a_checkpoint_rename_is_made_durable(run, tmp_path, monkeypatch):
    """After the temporary folder is renamed to ``step-…``, its parent folder is fsynced
    (without it a power cut can lose a checkpoint that was reported written).  Checkpoints are
    written by the one folder writer, :func:`ditgp.numerics.atomic.atomic_folder`."""
    import ditgp.numerics.atomic as atomic

    events = []
    real_replace, real_fsync = os.replace, atomic.fsync_dir
    monkeypatch.setattr(atomic.os, "replace", lambda a, b: (events.append(("rename", str(b))),
                                                             real_replace(a, b))[1])
    monkeypatch.setattr(atomic, "fsync_dir", lambda p: (events.append(("fsync", str(p))),
                                                        real_fsync(p))[1])
    root = tmp_path / "ck"
    t = read_checkpoint(run / "checkpoints" / step_name(2)).tensors
    final = write_checkpoint(root, 7, t, {"x": 1})
    i = events.index(("rename", str(final)))
    assert ("fsync", str(root)) in events[i + 1:], events


def test_the_next_run_removes_a_killed_exports_temporaries(run, tmp_path):
    """``kill -9`` during an export leaves ``RUN/.final.tmp-PID-…``: the next run (which holds
    the folder's lock) removes it; a live writer's temporary is left alone."""
    out = tmp_path / "run"
    shutil.copytree(run, out)
    dead = out / ".final.tmp-999999999-abcdefgh"  # no such pid
    live = out / f".final.tmp-{os.getpid()}-abcdefgh"
    for p in (dead, live):
        p.mkdir()
        (p / "weights.safetensors").write_bytes(b"half")
    notes = []
    train(SPEC, CFG, _tc(steps=3), out, resume=True, quiet=True, report=False,
          notify=notes.append)
    assert not dead.exists() and live.is_dir()
    assert any("left by an export that was killed" in n for n in notes)


def test_a_fresh_run_that_stops_before_its_first_checkpoint_leaves_the_folder_as_found(
        tmp_path, monkeypatch):
    import ditgp.models.train as tm

    out = tmp_path / "run"
    out.mkdir()

    def boom(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(tm, "update_ema", boom)  # stops inside the first step
    with pytest.raises(KeyboardInterrupt):
        train(SPEC, CFG, _tc(), out, quiet=True, report=False)
    assert list(out.iterdir()) == []  # the (empty) folder is kept, what the run wrote is not
