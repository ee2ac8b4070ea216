"""GPU checks of the training path (skipped where torch finds no CUDA device; run them on a
GPU machine with ``python -m pytest -q tests/models/test_cuda.py``).

* float32 training on CUDA follows the CPU run of the same seed (the same data stream: its
  Philox words are identical on both devices, its float64 normals agree to the last bit or so,
  and both are cast to float32) within :data:`CUDA_CPU_REL` after a few steps;
* an interrupted CUDA run resumed from its checkpoint ends where the uninterrupted run ends
  (bitwise when the kernels are deterministic; within :data:`CUDA_RESUME_REL` in any case);
* bf16 autocast trains (finite, the excess loss falls) and the exported bundle serves on the CPU;
* ``ditgp reproduce attention --preset toy`` runs end to end on the device.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from ditgp.models.checkpoint import latest_checkpoint
from ditgp.models.config import ModelConfig
from ditgp.models.train import TrainConfig, train
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")

SPEC = GPSpec(kernel("laplace", ell=3.0), H=16, d=2)
CFG = ModelConfig("dit", width=32, depth=2, heads=2)
#: CPU vs CUDA float32 after 8 AdamW steps: both compute in IEEE float32 (TF32 is off by torch's
#: default "highest" matmul precision), so they differ by reduction order only, ~1e-6 per step,
#: amplified by Adam's normalisation at most ~100× over 8 steps.
CUDA_CPU_REL = 1e-3
#: resumed vs uninterrupted CUDA run: identical unless a kernel is non-deterministic (atomics),
#: which perturbs at the float32 rounding level per step.
CUDA_RESUME_REL = 1e-4


def _tc(**kw) -> TrainConfig:
    base = dict(steps=8, batch=16, lr=3e-3, warmup=2, ema=0.9, eval_every=4, ckpt_every=4,
                log_every=1, n_eval=16, eval_points=4)
    base.update(kw)
    return TrainConfig(**base)


def _params(run: Path) -> dict[str, torch.Tensor]:
    ck, _ = latest_checkpoint(run / "checkpoints")
    return {k: v.double().cpu() for k, v in ck.tensors["model"].items()}


def _rel(a: dict, b: dict) -> float:
    num = sum(float((a[k] - b[k]).pow(2).sum()) for k in a)
    den = sum(float(a[k].pow(2).sum()) for k in a)
    return (num / den) ** 0.5


def test_float32_on_cuda_follows_the_cpu_run(tmp_path):
    train(SPEC, CFG, _tc(device="cpu", threads=1), tmp_path / "cpu", quiet=True, report=False)
    train(SPEC, CFG, _tc(device="cuda"), tmp_path / "gpu", quiet=True, report=False)
    rel = _rel(_params(tmp_path / "cpu"), _params(tmp_path / "gpu"))
    print(f"cpu vs cuda float32 parameters after 8 steps: rel {rel:.3e}")
    assert rel < CUDA_CPU_REL


def test_cuda_resume_ends_where_the_uninterrupted_run_ends(tmp_path):
    train(SPEC, CFG, _tc(device="cuda"), tmp_path / "a", quiet=True, report=False)
    train(SPEC, CFG, _tc(device="cuda", steps=4, decay_steps=8), tmp_path / "b", quiet=True,
          report=False)
    train(SPEC, CFG, _tc(device="cuda", decay_steps=8), tmp_path / "b", resume=True, quiet=True,
          report=False)
    a, b = _params(tmp_path / "a"), _params(tmp_path / "b")
    rel = _rel(a, b)
    print(f"cuda resumed vs uninterrupted: rel {rel:.3e}, bitwise {all(torch.equal(a[k], b[k]) for k in a)}")
    assert rel < CUDA_RESUME_REL


def test_bf16_trains_and_the_bundle_serves_on_the_cpu(tmp_path):
    import numpy as np
    from ditgp.models.export import load_trained

    res = train(SPEC, CFG, _tc(device="cuda", dtype="bf16", steps=60, eval_every=60,
                               ckpt_every=60), tmp_path / "bf", quiet=True, report=False)
    lines = [json.loads(x) for x in (tmp_path / "bf" / "metrics.jsonl").read_text().splitlines()]
    ex = [r["excess"] for r in lines if r["kind"] == "train"]
    assert all(np.isfinite(ex))
    assert np.mean(ex[-10:]) < np.mean(ex[:10])
    net = load_trained(res.bundle)
    X = np.random.default_rng(0).standard_normal((4, SPEC.d, SPEC.H))
    s = net.score(X, 0.5)
    assert s.shape == X.shape and s.dtype == np.float64 and np.all(np.isfinite(s))


def test_reproduce_attention_toy_on_cuda(tmp_path):
    from ditgp.verify.reproduce import EXPERIMENTS, run_experiment
    from ditgp.verify.reproduce.base import experiment

    try:
        experiment("attention")
    except Exception:
        pytest.skip("attention experiment not built")
    assert "attention" in EXPERIMENTS
    doc = run_experiment("attention", tmp_path, preset="toy", device="cuda", quiet=True)
    assert doc["figures"]
