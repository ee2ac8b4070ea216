"""``ditgp reproduce … --executor ray`` on an embedded 2-CPU Ray runtime: the results folder
equals the local executor's (same cells, same numbers; timing fields aside), a worker killed
mid-cell (SIGKILL, at a known training step through the ``DITGP_TRAIN_PAUSE`` hook) is retried
and resumes from the cell's checkpoint, a re-run skips finished cells without starting Ray, and
without Ray installed the executor answers in one line.  The Ray driver runs in a subprocess
with a timeout (its runtime shares the driver's fate), so a hang cannot block the suite."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from ditgp.models.checkpoint import list_checkpoints
from ditgp.models.train import PAUSE_ENV

#: timing fields, and the cell record's hash (it covers the record's timing)
TIMING = ("seconds", "train_seconds", "cell_seconds", "sha256")


def _strip(obj):
    if isinstance(obj, dict):
        return {k: _strip(v) for k, v in obj.items() if k not in TIMING}
    if isinstance(obj, list):
        return [_strip(v) for v in obj]
    return obj


def _folder(root: Path) -> dict[str, object]:
    out = {p.name: _strip(json.loads(p.read_text())) for p in (root / "cells").glob("*.json")}
    out["results.json"] = _strip(json.loads((root / "results.json").read_text()))
    return out


@pytest.mark.slow
def test_ray_equals_local_survives_a_killed_worker_and_reruns_skip(tmp_path):
    pytest.importorskip("ray")
    from ditgp.verify.reproduce import run_experiment

    ray_tmp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # short: Ray's socket paths
    flag = tmp_path / "paused"
    env = dict(os.environ, RAY_TMPDIR=str(ray_tmp), OMP_NUM_THREADS="1",
               **{PAUSE_ENV: f"10:{flag}"})  # toy attention: 30 steps, checkpoints every 7
    cmd = [sys.executable, "-m", "ditgp", "reproduce", "attention", "--preset", "toy", "--out",
           str(tmp_path / "ray"), "--executor", "ray", "--jobs", "2", "--seeds", "1", "--quiet"]
    driver = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    try:
        deadline = time.monotonic() + 180
        pid = None
        while pid is None:
            assert driver.poll() is None, driver.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "no Ray worker reached the pause"
            text = flag.read_text().strip() if flag.exists() else ""
            pid = int(text) if text.isdigit() else None
            time.sleep(0.05)
        runs = tmp_path / "ray" / "attention" / "runs"
        paused = [p for p in runs.iterdir() if list_checkpoints(p / "checkpoints")]
        assert paused, "the paused cell has a checkpoint to resume from"
        os.kill(pid, signal.SIGKILL)  # the worker process running the cell
        _, err = driver.communicate(timeout=240)
        assert driver.returncode == 0, err[-3000:]
    finally:
        if driver.poll() is None:
            driver.kill()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)

    # the same experiment with the local executor, in this process
    run_experiment("attention", tmp_path / "local", preset="toy", seeds=1, jobs=1, quiet=True)
    ray_folder, local_folder = _folder(tmp_path / "ray" / "attention"), _folder(
        tmp_path / "local" / "attention")
    assert sorted(ray_folder) == sorted(local_folder) and "control-s0.json" in ray_folder
    assert len(ray_folder) >= 3
    assert ray_folder == local_folder

    # a re-run finds every cell finished: nothing recomputed, Ray not even started
    cells = tmp_path / "ray" / "attention" / "cells"
    before = {p.name: p.stat().st_mtime_ns for p in cells.iterdir()}
    notes: list[str] = []
    run_experiment("attention", tmp_path / "ray", preset="toy", seeds=1, jobs=2, quiet=True,
                   executor="ray", notify=notes.append)
    assert {p.name: p.stat().st_mtime_ns for p in cells.iterdir()} == before
    n = len(before)
    assert any(f"{n} cells ({n} done, 0 to run)" in note for note in notes), notes


def test_executor_ray_without_ray_says_how_to_install(tmp_path, monkeypatch, capsys):
    from ditgp.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    argv = ["reproduce", "attention", "--preset", "toy", "--executor", "ray", "--out",
            str(tmp_path / "out")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--executor='ray'" in err[0] and 'pip install -e ".[cluster]"' in err[0]
    assert not (tmp_path / "out" / "attention").exists()  # refused before any work
    assert main([*argv, "--dry-run"]) == 0  # planning needs no Ray


@pytest.mark.parametrize("argv, line", [
    (["--executor", "dask"], "--executor"),
    (["--ray-address", "auto"], "--ray-address='auto': expected no address without --executor ray"),
])
def test_bad_executor_flags(tmp_path, capsys, argv, line):
    from ditgp.cli import main

    assert main(["reproduce", "attention", "--preset", "toy", "--out", str(tmp_path), *argv]) == 2
    assert line in capsys.readouterr().err
