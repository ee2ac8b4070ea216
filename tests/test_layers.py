"""Layer direction over the whole import graph: theory → numerics → models → verify → ditgp.

The graph is read from the source (``import_graph``) with the package mapping of
pyproject.toml, every import counted, including those inside functions; the command-line
modules import no torch when they are imported (``ditgp --help`` stays fast).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import import_graph as g
import pytest

#: what must not run when a command-line module is imported
HEAVY = ("torch", "safetensors")


def _torch_at_import(module: str, root: Path = g.ROOT) -> list[str]:
    bad = []
    by_source: dict[str, list[g.Import]] = {}
    for imp in g.imports(root):
        by_source.setdefault(imp.source, []).append(imp)
    for mod, chain in g.import_time_closure(module, root).items():
        for imp in by_source.get(mod, []):
            if imp.toplevel and imp.target.split(".")[0] in HEAVY:
                bad.append(f"{imp.where}: {' → '.join(chain)} imports {imp.target}")
    return bad


def _cli_modules(root: Path = g.ROOT) -> list[str]:
    return [m for m in g.modules(root) if m == "ditgp.cli" or m.startswith("ditgp.cli.")]


def test_the_graph_is_read():
    mods = g.modules()
    assert {"ditgp.theory.spec", "ditgp.numerics.oracle", "ditgp.models.train",
            "ditgp.verify.claims.base", "ditgp.cli.common"} <= set(mods)
    targets = {(i.source, i.target) for i in g.imports()}
    # a relative import inside a function resolves through the package mapping
    assert any(s.startswith("ditgp.numerics.") and t.startswith("ditgp.theory.") for s, t in targets)


def test_imports_only_go_down_the_layers():
    assert g.upward_imports() == []


def test_cli_modules_do_not_import_torch_at_import_time():
    mods = _cli_modules()
    assert len(mods) > 5
    for m in mods:
        assert _torch_at_import(m) == [], m


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the package source to plant imports in."""
    shutil.copy(g.ROOT / "pyproject.toml", tmp_path)
    for layer in ("theory", "numerics", "models", "verify", "ditgp"):
        shutil.copytree(g.ROOT / layer, tmp_path / layer,
                        ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def _append(path: Path, text: str) -> None:
    path.write_text(path.read_text() + "\n" + text + "\n")


def test_a_planted_upward_import_inside_a_function_fails(tree: Path):
    assert g.upward_imports(tree) == []
    _append(tree / "theory" / "spec.py",
            "def _planted():\n    from ditgp.cli.common import emit_json\n    return emit_json\n")
    bad = g.upward_imports(tree)
    assert len(bad) == 1 and "ditgp.theory.spec imports ditgp.cli.common" in bad[0]


def test_a_planted_relative_upward_import_fails(tree: Path):
    _append(tree / "numerics" / "oracle.py", "from ..verify import tolerances  # noqa")
    bad = g.upward_imports(tree)
    assert len(bad) == 1 and "ditgp.numerics.oracle imports ditgp.verify" in bad[0]


def test_the_root_package_only_for_its_version(tree: Path):
    _append(tree / "models" / "ema.py", "def _planted():\n    import ditgp\n    return ditgp.construct\n")
    assert any("ditgp.models.ema imports ditgp" in b for b in g.upward_imports(tree))


def test_a_planted_torch_import_in_the_cli_path_fails(tree: Path):
    assert _torch_at_import("ditgp.cli.construct", tree) == []
    # torch reached through a module the command imports at module level
    _append(tree / "ditgp" / "cli" / "common.py", "import ditgp.numerics.oracle  # noqa")
    bad = _torch_at_import("ditgp.cli.construct", tree)
    assert bad and "ditgp.cli.common" in bad[0]


# -- cycles ----------------------------------------------------------------------------------
def test_no_import_cycle():
    """No cycle in the graph of every import, at module level or inside a function: an import
    moved into a function to dodge a cycle closes the cycle here all the same."""
    assert g.cycles() == []


@pytest.mark.parametrize("where, planted, closed", [
    pytest.param("numerics/oracle.py", "from .bundle import load_bundle as x",
                 {"ditgp.numerics.oracle", "ditgp.numerics.bundle"}, id="numerics"),
    # the kernel algebra and the experiment runner, each once a cycle
    pytest.param("theory/kernels/base.py", "from ditgp.theory.kernels.composite import SumKernel as x",
                 {"ditgp.theory.kernels.base", "ditgp.theory.kernels.composite"}, id="kernels"),
    pytest.param("verify/reproduce/base.py", "from . import run_all as x",
                 {"ditgp.verify.reproduce", "ditgp.verify.reproduce.base"}, id="reproduce"),
])
def test_a_planted_cycle_through_a_function_level_import_fails(tree: Path, where, planted, closed):
    assert g.cycles(tree) == []
    _append(tree / where, f"def _planted():\n    {planted}\n    return x\n")
    found = g.cycles(tree)
    assert len(found) == 1 and closed <= set(found[0]), found


# -- private names ---------------------------------------------------------------------------
def test_no_underscore_name_is_imported_across_modules():
    """A name one module of the package takes from another is public: ``from X import _name``
    and ``X._name`` through an imported module are refused (tests may reach private names)."""
    assert g.private_imports() == []


def test_a_planted_private_import_fails(tree: Path):
    assert g.private_imports(tree) == []
    _append(tree / "numerics" / "oracle.py",
            "def _planted():\n    from ditgp.theory.spec import _private\n    return _private\n")
    _append(tree / "verify" / "report.py",
            "def _planted():\n    from ditgp.numerics import bundle\n    return bundle._secret\n")
    bad = g.private_imports(tree)
    assert len(bad) == 2, bad
    assert "from ditgp.theory.spec import _private" in bad[0] and bad[0].startswith("numerics/oracle.py:")
    assert "ditgp.numerics.bundle._secret" in bad[1] and bad[1].startswith("verify/report.py:")
