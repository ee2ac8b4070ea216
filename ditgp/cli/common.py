"""Arguments shared by every command that takes a GP spec; the error boundary; output helpers.

**Errors.**  :func:`describe_error` turns anything a user can trigger — invalid input
(:class:`~ditgp.theory.errors.SpecError`, including the budget's
:class:`~ditgp.theory.errors.ResourceError`), a damaged bundle, running out of memory, a file
that cannot be read or written, a closed pipe, a kernel series that does not converge — into
one line.  Anything else is an internal error: one line saying so, with the hint to rerun
with ``DITGP_DEBUG=1`` for the traceback, and exit status 3 (see ``docs/cli.md``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ditgp.theory.errors import SpecError

#: Exit status of a user error (bad input, refused request, resource or I/O failure).
EXIT_USER = 2
#: Exit status of an internal error (a bug in ditgp): rerun with DITGP_DEBUG=1.
EXIT_INTERNAL = 3
#: Environment variable that turns internal errors back into Python tracebacks.
DEBUG_ENV = "DITGP_DEBUG"

#: Exception class names (besides SpecError) that are user errors: printed as one line.
USER_ERRORS = ("BundleError",)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: ``ditgp CMD: error: … (see --help)``.

    A negative number in scientific notation (``--lr -1e-3``) is a value, not a flag: argparse
    recognises only ``-1`` and ``-0.5`` and answered "expected one argument"; the value now
    reaches the validation that names what is wrong with it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = re.compile(
            r"^-(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$|^-(inf|nan)$", re.IGNORECASE)

    def error(self, message: str):  # noqa: D102 - argparse API
        self.exit(EXIT_USER, f"{self.prog}: error: {message} (see `{self.prog} --help`)\n")


class _Given(argparse.Action):
    """``store`` (or ``append``) that also records the flag as given on the command line, so
    that a command whose spec comes from a run or bundle can refuse spec flags that would
    otherwise be ignored silently (``--H 32`` equals the default: only this tells it apart)."""

    def __init__(self, option_strings, dest, append: bool = False, **kwargs):
        self.append = append
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        if self.append:
            values = [*(getattr(namespace, self.dest, None) or []), values]
        setattr(namespace, self.dest, values)
        given = dict(getattr(namespace, "given_spec_flags", None) or {})
        given[option_string] = values[-1] if self.append else values
        namespace.given_spec_flags = given


def given_spec_flags(args: argparse.Namespace, ignore: tuple[str, ...] = ()) -> dict[str, Any]:
    """The spec flags given on the command line (``{flag: value}``), less ``ignore``."""
    return {k: v for k, v in (getattr(args, "given_spec_flags", None) or {}).items()
            if k not in ignore}


def refuse_spec_flags(args: argparse.Namespace, source: str, ignore: tuple[str, ...] = ()) -> None:
    """Refuse spec flags when the spec comes from ``source`` (a run or a bundle): they would be
    ignored, and the output labelled with a spec the user did not get."""
    given = given_spec_flags(args, ignore)
    if given:
        flag, value = next(iter(given.items()))
        raise SpecError(flag, value, f"no spec flags with {source} (the spec comes from the "
                                     f"network's bundle; drop {', '.join(given)})")


def is_user_error(exc: BaseException) -> bool:
    return describe_error(exc) is not None


def _is_memory_error(exc: BaseException) -> bool:
    if isinstance(exc, MemoryError):
        return True
    if type(exc).__name__ == "OutOfMemoryError":  # torch.OutOfMemoryError (CUDA)
        return True
    text = str(exc)
    return isinstance(exc, RuntimeError) and (
        "can't allocate memory" in text or "not enough memory" in text
        or "out of memory" in text.lower())


def _os_error(exc: OSError) -> str:
    what = exc.strerror or str(exc)
    names = [n for n in (exc.filename, exc.filename2) if n is not None]
    if isinstance(exc, IsADirectoryError):
        what = "is a folder (expected a file)"
    return f"{' -> '.join(map(str, names))}: {what}" if names else what


def describe_error(exc: BaseException) -> str | None:
    """One line for a user-triggerable failure, ``None`` for an internal error."""
    if isinstance(exc, SpecError):
        return str(exc)
    if any(cls.__name__ in USER_ERRORS for cls in type(exc).__mro__):
        return str(exc)
    if isinstance(exc, BrokenPipeError):
        return "the output pipe was closed before all output was written"
    if _is_memory_error(exc):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return (f"out of memory ({first}); ask for a smaller problem (the resource estimate "
                "missed this one: please report it)")
    if isinstance(exc, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({exc.reason} at byte {exc.start})"
    if isinstance(exc, OSError):
        return _os_error(exc)
    if type(exc).__name__ == "NoConvergence":  # mpmath: a kernel series that will not converge
        return (f"a series of the kernel did not converge for these parameters ({exc}); "
                "choose parameters closer to the documented ranges")
    if isinstance(exc, RecursionError):
        return None
    return None


def _close_stdout() -> None:
    """After a broken pipe: point stdout at /dev/null so the interpreter's final flush is
    silent (the recipe of the Python docs on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


def run_command(command: str, fn: Callable[[], int]) -> int:
    """Run ``fn`` and turn every failure into one stderr line and an exit status."""
    try:
        code = int(fn() or 0)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        print(f"ditgp {command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the one boundary that turns errors into lines
        if isinstance(exc, BrokenPipeError):
            _close_stdout()
        line = describe_error(exc)
        if line is None and os.environ.get(DEBUG_ENV):
            raise
        if line is None:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            print(f"ditgp {command}: internal error: {type(exc).__name__}: {first[:300]} "
                  f"(a bug in ditgp: rerun with {DEBUG_ENV}=1 for the traceback and report it)",
                  file=sys.stderr)
            return EXIT_INTERNAL
        print(f"ditgp {command}: error: {line}", file=sys.stderr)
        return EXIT_USER


# -- spec ------------------------------------------------------------------------------------


def add_force_argument(parser: argparse.ArgumentParser, what: str = "") -> None:
    parser.add_argument("--force", action="store_true",
                        help="run even when the resource estimate exceeds the budget"
                             + (f"; {what}" if what else "") + " (see docs/cli.md, Resources)")


def add_spec_arguments(parser: argparse.ArgumentParser, *, time: bool = True) -> None:
    """``--kernel NAME [--param K=V ...] --H N --d N [--spatial ...] [--t0 --T] [--spec FILE]``
    and, with ``time=True``, ``--t T``."""
    g = parser.add_argument_group("GP spec")
    g.add_argument("--spec", action=_Given, metavar="FILE.json",
                   help="GP spec as JSON (replaces the flags below)")
    g.add_argument("--kernel", action=_Given, default="laplace", metavar="NAME",
                   help="temporal kernel (default: laplace); see `ditgp derive --list-kernels`")
    g.add_argument("--param", action=_Given, append=True, default=[], metavar="KEY=VALUE",
                   help="kernel parameter, repeatable (e.g. --param ell=4)")
    g.add_argument("--H", action=_Given, type=int, default=32,
                   help="number of frames (default: 32)")
    g.add_argument("--d", action=_Given, type=int, default=4, help="frame dimension (default: 4)")
    g.add_argument("--spatial", action=_Given, default="identity",
                   help="identity | ar:RHO | random:KAPPA:SEED | file:PATH.npy (default: identity)")
    g.add_argument("--t0", action=_Given, type=float, default=None,
                   help="early-stopping time t_0 (default: 1e-3)")
    g.add_argument("--T", action=_Given, type=float, default=None, help="horizon T (default: 10)")
    if time:
        g.add_argument("--t", type=float, default=0.1,
                       help="diffusion time in [t_0, T] (default: 0.1)")


def parse_params(items: list[str]) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise SpecError("--param", item, "KEY=VALUE, e.g. ell=4")
        if key in params:
            raise SpecError(f"--param {key}", value,
                            f"each parameter once ({key} is given twice: "
                            f"{key}={params[key]:g} and {key}={value})")
        try:
            params[key] = float(value)
        except ValueError:
            raise SpecError(f"--param {key}", value, "a number") from None
    return params


def _read_spec_text(path: str) -> str:
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SpecError("--spec", path, f"a readable JSON file ({exc.strerror})") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise SpecError("--spec", path, "a UTF-8 JSON file (this one is binary)") from None


def _sizes_of(data: Any) -> tuple[int, int] | None:
    if isinstance(data, dict):
        H, d = data.get("H"), data.get("d")
        if all(isinstance(v, int) and not isinstance(v, bool) and v >= 1 for v in (H, d)):
            return H, d
    return None


def spec_from_args(args: argparse.Namespace, estimate: Callable | None = None):
    """Build the :class:`~ditgp.theory.spec.GPSpec` the flags (or ``--spec``) describe, after
    checking (before anything is built) that ``estimate(H, d)`` — the command's cost as a
    function of the sizes, by default the spec's own matrices — fits the resource budget."""
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, parse_spatial

    force = bool(getattr(args, "force", False))
    if args.spec:
        text = _read_spec_text(args.spec)
        try:
            sizes = _sizes_of(json.loads(text))
        except json.JSONDecodeError:
            sizes = None  # GPSpec.from_json says what is wrong
        if sizes is not None:
            _check_sizes(*sizes, force, estimate, spec_file=True)
        spec = GPSpec.from_json(text)
        if args.t0 is not None or args.T is not None:
            sched = Schedule(args.t0 if args.t0 is not None else spec.schedule.t0,
                             args.T if args.T is not None else spec.schedule.T)
            spec = GPSpec(spec.kernel, spec.H, spec.d, spec.spatial, sched)
        return spec
    if args.spatial.startswith("file:"):
        read_npy_header("--spatial", args.spatial[len("file:"):])
    if args.H >= 1 and args.d >= 1:
        _check_sizes(args.H, args.d, force, estimate)
    sched = Schedule(**{k: v for k, v in (("t0", args.t0), ("T", args.T)) if v is not None})
    params = parse_params(args.param)
    return GPSpec(
        kernel=kernel(args.kernel, **params),
        H=args.H,
        d=args.d,
        spatial=parse_spatial(args.spatial),
        schedule=sched,
    )


def _check_sizes(H: int, d: int, force: bool, estimate: Callable | None = None,
                 spec_file: bool = False) -> None:
    from ditgp.numerics.budget import spec_estimate

    estimate = estimate or spec_estimate
    vary_H = H >= d  # name the size that dominates
    name, value = ("H", H) if vary_H else ("d", d)
    flag = f"--spec {name}" if spec_file else f"--{name}"
    est = estimate(H, d)
    if force or est.fits():
        return
    est.check(flag, value, alternative=f"{name} ≤ {_largest_fitting(H, d, vary_H, estimate)} "
                                       "fits (other flags as given)")


def _largest_fitting(H: int, d: int, vary_H: bool, estimate=None) -> int:
    """Largest ``H`` (or ``d``) whose estimate fits the budget, the other size fixed."""
    from ditgp.numerics.budget import budget, spec_estimate

    estimate = estimate or spec_estimate
    lim = budget()

    def fits(n: int) -> bool:
        return (estimate(n, d) if vary_H else estimate(H, n)).fits(lim)

    lo, hi = 1, max(1, H if vary_H else d)
    if not fits(lo):
        return 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if fits(mid) else (lo, mid - 1)
    return lo


# -- .npy files ------------------------------------------------------------------------------

#: The first bytes of every .npy file (numpy's format magic).
NPY_MAGIC = b"\x93NUMPY"


def is_npy(path: Path) -> bool:
    """Whether ``path`` starts like a .npy array file."""
    try:
        with open(path, "rb") as f:
            return f.read(len(NPY_MAGIC)) == NPY_MAGIC
    except OSError:
        return False


def read_npy_header(flag: str, path: str) -> tuple[tuple[int, ...], Any]:
    """Shape and dtype of a .npy file from its header alone; refuses (naming ``flag``) a file
    that is not a .npy array, holds Python objects (never unpickled) or complex numbers."""
    import numpy as np

    p = Path(path)
    if p.is_dir():
        raise SpecError(flag, path, "a .npy array file (this is a folder)")
    try:
        f = open(p, "rb")
    except OSError as exc:
        raise SpecError(flag, path, f"a readable .npy array file ({exc.strerror})") from None
    with f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise SpecError(flag, path, "a .npy array file (this one is not: make one with "
                            "numpy.save)")
        f.seek(0)
        try:
            version = np.lib.format.read_magic(f)
            reader = {(1, 0): np.lib.format.read_array_header_1_0,
                      (2, 0): np.lib.format.read_array_header_2_0}.get(version)
            if reader is None:
                raise ValueError(f"unsupported .npy version {version}")
            shape, _fortran, dtype = reader(f)
        except ValueError as exc:
            raise SpecError(flag, path, f"a .npy array file (damaged header: {exc})") from None
    if dtype.hasobject:
        raise SpecError(flag, path, "an array of numbers (this file holds Python objects, "
                        "which ditgp never unpickles)")
    if dtype.kind == "c":
        raise SpecError(flag, path, f"real numbers (this array is {dtype}; ditgp does not "
                        "drop imaginary parts: save the real part if that is what you mean)")
    if dtype.kind not in "biuf":
        raise SpecError(flag, path, f"an array of real numbers (dtype {dtype})")
    return tuple(shape), dtype


# -- outputs ---------------------------------------------------------------------------------


def check_writable_folder(flag: str, folder: Path) -> None:
    """Refuse, before any work, an output location where nothing can be created: probe the
    nearest existing folder by creating (and removing) a temporary file there."""
    check_utf8_path(flag, folder)
    probe = folder
    while not probe.exists() and probe.parent != probe:
        if probe.is_symlink():  # a dangling link where a folder belongs
            raise SpecError(flag, str(folder), f"a folder ({probe} is a dangling symbolic link to "
                            "a missing target: remove it, or point it at a folder)")
        probe = probe.parent
    if not probe.is_dir():
        raise SpecError(flag, str(folder), f"a path inside a folder ({probe} is a file)")
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as exc:
        raise SpecError(flag, str(folder),
                        f"a writable location ({probe}: {exc.strerror or exc})") from None


def check_utf8_path(flag: str, path: str | Path) -> None:
    """Refuse a path whose name is not UTF-8 (a byte such as ``\\xff``): reports write the
    path into UTF-8 text, which failed only after all the work."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise SpecError(flag, os.fsencode(str(path)), "a path whose name is UTF-8 text (this one "
                        "holds a byte that is not; rename it)") from None


def check_new_files(flag: str, folder: Path, names: tuple[str, ...], force: bool,
                    what: str = "report") -> None:
    """Refuse, before any work, a ``folder`` that already holds one of the files ``names`` a
    command would write there (another command's report, or the user's own file) unless
    ``force``; and a ``folder`` that is a file."""
    check_utf8_path(flag, folder)
    if folder.exists() and not folder.is_dir():
        raise SpecError(flag, str(folder), f"a folder for the {what} (this is a file)")
    if force or not folder.is_dir():
        return
    there = [n for n in names if (folder / n).exists()]
    if there:
        raise SpecError(flag, str(folder), f"a folder without a {what} ({folder / there[0]} "
                        "exists; --force replaces the report's files, or choose another folder)")


def atomic_write(path: Path, write: Callable[[Any], None]) -> None:
    """Write ``path`` atomically (:func:`ditgp.numerics.atomic.atomic_write`: temporary file in
    the same folder, fsync, rename, with an ordinary ``open()``'s permissions)."""
    from ditgp.numerics.atomic import atomic_write as _atomic_write

    _atomic_write(path, write)


def emit_json(obj: Any) -> None:
    """Print one JSON object (numpy scalars converted) on stdout."""
    json.dump(obj, sys.stdout, indent=2, default=_default)
    sys.stdout.write("\n")


def _default(o: Any) -> Any:
    import numpy as np

    if isinstance(o, np.generic):
        return o.item()
    if isinstance(o, np.ndarray):
        return o.tolist()
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--threads", type=int, default=None,
                        help="torch CPU threads (default: torch's; 1 is fastest on a busy "
                             "machine, where spinning threads slowed sampling ~30×)")


def apply_threads(threads: int | None) -> None:
    """Set torch's CPU threads from ``--threads`` (refused unless an integer ≥ 1)."""
    if threads is None:
        return
    if threads < 1:
        raise SpecError("--threads", threads, "an integer ≥ 1")
    import torch

    torch.set_num_threads(threads)

