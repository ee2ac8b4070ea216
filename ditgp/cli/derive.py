"""``ditgp derive``: the theory's derivation for one spec (text, ``--json`` or ``--latex``)."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_force_argument, add_spec_arguments, emit_json, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive",
        help="derive score, iterations, spectral bounds, window and resources for a spec",
        description="Print the derivation for one GP spec at time t and accuracy eps: kernel, "
        "decay class and validity certificate; spectral bounds and kappa_t; GD step, "
        "contraction and steps; Chebyshev steps; truncation window; the score formula. "
        "The theory behind each line: docs/theory.md; flags: docs/cli.md.",
    )
    add_spec_arguments(p)
    p.add_argument("--eps", type=float, default=1e-6,
                   help="target relative error / tail level (default: 1e-6)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--latex", action="store_true", help="print a LaTeX align block")
    p.add_argument("--list-kernels", action="store_true", help="list the kernel catalogue and exit")
    add_force_argument(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list_kernels:
        from ditgp.theory.kernels import REGISTRY

        for name, cls in REGISTRY.items():
            params = ", ".join(f"{p.name} ({p.expected()})" for p in cls.parameters)
            print(f"{name:24s} {params}")
        return 0
    from ditgp.numerics.budget import derive_estimate
    from ditgp.theory.derive import derive

    result = derive(spec_from_args(args, derive_estimate), args.t, args.eps)
    if args.json:
        emit_json(result.to_dict())
    elif args.latex:
        print(result.to_latex())
    else:
        print(result.to_text())
    return 0
