"""``ditgp bench train`` and ``ditgp bench stream``: training throughput and the data
stream's cost for a preset on a device.

**train.**  For each precision (float32; on CUDA also bf16 autocast with float32 master
weights; with ``compile`` on CUDA each again under ``torch.compile``) the benchmark times full
optimizer steps (forward, backward, clipping, AdamW, EMA) on batches prepared in advance, and
reports the step time, steps/s, sequences/s, tokens/s (one token per frame), peak memory and
the model FLOPs utilisation: FLOPs of one step, counted by
``torch.utils.flop_counter.FlopCounterMode`` on the real forward + backward, times steps/s,
over the device's peak for that precision (table below; ``None`` where the device is not in
it, e.g. CPUs).  The data stream's cost per batch (on the same device) is reported beside it,
as is its share of a step; bf16 and compiled runs are reported as ratios to eager float32
measured in the same run.

**stream.**  One global batch of the preset through :class:`~ditgp.models.data.GPStream`
(``X₀``, ``t``, ``Z``: Philox words, Box–Muller, the exact Kronecker transform), steady
state, against drawing the same number of standard normals (float64, the stream's working
precision) from one torch generator on the same device, alternated in the same run; medians
over the timed batches and their ratio.
"""

from __future__ import annotations

import time
from typing import Any

import torch

__all__ = ["bench_train", "bench_stream", "PEAK_FLOPS", "device_peak", "COMPILE_UNAVAILABLE"]

#: what ``compile`` reports off CUDA
COMPILE_UNAVAILABLE = "torch.compile is used on CUDA only, as in the training loop"

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


def _train_step(net, ema, opt, batch, autocast, model=None) -> None:
    """One full optimizer step as :func:`ditgp.models.train.train` takes it (``net`` may be
    the compiled ``model``)."""
    from ditgp.models.ema import update_ema

    model = net if model is None else model
    x, t, z = batch
    if autocast is not None:
        with autocast:
            eps = net(x, t)
    else:
        eps = net(x, t)
    loss = (eps.float() - z.float()).pow(2).mean()
    opt.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    update_ema(ema, model, 0.999)


def _sync(dev: torch.device) -> None:
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)


def _median(values: list[float]) -> float:
    v = sorted(values)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def _preset_spec(preset: str, spec=None):
    from ditgp.models.config import preset as get_preset
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec

    p = get_preset(preset)
    return p, spec or GPSpec(kernel("laplace", ell=4.0), H=p.H, d=p.d)


def check_device(device: str) -> torch.device:
    from ditgp.theory.errors import SpecError

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError, TypeError):
        raise SpecError("--device", device, "cpu or cuda[:N]") from None
    if dev.type not in ("cpu", "cuda"):
        raise SpecError("--device", device, "cpu or cuda[:N]")
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise SpecError("--device", device, "cpu (CUDA is not available here)")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise SpecError("--device", device, f"a device index below {torch.cuda.device_count()}")
    return dev


def _stream_times(stream, dev: torch.device, batches: int, warmup: int = 3,
                  raw: bool = False) -> dict[str, list[float]]:
    """Seconds per global batch of ``stream`` (and, with ``raw``, of the same number of
    float64 normals from one generator), alternated so that both see the same load."""
    n = 2 * stream.batch_size * stream.spec.d * stream.spec.H
    gen = torch.Generator(device=dev).manual_seed(0)
    out: dict[str, list[float]] = {"stream": [], "raw": []}
    for i in range(warmup + batches):
        _sync(dev)
        t0 = time.perf_counter()
        stream.batch(i)
        _sync(dev)
        t1 = time.perf_counter()
        if raw:
            torch.randn(n, dtype=torch.float64, device=dev, generator=gen)
            _sync(dev)
        t2 = time.perf_counter()
        if i >= warmup:
            out["stream"].append(t1 - t0)
            out["raw"].append(t2 - t1)
    return out


