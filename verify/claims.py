"""The registry of theory claims, each a property test with a margin.

A :class:`Claim` has an id, a one-line statement and its LaTeX, a source (``paper`` — a
result of Fu et al. 2025 as THEORY.md states it — or ``derived`` — a result this toolkit
derives or adds, e.g. the Chebyshev construction), a hypothesis strategy for its inputs and
a check that computes both sides numerically for one drawn input and returns an
:class:`Outcome` whose ``margin`` is ``≥ 0`` when the claim holds (relative to its bound,
so 1 means "all the room in the world" and 0 "exactly at the bound").  Tolerances come from
:mod:`ditgp.verify.tolerances`.

:func:`run_claim` runs a claim under hypothesis with a budget (``max_examples``), a fixed
seed, no deadline and no example database, searches for the worst case with
``hypothesis.target`` on the margin, and returns the worst margin found and, on failure,
the shrunk counterexample (whose spec is JSON that ``ditgp derive --spec`` accepts).

Checks accept keyword *overrides* that replace one ingredient (a step size, a bound, a
builder); tests use them to show that a wrong construction or a wrong bound is caught.
"""

from __future__ import annotations

import importlib
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from ditgp.theory import iterations as tit
from ditgp.theory.kernels import DecayClass, Kernel
from ditgp.theory.spec import GPSpec
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.compare import gp_draws, noised, relative_l2
from hypothesis import HealthCheck, Phase, Verbosity, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

__all__ = [
    "Outcome",
    "Claim",
    "ClaimResult",
    "ClaimViolation",
    "REGISTRY",
    "claim",
    "claim_ids",
    "select",
    "run_claim",
    "TimedDraw",
    "KernelSize",
    "KernelWindow",
]


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
        return {"spec": self.spec.to_dict()}


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
        return {"spec": self.spec.to_dict(), "w": self.w}


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
    ``error`` (the check raised) or ``unavailable``."""

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
def _spectra(spec: GPSpec) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues of ``Γ`` and ``Σ``, from the oracle's per-spec cache (computed once)."""
    from ditgp.numerics.oracle import Oracle

    o = Oracle.for_spec(spec)
    return o.lam, o.mu


def _a_ends(spec: GPSpec, t: float) -> tuple[float, float]:
    """Exact ends of the spectrum of ``A_t`` (finite ``H``), via ``theory.iterations``."""
    lam, mu = _spectra(spec)
    lo, hi = tit.a_t_extremes(lam[0], lam[-1], mu[0], mu[-1],
                              float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t)))
    return float(lo), float(hi)


def _apply_A(spec: GPSpec, V: np.ndarray, t: float) -> np.ndarray:
    """``α_t² Σ V Γ + σ_t² V`` (matrix form of ``A_t vec V``), ``V`` ``(n, d, H)``."""
    return (float(spec.schedule.alpha2(t)) * (spec.Sigma @ V @ spec.Gamma)
            + float(spec.schedule.sigma2(t)) * V)


def _draw(inp: TimedDraw, n: int = 2) -> np.ndarray:
    X0 = gp_draws(inp.spec, n, inp.seed)
    Xt, _ = noised(inp.spec, X0, inp.t, inp.seed + 1)
    return Xt


def _solution(spec: GPSpec, X: np.ndarray, t: float) -> np.ndarray:
    from ditgp.numerics.oracle import exact_score

    return -np.asarray(exact_score(spec, X, t))


@st.composite
def _timed(draw, specs: st.SearchStrategy[GPSpec]) -> TimedDraw:
    spec = draw(specs)
    return TimedDraw(spec, draw(ds.times(spec)), draw(st.integers(0, 2**16)))


def _timed_specs(**kw: Any) -> Callable[[], st.SearchStrategy]:
    return lambda: _timed(ds.gp_specs(**kw))


@st.composite
def _kernel_size(draw, max_H: int, decay: str | None = None) -> KernelSize:
    k = draw(ds.kernels(decay_class=decay))
    return KernelSize(k, draw(st.integers(1, max_H)))


@st.composite
def _kernel_window(draw, max_H: int) -> KernelWindow:
    k = draw(ds.kernels())
    H = draw(st.integers(2, max_H))
    return KernelWindow(k, H, draw(st.integers(0, H - 1)))


def _margins(values: np.ndarray, bounds: np.ndarray) -> np.ndarray:
    return np.array([tol.relative_margin(v, b) for v, b in zip(values, bounds, strict=True)])


def _worst_of(margins: np.ndarray, lhs: np.ndarray, rhs: np.ndarray, what: str) -> Outcome:
    i = int(np.argmin(margins))
    return Outcome(float(margins[i]), float(lhs[i]), float(rhs[i]), {what: i})


