"""Preemption: SIGTERM/SIGUSR1 to ``ditgp train`` (a real signal to a real subprocess, one
process and two under torchrun) finish the step, write ``checkpoints/step-N`` although
``--ckpt-every`` is larger than the run, exit with ``EXIT_PREEMPTED``; ``--resume`` then ends
bit-identical to the uninterrupted run, ``metrics.jsonl`` included.  SIGINT keeps Python's
KeyboardInterrupt: status 130, no new checkpoint.

The ``DITGP_TRAIN_PAUSE=STEP:FLAG`` hook holds the run after step ``STEP`` until a signal
arrives, so the signal lands at a known step (no race with a fast tiny run)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from ditgp.models.checkpoint import list_checkpoints, read_checkpoint
from ditgp.models.train import EXIT_PREEMPTED, PAUSE_ENV
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
TIMING = ("seq_per_s", "time_s")


def _args(tmp_path: Path, *extra: str) -> list[str]:
    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.to_json())
    return ["--spec", str(spec_file), "--batch", "8", "--lr", "3e-3", "--warmup", "2",
            "--ema", "0.9", "--eval-every", "2", "--ckpt-every", "100", "--n-eval", "8",
            "--log-every", "1", "--threads", "1", "--quiet", "--steps", "6", *extra]


def _metrics(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMING} for r in lines]


def _bitwise_equal(a: Path, b: Path) -> None:
    ca, cb = read_checkpoint(a), read_checkpoint(b)
    assert ca.step == cb.step
    for group in ("model", "ema", "optimizer"):
        assert set(ca.tensors[group]) == set(cb.tensors[group])
        for name, t in ca.tensors[group].items():
            assert t.equal(cb.tensors[group][name]), f"{group}.{name} differs"


def _env(**extra: str) -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", **extra)


def _wait_for(flag: Path, proc: subprocess.Popen, what: str) -> None:
    deadline = time.monotonic() + 240
    while not flag.exists():
        assert proc.poll() is None, f"{what} ended before the pause: {proc.communicate()[1][-2000:]}"
        assert time.monotonic() < deadline, f"{what} never paused"
        time.sleep(0.05)


def _train_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ditgp", "train", *args]


@pytest.mark.slow
def test_sigterm_checkpoints_exits_75_and_resume_is_bitwise(tmp_path):
    from ditgp.cli import main

    run, ref, flag = tmp_path / "run", tmp_path / "ref", tmp_path / "paused"
    victim = subprocess.Popen(_train_cmd(*_args(tmp_path, "--out", str(run))),
                              env=_env(**{PAUSE_ENV: f"3:{flag}"}), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    assert main(["train", *_args(tmp_path, "--out", str(ref))]) == 0  # meanwhile, in-process
    _wait_for(flag, victim, "the training subprocess")
    victim.send_signal(signal.SIGTERM)
    _, err = victim.communicate(timeout=240)
    assert victim.returncode == EXIT_PREEMPTED, err[-2000:]
    assert "stopped by SIGTERM after step 3" in err and "--resume" in err
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-00000003"]
    assert not (run / "final").exists()

    resumed = subprocess.run(_train_cmd(*_args(tmp_path, "--out", str(run), "--resume")),
                             env=_env(), capture_output=True, text=True, timeout=240)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    _bitwise_equal(run / "checkpoints" / "step-00000006", ref / "checkpoints" / "step-00000006")
    assert _metrics(run) == _metrics(ref)
    assert [r["step"] for r in _metrics(run) if r["kind"] == "eval"] == [2, 4, 6]


def test_sigusr1_in_process_raises_preempted_and_resume_is_bitwise(tmp_path, monkeypatch):
    """The same with SIGUSR1 sent to this process while ``train`` runs in it (the library
    raises :class:`Preempted`; the CLI turns it into status 75)."""
    import threading

    from ditgp.models.train import Preempted, train

    from ditgp.cli import build_parser
    from ditgp.cli.train import resolve

    def run_train(out: Path, resume: bool = False):
        args = build_parser().parse_args(["train", *_args(tmp_path, "--out", str(out))])
        spec, cfg, tc, _ = resolve(args)
        return train(spec, cfg, tc, out, resume=resume, quiet=True, report=False)

    run, ref, flag = tmp_path / "run", tmp_path / "ref", tmp_path / "paused"
    run_train(ref)
    monkeypatch.setenv(PAUSE_ENV, f"3:{flag}")
    old = signal.signal(signal.SIGUSR1, lambda *_: None)  # if train's handler were missing
    try:
        def send() -> None:
            deadline = time.monotonic() + 120
            while not flag.exists() and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGUSR1)

        sender = threading.Thread(target=send)
        sender.start()
        with pytest.raises(Preempted, match="SIGUSR1 after step 3") as info:
            run_train(run)
        sender.join()
        assert signal.getsignal(signal.SIGUSR1) is not None  # train restored the handler
    finally:
        signal.signal(signal.SIGUSR1, old)
    assert info.value.step == 3 and info.value.checkpoint.name == "step-00000003"
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-00000003"]
    monkeypatch.delenv(PAUSE_ENV)
    assert run_train(run, resume=True).start_step == 3
    _bitwise_equal(run / "checkpoints" / "step-00000006", ref / "checkpoints" / "step-00000006")
    assert _metrics(run) == _metrics(ref)


@pytest.mark.slow
def test_sigint_keeps_keyboard_interrupt(tmp_path):
    run, flag = tmp_path / "run", tmp_path / "paused"
    victim = subprocess.Popen(_train_cmd(*_args(tmp_path, "--out", str(run))),
                              env=_env(**{PAUSE_ENV: f"3:{flag}"}), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    _wait_for(flag, victim, "the training subprocess")
    victim.send_signal(signal.SIGINT)
    _, err = victim.communicate(timeout=240)
    assert victim.returncode == 130 and "interrupted" in err, err[-2000:]
    assert list_checkpoints(run / "checkpoints") == []  # no checkpoint besides the periodic ones


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args: str) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
            "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "ditgp", "train",
            *args]


@pytest.mark.slow
def test_sigterm_to_torchrun_checkpoints_both_ranks_and_resume_is_bitwise(tmp_path):
    """SIGTERM to torchrun (it forwards the signal to its workers, as on a preempted node):
    both gloo ranks stop after the same step, rank 0 writes the checkpoint, and a 2-process
    ``--resume`` ends bit-identical to an uninterrupted 2-process run."""
    run, ref, flag = tmp_path / "run", tmp_path / "ref", tmp_path / "paused"
    base = [*_args(tmp_path), "--dtype", "float64"]
    pipes = dict(stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    reference = subprocess.Popen(_torchrun(*base, "--out", str(ref)), env=_env(), **pipes)
    victim = subprocess.Popen(_torchrun(*base, "--out", str(run)),
                              env=_env(**{PAUSE_ENV: f"3:{flag}"}), **pipes)
    try:
        _wait_for(flag, victim, "torchrun")
        victim.send_signal(signal.SIGTERM)
        _, err = victim.communicate(timeout=240)
        assert victim.returncode != 0
        assert err.count("stopped by SIGTERM after step 3") == 2, err[-3000:]  # both ranks
        _, ref_err = reference.communicate(timeout=300)
        assert reference.returncode == 0, ref_err[-3000:]
    finally:
        for p in (victim, reference):
            if p.poll() is None:
                p.kill()
    assert [p.name for p in list_checkpoints(run / "checkpoints")] == ["step-00000003"]
    resumed = subprocess.run(_torchrun(*base, "--out", str(run), "--resume"), env=_env(),
                             capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    _bitwise_equal(run / "checkpoints" / "step-00000006", ref / "checkpoints" / "step-00000006")
    assert _metrics(run) == _metrics(ref)
    assert read_checkpoint(run / "checkpoints" / "step-00000006").state["run"]["world_size"] == 2
