"""torchrun DDP on CPU (gloo, float64): two processes give the parameters of one process with
the same global batch and seed (to all-reduce rounding), and resume works under DDP."""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys

import pytest
import torch
from ditgp.models.checkpoint import read_checkpoint
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
#: float64 all-reduce of two half-batch means vs one full-batch mean, through 4 AdamW steps:
#: a few ulps per step, far below this.
DDP_ATOL = 1e-10


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(nproc: int, args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nnodes=1", f"--nproc_per_node={nproc}",
           "--master_addr=127.0.0.1", f"--master_port={_free_port()}", "-m", "ditgp", "train", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=400)


def _close(a, b, atol: float) -> bool:
    return all(torch.allclose(a.tensors[g][k], b.tensors[g][k], rtol=0, atol=atol)
               for g in ("model", "ema") for k in a.tensors[g])


@pytest.mark.slow
def test_two_gloo_processes_equal_one_process_and_resume(tmp_path):
    from ditgp.models.train import train

    from ditgp.cli import build_parser
    from ditgp.cli.train import resolve

    spec_file = tmp_path / "spec.json"
    spec_file.write_text(SPEC.to_json())
    base = ["--spec", str(spec_file), "--dtype", "float64", "--batch", "8", "--lr", "3e-3",
            "--warmup", "1", "--ema", "0.9", "--ckpt-every", "2", "--eval-every", "4",
            "--n-eval", "4", "--log-every", "1", "--quiet", "--threads", "1"]
    # 2 processes: steps 1-2 of a 4-step schedule, then --resume to 4 (still 2 processes)
    first = _torchrun(2, [*base, "--steps", "2", "--decay-steps", "4", "--out", str(tmp_path / "ddp")])
    assert first.returncode == 0, first.stderr[-3000:]
    second = _torchrun(2, [*base, "--steps", "4", "--out", str(tmp_path / "ddp"), "--resume"])
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resuming" in second.stderr
    # 1 process, same global batch and seed, in this process
    args = build_parser().parse_args(["train", *base, "--steps", "4", "--out", str(tmp_path / "one")])
    spec, cfg, tc, _ = resolve(args)
    train(spec, cfg, tc, tmp_path / "one", quiet=True, report=False)

    for step in (2, 4):
        name = f"step-{step:08d}"
        ddp = read_checkpoint(tmp_path / "ddp" / "checkpoints" / name)
        one = read_checkpoint(tmp_path / "one" / "checkpoints" / name)
        assert _close(ddp, one, DDP_ATOL), f"DDP and 1-process parameters differ at step {step}"
        assert all(v.dtype == torch.float64 for v in ddp.tensors["model"].values())
    assert ddp.state["run"]["world_size"] == 2
    # the logged numbers too: each rank's sums, all-reduced, over the world's batch (not twice)
    logged = {run: [json.loads(x) for x in (tmp_path / run / "metrics.jsonl").read_text()
                    .splitlines() if '"train"' in x] for run in ("ddp", "one")}
    assert [r["step"] for r in logged["ddp"]] == [r["step"] for r in logged["one"]] == [1, 2, 3, 4]
    for a, b in zip(logged["ddp"], logged["one"], strict=True):
        for key in ("loss", "floor", "excess", "grad_norm"):
            assert math.isclose(a[key], b[key], rel_tol=1e-9, abs_tol=1e-12), (key, a, b)

    # the check can fail: a 1-process run on half the global batch is far outside DDP_ATOL
    args = build_parser().parse_args(["train", *base, "--steps", "4", "--out", str(tmp_path / "half")])
    spec, cfg, tc, _ = resolve(args)
    from dataclasses import replace

    train(spec, cfg, replace(tc, batch=4), tmp_path / "half", quiet=True, report=False)
    half = read_checkpoint(tmp_path / "half" / "checkpoints" / "step-00000004")
    assert not _close(ddp, half, DDP_ATOL)