# -- 1. fixed point ---------------------------------------------
def check_fixed_point(inp: TimedDraw, *, eta_scale: float = 1.0) -> Outcome:
    """One GD step from the oracle's ``v* = -s`` moves it by no more than rounding."""
    spec, t = inp.spec, inp.t
    X = _draw(inp)
    v = _solution(spec, X, t)
    a_min, a_max = _a_ends(spec, t)
    eta = float(tit.gd_step_size(a_min, a_max)) * eta_scale
    step = v - eta * (_apply_A(spec, v, t) - X)
    lhs = relative_l2(step, v)
    rhs = tol.rounding(2 * (spec.d + spec.H), a_max / a_min)
    return Outcome(tol.relative_margin(lhs, rhs), lhs, rhs, {"kappa_t": a_max / a_min})


# -- 2/3. iteration error bounds ---------------------------------------------
#: Iterations checked per draw: up to the step where the bound reaches 1e-12, at most this many.
MAX_STEPS = 64


def _iteration_check(inp: TimedDraw, algorithm: str, eta_scale: float,
                     bound_scale: float) -> Outcome:
    from ditgp.numerics import iterations as nit

    spec, t = inp.spec, inp.t
    X = _draw(inp)
    v = _solution(spec, X, t)
    a_min, a_max = _a_ends(spec, t)
    kappa = a_max / a_min
    if algorithm == "gd":
        K = min(tit.gd_steps(a_min, a_max, 1e-12), MAX_STEPS)
        eta = float(tit.gd_step_size(a_min, a_max)) * eta_scale
        its = nit.gd_iterates(spec, X, t, K, eta=eta)
        bounds = np.array([float(tit.gd_error_bound(a_min, a_max, k)) for k in range(K + 1)])
        slack = tol.rounding(2 * (spec.d + spec.H), kappa)
    else:
        K = min(tit.chebyshev_steps(a_min, a_max, 1e-12), MAX_STEPS)
        its = nit.chebyshev_iterates(spec, X, t, K, interval=(min(a_min * eta_scale, a_max), a_max))
        bounds = np.array([tit.chebyshev_error_bound(a_min, a_max, k) for k in range(K + 1)])
        slack = tol.rounding((K + 2) * (spec.d + spec.H), kappa)
    errs = np.array([relative_l2(its[k], v) for k in range(1, K + 1)])  # k = 0 is v_0 = 0
    rhs = bounds[1:] * bound_scale + slack
    out = _worst_of(_margins(errs, rhs), errs, rhs, "k")
    out.detail["k"] += 1
    out.detail.update(K=K, kappa_t=kappa)
    return out


def check_gd(inp: TimedDraw, *, eta_scale: float = 1.0, bound_scale: float = 1.0) -> Outcome:
    """``‖v_k - v*‖/‖v*‖ ≤ ρ_t^k`` for every ``k ≤ K`` (``eta_scale`` perturbs the step)."""
    return _iteration_check(inp, "gd", eta_scale, bound_scale)


def check_chebyshev(inp: TimedDraw, *, interval_scale: float = 1.0,
                    bound_scale: float = 1.0) -> Outcome:
    """``‖v_k - v*‖/‖v*‖ ≤ 1/T_k(σ_t)`` for every ``k ≤ K`` (``interval_scale > 1`` raises the
    lower spectrum end the coefficients assume — a wrong construction)."""
    return _iteration_check(inp, "chebyshev", interval_scale, bound_scale)


# -- 4. spectral bounds ---------------------------------------------
def _bounds(kernel: Kernel, H: int | None):
    from ditgp.theory.spectral import eigenvalue_bounds

    return eigenvalue_bounds(kernel, H)


def check_spectral(inp: KernelSize, *, bounds: Callable | None = None) -> Outcome:
    """Every eigenvalue of ``Γ_H`` lies in ``[lower, upper]`` of ``eigenvalue_bounds``."""
    b = (bounds or _bounds)(inp.kernel, inp.H)
    lam = np.linalg.eigvalsh(inp.kernel.matrix(inp.H))
    lower, upper = float(b.lower), float(b.upper)
    slack = tol.rounding(inp.H) * max(upper, 1.0)
    scale = max(upper, 1e-300)
    m_low = (lam[0] - lower + slack) / scale
    m_up = (upper + slack - lam[-1]) / scale
    if m_low <= m_up:
        return Outcome(float(m_low), float(lower), float(lam[0]), {"side": "lower"})
    return Outcome(float(m_up), float(lam[-1]), float(upper), {"side": "upper"})


