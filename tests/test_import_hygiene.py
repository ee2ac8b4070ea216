"""Layering: the symbolic layer never imports torch; the front door resolves lazily."""

from __future__ import annotations

import subprocess
import sys


def _run(code: str) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def test_theory_does_not_import_torch():
    code = (
        "import sys, ditgp.theory, ditgp.theory.kernels, ditgp.theory.spec, "
        "ditgp.theory.iterations, ditgp.theory.process, ditgp.theory.derive, "
        "ditgp.theory.spectral, ditgp.theory.truncation\n"
        "print('torch' in sys.modules)"
    )
    assert _run(code) == "False"


def test_front_door_is_lazy_and_cli_help_is_torch_free():
    code = (
        "import sys, ditgp\n"
        "from ditgp.cli import build_parser\n"
        "build_parser()\n"
        "print('torch' in sys.modules, 'sympy' in sys.modules)"
    )
    assert _run(code) == "False False"


def test_public_api_resolves():
    import ditgp

    assert ditgp.GPSpec.__name__ == "GPSpec"
    assert callable(ditgp.kernel)
    for name in ditgp.__all__:
        assert getattr(ditgp, name) is not None


def test_every_package_folder_is_installed():
    """A package folder missing from pyproject's explicit list works in an editable install
    and vanishes from a wheel; list every folder with an ``__init__.py`` under the layers."""
    import tomllib
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    dirs = {v: k for k, v in cfg["package-dir"].items()}
    assert set(cfg["packages"]) == set(cfg["package-dir"])
    for layer in ("ditgp", "theory", "numerics", "models", "verify"):
        for init in (root / layer).rglob("__init__.py"):
            rel = init.parent.relative_to(root).as_posix()
            assert rel in dirs, f"{rel} is a package folder missing from pyproject.toml"
