"""One writer per folder, and workers that end with their parent — with real processes.

* Two ``ditgp train --out R`` at once: the second is refused at once (exit 2, one line naming
  the lock and the first's pid) and writes nothing, while the first completes untouched
  (byte-identical to a run that was alone).  Same for two ``ditgp reproduce --out D``.
* ``ditgp reproduce --jobs 2`` stopped by SIGTERM, SIGINT or SIGKILL: its worker processes
  end too (they used to finish their cells into the folder and then idle forever).

The first process is held at a deterministic point by the checkpoint test hook
(``DITGP_CHECKPOINT_PAUSE=STEP:FLAG:RELEASE``, :mod:`ditgp.models.checkpoint`): it pauses
half-way through writing a checkpoint until the test creates ``RELEASE``.  No sleep decides
an outcome; the deadlines only bound a hang.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ditgp.cli import main

SPEC = ["--H", "8", "--d", "2"]
FAST = ["--batch", "4", "--n-eval", "4", "--threads", "1", "--quiet", "--log-every", "1"]
#: bound on a wait that only a hang exceeds (the machine may be loaded)
DEADLINE_S = 300


def _ditgp(*argv: str, env_extra: dict[str, str] | None = None, **kw) -> subprocess.Popen:
    env = {**os.environ, **(env_extra or {})}
    return subprocess.Popen([sys.executable, "-m", "ditgp", *argv], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)


def _wait_for(path: Path, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not path.exists():
        if proc.poll() is not None:
            out, err = proc.communicate()
            raise AssertionError(f"the process ended before pausing: {err}")
        assert time.monotonic() < deadline, "the test hook never paused"
        time.sleep(0.05)


def _snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def _numbers(metrics: Path) -> list[dict]:
    """The metrics lines without their timings."""
    import json

    recs = [json.loads(x) for x in metrics.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in ("seq_per_s", "time_s")} for r in recs]


def test_a_second_train_into_the_same_folder_is_refused(tmp_path, capsys):
    from ditgp.models.checkpoint import read_checkpoint

    run, ref = tmp_path / "run", tmp_path / "ref"
    flag, release = tmp_path / "paused", tmp_path / "release"
    argv = ["train", *SPEC, "--steps", "3", "--ckpt-every", "1", *FAST]
    first = _ditgp(*argv, "--out", str(run),
                   env_extra={"DITGP_CHECKPOINT_PAUSE": f"2:{flag}:{release}"})
    try:
        _wait_for(flag, first)  # the first holds the folder, half-way through checkpoint 2
        held = _snapshot(run)
        second = _ditgp(*argv, "--out", str(run))  # a second process, same folder
        _, err = second.communicate(timeout=DEADLINE_S)
        lines = err.strip().splitlines()
        assert second.returncode == 2, err
        assert len(lines) == 1 and "is writing it" in lines[0], err
        assert f"ditgp process {first.pid}" in lines[0] and ".ditgp.lock" in lines[0]
        capsys.readouterr()
        assert main([*argv, "--out", str(run), "--resume"]) == 2  # nor can this one resume it
        assert "is writing it" in capsys.readouterr().err
        assert _snapshot(run) == held, "a refused process touched the folder"
        release.touch()
        _, err = first.communicate(timeout=DEADLINE_S)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
    assert main([*argv, "--out", str(ref)]) == 0  # the same run, alone
    a, b = read_checkpoint(run / "checkpoints" / "step-00000003"), \
        read_checkpoint(ref / "checkpoints" / "step-00000003")
    assert a.state["files"] == b.state["files"]  # byte-identical tensors (sha256 of each file)
    assert _numbers(run / "metrics.jsonl") == _numbers(ref / "metrics.jsonl")
    assert not (run / ".ditgp.lock").exists()


def test_a_second_reproduce_into_the_same_folder_is_refused(tmp_path):
    out, flag, release = tmp_path / "res", tmp_path / "paused", tmp_path / "release"
    argv = ["reproduce", "video", "--preset", "toy", "--jobs", "1", "--quiet", "--out", str(out)]
    first = _ditgp(*argv, env_extra={"DITGP_CHECKPOINT_PAUSE": f"any:{flag}:{release}"})
    try:
        _wait_for(flag, first)  # the first is training its first cell
        held = _snapshot(out)
        second = _ditgp(*argv)
        _, err = second.communicate(timeout=DEADLINE_S)
        lines = err.strip().splitlines()
        assert second.returncode == 2, err
        assert len(lines) == 1 and "is writing it" in lines[0], err
        assert str(out / "video") in lines[0]
        assert _snapshot(out) == held
        release.touch()
        _, err = first.communicate(timeout=DEADLINE_S)
        assert first.returncode == 0, err
    finally:
        if first.poll() is None:
            first.kill()
    assert (out / "video" / "summary.md").is_file()
    assert not (out / "video" / ".ditgp.lock").exists()


def _children(pid: int) -> list[int]:
    """Processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            status = (d / "status").read_text()
            cmdline = (d / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = next((int(x.split()[1]) for x in status.splitlines() if x.startswith("PPid:")), 0)
        if ppid == pid and b"resource_tracker" not in cmdline:
            out.append(int(d.name))
    return out


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status  # a zombie (its parent gone, reaped later) is dead


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL],
                         ids=["SIGTERM", "SIGINT", "SIGKILL"])
def test_jobs_workers_end_with_their_parent(tmp_path, sig):
    out, flag = tmp_path / "res", tmp_path / "paused"
    parent = _ditgp("reproduce", "video", "--preset", "toy", "--jobs", "2", "--quiet", "--out",
                    str(out), env_extra={"DITGP_CHECKPOINT_PAUSE": f"any:{flag}"})
    workers: list[int] = []
    try:
        _wait_for(flag, parent)  # a worker is in the middle of a cell (paused there for good)
        workers = _children(parent.pid)
        assert len(workers) == 2, workers
        parent.send_signal(sig)
        _, err = parent.communicate(timeout=DEADLINE_S)
        assert parent.returncode == {signal.SIGTERM: 143, signal.SIGINT: 130,
                                     signal.SIGKILL: -signal.SIGKILL}[sig], err
        assert "Traceback" not in err
        deadline = time.monotonic() + 60  # the workers poll for their parent every 0.2 s
        while any(_alive(w) for w in workers):
            assert time.monotonic() < deadline, "a worker outlived its parent"
            time.sleep(0.05)
    finally:
        if parent.poll() is None:
            parent.kill()
        for w in workers:  # a failed check must not leave paused workers behind
            if _alive(w):
                os.kill(w, signal.SIGKILL)
    assert not (out / "video" / "summary.md").exists()
