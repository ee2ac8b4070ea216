"""The CLI reference documents every command and every flag the parser accepts."""

from __future__ import annotations

import argparse
from pathlib import Path

from ditgp.cli import build_parser

DOC = Path(__file__).resolve().parents[2] / "docs" / "cli.md"


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_and_flag_is_documented():
    text = DOC.read_text()
    for name, sub in _subparsers(build_parser()).items():
        assert f"## `ditgp {name}`" in text, f"docs/cli.md lacks a section for `ditgp {name}`"
        for action in sub._actions:
            for flag in action.option_strings:
                if flag.startswith("--") and flag != "--help":
                    assert f"`{flag}" in text or f" {flag}" in text, f"docs/cli.md lacks {flag} of {name}"
