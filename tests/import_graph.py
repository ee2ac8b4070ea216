"""The package's import graph, read from the source with ``ast`` and the package mapping.

The layers are installed as subpackages of ``ditgp`` through ``[tool.setuptools.package-dir]``
(``theory/`` is ``ditgp.theory``, ...), which import-linter's graph builder does not follow; this
module rebuilds the graph itself.  Every ``import`` statement counts, at module level or inside
a function; relative imports are resolved against the importing module's package.
"""

from __future__ import annotations

import ast
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

#: layer order: a module may import only from its own layer or a layer before it
LAYERS = ("ditgp.theory", "ditgp.numerics", "ditgp.models", "ditgp.verify", "ditgp")


@dataclass(frozen=True)
class Import:
    source: str       # importing module
    target: str       # imported module (internal: the deepest module named; external: as written)
    line: int
    toplevel: bool    # runs when the source module is imported (not inside a def, not TYPE_CHECKING)
    path: Path

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(self.path.parents[1]).as_posix()}:{self.line}"


def package_dirs(root: Path = ROOT) -> dict[str, Path]:
    """``{package name: folder}`` from pyproject.toml."""
    cfg = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]
    return {pkg: root / folder for pkg, folder in cfg["package-dir"].items()}


def modules(root: Path = ROOT) -> dict[str, Path]:
    """``{module name: file}`` for every module of the installed packages."""
    out: dict[str, Path] = {}
    for pkg, folder in package_dirs(root).items():
        for f in sorted(folder.glob("*.py")):
            out[pkg if f.stem == "__init__" else f"{pkg}.{f.stem}"] = f
    return out


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _walk(tree: ast.AST):
    """``(import node, runs at import time)`` for every import in ``tree``."""
    stack: list[tuple[ast.AST, bool]] = [(tree, True)]
    while stack:
        node, top = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Import | ast.ImportFrom):
                yield child, top
            inner = top
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                inner = False
            elif isinstance(child, ast.If) and _is_type_checking(child):
                inner = False
            stack.append((child, inner))


def from_module(node: ast.ImportFrom, package: str) -> str:
    """The module a ``from … import`` statement in ``package`` reads, relative levels resolved."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def imports(root: Path = ROOT) -> list[Import]:
    """Every import statement of every module, internal targets resolved to module names."""
    mods = modules(root)
    out: list[Import] = []
    for name, path in mods.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        for node, top in _walk(tree):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            else:
                stem = from_module(node, package)
                targets = []
                for a in node.names:
                    sub = f"{stem}.{a.name}"
                    targets.append(sub if sub in mods else stem)
            for t in targets:
                if t.split(".")[0] == "ditgp":
                    while t not in mods and "." in t:  # `import ditgp.x.y` where y is an attribute
                        t = t.rpartition(".")[0]
                out.append(Import(name, t, node.lineno, top, path))
    return out


def layer(module: str) -> int:
    for i, prefix in enumerate(LAYERS):
        if module == prefix or module.startswith(prefix + "."):
            return i
    raise ValueError(module)


def is_internal(module: str) -> bool:
    return module == "ditgp" or module.startswith("ditgp.")


def _uses_only_version(path: Path) -> bool:
    """``import ditgp`` in a lower layer is allowed for ``ditgp.__version__`` alone: the root
    package is the parent of every layer, imported before any of them."""
    tree = ast.parse(path.read_text())
    return all(n.attr == "__version__" for n in ast.walk(tree)
               if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "ditgp")


def upward_imports(root: Path = ROOT) -> list[str]:
    """Imports against the layer direction theory → numerics → models → verify → ditgp."""
    bad = []
    for imp in imports(root):
        if not is_internal(imp.target):
            continue
        if imp.target == "ditgp" and _uses_only_version(imp.path):
            continue
        if layer(imp.target) > layer(imp.source):
            bad.append(f"{imp.where}: {imp.source} imports {imp.target}")
    return bad


def import_time_closure(start: str, root: Path = ROOT) -> dict[str, list[str]]:
    """Modules executed by ``import start`` (with the chain that reaches each), following
    module-level imports and the parent packages every import runs first."""
    by_source: dict[str, list[Import]] = {}
    for imp in imports(root):
        if imp.toplevel:
            by_source.setdefault(imp.source, []).append(imp)
    seen: dict[str, list[str]] = {}
    todo = [(start, [start])]
    while todo:
        mod, chain = todo.pop()
        parts = mod.split(".")
        for k in range(1, len(parts) + 1):
            m = ".".join(parts[:k])
            if m in seen:
                continue
            seen[m] = chain if m == mod else [*chain, f"(package {m})"]
            for imp in by_source.get(m, []):
                todo.append((imp.target, [*seen[m], imp.target]))
    return seen


def cycles(root: Path = ROOT) -> list[list[str]]:
    """Strongly connected components (of more than one module) of the internal import graph,
    every import counted, at module level or inside a function."""
    graph: dict[str, set[str]] = {}
    for imp in imports(root):
        if not is_internal(imp.target) or imp.target == imp.source:
            continue
        graph.setdefault(imp.source, set()).add(imp.target)
        # importing a.b.c runs the package a.b first: an edge unless the importer lives in a.b
        parts = imp.target.split(".")
        for k in range(2, len(parts)):
            pkg = ".".join(parts[:k])
            if not imp.source.startswith(pkg + "."):
                graph[imp.source].add(pkg)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []
    counter = [0]

    def visit(v: str) -> None:  # Tarjan
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def private_imports(root: Path = ROOT) -> list[str]:
    """Underscore names one module of the package takes from another: ``from X import _name``,
    and ``X._name`` read through a module bound by ``import X`` or ``from P import X``.
    Dunder names (``__version__``) are public; a module's own names do not count."""
    mods = modules(root)
    bad: list[str] = []

    def private(name: str) -> bool:
        return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))

    for name, path in mods.items():
        package = name if path.stem == "__init__" else name.rpartition(".")[0]
        tree = ast.parse(path.read_text(), filename=str(path))
        rel = path.relative_to(root).as_posix()
        bound: dict[str, str] = {}  # local name → internal module it is bound to
        for node, _top in _walk(tree):
            if isinstance(node, ast.Import):
                for a in node.names:
                    if is_internal(a.name):
                        if a.asname:
                            bound[a.asname] = a.name
                        if any(private(p) for p in a.name.split(".")):
                            bad.append(f"{rel}:{node.lineno}: import {a.name}")
                continue
            stem = from_module(node, package)
            if not is_internal(stem):
                continue
            for a in node.names:
                sub = f"{stem}.{a.name}"
                if sub in mods:
                    bound[a.asname or a.name] = sub
                if stem != name and private(a.name):
                    bad.append(f"{rel}:{node.lineno}: from {stem} import {a.name}")
        for node in ast.walk(tree):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                    and node.value.id in bound and bound[node.value.id] != name
                    and private(node.attr)):
                bad.append(f"{rel}:{node.lineno}: {bound[node.value.id]}.{node.attr}")
    return sorted(set(bad))
