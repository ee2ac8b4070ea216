"""``ditgp bench``: performance figures as ratios against baselines measured in the same run."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_force_argument
from ditgp.theory.choices import BENCHMARKS


def _sizes(text: str) -> list[tuple[int, int]]:
    from ditgp.theory.errors import SpecError

    out = []
    for item in text.split(","):
        try:
            H, d = (int(v) for v in item.lower().split("x"))
        except ValueError:
            raise SpecError("--sizes", text,
                             "comma-separated HxD pairs, e.g. 256x8,512x16") from None
        if H < 1 or d < 1:
            raise SpecError("--sizes", item, "positive sizes")
        out.append((H, d))
    return out


def _kappas(text: str) -> list[float]:
    import math

    from ditgp.theory.errors import SpecError

    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        raise SpecError("--kappas", text, "comma-separated condition numbers ≥ 1") from None
    for v in values:
        if not (math.isfinite(v) and v >= 1):
            raise SpecError("--kappas", text, f"condition numbers ≥ 1 (finite); {v:g} is not one")
    return values


def _device(args) -> str:
    """The torch device to benchmark, refused at once when it is not usable here."""
    import torch

    from ditgp.theory.errors import SpecError

    if args.device is None:
        if torch.cuda.is_available():
            return "cuda"
        raise SpecError("--device", "auto", "a GPU, and torch finds none on this machine (a "
                        "CPU-only run takes many minutes and compares the CPU with itself; "
                        "`--device cpu --force` runs it anyway)")
    try:
        dev = torch.device(args.device)
    except (RuntimeError, ValueError):
        raise SpecError("--device", args.device, "a torch device such as cuda, cuda:0 or "
                        "cpu") from None
    if dev.type == "cpu":
        if not args.force:
            raise SpecError("--device", args.device, "a GPU (a CPU run takes many minutes and "
                            "compares the CPU with itself; --force runs it anyway)")
        return "cpu"
    backend = getattr(torch, dev.type, None)
    available = getattr(backend, "is_available", None)
    if available is None or not available():
        raise SpecError("--device", args.device, f"an available device (torch finds no "
                        f"{dev.type} device on this machine)")
    count = getattr(backend, "device_count", lambda: 1)()
    if dev.index is not None and dev.index >= count:
        raise SpecError("--device", args.device, f"a device index below {count}")
    return str(dev)


def _check_train_args(args) -> None:
    """``bench train``: ``--steps`` a count of timed steps, ``--device`` a training device."""
    from ditgp.theory.errors import SpecError

    if args.steps is not None and args.steps < 1:
        raise SpecError("--steps", args.steps, "an integer ≥ 1 (timed optimizer steps)")
    if args.device is not None and args.device.split(":")[0] not in ("cpu", "cuda"):
        raise SpecError("--device", args.device, "cpu or cuda[:N] (the devices ditgp trains on)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench",
                       help="benchmarks: oracle vs dense solve; depth/heads of constructions; "
                            "float32/float64 on a GPU",
                       description="oracle: exact score (cached Kronecker eigen form) vs dense "
                                   "Cholesky solve, batch 64.  depth: layers to eps=1e-6, "
                                   "Chebyshev vs GD across κ; heads compact vs paper across "
                                   "windows.  device: a constructed network in float32 and "
                                   "float64 on a GPU, and the torch oracle there vs numpy on "
                                   "the CPU (needs a GPU).  train: training throughput of a "
                                   "preset (data ms/batch, step ms, steps/s, tokens/s, memory, "
                                   "MFU; --compile on CUDA).  stream: one global batch of the "
                                   "preset through the GP data stream vs the same number of "
                                   "standard normals from one generator, same device, same run.  "
                                   "long: the FFT path vs eig, Levinson and dense at large H.")
    p.add_argument("which", choices=BENCHMARKS,
                   help="which benchmark: oracle, depth, device, train, stream or long")
    p.add_argument("--lengths", default="1024,4096,16384,65536",
                   help="long: sequence lengths H (default: 1024,4096,16384,65536)")
    p.add_argument("--kernels", default="laplace,power-law",
                   help="long: kernels (default: laplace,power-law)")
    p.add_argument("--d", type=int, default=8, help="long: channels d (default: 8)")
    p.add_argument("--sizes", default="256x8,512x16",
                   help="oracle: HxD pairs (default: 256x8,512x16)")
    p.add_argument("--batch", type=int, default=64, help="oracle: batch size (default: 64)")
    p.add_argument("--kappas", default="10,100,1000,10000", help="depth: condition numbers")
    p.add_argument("--eps", type=float, default=1e-6, help="depth: target accuracy (default: 1e-6)")
    p.add_argument("--device", default=None,
                   help="device, train, stream: torch device, cpu or cuda[:N] (default: cuda "
                        "if available, else cpu)")
    p.add_argument("--preset", default=None,
                   help="train, stream: training preset (default: tiny for train, paper for "
                        "stream; the batch is the preset's)")
    p.add_argument("--steps", type=int, default=None,
                   help="train: timed optimizer steps (default: 20 on CUDA, 5 on CPU); stream: "
                        "timed batches (default 100)")
    p.add_argument("--compile", action="store_true",
                   help="train: also time each precision under torch.compile (CUDA only; on a "
                        "CPU the output says it is unavailable)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_force_argument(p, "device: allow --device cpu")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ditgp.cli.common import emit_json
    from ditgp.theory.errors import SpecError
    from ditgp.verify.bench.scores import bench_depth, bench_device, bench_oracle

    if args.batch < 1:
        raise SpecError("--batch", args.batch, "an integer ≥ 1")
    if args.steps is not None and args.steps < 1:
        raise SpecError("--steps", args.steps, "an integer ≥ 1")
    if args.which == "train":
        _check_train_args(args)
        return _run_train(args)
    if args.which == "stream":
        return _run_stream(args)
    if args.which == "long":
        return _run_long(args)
    if not (0 < args.eps < 1):
        raise SpecError("--eps", args.eps, "a relative error in (0, 1)")
    if args.which == "device":
        device = _device(args)
        res = bench_device(device, batch=args.batch, progress=True)
        if args.json:
            emit_json(res)
            return 0
        print(f"constructed network ({res['layers']} layers, {res['heads']} heads, H={res['H']}, "
              f"d={res['d']}) on {res.get('device_name', device)}, batch {res['batch']}")
        for name, r in res["dtypes"].items():
            print(f"  {name}: {r['sequences_per_s']:12.1f} seq/s  rel. error vs exact "
                  f"{r['rel_error']:.2e}")
        print(f"  float32/float64 throughput {res['float32_speedup']:.2f}×")
        o = res["oracle"]
        print(f"exact oracle: torch on {device} vs numpy on CPU: {o['ratio']:.1f}× "
              f"(max rel. diff {o['max_rel_diff']:.1e})")
        return 0

    if args.which == "oracle":
        from ditgp.numerics.budget import dense_score_estimate

        sizes = _sizes(args.sizes)
        for H, d in sizes:
            dense_score_estimate(H, d, args.batch).check(
                "--sizes", f"{H}x{d}", force=args.force,
                alternative="the dense baseline is O((dH)³): keep d·H to a few thousand")
        res = bench_oracle(sizes, batch=args.batch, progress=True)
        if args.json:
            emit_json(res)
            return 0
        print(f"exact score of a batch of {res['batch']} at t={res['t']:g}: the cached eigen "
              "oracle vs a dense Cholesky solve of A_t (same run)")
        print(f"  {'H':>5} {'d':>3}  {'oracle':>10}  {'dense':>10}  {'faster':>9}  "
              f"{'faster than solves alone':>24}  {'oracle setup':>12}")
        for r in res["sizes"]:
            print(f"  {r['H']:>5} {r['d']:>3}  {r['oracle_s'] * 1e3:>7.3f} ms  "
                  f"{r['dense_s'] * 1e3:>7.1f} ms  {r['ratio']:>8.1f}×  "
                  f"{r['ratio_vs_solve_only']:>23.1f}×  {r['oracle_setup_s'] * 1e3:>9.1f} ms")
        print("  dense = build A_t, factor, solve; 'dense solves alone' reuses the Cholesky "
              "factor (the fairest baseline); oracle setup = the two eigendecompositions, paid "
              "once per spec")
        return 0
    res = bench_depth(_kappas(args.kappas), eps=args.eps, progress=True)
    if args.json:
        emit_json(res)
        return 0
    print(f"layers to reach eps={res['eps']:g}")
    for r in res["layers"]:
        print(f"  κ={r['kappa']:<8g} GD {r['gd_layers']:>7}  Chebyshev {r['chebyshev_layers']:>5}"
              f"  ratio {r['ratio']:6.1f}  (bound ⌈√κ/2·ln(2/ε)⌉+2 = {r['chebyshev_bound']})")
    print(f"heads per window ({res['kernel']}, H={res['H']})")
    for r in res["heads"]:
        print(f"  w={r['window']:<4} paper {r['paper_heads']:>4}  compact {r['compact_heads']:>4}")
    return 0


def _model_device(args: argparse.Namespace) -> str:
    """``--device`` of train/stream: cpu or cuda[:N], checked before any work."""
    import torch

    from ditgp.verify.bench.training import check_device

    if args.device is None:
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(check_device(args.device))


def _run_stream(args: argparse.Namespace) -> int:
    from ditgp.cli.common import emit_json
    from ditgp.models.config import preset
    from ditgp.verify.bench.training import bench_stream

    device = _model_device(args)
    preset(args.preset or "paper")  # a bad name: one line before any work
    res = bench_stream(args.preset or "paper", device, batches=args.steps or 100)
    if args.json:
        emit_json(res)
        return 0
    print(f"data stream of preset {res['preset']} (batch {res['batch']} × d={res['d']} × "
          f"H={res['H']}: {res['normals']} normals) on {res['device_name']}, median of "
          f"{res['batches_timed']} batches, {res['threads']} torch thread(s)")
    print(f"  stream      {res['stream_ms']:8.3f} ms per global batch")
    print(f"  raw normals {res['raw_normals_ms']:8.3f} ms (torch.randn float64, one generator)")
    print(f"  ratio       {res['ratio']:8.2f}")
    return 0


def _run_train(args: argparse.Namespace) -> int:
    from ditgp.cli.common import emit_json
    from ditgp.models.config import preset
    from ditgp.verify.bench.training import bench_train

    device = _model_device(args)
    preset(args.preset or "tiny")
    res = bench_train(args.preset or "tiny", device, steps=args.steps, progress=True,
                      compile=args.compile)
    if args.json:
        emit_json(res)
        return 0
    print(f"training step of preset {res['preset']} ({res['params']} parameters, H={res['H']}, "
          f"d={res['d']}, batch {res['batch']}) on {res['device_name']}, {res['steps_timed']} "
          "timed steps")
    print(f"  data     {res['data_ms_per_batch']:8.3f} ms per batch (the GP stream on "
          f"{res['device']}; prefetched during the step in training)")
    for name, r in res["dtypes"].items():
        mem = (f"peak memory {r['peak_memory_mib']:.0f} MiB" if "peak_memory_mib" in r
               else f"peak RSS {r['peak_rss_mib']:.0f} MiB")
        mfu = f"MFU {100 * r['mfu']:.1f} %" if r["mfu"] is not None else "MFU n/a (no peak known)"
        print(f"  {name:8s} step {r['step_ms']:8.2f} ms  {r['steps_per_s']:8.2f} steps/s "
              f"{r['sequences_per_s']:10.1f} seq/s {r['tokens_per_s']:12.0f} tokens/s  "
              f"{r['achieved_gflops']:.4g} GFLOP/s  {mfu}  {mem}  data/step "
              f"{100 * r['data_share']:.1f} %")
    if "bf16_speedup" in res:
        print(f"  bf16/float32 throughput {res['bf16_speedup']:.2f}×")
    for name, gain in res.get("compile_speedup", {}).items():
        print(f"  {name} compiled/eager throughput {gain:.2f}×")
    if res["compile"]["requested"] and not res["compile"]["available"]:
        print(f"  --compile: unavailable on {res['device']} ({res['compile']['note']}); timed "
              "eager only")
    print(f"  FLOPs per step (forward + backward, counted): {r['flops_per_step']:.4g}")
    return 0


def _lengths(flag: str, text: str) -> list[int]:
    from ditgp.theory.errors import SpecError

    try:
        out = [int(v) for v in text.split(",")]
    except ValueError:
        raise SpecError(flag, text, "comma-separated positive integers") from None
    if not out or min(out) < 2:
        raise SpecError(flag, text, "comma-separated integers ≥ 2")
    if len(set(out)) != len(out):  # a growth exponent is fitted across distinct lengths
        raise SpecError(flag, text, "distinct integers (each length once)")
    return out


def _run_long(args: argparse.Namespace) -> int:
    """``ditgp bench long``: print :func:`~ditgp.verify.bench.long_sequences.bench_long` (``--lengths``,
    ``--kernels``, ``--batch``, ``--d``, ``--json``)."""
    from ditgp.cli.common import emit_json
    from ditgp.theory.errors import SpecError
    from ditgp.verify.bench.long_sequences import KERNEL_PARAMS, bench_long

    lengths = _lengths("--lengths", args.lengths)
    kernels = [k for k in args.kernels.split(",") if k]
    for k in kernels:
        if k not in KERNEL_PARAMS:
            raise SpecError("--kernels", k, "a comma-separated subset of " + ",".join(KERNEL_PARAMS))
    if args.batch < 1 or args.d < 1:
        raise SpecError("--batch/--d", (args.batch, args.d), "positive integers")
    res = bench_long(lengths, kernels, batch=args.batch, d=args.d, progress=True)
    if args.json:
        emit_json(res)
        return 0
    print(f"long sequences: batch {res['batch']}, d={res['d']}, t={res['t']:g}, certified "
          f"rtol {res['rtol']:g} ({res['note']})")
    print(f"{'kernel':28s} {'H':>6} {'fft cold':>9} {'warm':>8} {'cpu':>7} {'1 seq':>7} "
          f"{'its':>4} {'cert.rel':>9} {'eig cold':>9} {'×':>7} {'eig warm':>9} {'×':>6} "
          f"{'Levinson':>9} {'×':>7} {'dense':>8} {'sample':>7} {'cpu':>7} {'CG only':>8} "
          f"{'its':>4} {'load':>5}")

    def f(r, key, fmt="{:9.3f}"):
        v = r.get(key)
        if v is not None:
            return fmt.format(v)
        return " " * (len(fmt.format(0 if fmt.endswith("d}") else 0.0)) - 1) + "-"

    for r in res["rows"]:
        print(f"{r['kernel'][:28]:28s} {r['H']:>6} {r['fft_cold_s']:9.3f} {r['fft_warm_s']:8.3f} "
              f"{r['fft_warm_cpu_s']:7.3f} {r['fft_one_sequence_s']:7.3f} {r['iterations']:>4} "
              f"{r['certified_rel_error']:9.1e} "
              f"{f(r, 'eig_cold_s')} {f(r, 'ratio_eig_cold', '{:7.1f}')} {f(r, 'eig_warm_s')} "
              f"{f(r, 'ratio_eig_warm', '{:6.2f}')} {f(r, 'levinson_s')} "
              f"{f(r, 'ratio_levinson', '{:7.1f}')} {f(r, 'dense_cholesky_s', '{:8.2f}')} "
              f"{r['sample_s']:7.3f} {r['sample_cpu_s']:7.3f} {f(r, 'fft_cg_only_s', '{:8.3f}')} "
              f"{f(r, 'cg_iterations', '{:4d}')} {r['load_before']:5.1f}")
    for k, e in res["exponents"].items():
        parts = [f"{key} {v:.2f}" for key, v in e.items() if v is not None]
        print(f"growth exponent of time in H ({k}): " + ", ".join(parts))
    print("(seconds; cpu = user+sys of all threads; load = 1-min load average before the row; "
          "× = baseline time / FFT time measured in this run: eig cold vs fft cold, "
          "eig warm vs fft warm, Levinson vs fft warm)")
    return 0
