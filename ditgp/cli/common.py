"""Arguments shared by every command that takes a GP spec, and output helpers."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ditgp.theory.errors import SpecError

#: Exception class names (besides SpecError) that are user errors: printed as one line.
USER_ERRORS = ("BundleError",)


def is_user_error(exc: BaseException) -> bool:
    return any(cls.__name__ in USER_ERRORS for cls in type(exc).__mro__)


def add_spec_arguments(parser: argparse.ArgumentParser, *, time: bool = True) -> None:
    """``--kernel NAME [--param K=V ...] --H N --d N [--spatial ...] [--t0 --T] [--spec FILE]``
    and, with ``time=True``, ``--t T``."""
    g = parser.add_argument_group("GP spec")
    g.add_argument("--spec", metavar="FILE.json", help="GP spec as JSON (replaces the flags below)")
    g.add_argument("--kernel", default="laplace", metavar="NAME",
                   help="temporal kernel (default: laplace); see `ditgp derive --list-kernels`")
    g.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="kernel parameter, repeatable (e.g. --param ell=4)")
    g.add_argument("--H", type=int, default=32, help="number of frames (default: 32)")
    g.add_argument("--d", type=int, default=4, help="frame dimension (default: 4)")
    g.add_argument("--spatial", default="identity",
                   help="identity | ar:RHO | random:KAPPA:SEED | file:PATH.npy (default: identity)")
    g.add_argument("--t0", type=float, default=None, help="early-stopping time t_0 (default: 1e-3)")
    g.add_argument("--T", type=float, default=None, help="horizon T (default: 10)")
    if time:
        g.add_argument("--t", type=float, default=0.1,
                       help="diffusion time in [t_0, T] (default: 0.1)")


def parse_params(items: list[str]) -> dict[str, float]:
    params: dict[str, float] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SpecError("--param", item, "KEY=VALUE, e.g. ell=4")
        try:
            params[key.strip()] = float(value)
        except ValueError:
            raise SpecError(f"--param {key}", value, "a number") from None
    return params


def spec_from_args(args: argparse.Namespace):
    """Build the :class:`~ditgp.theory.spec.GPSpec` the flags (or ``--spec``) describe."""
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Schedule, parse_spatial

    if args.spec:
        spec = GPSpec.load(args.spec)
        if args.t0 is not None or args.T is not None:
            sched = Schedule(args.t0 if args.t0 is not None else spec.schedule.t0,
                             args.T if args.T is not None else spec.schedule.T)
            spec = GPSpec(spec.kernel, spec.H, spec.d, spec.spatial, sched)
        return spec
    sched = Schedule(**{k: v for k, v in (("t0", args.t0), ("T", args.T)) if v is not None})
    return GPSpec(
        kernel=kernel(args.kernel, **parse_params(args.param)),
        H=args.H,
        d=args.d,
        spatial=parse_spatial(args.spatial),
        schedule=sched,
    )


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