# -- 5. truncation ---------------------------------------------
def check_truncation(inp: KernelWindow, *, tail: Callable | None = None) -> Outcome:
    """``Σ_{w<m<H}|γ(m)| ≤ tail_bound``, ``‖Γ - Γ_w‖₂ ≤ 2·tail_bound`` and, when
    ``truncation_keeps_pd`` says so, ``λ_min(Γ_w) > 0``."""
    from ditgp.theory.truncation import tail_bound, truncation_keeps_pd

    k, H, w = inp.kernel, inp.H, inp.w
    G = k.matrix(H)
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    Gw = np.where(gaps <= w, G, 0.0)
    tb = float((tail or tail_bound)(k, w, H))
    actual_tail = float(np.sum(np.abs(k.gamma(np.arange(w + 1, H))))) if w + 1 < H else 0.0
    gap_norm = float(np.linalg.norm(G - Gw, 2))
    slack = tol.rounding(H) * max(float(np.abs(G).sum(axis=1).max()), 1.0)
    parts = {
        "tail": (actual_tail, tb + slack),
        "norm": (gap_norm, 2 * tb + slack),
    }
    margins = {key: tol.relative_margin(*v) for key, v in parts.items()}
    if truncation_keeps_pd(k, w, H):
        lam_w = float(np.linalg.eigvalsh(Gw)[0])
        lam = float(np.linalg.eigvalsh(G)[0])
        parts["pd"] = (-lam_w, slack)
        margins["pd"] = (lam_w + slack) / max(lam, slack)
    key = min(margins, key=margins.get)
    return Outcome(float(margins[key]), parts[key][0], parts[key][1], {"part": key})


# -- 6/7/12. constructions ---------------------------------------------
def _construct_request(inp: ds.ConstructionRequest, build: Callable | None):
    return (build or (lambda r: r.build()))(inp)


def check_construction_layers(inp: ds.ConstructionRequest, *,
                              build: Callable | None = None) -> Outcome:
    """Residual stream after block ``k`` (its iterate channel) equals reference iterate ``k``
    of the same (truncated) system."""
    from ditgp.verify.adapters import construction_iterates, reference_iterates_for

    c = _construct_request(inp, build)
    X = _draw(TimedDraw(inp.spec, inp.t, 0))
    layers, per_step = construction_iterates(c, X, inp.t)
    ref = reference_iterates_for(c, inp, X, len(layers) - 1)
    scale = float(np.linalg.norm(ref[-1])) or 1.0
    errs = np.array([float(np.linalg.norm(layers[k] - ref[k])) / scale
                     for k in range(len(layers))])
    kappa = _a_ends(inp.spec, inp.t)
    rhs = np.full_like(errs, tol.rounding(len(layers) * (inp.spec.d + inp.spec.H + per_step),
                                          kappa[1] / kappa[0]))
    out = _worst_of(_margins(errs, rhs), errs, rhs, "layer")
    return out


def check_construction_resources(inp: ds.ConstructionRequest, *,
                                 build: Callable | None = None) -> Outcome:
    """Heads ``M = 4(w+1)`` (paper), ``≤ w+1`` (compact); layers from ``K(ε)``."""
    from ditgp.verify.adapters import resource_expectations

    c = _construct_request(inp, build)
    checks = resource_expectations(c, inp)
    worst_key, worst = None, math.inf
    for key, (value, bound, kind) in checks.items():
        if kind == "eq":
            m = 1.0 if value == bound else -abs(value - bound) / max(abs(bound), 1.0)
        else:
            m = tol.relative_margin(value, bound) if bound > 0 else (1.0 if value <= bound else -1.0)
        if m < worst:
            worst_key, worst = key, m
    value, bound, _ = checks[worst_key]
    return Outcome(float(worst), float(value), float(bound), {"resource": worst_key})


def check_attention(inp: ds.ConstructionRequest, *, build: Callable | None = None) -> Outcome:
    """In every iteration's first block, the mixing realised by the attention patterns and the
    value/output weights (read from the network) equals ``Γ_w ⊗ Σ``: ``γ(|h-j|)`` on
    ``|h-j| ≤ w``, zero beyond, times ``Σ`` — with no free scale.  Tolerance: the float
    rounding of the patterns (see :func:`~ditgp.verify.adapters.effective_mixing`) times
    ``ROUNDING_SAFETY``."""
    from ditgp.verify.adapters import mixing_errors

    c = _construct_request(inp, build)
    worst: Outcome | None = None
    for block, err, rhs in mixing_errors(c, inp, int(c.blocks_per_iteration)):
        out = Outcome(tol.relative_margin(err, rhs), err, rhs,
                      {"window": int(c.plan.window), "block": block})
        if worst is None or out.margin < worst.margin:
            worst = out
    return worst


