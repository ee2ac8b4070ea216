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
