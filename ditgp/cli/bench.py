"""``ditgp bench``: performance figures as ratios against baselines measured in the same run."""

from __future__ import annotations

import argparse


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


def _floats(text: str) -> list[float]:
    from ditgp.theory.errors import SpecError

    try:
        return [float(v) for v in text.split(",")]
    except ValueError:
        raise SpecError("--kappas", text, "comma-separated numbers") from None


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench",
                       help="benchmarks: oracle vs dense solve; depth/heads of constructions",
                       description="oracle: exact score (cached Kronecker eigen form) vs dense "
                                   "Cholesky solve, batch 64.  depth: layers to eps=1e-6, "
                                   "Chebyshev vs GD across κ; heads compact vs paper across "
                                   "windows.")
    p.add_argument("which", choices=("oracle", "depth", "device", "train", "long"),
                   help="which benchmark")
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
                   help="device: torch device for the float32/float64 comparison "
                        "(default: cuda if available, else cpu)")
    p.add_argument("--preset", default="tiny",
                   help="train: training preset to time (default: tiny; batch is the preset's)")
    p.add_argument("--steps", type=int, default=None,
                   help="train: timed optimizer steps (default: 20 on CUDA, 5 on CPU)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    from ditgp.cli.common import emit_json
    from ditgp.numerics.bench import bench_depth, bench_device, bench_oracle

    if args.which == "train":
        return _run_train(args)
    if args.which == "long":
        from ditgp.numerics.bench_long import run_cli

        return run_cli(args)
    if args.which == "device":
        import torch

        device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
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
        res = bench_oracle(_sizes(args.sizes), batch=args.batch, progress=True)
        if args.json:
            emit_json(res)
            return 0
        print(f"exact score of a batch of {res['batch']}: cached oracle vs dense Cholesky "
              f"(t={res['t']:g})")
        for r in res["sizes"]:
            print(f"  H={r['H']:<5} d={r['d']:<3} oracle {r['oracle_s'] * 1e3:9.3f} ms  dense "
                  f"{r['dense_s']:8.3f} s  ratio {r['ratio']:10.1f}×  (solve only "
                  f"{r['ratio_vs_solve_only']:.1f}×, setup {r['oracle_setup_s'] * 1e3:.1f} ms)")
        return 0
    res = bench_depth(_floats(args.kappas), eps=args.eps, progress=True)
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


def _run_train(args: argparse.Namespace) -> int:
    import torch

    from ditgp.cli.common import emit_json
    from ditgp.models.bench import bench_train

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    res = bench_train(args.preset, device, steps=args.steps, progress=True)
    if args.json:
        emit_json(res)
        return 0
    print(f"training step of preset {res['preset']} ({res['params']} parameters, H={res['H']}, "
          f"d={res['d']}, batch {res['batch']}) on {res['device_name']}, {res['steps_timed']} "
          "timed steps")
    for name, r in res["dtypes"].items():
        mem = (f"peak memory {r['peak_memory_mib']:.0f} MiB" if "peak_memory_mib" in r
               else f"peak RSS {r['peak_rss_mib']:.0f} MiB")
        mfu = f"MFU {100 * r['mfu']:.1f} %" if r["mfu"] is not None else "MFU n/a (no peak known)"
        print(f"  {name:8s} {r['steps_per_s']:8.2f} steps/s {r['sequences_per_s']:10.1f} seq/s "
              f"{r['tokens_per_s']:12.0f} tokens/s  {r['achieved_gflops']:.4g} GFLOP/s  {mfu}  {mem}")
    if "bf16_speedup" in res:
        print(f"  bf16/float32 throughput {res['bf16_speedup']:.2f}×")
    print(f"  FLOPs per step (forward + backward, counted): {r['flops_per_step']:.4g}")
    print(f"  data stream (exact GP draws, CPU): {res['data_ms_per_batch']:.1f} ms per batch")
    return 0