# -- 8. window growth ---------------------------------------------
#: The δ grid of claim ``window-growth``.
WINDOW_DELTAS = tuple(10.0 ** -e for e in range(2, 9))
#: Sequence length of the window check for non-summable kernels.
WINDOW_LOG_H = 64


def check_window(inp: Kernel, *, window_fn: Callable | None = None) -> Outcome:
    """Per decay class, on ``δ = 10⁻²..10⁻¹⁰``.  Summable kernels (infinite lattice): the
    window is the smallest ``w`` with tail ``≤ δ``, non-decreasing as ``δ`` falls, and grows as
    its class says — exponential ``w(δ²) ≤ slack·2^{1/ν}·w(δ)`` (a power of ``log 1/δ``),
    polynomial ``w(δ²) ≤ slack·δ^{-1/(ν-1)}·w(δ)``.  Non-summable kernels (logarithmic, slow
    power laws) need ``H`` (here ``H = 64``): there ``w ≥ min(H - 1, γ⁻¹(δ) - 1)``, since the
    tail is at least its first term; for a logarithmic kernel ``γ⁻¹(δ) = ℓ(e^{δ^{-1/ν}-1} - 1)``,
    the class shape ``exp(δ^{-1/ν})``, which exceeds ``H`` for small ``δ``."""
    from ditgp.theory.truncation import tail_bound, window

    win = window_fn or window
    k = inp
    cls = k.decay_class
    if not bool(getattr(k, "summable", True)):
        H = WINDOW_LOG_H
        worst = Outcome(math.inf, 0.0, 0.0)
        for delta in WINDOW_DELTAS:
            w = int(win(k, delta, H))
            g = np.abs(k.gamma(np.arange(1, H)))
            above = np.nonzero(g > delta)[0]  # γ(m) > δ for m = above + 1 forces w ≥ m
            need = int(above[-1]) + 1 if above.size else 0
            m = (w - need + 1) / (need + 1)
            if m < worst.margin:
                worst = Outcome(float(m), float(w), float(need),
                                {"class": cls.value, "delta": delta, "H": H,
                                 "full_window": w >= H - 1})
        return worst
    from ditgp.theory.errors import SpecError

    ws_list: list[int] = []
    for d in WINDOW_DELTAS:  # slow power laws: δ^{-1/(ν-1)} may pass the largest window
        try:
            ws_list.append(int(win(k, d, None)))
        except SpecError:
            break
    deltas = WINDOW_DELTAS[: len(ws_list)]
    ws = ws_list
    if len(ws) < 2:
        return Outcome(1.0, 0.0, 0.0, {"class": cls.value, "part": "no reachable window"})
    tails = np.array([float(tail_bound(k, w, None)) for w in ws])
    margins = {"tail": float(np.min(_margins(tails, np.array(deltas))))}
    prev = [float(tail_bound(k, w - 1, None)) for w in ws if w >= 1]
    deltas_prev = [d for d, w in zip(deltas, ws, strict=True) if w >= 1]
    if prev:  # minimality: one gap less leaves a tail above δ
        margins["minimal"] = float(min((p - d) / p for p, d in zip(prev, deltas_prev,
                                                                    strict=True)))
    if any(b < a for a, b in zip(ws, ws[1:], strict=False)):
        margins["monotone"] = -1.0
    exps = list(range(2, 2 + len(ws)))
    nu = _envelope_nu(k)
    growth = []
    for i, e in enumerate(exps):
        if 2 * e not in exps:
            continue
        j = exps.index(2 * e)
        if cls == DecayClass.EXPONENTIAL:
            factor = 2.0 ** (1.0 / nu)
        else:  # polynomial: w ~ δ^{-1/(ν-1)}; δ → δ² multiplies it by δ^{-1/(ν-1)}
            factor = (1.0 / WINDOW_DELTAS[i]) ** (1.0 / max(nu - 1.0, 1e-3))
        growth.append(tol.relative_margin(ws[j], tol.WINDOW_GROWTH_SLACK * factor
                                          * max(ws[i], 1.0)))
    if growth:
        margins["growth"] = float(min(growth))
    key = min(margins, key=margins.get)
    return Outcome(margins[key], float(ws[-1]), float(deltas[-1]),
                   {"class": cls.value, "part": key, "windows": ws})


def _envelope_nu(k: Kernel) -> float:
    """The envelope exponent ``ν`` of THEORY.md's decay table for kernel ``k``."""
    env = getattr(k, "envelope", None)
    if env is not None:
        value = env() if callable(env) else env
        nu = getattr(value, "nu", None)
        if nu is not None:
            return float(nu)
    params = k.params
    if k.decay_class == DecayClass.POLYNOMIAL:
        if "alpha" in params and "nu" not in params:
            return 2.0 * float(params["alpha"])  # rational quadratic (1 + m²/(2αℓ²))^(-α)
        return float(params.get("nu", 2.0))
    if k.name == "squared-exponential":
        return 2.0
    if k.name == "stretched-exponential":
        return float(params["nu"])
    return 1.0