def bench_stream(preset: str = "paper", device: str = "cpu", *, batches: int = 100,
                 spec=None) -> dict[str, Any]:
    """The stream's cost per global batch of ``preset`` against raw normals (module
    docstring); times in milliseconds."""
    import os

    from ditgp.models import GPStream

    dev = check_device(device)
    p, spec = _preset_spec(preset, spec)
    stream = GPStream(spec, batch=p.train.batch, seed=0, device=dev)
    times = _stream_times(stream, dev, batches, raw=True)
    s_ms, r_ms = 1e3 * _median(times["stream"]), 1e3 * _median(times["raw"])
    return {"preset": preset, "device": str(dev),
            "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu",
            "batch": p.train.batch, "d": spec.d, "H": spec.H,
            "normals": 2 * p.train.batch * spec.d * spec.H, "batches_timed": batches,
            "stream_ms": s_ms, "raw_normals_ms": r_ms, "ratio": s_ms / r_ms,
            "stream_ms_min": 1e3 * min(times["stream"]),
            "raw_normals_ms_min": 1e3 * min(times["raw"]),
            "ratio_min": min(times["stream"]) / min(times["raw"]),
            "threads": torch.get_num_threads(), "torch": torch.__version__,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def bench_train(preset: str = "tiny", device: str = "cpu", *, steps: int | None = None,
                warmup: int = 3, spec=None, progress: bool = False,
                compile: bool = False) -> dict[str, Any]:
    """Throughput of training ``preset`` on ``device``; see the module docstring."""
    from ditgp.models import GPStream, build_model, count_parameters, noised
    from ditgp.models.ema import make_ema
    from ditgp.theory.errors import SpecError
    from tqdm.auto import tqdm

    dev = check_device(device)
    p, spec = _preset_spec(preset, spec)
    if steps is not None and (not isinstance(steps, int) or steps < 1):
        raise SpecError("--steps", steps, "an integer ≥ 1")
    steps = steps or (20 if dev.type == "cuda" else 5)
    name = torch.cuda.get_device_name(dev) if dev.type == "cuda" else "cpu"
    stream = GPStream(spec, batch=p.train.batch, seed=0, device=dev)
    data_s = _median(_stream_times(stream, dev, batches=5, warmup=1)["stream"])
    batches = [stream.batch(k) for k in range(4)]
    dtypes = ["float32", "bf16"] if dev.type == "cuda" else ["float32"]
    runs = [(dt, False) for dt in dtypes]
    if compile and dev.type == "cuda":
        runs += [(dt, True) for dt in dtypes]
    out: dict[str, Any] = {"preset": preset, "device": str(dev), "device_name": name, "H": spec.H,
                           "d": spec.d, "batch": p.train.batch, "steps_timed": steps,
                           "data_ms_per_batch": data_s * 1e3, "dtypes": {},
                           "compile": ({"requested": True, "available": True} if compile and
                                       dev.type == "cuda" else
                                       {"requested": compile, "available": dev.type == "cuda",
                                        "note": None if dev.type == "cuda" else COMPILE_UNAVAILABLE})}
    for dtype, compiled in tqdm(runs, desc="bench train", disable=not progress):
        torch.manual_seed(0)
        model = build_model(p.model, spec).to(dev)
        ema = make_ema(model)
        out["params"] = count_parameters(model)
        opt = torch.optim.AdamW(model.parameters(), lr=p.train.lr)
        data = [(noised(x0, t, z), t, z) for x0, t, z in batches]
        autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=dtype == "bf16") \
            if dev.type == "cuda" else None

        if autocast is not None:
            with autocast:
                flops = _step_flops(model, *data[0])
        else:
            flops = _step_flops(model, *data[0])
        net = torch.compile(model) if compiled else model  # EMA/optimizer on the same weights
        if dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats(dev)
        for i in range(warmup + (2 if compiled else 0)):  # compilation happens here
            _train_step(net, ema, opt, data[i % len(data)], autocast, model)
        _sync(dev)
        t0 = time.perf_counter()
        for i in range(steps):
            _train_step(net, ema, opt, data[i % len(data)], autocast, model)
        _sync(dev)
        sec = (time.perf_counter() - t0) / steps
        peak = device_peak(name, dtype)
        rec = {"step_ms": sec * 1e3, "data_share": data_s / sec,
               "steps_per_s": 1 / sec, "sequences_per_s": p.train.batch / sec,
               "tokens_per_s": p.train.batch * spec.H / sec, "flops_per_step": flops,
               "achieved_gflops": flops / sec / 1e9, "peak_tflops": peak / 1e12 if peak else None,
               "mfu": flops / sec / peak if peak else None}
        if dev.type == "cuda":
            rec["peak_memory_mib"] = torch.cuda.max_memory_allocated(dev) / 2**20
        else:
            import resource

            rec["peak_rss_mib"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["dtypes"][dtype + ("+compile" if compiled else "")] = rec
    base = out["dtypes"]["float32"]["steps_per_s"]
    if "bf16" in out["dtypes"]:
        out["bf16_speedup"] = out["dtypes"]["bf16"]["steps_per_s"] / base
    for key in [k for k in out["dtypes"] if k.endswith("+compile")]:
        eager = out["dtypes"][key.removesuffix("+compile")]["steps_per_s"]
        out.setdefault("compile_speedup", {})[key.removesuffix("+compile")] = \
            out["dtypes"][key]["steps_per_s"] / eager
    return out
