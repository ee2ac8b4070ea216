"""``ditgp construct``: build a transformer with explicit weights and write a weight bundle."""

from __future__ import annotations

import argparse
import os

from ditgp.cli.common import (
    add_force_argument,
    add_spec_arguments,
    check_writable_folder,
    emit_json,
    spec_from_args,
)
from ditgp.theory.choices import ALGORITHMS, ATTENTION_REALISATIONS, TIME_CONDITIONINGS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "construct",
        help="build a transformer whose layers unroll GD/Chebyshev; write a weight bundle",
        description="Construct transformer weights realising the unrolled score iteration "
                    "(docs/theory.md §3 and §5; docs/numerics.md) and write a weight bundle "
                    "(safetensors + manifest.json; docs/weights-format.md). Layers, heads and "
                    "memory are estimated first and refused beyond the budget unless --force "
                    "(docs/cli.md, Resources).",
    )
    add_spec_arguments(p)
    g = p.add_argument_group("construction")
    g.add_argument("--eps", type=float, default=1e-6, help="target relative error (default: 1e-6)")
    g.add_argument("--attention", choices=ATTENTION_REALISATIONS, default="compact",
                   help="attention realisation (default: compact)")
    g.add_argument("--algorithm", choices=ALGORITHMS, default="chebyshev",
                   help="unrolled algorithm (default: chebyshev)")
    g.add_argument("--time-conditioning", choices=TIME_CONDITIONINGS, default="fixed",
                   help="fixed t, gated (exact, all t) or multiply (ReLU module, all t)")
    g.add_argument("--window", type=int, default=None,
                   help="truncation window w (default: chosen from --eps)")
    p.add_argument("--out", required=True, metavar="DIR",
                   help="bundle folder to write: new, empty, or an existing bundle (only its "
                        "weights.safetensors and manifest.json are replaced)")
    add_force_argument(p)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(run=run)


def summary(con, path) -> dict:
    r = con.resources
    return {
        "bundle": str(path),
        "layers": r["L"],
        "heads": r["M"],
        "width": r["D"],
        "params": r["params"],
        "weight_norm": r["B"],
        "output_bound": r["R"],
        "window": con.plan.window,
        "iterations": con.plan.K,
        "blocks_per_iteration": con.blocks_per_iteration,
        "kappa": con.plan.kappa,
        "rel_error": con.measured.get("rel_error"),
        "error_bound": con.error_bound,
        "iteration_bound": con.plan.iteration_bound,
        "truncation_bound": con.plan.truncation_bound,
        "multiply_depth": con.multiply.depth if con.multiply else None,
        "t": con.t,
        "attention": con.choices.attention,
        "algorithm": con.choices.algorithm,
        "time_conditioning": con.choices.time_conditioning,
        "spec": con.spec.describe(),
        "theory": r["theory"],
    }


def _check_out(out: str) -> None:
    """The bundle folder must be new, empty or a ditgp bundle, and writable — checked before
    any work."""
    from pathlib import Path

    from ditgp.theory.errors import SpecError

    target = Path(out)
    if target.exists():
        if not target.is_dir():
            raise SpecError("--out", out, "a folder (this is a file)")
        if any(target.iterdir()) and not (target / "manifest.json").exists():
            raise SpecError("--out", out, "a new or empty folder, or an existing ditgp bundle "
                            "(this folder holds other files; nothing was changed)")
        if not os.access(target, os.W_OK | os.X_OK):
            raise SpecError("--out", out, "a writable folder")
    check_writable_folder("--out", target)


def _check_resources(args, spec, spectrum: bool) -> None:
    """``spectrum=False``: before the oracle (one block, a lower bound); then the full plan."""
    from ditgp.numerics.budget import budget, construct_estimate, fmt_bytes, steps_for

    est = construct_estimate(spec, args.t, args.eps, args.attention, args.algorithm,
                             args.time_conditioning, args.window, spectrum=spectrum)
    if args.force or est.fits():
        return
    lim = budget()
    hints = []
    if est.layers > lim.layers:
        if args.algorithm == "gd":
            k = steps_for(spec, args.t, args.eps, "chebyshev", args.time_conditioning)
            hints.append(f"--algorithm chebyshev needs about {k:,} layers")
        hints.append("a larger --eps needs fewer layers")
    if est.bytes > lim.memory or est.flops > lim.flops:
        if args.attention == "paper":
            hints.append("--attention compact uses fewer heads")
        if not spectrum:
            H = _largest_H(args, spec, lim)
            hints.append(f"H ≤ {H} fits one block" if H else "no H fits")
    plan = [f"it would build about {est.layers:,} layers × {est.heads} heads "
            f"({fmt_bytes(est.bytes)})"] if spectrum else []
    if est.layers > lim.layers:
        flag, value = ("--algorithm", "gd") if args.algorithm == "gd" else ("--eps", args.eps)
    else:
        flag, value = "--H", spec.H
    est.check(flag, value, alternative="; ".join([*plan, *hints]))


def _largest_H(args, spec, lim) -> int:
    from ditgp.numerics.budget import construct_estimate
    from ditgp.theory.spec import GPSpec

    def fits(H: int) -> bool:
        small = GPSpec(spec.kernel, H, spec.d, spec.spatial, spec.schedule)
        return construct_estimate(small, args.t, args.eps, args.attention, args.algorithm,
                                  args.time_conditioning, args.window,
                                  spectrum=False).fits(lim)

    lo, hi = 1, spec.H
    if not fits(lo):
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


def run(args: argparse.Namespace) -> int:
    from ditgp.numerics import construct
    from ditgp.numerics.budget import oracle_estimate
    from ditgp.theory.errors import SpecError

    if not (0 < args.eps < 1):
        raise SpecError("--eps", args.eps, "a relative error in (0, 1)")
    if args.window is not None and args.window < 0:
        raise SpecError("--window", args.window, "an integer ≥ 0")
    _check_out(args.out)
    spec = spec_from_args(args, oracle_estimate)
    spec.schedule.check_time(args.t)
    _check_resources(args, spec, spectrum=False)
    _check_resources(args, spec, spectrum=True)
    con = construct(spec, t=args.t, eps=args.eps, attention=args.attention,
                    algorithm=args.algorithm,
                    time_conditioning=args.time_conditioning, window=args.window)
    path = con.save(args.out)
    info = summary(con, path)
    if args.json:
        emit_json(info)
        return 0
    print(f"bundle     {info['bundle']}")
    print(f"spec       {info['spec']}, t={info['t']:g}")
    print(f"network    {info['attention']} attention, {info['algorithm']}, "
          f"{info['time_conditioning']} time conditioning")
    print(f"resources  D={info['width']} L={info['layers']} M={info['heads']} "
          f"params={info['params']} B={info['weight_norm']:.4g} R={info['output_bound']:.4g}")
    print(f"plan       K={info['iterations']} window={info['window']} κ={info['kappa']:.4g}")
    print(f"error      measured {info['rel_error']:.3e} ≤ bound {info['error_bound']:.3e} "
          f"(iteration {info['iteration_bound']:.2e}, truncation {info['truncation_bound']:.2e})")
    return 0