# -- 9. Bayes floor ---------------------------------------------
#: Monte Carlo sample size of claim ``bayes-floor``.
FLOOR_SAMPLES = 512


def check_bayes_floor(inp: TimedDraw, *, floor_fn: Callable | None = None) -> Outcome:
    """Monte Carlo ε-prediction loss of ``ε* = -σ_t s`` equals the closed-form floor within
    ``MC_Z`` standard errors."""
    from ditgp.theory.process import bayes_floor

    spec, t = inp.spec, inp.t
    X0 = gp_draws(spec, FLOOR_SAMPLES, inp.seed)
    Xt, Z = noised(spec, X0, t, inp.seed + 1)
    from ditgp.numerics.oracle import exact_score

    eps_hat = -math.sqrt(float(spec.schedule.sigma2(t))) * exact_score(spec, Xt, t)
    per = np.sum((eps_hat - Z) ** 2, axis=(1, 2))
    lam, mu = _spectra(spec)
    floor = (floor_fn or bayes_floor)(lam, mu, float(spec.schedule.alpha2(t)),
                                      float(spec.schedule.sigma2(t)))
    se = float(per.std(ddof=1) / math.sqrt(FLOOR_SAMPLES))
    dev = abs(float(per.mean()) - float(floor))
    rhs = tol.monte_carlo(se) + tol.rounding(spec.d * spec.H) * float(floor)
    return Outcome(tol.relative_margin(dev, rhs), dev, rhs,
                   {"mc": float(per.mean()), "floor": float(floor), "stderr": se})


# -- 10. decay and conditioning ---------------------------------------------
def _rayleigh_ones(k: Kernel, H: int) -> float:
    """``1ᵀΓ_H 1 / H ≤ λ_max(Γ_H)``: grows without bound iff ``Σ γ(m)`` diverges."""
    g = k.gamma(np.arange(H))
    return float(g[0] + 2.0 * np.sum((1.0 - np.arange(1, H) / H) * g[1:]))


def check_conditioning(inp: KernelSize, *, bounds: Callable | None = None) -> Outcome:
    """Summable kernels: the bounds for all ``H`` (``eigenvalue_bounds(k)``) are uniform and
    hold at ``H, 2H, 4H`` (so ``κ(Γ_H) ≤ upper/lower`` for all of them); non-summable ones:
    no uniform upper bound, ``λ_max(Γ_H) ≥ 1ᵀΓ1/H`` strictly grows from ``H`` to ``4H``,
    and the ``H``-dependent upper bound still holds at ``4H``."""
    bfn = bounds or _bounds
    k, H = inp.kernel, inp.H
    b = bfn(k, None)
    summable = bool(getattr(k, "summable", True))
    if not summable:
        if bool(b.uniform):
            return Outcome(-1.0, 1.0, 0.0, {"part": "uniform bound for a non-summable kernel"})
        r1, r4 = _rayleigh_ones(k, H), _rayleigh_ones(k, 4 * H)
        lam4 = float(np.linalg.eigvalsh(k.matrix(4 * H))[-1])
        growth = (r4 - r1) / r1
        upper = float(bfn(k, 4 * H).upper)
        upper_ok = tol.relative_margin(lam4, upper + tol.rounding(4 * H) * lam4)
        if growth <= upper_ok:
            return Outcome(float(growth), r4, r1, {"part": "growth", "H": H})
        return Outcome(float(upper_ok), lam4, upper, {"part": "upper", "H": 4 * H})
    if not bool(b.uniform):
        return Outcome(-1.0, 0.0, 1.0, {"part": "summable kernel without uniform bounds"})
    worst = Outcome(math.inf, 0.0, 0.0)
    lower, upper = float(b.lower), float(b.upper)
    scale = max(upper, 1e-300)
    for n in (H, 2 * H, 4 * H):
        lam = np.linalg.eigvalsh(k.matrix(n))
        slack = tol.rounding(n) * max(upper, 1.0)
        for side, m in (("lower", (lam[0] - lower + slack) / scale),
                        ("upper", (upper + slack - lam[-1]) / scale)):
            if m < worst.margin:
                worst = Outcome(float(m), float(lam[0] if side == "lower" else lam[-1]),
                                lower if side == "lower" else upper,
                                {"H": n, "side": side, "kappa_bound": upper / max(lower, 1e-300)})
    return worst


