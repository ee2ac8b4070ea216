"""``ditgp derive``: the theory's derivation for one spec (text, ``--json`` or ``--latex``)."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_force_argument, add_spec_arguments, emit_json, spec_from_args
from ditgp.theory.choices import ORACLE_METHODS


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
    p.add_argument("--method", choices=ORACLE_METHODS, default="auto",
                   help="exact spectrum and Bayes floor: eig (dense Γ, O(H³)), fft (Lanczos on "
                        "the FFT operator, Gohberg–Semencul floor; no H×H array) or auto "
                        "(default: eig up to H=4096, fft above)")
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
    from ditgp.theory.derive import DENSE_MAX_H, dense_spectrum, derive
    from ditgp.theory.errors import ResourceError

    def method_for(H: int) -> str:
        if args.method != "auto":
            return args.method
        return "eig" if H <= DENSE_MAX_H else "fft"

    def estimate(H: int, d: int):
        return derive_estimate(H, d, "dense" if method_for(H) == "eig" else "fft")

    try:
        spec = spec_from_args(args, estimate)
    except ResourceError as exc:
        if args.method != "eig":
            raise
        raise ResourceError(exc.field, exc.value, f"{exc.expected}; or --method fft (Lanczos "
                            "on the FFT operator, O(dH) memory)") from None
    if method_for(spec.H) == "eig":
        provider = dense_spectrum
    else:
        from ditgp.numerics.fft.fft_oracle import lanczos_spectrum as provider
    result = derive(spec, args.t, args.eps, spectrum=provider)
    if args.json:
        emit_json(result.to_dict())
    elif args.latex:
        print(result.to_latex())
    else:
        print(result.to_text())
    return 0
