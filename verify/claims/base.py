"""Values every claim shares: :class:`Outcome`, the drawn inputs, :class:`Claim` and
:class:`ClaimResult`, and the helpers the checks of several subjects use."""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ditgp.theory import iterations as tit
from ditgp.theory.kernels import Kernel
from ditgp.theory.spec import GPSpec
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.compare import gp_draws, noised
from hypothesis import HealthCheck
from hypothesis import strategies as st


# -- values ---------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """Both sides of a claim for one input: ``margin ≥ 0`` passes; ``lhs``/``rhs`` are the
    two sides at the worst point; ``detail`` says where that point is."""

    margin: float
    lhs: float
    rhs: float
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TimedDraw:
    """A spec, a diffusion time and a seed for the GP draws."""

    spec: GPSpec
    t: float
    seed: int

    def to_dict(self) -> dict[str, Any]:
        return {"spec": self.spec.to_dict(), "t": self.t, "seed": self.seed}


@dataclass(frozen=True)
class KernelSize:
    """A kernel and a sequence length ``H``."""

    kernel: Kernel
    H: int

    @property
    def spec(self) -> GPSpec:
        return GPSpec(self.kernel, self.H, 1)

    def to_dict(self) -> dict[str, Any]:
        return _kernel_dict(self.kernel, self.H)


@dataclass(frozen=True)
class KernelWindow:
    """A kernel, a sequence length ``H`` and a truncation window ``w < H``."""

    kernel: Kernel
    H: int
    w: int

    @property
    def spec(self) -> GPSpec:
        return GPSpec(self.kernel, self.H, 1)

    def to_dict(self) -> dict[str, Any]:
        return {**_kernel_dict(self.kernel, self.H), "w": self.w}


def _kernel_dict(kernel: Kernel, H: int) -> dict[str, Any]:
    """``{"spec": …}`` (JSON that ``ditgp derive --spec`` accepts) for a correlation kernel,
    else ``{"kernel": …, "H": H}`` (a scaled composite has ``γ(0) ≠ 1``: no GP spec)."""
    from ditgp.theory.errors import SpecError

    try:
        return {"spec": GPSpec(kernel, H, 1).to_dict()}
    except SpecError:
        return {"kernel": kernel.to_dict(), "H": H}


class Inconclusive(Exception):  # noqa: N818 - a verdict, not an error
    """Raised by a check when the drawn input cannot decide the claim (e.g. a spatial test on
    an isotropic ``Σ``, where every rotation leaves the exact blocks unchanged): the claim is
    reported ``inconclusive`` with the reason — neither a pass nor a fail."""


class ClaimViolation(AssertionError):
    """Raised inside the property when a drawn input has a negative margin."""

    def __init__(self, claim_id: str, inp: Any, outcome: Outcome):
        self.claim_id, self.input, self.outcome = claim_id, inp, outcome
        super().__init__(f"{claim_id}: margin {outcome.margin:.3g} < 0 "
                         f"(lhs={outcome.lhs:.6g}, rhs={outcome.rhs:.6g}, {outcome.detail})")


@dataclass(frozen=True)
class Claim:
    """One statement of the theory with its check and its input strategy."""

    id: str
    number: int
    statement: str
    latex: str
    source: str
    tolerance: str
    strategy: Callable[[], st.SearchStrategy]
    check: Callable[..., Outcome]
    requires: tuple[str, ...] = ()
    health_checks: tuple[HealthCheck, ...] = ()
    default_examples: int = 100

    def unavailable(self) -> str | None:
        """Why the claim cannot run here (a missing module/attribute), or ``None``."""
        for req in self.requires:
            mod, _, attr = req.partition(":")
            try:
                module = importlib.import_module(mod)
            except ImportError:
                return f"needs {mod} (not available)"
            if attr and not hasattr(module, attr):
                return f"needs {mod}.{attr} (not available)"
        return None


@dataclass
class ClaimResult:
    """Outcome of :func:`run_claim`.  ``status``: ``pass``, ``fail`` (a negative margin),
    ``error`` (the check raised), ``inconclusive`` (the check cannot decide on this input,
    :class:`Inconclusive`) or ``unavailable``."""

    id: str
    number: int
    source: str
    statement: str
    status: str
    examples: int = 0
    worst_margin: float = math.inf
    worst: dict[str, Any] | None = None
    counterexample: dict[str, Any] | None = None
    message: str = ""
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "pass"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "number": self.number, "source": self.source,
            "statement": self.statement, "status": self.status, "examples": self.examples,
            "worst_margin": self.worst_margin if math.isfinite(self.worst_margin) else None,
            "worst": self.worst, "counterexample": self.counterexample,
            "message": self.message, "seconds": round(self.seconds, 3),
        }


# -- shared helpers ---------------------------------------------
def spectra(spec: GPSpec) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of ``Γ`` and ``Σ``, from the oracle's per-spec cache (computed once)."""
    from ditgp.numerics.oracle import Oracle

    o = Oracle.for_spec(spec)
    return o.lam, o.mu


