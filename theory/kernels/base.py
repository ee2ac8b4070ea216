"""Base class of the temporal-kernel catalogue (docs/theory.md §1).

A kernel is a stationary correlation function ``γ(m)`` of the time gap ``m = |h - j|`` on
the integer lattice, with ``γ(0) = 1``.  Every kernel

* is an immutable value whose parameters are validated when it is built (a bad kernel
  cannot exist): a parameter out of range raises :class:`~ditgp.theory.errors.SpecError`
  naming it, and parameters for which no positive-definiteness certificate holds raise
  :class:`~ditgp.theory.errors.NotPositiveDefiniteError` with the reason;
* has a symbolic form ``γ(m; params)`` (sympy, parameter symbols carry assumptions);
* knows its decay class (exponential / polynomial / logarithmic);
* gives a validity :class:`Certificate` (Bochner, Pólya, complete monotonicity, Schur, or a
  numerical symbol certificate) saying *why* ``Γ_H`` is positive definite for every ``H``;
* evaluates numerically (float64, vectorised) through the bridge.

Kernels compose: ``a * k`` (positive scaling), ``k1 + k2`` and ``k1 * k2``; a GP spec
requires the result to satisfy ``γ(0) = 1`` (e.g. convex combinations of kernels).

Every kernel class that declares a ``name`` registers itself under it when it is defined
(:data:`KERNEL_CLASSES`); the families built from a name and parameters form the catalogue
(:data:`REGISTRY`), in the order their modules are imported (``ditgp.theory.kernels``
imports them in catalogue order).  :func:`kernel` and :func:`kernel_from_dict` read these
registries, and the algebra finds the composite classes there by their JSON names, so this
module names no kernel family.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, fields
from enum import StrEnum
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
import sympy as sp
from ditgp.theory.bridge import to_numeric
from ditgp.theory.errors import NotPositiveDefiniteError, SpecError

__all__ = [
    "M",
    "OMEGA",
    "W",
    "DecayClass",
    "Param",
    "Certificate",
    "SymbolBound",
    "Kernel",
    "KERNEL_CLASSES",
    "REGISTRY",
    "check_params",
    "kernel",
    "kernel_from_dict",
    "kernel_names",
]

#: The time gap ``m = |h - j|`` (a non-negative integer).
M = sp.Symbol("m", integer=True, nonnegative=True)
#: The frequency of the Szegő symbol ``f(ω)``.
OMEGA = sp.Symbol("omega", real=True)
#: A truncation window (largest kept gap), a non-negative integer.
W = sp.Symbol("w", integer=True, nonnegative=True)
#: The number of frames, for bounds that depend on it.
H_SYMBOL = sp.Symbol("H", integer=True, positive=True)


class DecayClass(StrEnum):
    """The paper's three decay regimes of ``|γ(m)|``."""

    EXPONENTIAL = "exponential"
    POLYNOMIAL = "polynomial"
    LOGARITHMIC = "logarithmic"

    @property
    def rank(self) -> int:
        """Faster decay has the smaller rank (exponential 0, polynomial 1, logarithmic 2)."""
        return {"exponential": 0, "polynomial": 1, "logarithmic": 2}[self.value]


