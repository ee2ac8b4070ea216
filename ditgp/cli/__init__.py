"""The ``ditgp`` command line.

Each subcommand lives in its own module ``ditgp.cli.<name>`` exposing ``register(sub)``
(adds its parser, with ``set_defaults(run=...)``) and a ``run(args) -> int``.  Modules are
imported only when their command is registered, and heavy imports (torch) happen inside
``run``, so ``ditgp --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib

from ditgp import __version__

#: Subcommands in the order ``--help`` lists them.
COMMANDS = ("derive", "construct", "inspect", "score", "train", "verify", "bench", "sample", "compare",
            "probe", "reproduce")


def build_parser() -> argparse.ArgumentParser:
    from ditgp.cli.common import OneLineParser

    parser = OneLineParser(
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
    """Run one command; user errors print one line on stderr and return 2, internal errors
    one line and 3 (``DITGP_DEBUG=1`` re-raises them with the traceback)."""
    from ditgp.cli.common import run_command

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a one-line usage error: a status, in-process
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    if getattr(args, "run", None) is None:
        parser.print_help()
        return 0
    return run_command(args.command, lambda: args.run(args))
