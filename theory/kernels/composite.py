"""Composite kernels: positive sums, Schur products and positive scalings of kernels.

* ``SumKernel``      ``γ(m) = Σ_i γ_i(m)``      (``k1 + k2``; nested sums are flattened)
* ``ProductKernel``  ``γ(m) = Π_i γ_i(m)``      (``k1 * k2``; nested products flattened)
* ``ScaledKernel``   ``γ(m) = s·γ_base(m)``, ``s > 0``   (``0.5 * k``)

All are positive definite when their parts are (Schur: sums with positive weights and
entrywise products of PD matrices are PD), so their certificate is ``"schur"``.  Decay
class: a sum decays like its slowest term, a product like its fastest factor.  A GP spec
still requires ``γ(0) = 1``: use convex combinations ``0.5*k1 + 0.5*k2``.

Composites have no parameter symbols of their own: :meth:`symbolic` returns ``γ(m)`` with
the parts' values substituted (two parts may share a parameter name).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import sympy as sp
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels.base import (
    Certificate,
    DecayClass,
    Kernel,
    M,
    Param,
    exact_value,
    kernel_from_dict,
)

__all__ = ["SumKernel", "ProductKernel", "ScaledKernel", "composite_from_dict"]


def _check_parts(field: str, parts: Any) -> tuple[Kernel, ...]:
    if not isinstance(parts, tuple | list) or len(parts) < 2 or not all(
        isinstance(p, Kernel) for p in parts
    ):
        shown = [p.describe() if isinstance(p, Kernel) else p for p in parts] if isinstance(
            parts, tuple | list) else parts
        raise SpecError(field, shown, "a sequence of at least two kernels")
    return tuple(parts)


def gamma0(k: Kernel) -> sp.Expr:
    """``γ(0)`` exactly (sympy)."""
    return sp.nsimplify(k.expr().subs(M, 0))


class _Composite(Kernel):
    """Shared behaviour of composite kernels (no parameters of their own)."""

    parameters: ClassVar[tuple[Param, ...]] = ()
    composite: ClassVar[bool] = True

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Kernel:
        return composite_from_dict(data)

    @property
    def params(self) -> dict[str, float]:
        return {}

    def substitutions(self) -> dict[sp.Symbol, sp.Expr]:
        return {}

    def expr(self) -> sp.Expr:
        return self.symbolic()


@dataclass(frozen=True)
class SumKernel(_Composite):
    """``γ(m) = Σ_i γ_i(m)`` — PD as a sum of PD kernels (positive weights via ScaledKernel)."""

    name: ClassVar[str] = "sum"
    terms: tuple[Kernel, ...] = ()

    def _validate(self) -> None:
        object.__setattr__(self, "terms", _check_parts("sum.terms", self.terms))

    @classmethod
    def of(cls, a: Kernel, b: Kernel) -> SumKernel:
        """``a + b``, flattening nested sums."""
        parts: list[Kernel] = []
        for k in (a, b):
            parts.extend(k.terms if isinstance(k, SumKernel) else (k,))
        return cls(terms=tuple(parts))

    def symbolic(self) -> sp.Expr:
        return sp.Add(*(t.expr() for t in self.terms))

    @property
    def decay_class(self) -> DecayClass:
        return max((t.decay_class for t in self.terms), key=lambda c: c.rank)

    def certificate(self) -> Certificate:
        return Certificate(True, "schur", "sum of certified kernels: "
                           + " + ".join(f"{t.describe()} [{t.certificate().method}]"
                                        for t in self.terms))

    def to_dict(self) -> dict[str, Any]:
        return {"name": "sum", "terms": [t.to_dict() for t in self.terms]}

    def describe(self) -> str:
        return " + ".join(t.describe() for t in self.terms)

    def envelope(self) -> sp.Expr:
        return sp.Add(*(t.envelope() for t in self.terms))

    @property
    def summable(self) -> bool:
        return all(t.summable for t in self.terms)

    @property
    def completely_monotone(self) -> bool:
        return all(t.completely_monotone for t in self.terms)

    def tail_expr(self) -> sp.Expr:
        return sp.Add(*(t.tail_expr() for t in self.terms))

    def partial_sum_expr(self) -> sp.Expr:
        return sp.Add(*(t.partial_sum_expr() for t in self.terms))

    def symbol_expr(self) -> sp.Expr | None:
        parts = [t.symbol_expr() for t in self.terms]
        return None if any(p is None for p in parts) else sp.Add(*parts)


@dataclass(frozen=True)
class ProductKernel(_Composite):
    """``γ(m) = Π_i γ_i(m)`` — PD by the Schur product theorem."""

    name: ClassVar[str] = "product"
    factors: tuple[Kernel, ...] = ()

    def _validate(self) -> None:
        object.__setattr__(self, "factors", _check_parts("product.factors", self.factors))

    @classmethod
    def of(cls, a: Kernel, b: Kernel) -> ProductKernel:
        """``a * b``, flattening nested products."""
        parts: list[Kernel] = []
        for k in (a, b):
            parts.extend(k.factors if isinstance(k, ProductKernel) else (k,))
        return cls(factors=tuple(parts))

    def symbolic(self) -> sp.Expr:
        return sp.Mul(*(f.expr() for f in self.factors))

    @property
    def decay_class(self) -> DecayClass:
        return min((f.decay_class for f in self.factors), key=lambda c: c.rank)

    def certificate(self) -> Certificate:
        return Certificate(True, "schur", "Schur product of certified kernels: "
                           + " × ".join(f"{f.describe()} [{f.certificate().method}]"
                                        for f in self.factors))

    def to_dict(self) -> dict[str, Any]:
        return {"name": "product", "factors": [f.to_dict() for f in self.factors]}

    def describe(self) -> str:
        return " * ".join(f"({f.describe()})" if isinstance(f, SumKernel) else f.describe()
                          for f in self.factors)

    def envelope(self) -> sp.Expr:
        return sp.Mul(*(f.envelope() for f in self.factors))

    @property
    def summable(self) -> bool:
        return any(f.summable for f in self.factors)

    @property
    def completely_monotone(self) -> bool:
        return all(f.completely_monotone for f in self.factors)

    def _others(self, i: int) -> sp.Expr:
        return sp.Mul(*(gamma0(f) for j, f in enumerate(self.factors) if j != i))

    def tail_expr(self) -> sp.Expr:
        # |Π γ_i(m)| ≤ |γ_i(m)| Π_{j≠i} γ_j(0) since |γ_j(m)| ≤ γ_j(0) for PD kernels.
        return sp.Min(*(self._others(i) * f.tail_expr() for i, f in enumerate(self.factors)))

    def partial_sum_expr(self) -> sp.Expr:
        return sp.Min(*(self._others(i) * f.partial_sum_expr()
                        for i, f in enumerate(self.factors)))


@dataclass(frozen=True)
class ScaledKernel(_Composite):
    """``γ(m) = s·γ_base(m)`` with ``s > 0`` — PD as a positive multiple of a PD kernel."""

    name: ClassVar[str] = "scaled"
    base: Kernel | None = None
    scale: float = 1.0

    def _validate(self) -> None:
        if not isinstance(self.base, Kernel):
            raise SpecError("scaled.kernel", self.base, "a kernel")
        s = self.scale
        if isinstance(s, bool) or not isinstance(s, int | float) or not 0 < float(s) < float("inf"):
            raise SpecError("scaled.scale", s, "a finite number > 0")
        object.__setattr__(self, "scale", float(s))

    def _s(self) -> sp.Expr:
        return exact_value(self.scale)

    def symbolic(self) -> sp.Expr:
        return self._s() * self.base.expr()

    @property
    def decay_class(self) -> DecayClass:
        return self.base.decay_class

    def certificate(self) -> Certificate:
        cert = self.base.certificate()
        return Certificate(True, "schur",
                           f"positive multiple {self.scale:g} of {self.base.describe()} "
                           f"[{cert.method}]")

    def to_dict(self) -> dict[str, Any]:
        return {"name": "scaled", "scale": self.scale, "kernel": self.base.to_dict()}

    def describe(self) -> str:
        inner = self.base.describe()
        if isinstance(self.base, SumKernel | ProductKernel):
            inner = f"({inner})"
        return f"{self.scale:g}*{inner}"

    def envelope(self) -> sp.Expr:
        return self._s() * self.base.envelope()

    @property
    def summable(self) -> bool:
        return self.base.summable

    @property
    def completely_monotone(self) -> bool:
        return self.base.completely_monotone

    def tail_expr(self) -> sp.Expr:
        return self._s() * self.base.tail_expr()

    def partial_sum_expr(self) -> sp.Expr:
        return self._s() * self.base.partial_sum_expr()

    def symbol_expr(self) -> sp.Expr | None:
        inner = self.base.symbol_expr()
        return None if inner is None else self._s() * inner


_COMPOSITE_KEYS = {"sum": {"name", "terms"}, "product": {"name", "factors"},
                   "scaled": {"name", "scale", "kernel"}}


def composite_from_dict(data: dict[str, Any]) -> Kernel:
    """Inverse of ``to_dict`` for ``"sum"``, ``"product"`` and ``"scaled"`` kernels (the
    parts are read with :func:`~ditgp.theory.kernels.base.kernel_from_dict`)."""
    name = data.get("name")
    if name not in _COMPOSITE_KEYS:
        raise SpecError("kernel", name, "one of sum, product, scaled")
    for key in data:
        if key not in _COMPOSITE_KEYS[name]:
            raise SpecError(f"{name}.{key}", data[key],
                            "one of " + ", ".join(sorted(_COMPOSITE_KEYS[name])))
    if name == "scaled":
        if "kernel" not in data or "scale" not in data:
            raise SpecError("scaled", data, "a mapping with 'scale' and 'kernel'")
        return ScaledKernel(base=kernel_from_dict(data["kernel"]), scale=data["scale"])
    key = "terms" if name == "sum" else "factors"
    parts = data.get(key)
    if not isinstance(parts, list | tuple):
        raise SpecError(f"{name}.{key}", parts, "a list of at least two kernels")
    kernels = tuple(kernel_from_dict(p) for p in parts)
    return SumKernel(terms=kernels) if name == "sum" else ProductKernel(factors=kernels)