# -- 11. score vs log-density gradient ---------------------------------------------
def check_score_density(inp: TimedDraw, *, score_fn: Callable | None = None) -> Outcome:
    """The oracle's score equals the central-difference gradient of scipy's Gaussian
    log-density of ``N(0, A_t)`` (exact for a quadratic, so only rounding remains)."""
    from ditgp.numerics.oracle import exact_score
    from scipy.stats import multivariate_normal

    spec, t = inp.spec, inp.t
    X = _draw(inp, n=1)
    n = spec.d * spec.H
    A = (float(spec.schedule.alpha2(t)) * np.kron(np.asarray(spec.Gamma), np.asarray(spec.Sigma))
         + float(spec.schedule.sigma2(t)) * np.eye(n))
    x = np.swapaxes(X[0], 0, 1).reshape(-1)  # column-stacked vec
    h = 1.0  # central differences of a quadratic are exact for every h
    pts = np.concatenate([x + h * np.eye(n), x - h * np.eye(n)])
    logp = np.atleast_1d(multivariate_normal(np.zeros(n), A).logpdf(pts))
    grad = (logp[:n] - logp[n:]) / (2 * h)
    s = (score_fn or exact_score)(spec, X, t)
    s_vec = np.swapaxes(np.asarray(s)[0], 0, 1).reshape(-1)
    lhs = relative_l2(s_vec, grad)
    w = np.linalg.eigvalsh(A)
    level = float(np.max(np.abs(logp))) + n
    rhs = tol.rounding(n, w[-1] / w[0]) * level / (h * max(float(np.linalg.norm(grad)), 1e-300))
    return Outcome(tol.relative_margin(lhs, rhs), lhs, rhs, {"n": n})


# -- the registry ---------------------------------------------
_SLOW = (HealthCheck.too_slow,)  # kernels are symbolic objects: drawing one costs ~10 ms
_CONSTRUCT = ("ditgp.numerics:construct", "ditgp.verify.adapters:construction_iterates")

REGISTRY: dict[str, Claim] = {}


def _register(c: Claim) -> None:
    REGISTRY[c.id] = c