@dataclass(frozen=True)
class Param:
    """Declaration of one kernel parameter: its symbol's assumptions and valid range.

    ``low``/``high`` are bounds; ``low_open``/``high_open`` say whether they are excluded.
    ``choices`` restricts the value to a finite set instead.
    """

    name: str
    doc: str
    low: float = -math.inf
    high: float = math.inf
    low_open: bool = True
    high_open: bool = True
    default: float | None = None
    choices: tuple[float, ...] | None = None
    #: Name of the sympy symbol when it must differ from ``name`` (e.g. ``omega_c`` so
    #: that a kernel frequency never collides with the symbol frequency :data:`OMEGA`).
    symbol_name: str | None = None

    @property
    def symbol(self) -> sp.Symbol:
        name = self.symbol_name or self.name
        positive = self.low >= 0 and (self.low > 0 or self.low_open)
        if positive:
            return sp.Symbol(name, positive=True)
        if self.low >= 0:
            return sp.Symbol(name, nonnegative=True)
        return sp.Symbol(name, real=True)

    def expected(self) -> str:
        if self.choices is not None:
            return "one of " + ", ".join(f"{c:g}" for c in self.choices)
        lo = ("(" if self.low_open else "[") + ("-∞" if self.low == -math.inf else f"{self.low:g}")
        hi = ("∞" if self.high == math.inf else f"{self.high:g}") + (")" if self.high_open else "]")
        return f"a number in {lo}, {hi}"

    def check(self, owner: str, value: Any) -> float:
        field = f"{owner}.{self.name}"
        if isinstance(value, bool) or not isinstance(value, int | float | np.floating | np.integer):
            raise SpecError(field, value, self.expected())
        v = float(value)
        if not math.isfinite(v):
            raise SpecError(field, value, self.expected())
        if self.choices is not None:
            if not any(abs(v - c) <= 1e-12 for c in self.choices):
                raise SpecError(field, value, self.expected())
            return v
        below = v < self.low or (self.low_open and v == self.low)
        above = v > self.high or (self.high_open and v == self.high)
        if below or above:
            raise SpecError(field, value, self.expected())
        return v


@dataclass(frozen=True)
class Certificate:
    """Why (or why not) ``Γ_H`` is positive definite for every ``H``.

    ``method`` is one of ``"bochner"`` (non-negative symbol / spectral density),
    ``"polya"`` (convex, decreasing, vanishing at infinity), ``"complete-monotonicity"``
    (a mixture of geometric sequences ``r^m``), ``"schur"`` (products and positive sums of
    certified kernels), ``"numeric-symbol"`` (the symbol's minimum certified positive
    numerically, with its error bound) or ``"none"`` (refused).
    """

    valid: bool
    method: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"valid": self.valid, "method": self.method, "reason": self.reason}


@dataclass(frozen=True)
class SymbolBound:
    """A rigorous one-sided bound on the symbol ``f(ω)`` (hence on every eigenvalue of
    every ``Γ_H``), with the method that proves it and a short note."""

    value: float
    method: str
    note: str


#: Largest denominator for which a parameter value is taken as an exact rational.
EXACT_DENOMINATOR = 10**6


def exact_value(value: float) -> sp.Expr:
    """A parameter value for sympy: the exact rational when the float *is* one with a small
    denominator (``2.5 -> 5/2``, ``0.1 -> 1/10``), else a sympy ``Float`` of the same double.

    An arbitrary double as an exact rational has a denominator near ``2^52``; raising such a
    number to a rational power of the same kind makes sympy compute exact roots of huge
    integers (minutes and gigabytes), so those stay floating point.
    """
    from fractions import Fraction

    frac = Fraction(float(value)).limit_denominator(EXACT_DENOMINATOR)
    if float(frac) == float(value):
        return sp.Rational(frac.numerator, frac.denominator)
    return sp.Float(float(value))


