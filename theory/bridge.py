"""The one bridge from sympy expressions to numeric functions, and to text/LaTeX.

Every numeric use of a symbolic result goes through :func:`to_numeric` (numpy, float64),
:func:`to_mpmath` (arbitrary precision, for certificates) or, in ``ditgp.numerics``,
through the numpy function applied to tensors.  Keeping the conversion in one place is
what lets tests assert "symbolic equals numeric" once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

import numpy as np
import sympy as sp

__all__ = ["to_numeric", "to_mpmath", "render_text", "render_latex", "evaluate"]


@lru_cache(maxsize=512)
def _lambdify(args: tuple[sp.Symbol, ...], expr: sp.Expr, module: str) -> Callable:
    modules = ["scipy", "numpy"] if module == "numpy" else [module]
    return sp.lambdify(args, expr, modules=modules)


def to_numeric(expr: sp.Expr, args: Sequence[sp.Symbol]) -> Callable[..., np.ndarray]:
    """Turn ``expr`` into a vectorised float64 numpy function of ``args``.

    The result broadcasts over array arguments and always returns a float64 array of
    the broadcast shape (a constant expression is broadcast too).

    >>> import sympy as sp
    >>> m = sp.Symbol("m")
    >>> f = to_numeric(sp.exp(-m / 2), [m])
    >>> round(float(f(2.0)), 6)
    0.367879
    """
    args = tuple(args)
    fn = _lambdify(args, sp.sympify(expr), "numpy")

    def numeric(*values):
        arrays = [np.asarray(v, dtype=np.float64) for v in values]
        with np.errstate(over="ignore", under="ignore"):
            out = np.asarray(fn(*arrays), dtype=np.float64)
        shape = np.broadcast_shapes(*(a.shape for a in arrays)) if arrays else ()
        return np.broadcast_to(out, shape).copy() if out.shape != shape else out

    return numeric


def to_mpmath(expr: sp.Expr, args: Sequence[sp.Symbol]) -> Callable:
    """Turn ``expr`` into an mpmath function (scalar, arbitrary precision)."""
    return _lambdify(tuple(args), sp.sympify(expr), "mpmath")


def evaluate(expr: sp.Expr, **values: float) -> float:
    """Evaluate a scalar expression at symbol values given by symbol name, as a float."""
    expr = sp.sympify(expr)
    subs = {s: values[s.name] for s in expr.free_symbols if s.name in values}
    return float(expr.subs(subs).evalf(30))


def render_text(expr: sp.Expr) -> str:
    """Plain-text rendering (single line)."""
    return sp.sstr(expr)


def render_latex(expr: sp.Expr) -> str:
    """LaTeX rendering."""
    return sp.latex(expr)
