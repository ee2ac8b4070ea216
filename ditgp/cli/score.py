"""``ditgp score``: the exact score of the user's own sequences, written as .npy."""

from __future__ import annotations

import argparse
from pathlib import Path

from ditgp.cli.common import add_force_argument, add_spec_arguments, spec_from_args

#: The first bytes of every .npy file (numpy's format magic).
NPY_MAGIC = b"\x93NUMPY"


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
    add_force_argument(p, "with --output: replace an existing file that is not a .npy array")
    p.set_defaults(run=run)


def _is_npy(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError:
        return False


def read_header(path: str) -> tuple[tuple[int, ...], object]:
    """Shape and dtype of a .npy file from its header (nothing else is read)."""
    import numpy as np

    from ditgp.theory.errors import SpecError

    p = Path(path)
    if p.is_dir():
        raise SpecError("--input", path, "a .npy array file (this is a folder)")
    try:
        f = open(p, "rb")
    except OSError as exc:
        raise SpecError("--input", path, f"a readable .npy array file ({exc.strerror})") from None
    with f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise SpecError("--input", path, "a .npy array file (this one is not: make one "
                            "with numpy.save)")
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _fortran, dtype = reader(f)
        except ValueError as exc:
            raise SpecError("--input", path, f"a .npy array file (damaged header: {exc})") from None
    if dtype.hasobject:
        raise SpecError("--input", path, "an array of numbers (this file holds Python objects, "
                        "which ditgp never unpickles)")
    if dtype.kind == "c":
        raise SpecError("--input", path, f"real numbers (this array is {dtype}; ditgp does not "
                        "drop imaginary parts: pass X.real if that is what you mean)")
    if dtype.kind not in "biuf":
        raise SpecError("--input", path, f"an array of real numbers (dtype {dtype})")
    return tuple(shape), dtype


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
        if not _is_npy(out) and not args.force:
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

    shape, _dtype = read_header(args.input)
    if len(shape) != 3:
        raise SpecError("--input", args.input, f"an array of shape (n, d, H) (got shape {shape})")
    n = shape[0]
    out = _check_output(args, Path(args.input))
    spec = spec_from_args(args, lambda H, d: score_estimate(n, H, d))
    if shape[1:] != (spec.d, spec.H):
        raise SpecError("--input", args.input, f"an array of shape (n, d, H) = (n, {spec.d}, "
                        f"{spec.H}) (got {shape}; set --d and --H to match)")
    try:
        X = np.load(args.input, allow_pickle=False)
    except ValueError as exc:
        raise SpecError("--input", args.input, f"a readable .npy array file ({exc})") from None
    X = X.astype(np.float64)
    if not np.all(np.isfinite(X)):
        raise SpecError("--input", args.input, "finite values (it holds NaN or ±inf)")
    S = exact_score(spec, X, args.t)
    atomic_write(out, lambda f: np.save(f, S, allow_pickle=False))
    print(f"wrote {out} (shape {S.shape}, float64, t={args.t:g})")
    return 0