_register(Claim(
    "score-fixed-point", 1,
    "The exact score is the fixed point of gradient descent on A_t: v* = -s(x, t) satisfies "
    "v* = v* - η(A_t v* - x).",
    r"v^\star = -s(x,t) \;\Rightarrow\; v^\star - \eta_t (A_t v^\star - x) = v^\star",
    "paper",
    "rounding only: 16·2(d+H)·κ_t·u (the oracle's relative error is O((d+H)κ_t u) and one "
    "step multiplies it by η_t a_max ≤ 2)",
    _timed_specs(max_H=16, max_d=3), check_fixed_point,
    requires=("ditgp.numerics.oracle:exact_score",), health_checks=_SLOW,
))
_register(Claim(
    "gd-contraction", 2,
    "Gradient descent with η_t = 2/(a_min + a_max) from v_0 = 0 has relative error at most "
    "ρ_t^k after k steps.",
    r"\frac{\|v_k - v^\star\|}{\|v^\star\|} \le \rho_t^k,\quad "
    r"\rho_t = \frac{\kappa_t - 1}{\kappa_t + 1}",
    "paper",
    "the contraction ρ_t^k itself (from ditgp.theory.iterations) + rounding 16·2(d+H)·κ_t·u",
    _timed_specs(max_H=12, max_d=3), check_gd,
    requires=("ditgp.numerics.iterations:gd_iterates",), health_checks=_SLOW,
))
_register(Claim(
    "chebyshev-bound", 3,
    "The Chebyshev semi-iteration has relative error at most 1/T_k(σ_t) after k steps "
    "(≤ 2c^k, c = (√κ_t - 1)/(√κ_t + 1)).",
    r"\frac{\|v_k - v^\star\|}{\|v^\star\|} \le \frac{1}{T_k(\sigma_t)},\quad "
    r"\sigma_t = \frac{a_{\max} + a_{\min}}{a_{\max} - a_{\min}}",
    "derived",
    "the bound 1/T_k(σ_t) itself + rounding 16·(k+2)(d+H)·κ_t·u (the three-term recurrence "
    "accumulates one rounding per step)",
    _timed_specs(max_H=12, max_d=3), check_chebyshev,
    requires=("ditgp.numerics.iterations:chebyshev_iterates",), health_checks=_SLOW,
))
_register(Claim(
    "spectral-bounds", 4,
    "Every eigenvalue of Γ_H lies within the symbolic spectral bounds (Szegő symbol or "
    "Gershgorin), for every H drawn.",
    r"\min_\omega f(\omega) \le \lambda_i(\Gamma_H) \le \max_\omega f(\omega)",
    "paper",
    "eigvalsh backward error: 16·H·u·max(upper, 1)",
    lambda: _kernel_size(256), check_spectral,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=_SLOW,
))
_register(Claim(
    "truncation", 5,
    "Truncating γ beyond w: ‖Γ - Γ_w‖₂ ≤ 2·tail_bound(w), the actual tail ≤ tail_bound(w), "
    "and Γ_w is positive definite whenever truncation_keeps_pd says so (Weyl).",
    r"\|\Gamma - \Gamma_w\|_2 \le 2\sum_{m>w}|\gamma(m)|,\quad "
    r"2\sum_{m>w}|\gamma(m)| < \lambda_{\min}(\Gamma) \Rightarrow \Gamma_w \succ 0",
    "paper",
    "the tail bound itself + rounding 16·H·u·max row sum",
    lambda: _kernel_window(64), check_truncation,
    requires=("ditgp.theory.truncation:tail_bound",), health_checks=_SLOW,
))
_register(Claim(
    "construction-layers", 6,
    "Every constructed network (attention realisation × algorithm × time conditioning) "
    "equals its reference iteration layer by layer.",
    r"\mathrm{block}_k(\mathrm{enc}(X))|_{\text{iterate}} = v_k \quad (k = 0..K)",
    "derived",
    "rounding only: 16·L·(d+H+channels)·κ_t·u",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning=("fixed", "gated")),
    check_construction_layers, requires=_CONSTRUCT, health_checks=_SLOW,
))
_register(Claim(
    "construction-resources", 7,
    "Constructed resources match the formulas: M = 4(w+1) heads (paper), ≤ w+1 (compact), "
    "L from K(ε).",
    r"M_{\text{paper}} = 4(w+1),\; M_{\text{compact}} \le w+1,\; L = K(\varepsilon)\cdot L_{\text{step}}",
    "paper",
    "exact integer equalities (no tolerance)",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning=("fixed", "gated")),
    check_construction_resources,
    requires=_CONSTRUCT, health_checks=_SLOW, default_examples=30,
))
_register(Claim(
    "window-growth", 8,
    "The truncation window grows with 1/δ as its decay class says: exponential ~ log, "
    "polynomial ~ power, logarithmic needs the whole sequence (w ≥ H - 1).",
    r"w(\delta) \sim \left(\tfrac{\ln(1/\delta)}{c}\right)^{1/\nu},\; \delta^{-1/(\nu-1)},\; "
    r"\ge H",
    "paper",
    "the tail level δ itself; growth ratios within WINDOW_GROWTH_SLACK = 4 of the class shape",
    lambda: ds.kernels(), check_window,
    requires=("ditgp.theory.truncation:window",), health_checks=_SLOW, default_examples=25,
))
_register(Claim(
    "bayes-floor", 9,
    "The Bayes floor of the ε-prediction loss equals Σ α²λμ/(α²λμ + σ²), checked by Monte "
    "Carlo with the exact minimiser ε* = -σ_t s.",
    r"\mathbb{E}\|\varepsilon^\star(X_t,t) - Z\|^2 = \sum_{i,j}\frac{\alpha_t^2\lambda_i\mu_j}"
    r"{\alpha_t^2\lambda_i\mu_j + \sigma_t^2}",
    "paper",
    f"Monte Carlo: {tol.MC_Z:g} standard errors of the mean of {FLOOR_SAMPLES} draws",
    _timed_specs(max_H=12, max_d=3), check_bayes_floor,
    requires=("ditgp.numerics.oracle:exact_score",), health_checks=_SLOW,
))
_register(Claim(
    "conditioning-decay", 10,
    "For summable kernels κ(Γ_H) stays bounded in H (uniform spectral bounds); for "
    "logarithmic ones λ_max(Γ_H) grows with H — as the bounds say.",
    r"\sum_m|\gamma(m)| < \infty \Rightarrow \sup_H \kappa(\Gamma_H) \le \frac{\max f}{\min f};"
    r"\quad \lambda_{\max}(\Gamma_H) \ge \tfrac{1}{H}\mathbf 1^\top\Gamma_H\mathbf 1 \to \infty",
    "paper",
    "eigvalsh backward error 16·H·u·max(upper, 1); growth must be strictly positive",
    lambda: _kernel_size(64), check_conditioning,
    requires=("ditgp.theory.spectral:eigenvalue_bounds",), health_checks=_SLOW,
    default_examples=50,
))
_register(Claim(
    "score-log-density", 11,
    "The exact score equals the gradient of an independent Gaussian log-density "
    "(scipy.stats.multivariate_normal of A_t, central differences).",
    r"s(x,t) = \nabla_x \log \mathcal N(x; 0, A_t)",
    "paper",
    "rounding of the log-density: 16·dH·κ(A_t)·u·(|log p| + dH)/(h‖∇‖), h = 1 (central "
    "differences of a quadratic have no truncation error)",
    _timed_specs(max_H=8, max_d=3), check_score_density,
    requires=("ditgp.numerics.oracle:exact_score",), health_checks=_SLOW,
))
_register(Claim(
    "attention-kernel", 12,
    "The attention of a constructed network reproduces γ on |h-j| ≤ w and is zero beyond "
    "(\"attention captures the temporal kernel\", exactly).",
    r"\sum_{\text{heads}} P_{hj}\,V = c\,\gamma(|h-j|)\,\mathbb 1\{|h-j|\le w\}\,\Sigma",
    "paper",
    "rounding only: ROUNDING_SAFETY · Σ_heads ‖W_o W_v‖_F · H · (k+2) · u · (max|q·k| + 1), "
    "relative to ‖Γ_w⊗Σ‖_F (float rounding of the patterns, read from the network)",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning="fixed"), check_attention,
    requires=_CONSTRUCT, health_checks=_SLOW,
))