class Kernel(ABC):
    """A stationary temporal kernel ``γ(m)`` on the integer lattice.

    Subclasses are frozen dataclasses whose fields are the parameters; they declare
    ``name`` (the command-line name), ``parameters`` (a tuple of :class:`Param`) and
    implement :meth:`symbolic`, :meth:`decay_class` and :meth:`certificate`.
    """

    name: ClassVar[str] = ""
    parameters: ClassVar[tuple[Param, ...]] = ()
    #: Whether the kernel is built from other kernels (sums, products, scalings) rather than
    #: from a name and parameters; composites are not in the catalogue (:data:`REGISTRY`).
    composite: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Register a subclass that declares its own ``name`` (see :data:`KERNEL_CLASSES`)."""
        super().__init_subclass__(**kwargs)
        name = cls.__dict__.get("name")
        if not name:
            return
        known = KERNEL_CLASSES.get(name)
        if known is not None and (known.__module__, known.__qualname__) != (
                cls.__module__, cls.__qualname__):
            raise TypeError(f"kernel name {name!r} of {cls.__module__}.{cls.__qualname__} is "
                            f"already taken by {known.__module__}.{known.__qualname__}")
        KERNEL_CLASSES[name] = cls
        if not cls.composite:
            REGISTRY[name] = cls

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Kernel:
        """A kernel from its :meth:`to_dict` form; here ``{"name": NAME, "params": {...}}``
        of a catalogue kernel (composites override this).  Use :func:`kernel_from_dict`, which
        picks the class by ``data["name"]``."""
        params = data.get("params", {})
        if not isinstance(params, dict):
            raise SpecError("kernel.params", params, "a mapping of parameter name to number")
        return kernel(data["name"], **params)

    # -- construction and validation -------------------------------------------------
    def __post_init__(self) -> None:
        for p in self.parameters:
            value = p.check(self.name, getattr(self, p.name))
            object.__setattr__(self, p.name, value)
        self._validate()
        cert = self.certificate()
        if not cert.valid:
            raise NotPositiveDefiniteError(
                self.name, self.params, f"parameters with a positive-definiteness certificate "
                f"({cert.reason})"
            )

    def _validate(self) -> None:  # noqa: B027 - optional hook, empty by default
        """Extra cross-parameter checks (override where needed)."""

    # -- identity -------------------------------------------------------------------
    @property
    def params(self) -> dict[str, float]:
        """Parameter values by name."""
        return {f.name: getattr(self, f.name) for f in fields(self)}  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready description; inverse of :func:`ditgp.theory.kernels.kernel_from_dict`."""
        return {"name": self.name, "params": self.params}

    def describe(self) -> str:
        """Short human-readable form, e.g. ``laplace(ell=4)``."""
        inner = ", ".join(f"{k}={v:g}" for k, v in self.params.items())
        return f"{self.name}({inner})"

    # -- symbolic --------------------------------------------------------------------
    @classmethod
    def symbols(cls) -> dict[str, sp.Symbol]:
        """Parameter symbols, with assumptions."""
        return {p.name: p.symbol for p in cls.parameters}

    @abstractmethod
    def symbolic(self) -> sp.Expr:
        """``γ(m; params)`` with parameter *symbols* (free symbols: ``M`` and parameters)."""

    def substitutions(self) -> dict[sp.Symbol, sp.Expr]:
        """Parameter symbol -> value (see :func:`exact_value`)."""
        return {s: exact_value(self.params[n]) for n, s in self.symbols().items()}

    def expr(self) -> sp.Expr:
        """``γ(m)`` with the parameter values substituted (free symbol: ``M`` only)."""
        return self.symbolic().subs(self.substitutions())

    # -- numeric ---------------------------------------------------------------------
    @cached_property
    def _numeric(self):
        return to_numeric(self.expr(), [M])

    def gamma(self, m) -> np.ndarray:
        """``γ(m)`` as float64, vectorised over an array of non-negative gaps."""
        m = np.asarray(m, dtype=np.float64)
        if m.size and (np.any(m < 0) or not np.all(np.isfinite(m))):
            raise SpecError("m", m, "finite non-negative time gaps")
        return self._numeric(m)

    def matrix(self, H: int) -> np.ndarray:
        """The ``H × H`` Toeplitz matrix ``Γ_hj = γ(|h - j|)`` (float64)."""
        if isinstance(H, bool) or not isinstance(H, int | np.integer) or H < 1:
            raise SpecError("H", H, "an integer ≥ 1")
        g = self.gamma(np.arange(H))
        idx = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
        return g[idx]

    # -- theory ----------------------------------------------------------------------
    @property
    @abstractmethod
    def decay_class(self) -> DecayClass:
        """Which of the three decay regimes the kernel belongs to."""

    @abstractmethod
    def certificate(self) -> Certificate:
        """Positive-definiteness certificate on the integer lattice (valid for every H)."""

    # -- hooks for spectral bounds and truncation (theory/spectral.py, truncation.py) ----
    @abstractmethod
    def envelope(self) -> sp.Expr:
        """An upper envelope of ``|γ(m)|`` in ``M`` of the decay-class form (values substituted):
        exponential ``C·exp(-c·m^ν)``, polynomial ``C·(1+m)^(-ν)``, logarithmic
        ``C·(1+log(1+m))^(-ν)``."""

    @property
    def summable(self) -> bool:
        """Whether ``Σ_m |γ(m)| < ∞`` (then all bounds hold uniformly in ``H``)."""
        return True

    @property
    def completely_monotone(self) -> bool:
        """Whether ``γ(m) = ∫_{[0,1)} r^m dμ(r)`` (then ``min f = f(π)``, the Abel sum)."""
        return False

    def tail_expr(self) -> sp.Expr:
        """Upper bound on ``Σ_{m>w} |γ(m)|`` in the symbol :data:`W` (``sympy.oo`` if the
        kernel is not summable)."""
        return sp.oo

    def partial_sum_expr(self) -> sp.Expr:
        """Upper bound on ``Σ_{m=1}^{H-1} |γ(m)|`` in :data:`H_SYMBOL` (for non-summable
        kernels; summable ones return the constant bound ``tail_expr`` at ``w = 0``)."""
        return self.tail_expr().subs(W, 0)

    def symbol_expr(self) -> sp.Expr | None:
        """Closed form of the symbol ``f(ω) = Σ_{m∈Z} γ(|m|) e^{imω}`` in :data:`OMEGA`, or
        ``None`` where none is known."""
        return None

    def symbol_min_bound(self) -> SymbolBound | None:
        """A rigorous lower bound on ``min_ω f(ω)`` specific to this family, or ``None``."""
        return None

    def symbol_max_bound(self) -> SymbolBound | None:
        """A rigorous upper bound on ``max_ω f(ω)`` specific to this family, or ``None``."""
        return None

    def gamma_mp(self, m):
        """``γ(m)`` in mpmath at the current working precision (for certificates)."""
        fn = self.__dict__.get("_mp_fn")
        if fn is None:
            from ditgp.theory.bridge import to_mpmath

            fn = to_mpmath(self.expr(), [M])
            self.__dict__["_mp_fn"] = fn
        import mpmath

        return mpmath.mpf(fn(mpmath.mpf(m)))

    # -- algebra ---------------------------------------------------------------------
    # The composite classes (ditgp.theory.kernels.composite) are found by their JSON names.
    def __add__(self, other: Kernel) -> Kernel:
        if not isinstance(other, Kernel):
            return NotImplemented
        return KERNEL_CLASSES["sum"].of(self, other)

    def __mul__(self, other: Kernel | float) -> Kernel:
        if isinstance(other, Kernel):
            return KERNEL_CLASSES["product"].of(self, other)
        if isinstance(other, int | float) and not isinstance(other, bool):
            return KERNEL_CLASSES["scaled"](base=self, scale=float(other))
        return NotImplemented

    def __rmul__(self, other: float) -> Kernel:
        return self.__mul__(other)


