"""``ditgp construct``: build a transformer with explicit weights and write a weight bundle."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_spec_arguments, emit_json, spec_from_args

ATTENTIONS = ("paper", "compact", "softmax")
ALGORITHMS = ("gd", "chebyshev")
TIME_CONDITIONINGS = ("fixed", "gated", "multiply")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "construct",
        help="build a transformer whose layers unroll GD/Chebyshev; write a weight bundle",
        description="Construct transformer weights realising the unrolled score iteration "
                    "(THEORY.md §3-4) and write a weight bundle (safetensors + manifest.json).",
    )
    add_spec_arguments(p)
    g = p.add_argument_group("construction")
    g.add_argument("--eps", type=float, default=1e-6, help="target relative error (default: 1e-6)")
    g.add_argument("--attention", choices=ATTENTIONS, default="compact",
                   help="attention realisation (default: compact)")
    g.add_argument("--algorithm", choices=ALGORITHMS, default="chebyshev",
                   help="unrolled algorithm (default: chebyshev)")
    g.add_argument("--time-conditioning", choices=TIME_CONDITIONINGS, default="fixed",
                   help="fixed t, gated (exact, all t) or multiply (ReLU module, all t)")
    g.add_argument("--window", type=int, default=None,
                   help="truncation window w (default: chosen from --eps)")
    p.add_argument("--out", required=True, metavar="DIR", help="bundle folder to write")
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


def run(args: argparse.Namespace) -> int:
    from ditgp.numerics import construct

    spec = spec_from_args(args)
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
