"""Hypothesis strategies for Gaussian-process sequence data: a public product.

Use them in your own property tests::

    from hypothesis import given
    from ditgp.verify import strategies as ds

    @given(ds.gp_specs(max_H=16, max_d=3))
    def test_my_estimator(spec):
        ...

Every strategy validates its arguments *before* drawing anything and names the culprit
(``hypothesis.errors.InvalidArgument``, e.g. ``"max_condition=0.5 must be ≥ 1"``).  Sizes
are bounded by default so that a draw stays cheap (``H ≤ 16``, ``d ≤ 3``); dependent draws
(``H`` after the kernel, ``t`` after the schedule) are made in that order, so shrinking
first simplifies the kernel, then the sizes, then the time.

Reusable strategies are module constants (``GP_SPECS``, ``KERNELS``, ``SPD_MATRICES``, ...).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np
from ditgp.theory.choices import ALGORITHMS, ATTENTION_REALISATIONS, TIME_CONDITIONINGS
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import REGISTRY, DecayClass, Kernel, Param, kernel
from ditgp.theory.spec import SPATIAL_KINDS, GPSpec, Schedule, Spatial
from hypothesis import assume, reject
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument

__all__ = [
    "ATTENTION_REALISATIONS",
    "ALGORITHMS",
    "TIME_CONDITIONINGS",
    "PARAM_RANGES",
    "PARAM_GRID",
    "FAMILY_RANGES",
    "LIMITS",
    "ConstructionRequest",
    "spd_matrices",
    "spatial_covariances",
    "kernel_params",
    "kernels",
    "composite_kernels",
    "SIGMA_SIDES",
    "schedules",
    "gp_specs",
    "times",
    "constructions",
    "SPD_MATRICES",
    "SPATIAL_COVARIANCES",
    "KERNELS",
    "EXPONENTIAL_KERNELS",
    "POLYNOMIAL_KERNELS",
    "LOGARITHMIC_KERNELS",
    "GP_SPECS",
    "SMALL_GP_SPECS",
    "CONSTRUCTIONS",
]


#: Hard caps on sizes a strategy may be asked for (a draw must stay cheap to check).
LIMITS = {"H": 1024, "d": 64, "max_condition": 1e8}

#: Bounded sub-ranges drawn for kernel parameters, by parameter name; each is intersected
#: with the kernel's own ``Param`` declaration.  Length-scales stay within a few frames so
#: that ``Γ_H`` is resolvable in float64 (docs/theory.md §4, "smooth kernels are nearly
#: singular"); pass ``params=`` to :func:`kernels` to draw elsewhere.
PARAM_RANGES: dict[str, tuple[float, float]] = {
    "ell": (0.5, 6.0),
    "nu": (0.25, 4.0),
    "omega": (0.0, math.pi),
    "alpha": (0.25, 4.0),
}
#: Drawn parameters are multiples of ``1/PARAM_GRID``: the symbolic layer turns every parameter
#: into an exact rational, and a float like ``3.3447042463264913`` becomes a rational with a
#: 16-digit denominator that makes symbolic sums and certificates very slow.  A ``(low, high)``
#: override keeps the grid; a strategy override draws whatever it draws.
PARAM_GRID = 16

#: Per-family tightening (family -> name -> range), intersected after ``PARAM_RANGES``.
FAMILY_RANGES: dict[str, dict[str, tuple[float, float]]] = {
    "squared-exponential": {"ell": (0.5, 2.0)},
    "matern52": {"ell": (0.5, 4.0)},
}


def _check_int(name: str, value: Any, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidArgument(f"{name}={value!r} must be an integer")
    if value < low:
        raise InvalidArgument(f"{name}={value} must be ≥ {low}")
    if high is not None and value > high:
        raise InvalidArgument(f"{name}={value} must be ≤ {high}")
    return int(value)


def _check_float(name: str, value: Any, low: float, high: float = math.inf) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InvalidArgument(f"{name}={value!r} must be a number")
    v = float(value)
    if not math.isfinite(v) or v < low or v > high:
        hi = "" if high == math.inf else f" and ≤ {high:g}"
        raise InvalidArgument(f"{name}={value!r} must be ≥ {low:g}{hi}")
    return v


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> tuple[str, ...]:
    """``None`` -> all choices; a string or a sequence of strings -> validated tuple."""
    if value is None:
        return choices
    values = (value,) if isinstance(value, str) else tuple(value)
    if not values:
        raise InvalidArgument(f"{name}={value!r} must name at least one of {', '.join(choices)}")
    for v in values:
        if v not in choices:
            raise InvalidArgument(f"{name}={v!r} not one of {', '.join(choices)}")
    return values


# -- matrices ---------------------------------------------
def _orthogonal(seed: int, d: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


@st.composite
def _spd(draw, d: int, max_condition: float, scale: tuple[float, float]) -> np.ndarray:
    log_kappa = draw(st.floats(0.0, math.log(max_condition)))
    inner = draw(st.lists(st.floats(0.0, 1.0), min_size=max(d - 2, 0), max_size=max(d - 2, 0)))
    # eigenvalues exp(-u·log κ) with u = 0 and u = 1 at the ends: cond = κ ≤ max_condition
    u = np.array([0.0, *sorted(inner), 1.0][:d]) if d > 1 else np.zeros(1)
    mu = np.exp(-u * log_kappa)
    mu *= draw(st.floats(*scale)) / mu.max()
    q = _orthogonal(draw(st.integers(0, 2**32 - 1)), d)
    mat = (q * mu) @ q.T
    return 0.5 * (mat + mat.T)


def spd_matrices(
    d: int, max_condition: float = 100.0, *, scale: tuple[float, float] = (0.5, 2.0)
) -> st.SearchStrategy[np.ndarray]:
    """Symmetric positive definite ``d × d`` float64 matrices with condition number at most
    ``max_condition`` (a seeded random rotation of log-spaced eigenvalues whose largest
    lies in ``scale``).  Shrinks towards a multiple of the identity.

    >>> from hypothesis import find
    >>> m = find(spd_matrices(3, 10.0), lambda m: m[0, 1] != 0)
    >>> bool(np.linalg.cond(m) <= 10.0 * (1 + 1e-9))
    True
    """
    d = _check_int("d", d, 1, LIMITS["d"])
    max_condition = _check_float("max_condition", max_condition, 1.0, LIMITS["max_condition"])
    lo, hi = (_check_float("scale", s, 1e-12) for s in scale)
    if lo > hi:
        raise InvalidArgument(f"scale={scale!r} must have low ≤ high")
    return _spd(d, max_condition, (lo, hi))


#: Where the spectrum of ``Σ`` lies relative to 1, for :func:`gp_specs` (``sigma_side=``):
#: eigenvalue ranges of an explicit ``Σ``.  ``below``/``above`` exercise code that assumes
#: ``μ_min ≤ 1 ≤ μ_max`` (e.g. extremes of ``A_t`` over ``t``: with every ``μ < 1`` the worst
#: time is ``T``, not ``t0``).  ``above`` stops at 2.5, the largest eigenvalue the default
#: draws reach (``κ_t ∝ μ_max/σ_t0²``: a larger ``Σ`` makes GD constructions much deeper).
SIGMA_SIDES: dict[str, tuple[float, float]] = {
    "below": (0.05, 0.9),
    "above": (1.1, 2.5),
}


@st.composite
def _spd_in(draw, d: int, lo: float, hi: float) -> np.ndarray:
    mu = np.array(sorted(draw(st.lists(st.floats(lo, hi), min_size=d, max_size=d))))
    q = _orthogonal(draw(st.integers(0, 2**32 - 1)), d)
    mat = (q * mu) @ q.T
    return 0.5 * (mat + mat.T)


@st.composite
def _spatial_side(draw, d: int, side: str) -> Spatial:
    lo, hi = SIGMA_SIDES[side]
    mat = draw(_spd_in(d, lo, hi))
    return Spatial("explicit", matrix=tuple(tuple(float(v) for v in row) for row in mat))


@st.composite
def _spatial(draw, d: int | None, max_condition: float, kinds: tuple[str, ...]) -> Spatial:
    kind = draw(st.sampled_from(kinds))
    if kind == "identity":
        return Spatial("identity")
    if kind == "ar":
        # eigenvalues of Σ_AR lie in [(1-|ρ|)/(1+|ρ|), (1+|ρ|)/(1-|ρ|)] for every d, so
        # cond ≤ ((1+|ρ|)/(1-|ρ|))²: keep it ≤ max_condition
        q = math.sqrt(max_condition)
        r = (q - 1.0) / (q + 1.0)
        return Spatial("ar", rho=draw(st.floats(-r, r)) if r > 0 else 0.0)
    if kind == "random":
        return Spatial(
            "random",
            kappa=draw(st.floats(1.0, max_condition)),
            seed=draw(st.integers(0, 2**31 - 1)),
        )
    mat = draw(spd_matrices(d, max_condition))
    return Spatial("explicit", matrix=tuple(tuple(float(v) for v in row) for row in mat))


def spatial_covariances(
    d: int | None = None, max_condition: float = 10.0, *, kinds: Any = None
) -> st.SearchStrategy[Spatial]:
    """:class:`~ditgp.theory.spec.Spatial` values (``identity``, ``ar``, ``random``, and
    ``explicit`` when ``d`` is given) with ``cond(Σ) ≤ max_condition`` for every ``d``."""
    if d is not None:
        d = _check_int("d", d, 1, LIMITS["d"])
    max_condition = _check_float("max_condition", max_condition, 1.0, LIMITS["max_condition"])
    kinds = _check_choice("kinds", kinds, SPATIAL_KINDS)
    if d is None:
        if kinds == ("explicit",):
            raise InvalidArgument("kinds=('explicit',) needs d (the matrix size)")
        kinds = tuple(k for k in kinds if k != "explicit")
    return _spatial(d, max_condition, kinds)


# -- kernels ---------------------------------------------
def _param_strategy(family: str, p: Param, override: Any) -> st.SearchStrategy[float]:
    if override is not None:
        if isinstance(override, st.SearchStrategy):
            return override
        lo, hi = override
    elif p.choices is not None:
        return st.sampled_from(p.choices)
    else:
        lo, hi = PARAM_RANGES.get(p.name, (-10.0, 10.0))
        lo, hi = FAMILY_RANGES.get(family, {}).get(p.name, (lo, hi))
    lo_c, hi_c = max(lo, p.low), min(hi, p.high)
    if not lo_c < hi_c:  # no overlap with the default range: a bounded slice of the declaration
        lo_c = p.low if math.isfinite(p.low) else p.high - 10.0
        hi_c = p.high if math.isfinite(p.high) else lo_c + max(abs(lo_c), 1.0) * 4
    # multiples of 1/PARAM_GRID: exact rationals with small denominators for the symbolic layer
    i_lo = math.ceil(lo_c * PARAM_GRID)
    i_hi = math.floor(hi_c * PARAM_GRID)
    if p.low_open and i_lo / PARAM_GRID <= p.low:
        i_lo += 1
    if p.high_open and i_hi / PARAM_GRID >= p.high:
        i_hi -= 1
    if i_lo > i_hi:
        raise InvalidArgument(f"{family}.{p.name}: range [{lo_c:g}, {hi_c:g}] holds no multiple "
                              f"of 1/{PARAM_GRID}")
    return st.integers(i_lo, i_hi).map(lambda i: i / PARAM_GRID)


def kernel_params(family: str, params: Mapping[str, Any] | None = None) -> st.SearchStrategy:
    """Parameter dicts for a catalogue ``family`` drawn from its ``Param`` declarations
    (bounded sub-ranges, see :data:`PARAM_RANGES`).  ``params`` overrides a parameter with a
    ``(low, high)`` pair or a strategy."""
    cls = _family_class(family)
    params = dict(params or {})
    names = {p.name for p in cls.parameters}
    for key in params:
        if key not in names:
            raise InvalidArgument(
                f"params[{key!r}] is not a parameter of {family}: one of {', '.join(sorted(names))}"
            )
    return st.fixed_dictionaries(
        {p.name: _param_strategy(family, p, params.get(p.name)) for p in cls.parameters}
    )


def _family_class(family: str) -> type[Kernel]:
    if not isinstance(family, str) or family not in REGISTRY:
        raise InvalidArgument(f"family={family!r} not one of {', '.join(REGISTRY)}")
    return REGISTRY[family]


@cache
def _family_decay(family: str) -> DecayClass | None:
    """Decay class of a family, from an instance with default parameters (None if refused)."""
    cls = REGISTRY[family]
    defaults = {p.name: p.default for p in cls.parameters if p.default is not None}
    try:
        return kernel(family, **defaults).decay_class
    except (SpecError, TypeError):
        return None


@st.composite
def _kernel(draw, families: tuple[str, ...], params: Mapping[str, Any], decay: DecayClass | None):
    family = draw(st.sampled_from(families))
    values = draw(kernel_params(family, params if len(families) == 1 else None))
    try:
        k = kernel(family, **values)
    except SpecError:  # refused by the kernel's certificate (or a cross-parameter check)
        reject()
    if decay is not None:
        assume(k.decay_class == decay)
    return k


def kernels(
    family: str | None = None,
    decay_class: str | DecayClass | None = None,
    *,
    params: Mapping[str, Any] | None = None,
) -> st.SearchStrategy[Kernel]:
    """Valid catalogue kernels, optionally of one ``family`` (a command-line name, e.g.
    ``"laplace"``) or one ``decay_class`` (``"exponential"``, ``"polynomial"``,
    ``"logarithmic"``).  Parameters come from each class's ``Param`` declarations; a draw
    the kernel's certificate refuses is rejected (never returned).

    >>> from hypothesis import find
    >>> k = find(kernels(decay_class="polynomial"), lambda k: True)
    >>> k.decay_class.value
    'polynomial'
    """
    if decay_class is not None:
        try:
            decay = DecayClass(decay_class)
        except ValueError:
            raise InvalidArgument(
                f"decay_class={decay_class!r} not one of "
                + ", ".join(c.value for c in DecayClass)
            ) from None
    else:
        decay = None
    if family is not None:
        _family_class(family)
        families: tuple[str, ...] = (family,)
        if decay is not None and _family_decay(family) not in (None, decay):
            raise InvalidArgument(
                f"family={family!r} has decay class {_family_decay(family).value}, "
                f"not decay_class={decay.value!r}"
            )
    else:
        if params:
            raise InvalidArgument("params= needs family= (parameter names differ by family)")
        families = tuple(f for f in REGISTRY if decay is None or _family_decay(f) in (None, decay))
        if not families:
            raise InvalidArgument(f"decay_class={decay.value!r}: no kernel family of this class")
    if params is not None:
        kernel_params(families[0], params)  # validate names now
    return _kernel(families, dict(params or {}), decay)


_kernels = kernels  # gp_specs() takes an argument named `kernels`


@st.composite
def _composite(draw, correlation: bool, decay: DecayClass | None, depth: int):
    a = draw(_part(correlation, depth))
    b = draw(_part(correlation, depth))
    how = draw(st.sampled_from(("sum", "product") if correlation else ("sum", "product", "scale")))
    if how == "sum":
        w = draw(st.integers(1, PARAM_GRID - 1)) / PARAM_GRID  # convex weights keep γ(0) = 1
        k = w * a + (1.0 - w) * b if correlation else a + b
    elif how == "product":
        k = a * b
    else:
        k = draw(st.integers(1, 4 * PARAM_GRID)) / PARAM_GRID * a
    if decay is not None:
        assume(k.decay_class == decay)
    return k


def _part(correlation: bool, depth: int) -> st.SearchStrategy[Kernel]:
    parts = kernels()
    if depth > 1:
        return st.one_of(parts, _composite(correlation, None, depth - 1))
    return parts


def composite_kernels(
    decay_class: str | DecayClass | None = None, *, correlation: bool = True, depth: int = 1,
) -> st.SearchStrategy[Kernel]:
    """Composite kernels (:mod:`ditgp.theory.kernels.composite`) of catalogue kernels drawn by
    :func:`kernels`: convex sums ``w·k₁ + (1-w)·k₂``, Schur products ``k₁·k₂`` — parts of
    any decay classes, so mixed classes are drawn — and, when ``correlation=False``, plain sums
    and positive scalings ``s·k`` (``γ(0) ≠ 1``: kernels for spectral and truncation claims,
    not for a :class:`~ditgp.theory.spec.GPSpec`).  ``depth`` nests composites
    (``depth=2``: parts may themselves be composite).

    >>> from hypothesis import find
    >>> k = find(composite_kernels(correlation=False), lambda k: float(k.gamma(0)) != 1.0)
    >>> float(k.gamma(0)) > 0
    True
    """
    if decay_class is not None:
        try:
            decay: DecayClass | None = DecayClass(decay_class)
        except ValueError:
            raise InvalidArgument(
                f"decay_class={decay_class!r} not one of " + ", ".join(c.value for c in DecayClass)
            ) from None
    else:
        decay = None
    depth = _check_int("depth", depth, 1, 3)
    if not isinstance(correlation, bool):
        raise InvalidArgument(f"correlation={correlation!r} must be True or False")
    return _composite(correlation, decay, depth)


# -- specs and times ---------------------------------------------
@st.composite
def _log_uniform(draw, lo: float, hi: float) -> float:
    u = draw(st.floats(0.0, 1.0))
    return float(min(max(lo * (hi / lo) ** u, lo), hi))


def schedules(
    t0: tuple[float, float] = (1e-3, 1e-3), T: tuple[float, float] = (10.0, 10.0)
) -> st.SearchStrategy[Schedule]:
    """Forward-process schedules with ``t0`` and ``T`` drawn log-uniformly from the given
    ranges (a pair with equal ends fixes the value; the default is ``Schedule()``)."""
    t0_lo, t0_hi = (_check_float("t0", v, 1e-12) for v in t0)
    T_lo, T_hi = (_check_float("T", v, 1e-12) for v in T)
    if t0_lo > t0_hi or T_lo > T_hi:
        raise InvalidArgument(f"t0={t0!r}, T={T!r}: each range must have low ≤ high")
    if T_lo <= t0_hi:
        raise InvalidArgument(f"T={T!r} must lie above t0={t0!r}")
    return st.builds(Schedule, _log_uniform(t0_lo, t0_hi), _log_uniform(T_lo, T_hi))


@st.composite
def _gp_spec(draw, kernel_st, H: tuple[int, int], d: tuple[int, int], max_condition, spatial,
             schedule_st, sides: tuple[str, ...] = ("straddle",)) -> GPSpec:
    k = draw(kernel_st)
    n_frames = draw(st.integers(*H))
    dim = draw(st.integers(*d))
    side = draw(st.sampled_from(sides))
    if spatial is not None:
        sp = draw(spatial)
    elif side in SIGMA_SIDES:
        sp = draw(_spatial_side(dim, side))
    else:
        sp = draw(spatial_covariances(dim, max_condition))
    sched = draw(schedule_st)
    try:
        return GPSpec(k, n_frames, dim, sp, sched)
    except SpecError:  # e.g. an explicit Σ of the wrong size from a user strategy
        reject()


def gp_specs(
    *,
    kernels: st.SearchStrategy[Kernel] | None = None,
    family: str | None = None,
    decay_class: str | DecayClass | None = None,
    min_H: int = 1,
    max_H: int = 16,
    min_d: int = 1,
    max_d: int = 3,
    max_condition: float = 10.0,
    spatial: st.SearchStrategy[Spatial] | None = None,
    schedule: st.SearchStrategy[Schedule] | None = None,
    sigma_side: Any = None,
) -> st.SearchStrategy[GPSpec]:
    """Valid :class:`~ditgp.theory.spec.GPSpec` values: a kernel (from ``kernels``, or by
    ``family``/``decay_class``), then ``H ∈ [min_H, max_H]``, ``d ∈ [min_d, max_d]``, a
    spatial covariance with ``cond(Σ) ≤ max_condition`` and a schedule (default
    ``Schedule()``).  Every drawn spec serialises to JSON that ``ditgp derive --spec``
    accepts.

    >>> from hypothesis import find
    >>> spec = find(gp_specs(max_H=8, max_d=2), lambda s: s.H > 1)
    >>> 1 < spec.H <= 8 and 1 <= spec.d <= 2
    True
    """
    if kernels is not None and (family is not None or decay_class is not None):
        raise InvalidArgument("kernels= cannot be combined with family= or decay_class=")
    if kernels is not None and not isinstance(kernels, st.SearchStrategy):
        raise InvalidArgument(f"kernels={kernels!r} must be a hypothesis strategy")
    min_H = _check_int("min_H", min_H, 1, LIMITS["H"])
    max_H = _check_int("max_H", max_H, 1, LIMITS["H"])
    min_d = _check_int("min_d", min_d, 1, LIMITS["d"])
    max_d = _check_int("max_d", max_d, 1, LIMITS["d"])
    if min_H > max_H:
        raise InvalidArgument(f"min_H={min_H} must be ≤ max_H={max_H}")
    if min_d > max_d:
        raise InvalidArgument(f"min_d={min_d} must be ≤ max_d={max_d}")
    max_condition = _check_float("max_condition", max_condition, 1.0, LIMITS["max_condition"])
    for name, value in (("spatial", spatial), ("schedule", schedule)):
        if value is not None and not isinstance(value, st.SearchStrategy):
            raise InvalidArgument(f"{name}={value!r} must be a hypothesis strategy")
    sides = _check_choice("sigma_side", sigma_side, ("straddle", *SIGMA_SIDES))
    if sigma_side is not None and spatial is not None:
        raise InvalidArgument("sigma_side= cannot be combined with spatial=")
    if sigma_side is None:
        sides = ("straddle",)
    kernel_st = kernels if kernels is not None else _kernels(family, decay_class)
    return _gp_spec(kernel_st, (min_H, max_H), (min_d, max_d), max_condition, spatial,
                    schedule if schedule is not None else st.just(Schedule()), sides)


def _schedule_of(spec: Any) -> Schedule:
    if isinstance(spec, GPSpec):
        return spec.schedule
    if isinstance(spec, Schedule):
        return spec
    raise InvalidArgument(f"spec={spec!r} must be a GPSpec or a Schedule")


def times(spec: GPSpec | Schedule, *, min_t: float | None = None,
          max_t: float | None = None) -> st.SearchStrategy[float]:
    """Diffusion times in ``[t0, T]`` of the spec's schedule (optionally narrowed to
    ``[min_t, max_t]``), log-uniform so small times — the hard ones, where ``κ_t`` peaks —
    are drawn as often as large ones; both ends are drawn explicitly too."""
    sched = _schedule_of(spec)
    lo = sched.t0 if min_t is None else _check_float("min_t", min_t, sched.t0, sched.T)
    hi = sched.T if max_t is None else _check_float("max_t", max_t, sched.t0, sched.T)
    if lo > hi:
        raise InvalidArgument(f"min_t={lo:g} must be ≤ max_t={hi:g}")
    return st.one_of(st.sampled_from((lo, hi)), _log_uniform(lo, hi))


# -- constructions ---------------------------------------------
@dataclass(frozen=True)
class ConstructionRequest:
    """What to build: a spec, a time, a target accuracy and the construction choices of
    docs/theory.md §8.  :meth:`build` hands it to :func:`ditgp.numerics.construct`."""

    spec: GPSpec
    t: float
    eps: float
    attention: str = "paper"
    algorithm: str = "gd"
    time_conditioning: str = "fixed"

    def kwargs(self) -> dict[str, Any]:
        return {
            "t": self.t,
            "eps": self.eps,
            "attention": self.attention,
            "algorithm": self.algorithm,
            "time_conditioning": self.time_conditioning,
        }

    def build(self):
        from ditgp.numerics import construct

        return construct(self.spec, **self.kwargs())

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), **self.kwargs()}


@st.composite
def _construction(draw, specs, eps: tuple[float, float], attention, algorithm, time_cond):
    spec = draw(specs)
    return ConstructionRequest(
        spec=spec,
        t=draw(times(spec)),
        eps=draw(_log_uniform(*eps)),
        attention=draw(st.sampled_from(attention)),
        algorithm=draw(st.sampled_from(algorithm)),
        time_conditioning=draw(st.sampled_from(time_cond)),
    )


def constructions(
    specs: st.SearchStrategy[GPSpec] | None = None,
    *,
    attention: Any = None,
    algorithm: Any = None,
    time_conditioning: Any = None,
    eps: tuple[float, float] = (1e-8, 1e-2),
) -> st.SearchStrategy[ConstructionRequest]:
    """:class:`ConstructionRequest` values: a spec (default: small exponential-decay specs,
    so the network stays small), a time, a target accuracy log-uniform in ``eps`` and the
    choices (each ``None`` for all, a name, or a sequence of names)."""
    attention = _check_choice("attention", attention, ATTENTION_REALISATIONS)
    algorithm = _check_choice("algorithm", algorithm, ALGORITHMS)
    time_conditioning = _check_choice("time_conditioning", time_conditioning, TIME_CONDITIONINGS)
    lo, hi = (_check_float("eps", e, 1e-15, 1.0) for e in eps)
    if not lo <= hi < 1.0:
        raise InvalidArgument(f"eps={eps!r} must satisfy 0 < low ≤ high < 1")
    if specs is None:
        specs = gp_specs(decay_class="exponential", min_H=2, max_H=8, max_d=2)
    elif not isinstance(specs, st.SearchStrategy):
        raise InvalidArgument(f"specs={specs!r} must be a hypothesis strategy")
    return _construction(specs, (lo, hi), attention, algorithm, time_conditioning)


# -- reusable strategies ---------------------------------------------
#: 3 × 3 SPD matrices with condition ≤ 100.
SPD_MATRICES = spd_matrices(3, 100.0)
#: spatial covariances of any kind except explicit, condition ≤ 10.
SPATIAL_COVARIANCES = spatial_covariances()
#: any catalogue kernel; and by decay class.
#: (Deferred: the catalogue is resolved on first draw, not at import.)
KERNELS = st.deferred(kernels)
EXPONENTIAL_KERNELS = st.deferred(lambda: kernels(decay_class="exponential"))
POLYNOMIAL_KERNELS = st.deferred(lambda: kernels(decay_class="polynomial"))
LOGARITHMIC_KERNELS = st.deferred(lambda: kernels(decay_class="logarithmic"))
#: GP specs with H ≤ 16, d ≤ 3; and tiny ones (H ≤ 8, d ≤ 2) for dense oracles.
GP_SPECS = st.deferred(gp_specs)
SMALL_GP_SPECS = st.deferred(lambda: gp_specs(max_H=8, max_d=2))
#: construction requests on small exponential specs.
CONSTRUCTIONS = st.deferred(constructions)