#: Every kernel class by its JSON name (``to_dict()["name"]``), catalogue kernels and
#: composites, in the order the classes are defined; filled by ``Kernel.__init_subclass__``.
KERNEL_CLASSES: dict[str, type[Kernel]] = {}
#: Command-line name -> kernel class of the catalogue (every registered class but the
#: composites), in catalogue order.
REGISTRY: dict[str, type[Kernel]] = {}


def kernel_names() -> list[str]:
    """The command-line names of the catalogue, in registry order."""
    return list(REGISTRY)


def kernel(name: str, **params: Any) -> Kernel:
    """Build a catalogue kernel by its command-line name, validating its parameters."""
    cls = REGISTRY.get(name)
    if cls is None:
        raise SpecError("kernel", name, "one of " + ", ".join(REGISTRY))
    check_params(name, params, cls.parameters)
    return cls(**params)


def kernel_from_dict(data: dict[str, Any]) -> Kernel:
    """Inverse of :meth:`Kernel.to_dict` (catalogue kernels and composites)."""
    if not isinstance(data, dict) or "name" not in data:
        raise SpecError("kernel", data, "a mapping with a 'name' key")
    name = data["name"]
    # an unknown name is read as a catalogue kernel, whose builder refuses it by name
    cls = KERNEL_CLASSES.get(name, Kernel) if isinstance(name, str) else Kernel
    return cls.from_dict(data)


def check_params(owner: str, params: Mapping[str, Any], allowed: tuple[Param, ...]) -> None:
    """Refuse unknown parameter names, naming the allowed ones."""
    names = {p.name for p in allowed}
    for key in params:
        if key not in names:
            raise SpecError(
                f"{owner}.{key}", params[key],
                f"a parameter of {owner}: one of {', '.join(sorted(names)) or '(none)'}",
            )
