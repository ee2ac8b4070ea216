"""A claim's examples are a function of its seed alone, not of which modules the process has
imported first (hypothesis would otherwise mix the literal constants of every loaded local
module into its draws: claim 1 drew other examples once ``ditgp.models`` was imported before
it, worst margin 0.981 instead of 0.971)."""

from __future__ import annotations

import json
import subprocess
import sys

SCRIPT = """
import json, sys
if sys.argv[1] == "first":
    import ditgp.models  # noqa: F401 - a module full of numbers, loaded before the claim
from ditgp.verify.claims import registry
from ditgp.verify.claims.runner import run_claim
r = run_claim(registry.claim("score-fixed-point"), examples=100, seed=0)
print(json.dumps({"margin": r.worst_margin, "input": r.worst["input"]}))
"""


def _run(order: str) -> dict:
    out = subprocess.run([sys.executable, "-c", SCRIPT, order], capture_output=True, text=True,
                         check=True, timeout=300)
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_the_examples_do_not_depend_on_what_was_imported_before():
    assert _run("first") == _run("never")
