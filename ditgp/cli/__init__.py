"""The ``ditgp`` command line.

Each subcommand lives in its own module ``ditgp.cli.<name>`` exposing ``register(sub)``
(adds its parser, with ``set_defaults(run=...)``) and a ``run(args) -> int``.  Modules are
imported only when their command is registered, and heavy imports (torch) happen inside
``run``, so ``ditgp --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ditgp import __version__

#: Subcommands in the order ``--help`` lists them.
COMMANDS = ("derive", "construct", "inspect", "score", "train", "verify", "bench", "sample", "compare")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ditgp",
        description="Theory-verification toolkit for diffusion transformers on "
        "Gaussian-process data.",
    )
    parser.add_argument("--version", action="version", version=f"ditgp {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"ditgp.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"ditgp.cli.{name}":
                continue  # command not built yet
            raise
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    from ditgp.theory.errors import SpecError

    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    try:
        return int(args.run(args) or 0)
    except SpecError as exc:
        print(f"ditgp {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"ditgp {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - one line, no traceback, for user-facing errors
        from ditgp.cli.common import is_user_error

        if not is_user_error(exc):
            raise
        print(f"ditgp {args.command}: error: {exc}", file=sys.stderr)
        return 2