def a_ends(spec: GPSpec, t: float) -> tuple[float, float]:
    """Exact ends of the spectrum of ``A_t`` (finite ``H``), via ``theory.iterations``."""
    lam, mu = spectra(spec)
    lo, hi = tit.a_t_extremes(lam[0], lam[-1], mu[0], mu[-1],
                              float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t)))
    return float(lo), float(hi)


def apply_A(spec: GPSpec, V: np.ndarray, t: float) -> np.ndarray:
    """``α_t² Σ V Γ + σ_t² V`` (matrix form of ``A_t vec V``), ``V`` ``(n, d, H)``."""
    return (float(spec.schedule.alpha2(t)) * (spec.Sigma @ V @ spec.Gamma)
            + float(spec.schedule.sigma2(t)) * V)


def noised_draws(inp: TimedDraw, n: int = 2) -> np.ndarray:
    X0 = gp_draws(inp.spec, n, inp.seed)
    Xt, _ = noised(inp.spec, X0, inp.t, inp.seed + 1)
    return Xt


def solution(spec: GPSpec, X: np.ndarray, t: float) -> np.ndarray:
    from ditgp.numerics.oracle import exact_score

    return -np.asarray(exact_score(spec, X, t))


@st.composite
def _timed(draw, specs: st.SearchStrategy[GPSpec]) -> TimedDraw:
    spec = draw(specs)
    return TimedDraw(spec, draw(ds.times(spec)), draw(st.integers(0, 2**16)))


def timed_specs(**kw: Any) -> Callable[[], st.SearchStrategy]:
    """Timed draws of specs with catalogue and composite kernels and ``Σ`` straddling 1, or
    with every eigenvalue below or above 1."""
    kw.setdefault("sigma_side", ("straddle", "below", "above"))
    return lambda: _timed(ds.gp_specs(kernels=st.one_of(ds.kernels(), ds.composite_kernels()),
                                      **kw))


@st.composite
def _kernel_size(draw, max_H: int, decay: str | None = None) -> KernelSize:
    k = draw(ds.kernels(decay_class=decay))
    return KernelSize(k, draw(st.integers(1, max_H)))


@st.composite
def _kernel_window(draw, max_H: int) -> KernelWindow:
    k = draw(ds.kernels())
    H = draw(st.integers(2, max_H))
    return KernelWindow(k, H, draw(st.integers(0, H - 1)))


def relative_margins(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return np.array([tol.relative_margin(v, b) for v, b in zip(values, bounds, strict=True)])


def worst_of(margins: np.ndarray, lhs: np.ndarray, rhs: np.ndarray, what: str) -> Outcome:
    i = int(np.argmin(margins))
    return Outcome(float(margins[i]), float(lhs[i]), float(rhs[i]), {what: i})


SLOW = (HealthCheck.too_slow,)  # kernels are symbolic objects: drawing one costs ~10 ms
CONSTRUCT = ("ditgp.numerics:construct", "ditgp.verify.adapters:construction_iterates")
