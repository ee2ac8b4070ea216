"""``ditgp derive``: the theory's derivation for one spec (text, ``--json`` or ``--latex``)."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_spec_arguments, emit_json, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "derive",
        help="derive score, iterations, spectral bounds, window and resources for a spec",
        description="Print the derivation for one GP spec at time t and accuracy eps: kernel, "
        "decay class and validity certificate; spectral bounds and kappa_t; GD step, "
        "contraction and steps; Chebyshev steps; truncation window; the score formula.",
    )
    add_spec_arguments(p)
    p.add_argument("--eps", type=float, default=1e-6,
                   help="target relative error / tail level (default: 1e-6)")
    out = p.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print one JSON object")
    out.add_argument("--latex", action="store_true", help="print a LaTeX align block")
    p.add_argument("--method", choices=("auto", "eig", "fft"), default="auto",
                   help="exact spectrum and Bayes floor: eig (dense Γ, O(H³)), fft (Lanczos on "
                        "the FFT operator, Gohberg–Semencul floor; no H×H array) or auto "
                        "(default: eig up to H=4096, fft above)")
    p.add_argument("--list-kernels", action="store_true", help="list the kernel catalogue and exit")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.list_kernels:
        from ditgp.theory.kernels import REGISTRY

        for name, cls in REGISTRY.items():
            params = ", ".join(f"{p.name} ({p.expected()})" for p in cls.parameters)
            print(f"{name:24s} {params}")
        return 0
    from ditgp.theory.derive import DENSE_MAX_H, dense_spectrum, derive

    spec = spec_from_args(args)
    method = args.method
    if method == "auto":
        method = "eig" if spec.H <= DENSE_MAX_H else "fft"
    if method == "eig":
        _check_dense_memory(spec)
        provider = dense_spectrum
    else:
        from ditgp.numerics.fft_oracle import lanczos_spectrum as provider
    result = derive(spec, args.t, args.eps, spectrum=provider)
    if args.json:
        emit_json(result.to_dict())
    elif args.latex:
        print(result.to_latex())
    else:
        print(result.to_text())
    return 0


def _check_dense_memory(spec) -> None:
    """Refuse a dense eigensolve that would need more memory than the machine has free."""
    import os

    from ditgp.theory.errors import ResourceError

    need = 8 * 4 * spec.H * spec.H  # Γ, eigenvectors and LAPACK workspace
    try:
        free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return
    if need > free:
        raise ResourceError("--method", "eig",
                            f"at most {free / 2**30:.1f} GiB for the dense H×H eigensolve "
                            f"(needs ≈ {need / 2**30:.1f} GiB at H={spec.H}); use --method fft")