def claim_ids() -> list[str]:
    return list(REGISTRY)


def claim(key: str | int) -> Claim:
    """A claim by id (``"gd-contraction"``) or number (``2`` or ``"2"``)."""
    if isinstance(key, int) or (isinstance(key, str) and key.isdigit()):
        for c in REGISTRY.values():
            if c.number == int(key):
                return c
    elif key in REGISTRY:
        return REGISTRY[key]
    from ditgp.theory.errors import SpecError

    raise SpecError("claim", key, "one of " + ", ".join(REGISTRY) + " (or its number 1-12)")


def select(keys: str | list[str] | None) -> list[Claim]:
    """Claims named by a comma-separated string or a list (``None``: all, in order)."""
    if keys is None:
        return list(REGISTRY.values())
    if isinstance(keys, str):
        keys = [k.strip() for k in keys.split(",") if k.strip()]
    out: list[Claim] = []
    for k in keys:
        c = claim(k)
        if c not in out:
            out.append(c)
    return out


# -- the runner ---------------------------------------------
def _describe(inp: Any) -> dict[str, Any]:
    if hasattr(inp, "to_dict"):
        return inp.to_dict()
    return {"repr": repr(inp)}


def run_claim(c: Claim, *, examples: int = 100, seed: int = 0,
              overrides: dict[str, Any] | None = None,
              on_example: Callable[[], None] | None = None) -> ClaimResult:
    """Run claim ``c`` on ``examples`` drawn inputs (hypothesis, seeded, no database, no
    deadline), maximising ``-margin`` with ``hypothesis.target``; on failure hypothesis
    shrinks the input and the result carries the shrunk counterexample."""
    result = ClaimResult(c.id, c.number, c.source, c.statement, status="pass")
    reason = c.unavailable()
    if reason is not None:
        result.status, result.message = "unavailable", reason
        return result
    overrides = dict(overrides or {})
    state: dict[str, Any] = {"n": 0, "worst": math.inf, "worst_input": None, "fail": None}

    @settings(max_examples=examples, database=None, deadline=None, derandomize=False,
              suppress_health_check=c.health_checks, verbosity=Verbosity.quiet,
              report_multiple_bugs=False, print_blob=False,
              phases=(Phase.explicit, Phase.generate, Phase.target, Phase.shrink))
    @hypothesis_seed(seed)
    @given(c.strategy())
    def prop(inp: Any) -> None:
        state["last_input"] = inp
        out = c.check(inp, **overrides)
        state["n"] += 1
        if on_example is not None:
            on_example()
        margin = out.margin if not math.isnan(out.margin) else -math.inf
        if margin < state["worst"]:
            state["worst"], state["worst_input"], state["worst_out"] = margin, inp, out
        target(float(np.clip(-margin, -1e6, 1e6)), label="negative margin")
        if margin < 0:
            raise ClaimViolation(c.id, inp, out)

    start = time.perf_counter()
    try:
        prop()
    except ClaimViolation as exc:  # the shrunk example is the last one replayed
        result.status = "fail"
        result.counterexample = _describe(exc.input)
        result.message = str(exc)
    except Exception as exc:  # noqa: BLE001 - a check that raises is reported, not hidden
        result.status = "error"
        result.message = f"{type(exc).__name__}: {exc}"
        if state.get("last_input") is not None:
            result.counterexample = _describe(state["last_input"])
    result.seconds = time.perf_counter() - start
    result.examples = state["n"]
    result.worst_margin = float(state["worst"])
    if state["worst_input"] is not None:
        out = state["worst_out"]
        result.worst = {"input": _describe(state["worst_input"]), "lhs": out.lhs,
                        "rhs": out.rhs, "detail": _jsonable(out.detail)}
    return result


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj
