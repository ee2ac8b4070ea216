"""``ditgp bench train``: training throughput of a preset on a device.

For each precision (float32; on CUDA also bf16 autocast with float32 master weights) the
benchmark times full optimizer steps (forward, backward, clipping, AdamW, EMA) on batches
prepared in advance, and reports steps/s, sequences/s, tokens/s (one token per frame), peak
memory and the model FLOPs utilisation: FLOPs of one step, counted by
``torch.utils.flop_counter.FlopCounterMode`` on the real forward + backward, times steps/s,
over the device's peak for that precision (table below; ``None`` where the device is not in
it, e.g. CPUs).  The data stream's own cost (exact GP draws on the CPU) is timed separately,
and bf16 is reported as a ratio to float32 measured in the same run.
"""

from __future__ import annotations

import time
from typing import Any

import torch

__all__ = ["bench_train", "PEAK_FLOPS", "device_peak"]

#: Dense peak FLOP/s per precision (vendor datasheets, no sparsity): name substring → peak.
#: float32 is the non-tensor-core rate (torch's default float32 matmul precision is "highest").
#: Checked in order; the first substring found in the device name wins.
PEAK_FLOPS: tuple[tuple[str, dict[str, float]], ...] = (
    ("H200", {"bf16": 989e12, "float32": 67e12}),
    ("H100 PCIe", {"bf16": 756e12, "float32": 51e12}),
    ("H100", {"bf16": 989e12, "float32": 67e12}),
    ("A100", {"bf16": 312e12, "float32": 19.5e12}),
    ("L40S", {"bf16": 362e12, "float32": 91.6e12}),
    ("L4", {"bf16": 121e12, "float32": 30.3e12}),
    ("A10", {"bf16": 125e12, "float32": 31.2e12}),
    ("RTX 4090", {"bf16": 165e12, "float32": 82.6e12}),
    ("V100", {"float32": 15.7e12}),
    ("T4", {"float32": 8.1e12}),
)


def device_peak(name: str, dtype: str) -> float | None:
    """Peak FLOP/s of the device called ``name`` at ``dtype`` (``None`` if unknown)."""
    for key, peaks in PEAK_FLOPS:
        if key in name:
            return peaks.get(dtype)
    return None


def _step_flops(model, x, t, z) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        loss = (model(x, t).float() - z.float()).pow(2).mean()
        loss.backward()
    model.zero_grad(set_to_none=True)
    return int(counter.get_total_flops())


def _train_step(model, ema, opt, batch, autocast) -> None:
    """One full optimizer step as :func:`ditgp.models.train.train` takes it."""
    from ditgp.models.ema import update_ema

    x, t, z = batch
    if autocast is not None:
        with autocast:
            eps = model(x, t)
    else:
        eps = model(x, t)
    loss = (eps.float() - z.float()).pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    update_ema(ema, model, 0.999)


def bench_train(preset: str = "tiny", device: str = "cpu", *, steps: int | None = None,
                warmup: int = 3, spec=None, progress: bool = False) -> dict[str, Any]:
    """Throughput of training ``preset`` on ``device``; see the module docstring."""
    from ditgp.models import GPStream, build_model, count_parameters, noised
    from ditgp.models.config import preset as get_preset
    from ditgp.models.ema import make_ema
    from ditgp.theory.errors import SpecError
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec
    from tqdm.auto import tqdm

    p = get_preset(preset)
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise SpecError("--device", device, "cpu (CUDA is not available here)")
    dev = torch.device(device)
    spec = spec or GPSpec(kernel("laplace", ell=4.0), H=p.H, d=p.d)
    steps = steps or (20 if dev.type == "cuda" else 5)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    stream = GPStream(spec, batch=p.batch, seed=0)
    t0 = time.perf_counter()
    batches = [stream.batch(k) for k in range(4)]
    data_s = (time.perf_counter() - t0) / 4
    dtypes = ["float32", "bf16"] if dev.type == "cuda" else ["float32"]
    out: dict[str, Any] = {"preset": preset, "device": str(dev), "device_name": name, "H": spec.H,
                           "d": spec.d, "batch": p.batch, "steps_timed": steps,
                           "data_ms_per_batch": data_s * 1e3, "dtypes": {}}
    for dtype in tqdm(dtypes, desc="bench train", disable=not progress):
        torch.manual_seed(0)
        model = build_model(p.model, spec).to(dev)
        ema = make_ema(model)
        out["params"] = count_parameters(model)
        opt = torch.optim.AdamW(model.parameters(), lr=p.lr)
        data = [(noised(x0, t, z).to(dev), t.to(dev), z.to(dev)) for x0, t, z in batches]
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16") \
            if dev.type == "cuda" else None

        if autocast is not None:
            with autocast:
                flops = _step_flops(model, *data[0])
        else:
            flops = _step_flops(model, *data[0])
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        for i in range(warmup):
            _train_step(model, ema, opt, data[i % len(data)], autocast)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        t0 = time.perf_counter()
        for i in range(steps):
            _train_step(model, ema, opt, data[i % len(data)], autocast)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        sec = (time.perf_counter() - t0) / steps
        peak = device_peak(name, dtype)
        rec = {"steps_per_s": 1 / sec, "sequences_per_s": p.batch / sec,
               "tokens_per_s": p.batch * spec.H / sec, "flops_per_step": flops,
               "achieved_gflops": flops / sec / 1e9, "peak_tflops": peak / 1e12 if peak else None,
               "mfu": flops / sec / peak if peak else None}
        if dev.type == "cuda":
            rec["peak_memory_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
        else:
            import resource

            rec["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["dtypes"][dtype] = rec
    if "bf16" in out["dtypes"]:
        out["bf16_speedup"] = (out["dtypes"]["bf16"]["steps_per_s"]
                               / out["dtypes"]["float32"]["steps_per_s"])
    return out
