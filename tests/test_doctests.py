"""The runnable examples in docstrings run (and stay true)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import ditgp


def _modules() -> list[str]:
    names = ["ditgp"]
    for layer in ("theory", "numerics", "verify"):
        pkg = importlib.import_module(f"ditgp.{layer}")
        names.append(pkg.__name__)
        names += [m.name for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + ".")]
    return sorted(n for n in names if not n.endswith("pytest_plugin"))


MODULES = _modules()


def test_modules_with_examples_are_covered():
    with_examples = {n for n in MODULES if ">>>" in (importlib.import_module(n).__doc__ or "")
                     or any(">>>" in (getattr(v, "__doc__", "") or "")
                            for v in vars(importlib.import_module(n)).values())}
    assert "ditgp.theory.spec" in with_examples and "ditgp" in with_examples


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             extraglobs={"ditgp": ditgp})
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
