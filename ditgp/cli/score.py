"""``ditgp score``: the exact score of the user's own sequences, written as .npy."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_spec_arguments, spec_from_args


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="exact score s(X, t) of sequences in a .npy file",
                       description="Write the exact score -A_t^{-1} vec X of each sequence X "
                                   "(input shape (n, d, H), float64 output of the same shape).")
    add_spec_arguments(p)
    p.add_argument("--input", required=True, metavar="X.npy", help="sequences, shape (n, d, H)")
    p.add_argument("--output", required=True, metavar="S.npy", help="where to write the scores")
    p.add_argument("--weights", default=None, metavar="BUNDLE",
                   help="score with a network (trained or constructed bundle) instead of the "
                        "exact oracle; the spec comes from the bundle")
    p.add_argument("--method", choices=("auto", "eig", "fft"), default="auto",
                   help="exact score: eig (cached eigendecompositions), fft (Toeplitz CG with a "
                        "certified relative error 1e-10 per sequence, O(dH log H)) or auto "
                        "(default: eig below H=1024, fft above)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import os
    import tempfile
    from pathlib import Path

    import numpy as np

    from ditgp.numerics import exact_score
    from ditgp.theory.errors import SpecError

    net = None
    if args.weights:
        from ditgp.models.export import load_network
        from ditgp.theory.spec import GPSpec

        net, manifest = load_network(args.weights)
        spec = GPSpec.from_dict(manifest["spec"])
    else:
        spec = spec_from_args(args)
    try:
        X = np.load(args.input, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise SpecError("--input", args.input, f"a readable .npy array ({exc})") from None
    if X.ndim != 3 or X.shape[1:] != (spec.d, spec.H):
        raise SpecError("--input", X, f"an array of shape (n, d, H) = (n, {spec.d}, {spec.H})")
    if not np.issubdtype(X.dtype, np.number) or np.iscomplexobj(X):
        raise SpecError("--input", str(X.dtype), "a real numeric array")
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise SpecError("--input", args.input, "finite values")
    S = exact_score(spec, X, args.t, method=args.method) if net is None else net(X, args.t)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", dir=out.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            np.save(f, S, allow_pickle=False)
        os.replace(tmp, out)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    source = f", network {args.weights}" if net is not None else ""
    print(f"wrote {out} (shape {S.shape}, float64, t={args.t:g}{source})")
    return 0
