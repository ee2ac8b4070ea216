"""README's two commands stay true: CI runs exactly the README's test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _bash_blocks(text: str) -> list[str]:
    return [b.strip() for b in re.findall(r"```bash\n(.*?)```", text, flags=re.S)]


def test_ci_runs_the_readme_test_command():
    blocks = _bash_blocks((ROOT / "README.md").read_text())
    install_and_run, test_command = blocks[0], blocks[1]
    assert "pip install torch==2.13.0" in install_and_run
    assert install_and_run.index("torch==2.13.0") < install_and_run.index('-e ".[dev]"')
    assert install_and_run.rstrip().endswith("ditgp verify")
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1].strip() == test_command
    assert any('pip install --quiet "torch==2.13.0"' in line for line in ci)


def test_ci_fails_loudly():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "set -euo pipefail" in ci
    assert "mkdocs build --strict" in ci and "ruff check" in ci
