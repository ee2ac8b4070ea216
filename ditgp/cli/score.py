"""``ditgp score``: the exact score of the user's own sequences, written as .npy."""

from __future__ import annotations

import argparse
from pathlib import Path

from ditgp.cli.common import (
    add_force_argument,
    add_spec_arguments,
    is_npy,
    read_npy_header,
    spec_from_args,
)
from ditgp.theory.choices import ORACLE_METHODS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("score", help="exact score s(X, t) of sequences in a .npy file",
                       description="Write the exact score -A_t^{-1} vec X of each sequence X "
                                   "(input shape (n, d, H), float64 output of the same shape). "
                                   "To make an input: python -c \"import numpy as np; "
                                   "np.save('X.npy', np.random.default_rng(0)"
                                   ".standard_normal((5, 4, 32)))\".")
    add_spec_arguments(p)
    p.add_argument("--input", required=True, metavar="X.npy", help="sequences, shape (n, d, H)")
    p.add_argument("--output", required=True, metavar="S.npy",
                   help="where to write the scores (a new file, or an existing .npy array)")
    p.add_argument("--weights", default=None, metavar="BUNDLE",
                   help="score with a network (trained or constructed bundle) instead of the "
                        "exact oracle; the spec comes from the bundle")
    p.add_argument("--method", choices=ORACLE_METHODS, default="auto",
                   help="exact score: eig (cached eigendecompositions), fft (Toeplitz CG with a "
                        "certified relative error 1e-10 per sequence, O(dH log H)) or auto "
                        "(default: eig below H=1024, fft above)")
    add_force_argument(p, "with --output: replace an existing file that is not a .npy array")
    p.set_defaults(run=run)


def _check_output(args, inp: Path) -> Path:
    from ditgp.cli.common import check_writable_folder
    from ditgp.theory.errors import SpecError

    out = Path(args.output)
    if args.output.endswith(("/", "\\")) or out.is_dir():
        raise SpecError("--output", args.output, "a file name ending in .npy (this is a folder)")
    if out.suffix != ".npy":
        raise SpecError("--output", args.output, "a file name ending in .npy")
    if out.exists():
        if _same(out, inp) or out.resolve() == inp.resolve():
            raise SpecError("--output", args.output, "a file other than --input (writing it "
                            "would destroy the input)")
        if not is_npy(out) and not args.force:
            raise SpecError("--output", args.output, "a new file or an existing .npy array (this "
                            "file is something else; --force replaces it)")
    check_writable_folder("--output", out.parent)
    return out


def _same(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from ditgp.cli.common import atomic_write
    from ditgp.numerics import exact_score
    from ditgp.numerics.budget import score_estimate
    from ditgp.theory.errors import SpecError

    shape, _dtype = read_npy_header("--input", args.input)
    if len(shape) != 3:
        raise SpecError("--input", args.input, f"an array of shape (n, d, H) (got shape {shape})")
    n = shape[0]
    out = _check_output(args, Path(args.input))
    net = None
    if args.weights:
        from ditgp.cli.common import refuse_spec_flags
        from ditgp.models.export import load_network, network_time_range
        from ditgp.numerics.bundle import check_served_time
        from ditgp.theory.spec import GPSpec

        refuse_spec_flags(args, "--weights", ignore=("--t",))
        net, manifest = load_network(args.weights)
        spec = GPSpec.from_dict(manifest["spec"])
        check_served_time(args.t, network_time_range(manifest), "network", flag="--t")
    else:
        from ditgp.numerics.oracle import AUTO_SWITCH_H

        def estimate(H: int, d: int):
            fft = args.method == "fft" or (args.method == "auto" and H >= AUTO_SWITCH_H)
            return score_estimate(n, H, d, "fft" if fft else "dense")

        spec = spec_from_args(args, estimate)
    if shape[1:] != (spec.d, spec.H):
        fix = ("the network's, from its bundle: reshape the input" if net is not None
               else "set --d and --H to match")
        raise SpecError("--input", args.input, f"an array of shape (n, d, H) = (n, {spec.d}, "
                        f"{spec.H}) (got {shape}; {fix})")
    try:
        X = np.load(args.input, allow_pickle=False)
    except ValueError as exc:
        raise SpecError("--input", args.input, f"a readable .npy array file ({exc})") from None
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise SpecError("--input", args.input, "finite values (it holds NaN or ±inf)")
    S = exact_score(spec, X, args.t, method=args.method) if net is None else net(X, args.t)
    bad = ~np.all(np.isfinite(S), axis=tuple(range(1, S.ndim)))
    if bad.any():  # nothing is written: a file of NaN scores is not a result
        big = float(np.max(np.abs(X[bad])))
        raise SpecError("--input", args.input, f"sequences the {'network' if net is not None else 'oracle'} "
                        f"scores finitely (the score of {int(bad.sum())} of {len(bad)} is not "
                        f"finite; their largest |x| is {big:.3g}: overflow — scale them to the "
                        "size of the data, |x| of order 1–10)")
    atomic_write(out, lambda f: np.save(f, S, allow_pickle=False))
    source = f", network {args.weights}" if net is not None else ""
    print(f"wrote {out} (shape {S.shape}, float64, t={args.t:g}{source})")
    return 0
