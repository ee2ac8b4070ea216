"""Constructions: spec + time + accuracy + choices → a transformer with built weights.

The pipeline is a chain of single-purpose passes (STYLE.md, tracr), run in order by
:func:`construct`:

    spec_to_window      choose the truncation window w from eps (THEORY.md §3 "Truncation")
    window_to_plan      iteration count K and coefficients (THEORY.md §3, ditgp.theory.iterations)
    plan_to_heads       attention realisation of v ↦ ΣΓ_w v (THEORY.md §4; realise.py)
    plan_to_config      residual-stream layout and the ArchConfig
    config_to_module    weights written by channel name (ffn.py, multiply.py)
    module_to_report    resources D, L, M, params, B, R beside the theory's formulas;
                        error vs the oracle

**What a block computes.**  The residual stream has channels ``x`` (input frame),
``v`` (iterate), ``v_prev`` (previous iterate; Chebyshev), ``u`` (scratch), ``pos``, ``const``,
``time`` (gated / multiply) and the multiplication scratch ``saw±``, ``acc±``.  In block
``k`` the attention adds ``u = ΣΓ_w v_k`` (every realisation is exact for this product), and
the feed-forward layer applies the update with exact ReLU pairs ``y = ReLU(y) - ReLU(-y)``:

* GD (THEORY.md §3): ``v ← v + η(x - α²u - σ²v)``, ``u ← 0``;
* Chebyshev: ``v ← v + (ω_{k+1}/θ)(x - α²u - σ²v) + (ω_{k+1}-1)(v - v_prev)``, ``v_prev ← v``,
  ``u ← 0``.

So the residual after block ``k`` holds iterate ``k`` of the reference iteration on the
truncated system, and the decoder reads ``-v`` (the score ``-A_t⁻¹x``).

**Time conditioning.**  ``fixed``: one ``t``, coefficients are numbers.  ``gated`` and
``multiply`` serve all ``t ∈ [t0, T]`` with one coefficient plan on the spectral interval of
``A_t`` over all ``t`` (``A_t`` is affine in ``α_t²``, so its eigenvalues are extreme at
``t0`` or ``T``); the only time dependence left is ``α_t²`` and ``σ_t²``.  ``gated``
multiplies hidden units by gates ``φ_f(t)`` (exact); ``multiply`` writes
``α²u + σ²v = v + α²(u - v)`` and forms ``α²·(u - v)`` with the ReLU multiplication module
(multiply.py, approximate, bound reported).

**Error budget.**  With truncation bound ``τ = α²μ_max‖Γ-Γ_w‖₂/a_min(A_w)`` (and
``‖Γ-Γ_w‖₂ ≤ 2Σ_{m>w}|γ(m)|``, the exact finite tail), ``‖v_K - v*‖ ≤ τ‖v*‖ + β(1+τ)‖v*‖``
where ``β`` is the iteration bound (``ρ^K`` or ``1/T_K(σ)``).  The window is the smallest
``w`` with ``τ ≤ truncation_share·eps``; ``K`` the smallest with ``β ≤ (eps-τ)/(1+τ)``
(times ``1 - multiply_share`` for the multiplication module, which gets the rest).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from ditgp.theory import iterations as theory_it
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

from . import multiply as mult
from .architecture import ArchConfig, Transformer, network_score, weight_matrices
from .ffn import UnitGroup, linear_pair, write_ffn
from .iterations import TruncatedSystem, run_chebyshev, run_gd, spectrum_ends
from .layout import ChannelLayout
from .oracle import Oracle
from .realise import Head, check_frames, compact_heads, paper_heads, softmax_heads
from .tolerances import ROUNDING, eps_floor

__all__ = [
    "ATTENTIONS",
    "ALGORITHMS",
    "TIME_CONDITIONINGS",
    "Choices",
    "IterationPlan",
    "Construction",
    "construct",
    "theory_tail_bound",
]

ATTENTIONS = ("paper", "compact", "softmax")
ALGORITHMS = ("gd", "chebyshev")
TIME_CONDITIONINGS = ("fixed", "gated", "multiply")
COEFFICIENTS = ("t", "all-t")

#: Probability mass outside the data ball ‖x‖ ≤ R_x on which multiplication bounds hold.
DATA_BALL_FAILURE = 1e-12
#: Relative headroom of the multiplication domain bound B over the iterate bound.
DOMAIN_MARGIN = 1.05
#: Number of fresh draws for the measured error.
MEASURE_SAMPLES = 16


@dataclass(frozen=True)
class Choices:
    """Construction choices (validated; a bad choice names itself)."""

    attention: str = "compact"
    algorithm: str = "chebyshev"
    time_conditioning: str = "fixed"
    eps: float = 1e-6
    t: float | None = None
    window: int | None = None
    truncation_share: float = 0.1
    multiply_share: float = 0.5
    coefficients: str = "t"
    pos_radius: float = 1.0
    measure_seed: int = 0

    def __post_init__(self) -> None:
        require(self.attention in ATTENTIONS, "attention", self.attention,
                "one of " + ", ".join(ATTENTIONS))
        require(self.algorithm in ALGORITHMS, "algorithm", self.algorithm,
                "one of " + ", ".join(ALGORITHMS))
        require(self.time_conditioning in TIME_CONDITIONINGS, "time_conditioning",
                self.time_conditioning, "one of " + ", ".join(TIME_CONDITIONINGS))
        require(isinstance(self.eps, int | float) and 0 < self.eps < 1, "eps", self.eps,
                "a relative error in (0, 1)")
        require(self.window is None or (isinstance(self.window, int) and self.window >= 0),
                "window", self.window, "an integer ≥ 0")
        require(0 < self.truncation_share < 1, "truncation_share", self.truncation_share,
                "a number in (0, 1)")
        require(0 < self.multiply_share < 1, "multiply_share", self.multiply_share,
                "a number in (0, 1)")
        require(self.coefficients in COEFFICIENTS, "coefficients", self.coefficients,
                "one of " + ", ".join(COEFFICIENTS))
        require(self.pos_radius > 0, "pos_radius", self.pos_radius, "a number > 0")
        if self.time_conditioning != "fixed":
            object.__setattr__(self, "coefficients", "all-t")

    @property
    def all_t(self) -> bool:
        return self.coefficients == "all-t"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class IterationPlan:
    """The unrolled iteration a construction realises, with its error budget."""

    algorithm: str
    K: int
    window: int
    interval: tuple[float, float]  # spectrum ends (a_min, a_max) the coefficients use
    eta: float | None
    theta: float | None
    omega: tuple[float, ...]
    iteration_bound: float
    truncation_bound: float
    tail_exact: float  # Σ_{m>w}|γ(m)| on the finite system
    tail_theory: float | None  # ditgp.theory.truncation.tail_bound, where available

    @property
    def kappa(self) -> float:
        return self.interval[1] / self.interval[0]

    @property
    def error_bound(self) -> float:
        """Relative bound ``τ + β(1+τ)`` (iteration + truncation)."""
        return self.truncation_bound + self.iteration_bound * (1 + self.truncation_bound)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["interval"] = list(self.interval)
        out["omega"] = list(self.omega)
        out["kappa"] = self.kappa
        out["error_bound"] = self.error_bound
        return out


# -- pass 1: window ------------------------------------------------------------------------


def theory_tail_bound(spec: GPSpec, w: int) -> float | None:
    """The theory layer's tail bound for window ``w`` (``None`` if that module is missing)."""
    try:
        from ditgp.theory.truncation import tail_bound
    except ImportError:
        return None
    try:
        return float(tail_bound(spec.kernel, w, H=spec.H))
    except Exception:  # noqa: BLE001 - reported beside our exact tail, never relied on
        return None


def _finite_tails(gamma: np.ndarray) -> np.ndarray:
    """``T(w) = Σ_{m=w+1}^{H-1} |γ(m)|`` for ``w = 0..H-1``."""
    a = np.abs(gamma)
    rev = np.cumsum(a[::-1])[::-1]  # rev[m] = Σ_{j≥m}
    return np.append(rev[1:], 0.0)


def _trunc_bound(lam_min_w: float, mu: np.ndarray, tail: float, alpha2: float,
                 sigma2: float) -> float:
    """``τ = α² μ_max · 2T(w) / a_min(A_w)`` with ``a_min`` from ``λ_min(Γ_w)``."""
    if tail == 0.0:
        return 0.0
    a_min, _ = theory_it.a_t_extremes(lam_min_w, lam_min_w, mu[0], mu[-1], alpha2, sigma2)
    a_min = float(a_min)
    return math.inf if a_min <= 0 else float(alpha2 * mu[-1] * 2 * tail / a_min)


def _worst_coeffs(spec: GPSpec, choices: Choices, t: float) -> tuple[float, float]:
    """``(α², σ²)`` at which the truncation bound is largest: ``t0`` for all-t plans."""
    tt = spec.schedule.t0 if choices.all_t else t
    return float(spec.schedule.alpha2(tt)), float(spec.schedule.sigma2(tt))


def spec_to_window(spec: GPSpec, choices: Choices, t: float) -> tuple[int, float]:
    """Smallest window with ``τ ≤ truncation_share·eps`` (or the requested one): ``(w, tail)``.

    The search uses ``λ_min(Γ_w) ≥ λ_min(Γ) - 2T(w)`` (Weyl); the plan then recomputes ``τ``
    with the exact ``λ_min(Γ_w)``.
    """
    oracle = Oracle.for_spec(spec)
    tails = _finite_tails(oracle.gamma)
    if choices.window is not None:
        w = min(choices.window, spec.H - 1)
        return w, float(tails[w])
    a2, s2 = _worst_coeffs(spec, choices, t)
    budget = choices.truncation_share * choices.eps
    for w in range(spec.H):
        lam_lb = float(oracle.lam[0]) - 2 * tails[w]
        if _trunc_bound(lam_lb, oracle.mu, tails[w], a2, s2) <= budget:
            return w, float(tails[w])
    return spec.H - 1, 0.0


# -- pass 2: plan ------------------------------------------------------------------------


def window_to_plan(spec: GPSpec, choices: Choices, t: float, w: int, tail: float,
                   iteration_target: float | None = None) -> tuple[IterationPlan, TruncatedSystem]:
    """Iteration count and coefficients (from :mod:`ditgp.theory.iterations`)."""
    system = TruncatedSystem.of(spec, w)
    a2, s2 = _worst_coeffs(spec, choices, t)
    tau = _trunc_bound(float(system.lam_w[0]), system.mu, tail, a2, s2)
    if not math.isfinite(tau):
        raise SpecError("window", w, "a window keeping A_t positive definite")
    # A requested window may truncate more than eps allows: the iteration then still targets
    # eps on the truncated system, and the reported bound τ + β(1+τ) says the truth.
    budget = (choices.eps - tau) / (1 + tau) if tau < choices.eps else choices.eps
    target = budget if iteration_target is None else iteration_target
    interval = system.extremes_all_t() if choices.all_t else system.extremes(t)
    if choices.algorithm == "gd":
        K = theory_it.gd_steps(*interval, target)
        eta = float(theory_it.gd_step_size(*interval))
        beta = float(theory_it.gd_error_bound(*interval, K))
        plan = IterationPlan("gd", K, w, interval, eta, None, (), beta, tau, tail,
                             theory_tail_bound(spec, w))
    else:
        K = theory_it.chebyshev_steps(*interval, target)
        cp = theory_it.chebyshev_plan(*interval, K)
        plan = IterationPlan("chebyshev", K, w, interval, None, float(cp.theta),
                             tuple(float(o) for o in cp.omega), float(cp.bounds[K]), tau, tail,
                             theory_tail_bound(spec, w))
    return plan, system


# -- pass 3: heads ------------------------------------------------------------------------


def plan_to_heads(spec: GPSpec, choices: Choices, plan: IterationPlan) -> list[Head]:
    gamma = np.asarray(spec.Gamma[:, 0])
    C = 2 * spec.H
    if choices.attention == "paper":
        return paper_heads(gamma, plan.window, choices.pos_radius, C)
    if choices.attention == "compact":
        return compact_heads(gamma, plan.window, choices.pos_radius, C)
    return softmax_heads(gamma, plan.window, spec.H)


# -- pass 4: config -----------------------------------------------------------------------


def plan_to_layout(spec: GPSpec, choices: Choices) -> ChannelLayout:
    d = spec.d
    chans: list[tuple[str, int]] = [("x", d), ("v", d)]
    if choices.algorithm == "chebyshev":
        chans.append(("v_prev", d))
    chans += [("u", d), ("pos", 2), ("const", 1)]
    tf = _time_features(choices)
    if tf:
        chans.append(("time", len(tf)))
    if choices.time_conditioning == "multiply":
        chans += [("sawP", d), ("sawM", d), ("accP", d), ("accM", d)]
    return ChannelLayout(tuple(chans))


def _time_features(choices: Choices) -> tuple[str, ...]:
    features = {"fixed": (), "gated": ("alpha2", "sigma2"), "multiply": ("alpha2",)}
    return features[choices.time_conditioning]


# -- pass 5: feed-forward programs ------------------------------------------------------------


def _update_groups(choices: Choices, plan: IterationPlan, k: int, a2: float, s2: float,
                   ) -> list[UnitGroup]:
    """Feed-forward groups of block ``k`` (fixed / gated): the iteration update.

    ``c`` = step on the residual (``η`` or ``ω_{k+1}/θ``), ``β`` = momentum ``ω_{k+1} - 1``.
    """
    cheb = plan.algorithm == "chebyshev"
    c = plan.eta if not cheb else plan.omega[k] / plan.theta
    mom = plan.omega[k] - 1.0 if cheb else 0.0
    groups = linear_pair("x", "x", {"v": c})
    if choices.time_conditioning == "gated":
        groups += linear_pair("uA", "u", {"v": -c}, gate="alpha2")
        groups += linear_pair("u", "u", {"u": -1.0})
        groups += linear_pair("vS", "v", {"v": -c}, gate="sigma2")
        if cheb:
            groups += linear_pair("v", "v", {"v": mom, "v_prev": 1.0})
    else:
        groups += linear_pair("u", "u", {"v": -c * a2, "u": -1.0})
        groups += linear_pair("v", "v", {"v": -c * s2 + mom, **({"v_prev": 1.0} if cheb else {})})
    if cheb:
        groups += linear_pair("vp", "v_prev", {"v": -mom, "v_prev": -1.0})
    return groups


def _multiply_groups(plan: IterationPlan, k: int, j: int, depth: int, B: float) -> list[UnitGroup]:
    """Feed-forward groups of sub-block ``j`` (1-based, of ``depth``) of iteration ``k``.

    Update ``v ← v + c(x - v) - cB·p̃ + β(v - v_prev)`` with ``p̃ ≈ α²(u - v)/B``.
    """
    cheb = plan.algorithm == "chebyshev"
    c = plan.eta if not cheb else plan.omega[k] / plan.theta
    mom = plan.omega[k] - 1.0 if cheb else 0.0
    final = j == depth
    prod_out = {"v": -c * B} if final else None
    groups = mult.first_groups(B, prod_out) if j == 1 else mult.saw_groups(j, prod_out)
    if final:
        groups += linear_pair("x", "x", {"v": c})
        groups += linear_pair("v", "v", {"v": -c + mom, **({"v_prev": 1.0} if cheb else {})})
        groups += linear_pair("u", "u", {"u": -1.0})
        if cheb:
            groups += linear_pair("vp", "v_prev", {"v": -mom, "v_prev": -1.0})
    return groups


# -- the construction object ---------------------------------------------------------------------


@dataclass
class MultiplyInfo:
    """The multiplication module's parameters and bounds (``multiply`` only)."""

    depth: int
    B: float  # domain scale: |(u - v)_i| ≤ B on the data ball
    R_x: float  # data ball radius ‖x‖ ≤ R_x (probability ≥ 1 - DATA_BALL_FAILURE)
    x_norm_min: float  # relative bound stated for ‖x‖ ≥ x_norm_min
    product_error: float  # |p̃ - α²b̃| per coordinate
    abs_bound: float  # ‖out - out_exact-arith‖ over all t (spectral grid)
    rel_bound: float  # abs_bound · a_max / x_norm_min

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Construction:
    """A constructed network: ``module`` (a :class:`Transformer`), its plan, resources, manifest.

    ``score(X, t)`` evaluates the network on ``X`` ``(n, d, H)`` (numpy in → numpy out);
    ``blocks_per_iteration`` blocks realise one iteration, so the residual after block
    ``k·blocks_per_iteration`` holds iterate ``k``.
    """

    spec: GPSpec
    choices: Choices
    t: float
    plan: IterationPlan
    config: ArchConfig
    module: Transformer
    heads: list[Head]
    blocks_per_iteration: int
    ffn_units: list[dict[str, list[int]]]
    multiply: MultiplyInfo | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> ChannelLayout:
        return self.config.layout

    @property
    def error_bound(self) -> float:
        eb = self.plan.error_bound
        return eb + (self.multiply.rel_bound if self.multiply else 0.0)

    def score(self, X, t: Any = None):
        """Network output for ``X`` ``(n, d, H)`` at ``t`` (default: the construction's ``t``)."""
        t = self.t if t is None else t
        self.spec.schedule.check_time(t)
        check_frames(self.config, X)
        return network_score(self.module, X, t)

    def reference_iterates(self, X: np.ndarray, t: float | None = None) -> np.ndarray:
        """Iterates ``(K+1, n, d, H)`` of the reference iteration this network realises."""
        t = self.t if t is None else t
        system = TruncatedSystem.of(self.spec, self.plan.window)
        X = np.asarray(X, dtype=np.float64)
        if self.plan.algorithm == "gd":
            return run_gd(system, X, t, self.plan.K, self.plan.eta)
        return run_chebyshev(system, X, t, self.plan.K, self.plan.interval)

    def error_bound_for(self, X: np.ndarray, t: float | None = None) -> np.ndarray:
        """Per-sequence relative error bound ``(n,)`` at ``t`` (multiplication part from the
        exact spectrum of ``A_t``; ``inf`` outside the data ball)."""
        t = self.t if t is None else t
        X = np.asarray(X, dtype=np.float64)
        base = np.full(X.shape[0], self.plan.error_bound)
        if self.multiply is None:
            return base
        s_norm = np.linalg.norm(Oracle.for_spec(self.spec).score(X, t), axis=(1, 2))
        abs_t = _multiply_abs_bound(self, t)
        out = base + abs_t / s_norm
        out[np.linalg.norm(X, axis=(1, 2)) > self.multiply.R_x] = np.inf
        return out

    @property
    def manifest(self) -> dict[str, Any]:
        from .bundle import build_manifest

        return build_manifest(self)

    def save(self, directory: str | Path) -> Path:
        from .bundle import save_bundle

        return save_bundle(self, directory)


# -- multiplication bounds -------------------------------------------------------------------


def _perturbation_gains(plan: IterationPlan, a: np.ndarray) -> np.ndarray:
    """``max_a |Q_k(a)|`` for ``k = 0..K-1``: gain from a unit perturbation of ``v_{k+1}`` to
    ``v_K`` through the iteration's (linear) recurrence, on eigenvalues/grid ``a``."""
    K = plan.K
    gains = np.zeros(K)
    for k in range(K):
        prev, cur = np.zeros_like(a), np.ones_like(a)  # δ_k, δ_{k+1}
        for j in range(k + 1, K):
            if plan.algorithm == "gd":
                nxt = cur - plan.eta * a * cur
            else:
                om = plan.omega[j]
                nxt = cur - (om / plan.theta) * a * cur + (om - 1.0) * (cur - prev)
            prev, cur = cur, nxt
        gains[k] = float(np.max(np.abs(cur)))
    return gains


def _step_coeffs(plan: IterationPlan) -> np.ndarray:
    if plan.algorithm == "gd":
        return np.full(plan.K, plan.eta)
    return np.asarray(plan.omega) / plan.theta


def _abs_from_gains(plan, gains, B, depth, n_coord) -> float:
    total = float(np.sum(gains * _step_coeffs(plan)))
    return mult.product_error(depth) * B * math.sqrt(n_coord) * total


def _multiply_abs_bound(con: Construction, t: float) -> float:
    """Absolute bound of the multiplication error at ``t`` (exact eigenvalues of ``A_t``)."""
    system = TruncatedSystem.of(con.spec, con.plan.window)
    a2, s2 = system.coeffs(t)
    ev = (a2 * np.multiply.outer(system.mu, system.lam_w) + s2).ravel()
    gains = _perturbation_gains(con.plan, ev)
    m = con.multiply
    return _abs_from_gains(con.plan, gains, m.B, m.depth, con.spec.d * con.spec.H)


def _multiply_setup(spec: GPSpec, plan: IterationPlan, system: TruncatedSystem, target: float,
                    ) -> MultiplyInfo:
    """Domain ``B``, data ball, depth ``m`` with relative contribution ``≤ target``."""
    sched = spec.schedule
    lo, hi = plan.interval
    tr = [float(sched.alpha2(tt)) * spec.H * float(np.trace(spec.Sigma))
          + float(sched.sigma2(tt)) * spec.d * spec.H for tt in (sched.t0, sched.T)]
    R_x = math.sqrt(max(tr)) + math.sqrt(2 * hi * math.log(1 / DATA_BALL_FAILURE))
    x_norm_min = 0.5 * math.sqrt(min(tr))
    prods = np.multiply.outer(system.mu[[0, -1]], system.lam_w[[0, -1]])
    op = float(np.max(np.abs(prods - 1.0)))  # ‖Σ⊗Γ_w - I‖₂
    v_bound = 2.0 * R_x / lo  # ‖v_k‖ ≤ max|1 - P_k(a)|/a · ‖x‖ ≤ 2‖x‖/a_min
    B = DOMAIN_MARGIN * max(op, 1e-300) * v_bound
    grid = np.concatenate([np.linspace(lo, hi, 4097), [lo, hi]])
    gains = _perturbation_gains(plan, grid)
    base = _abs_from_gains(plan, gains, B, 0, spec.d * spec.H) / mult.product_error(0)
    # relative contribution abs·a_max/x_norm_min ≤ target
    depth = mult.depth_for(target * x_norm_min / (hi * base))
    abs_bound = base * mult.product_error(depth)
    if abs_bound > (DOMAIN_MARGIN - 1) * v_bound:
        raise SpecError("eps", target, "an accuracy the multiplication module can certify")
    return MultiplyInfo(depth, B, R_x, x_norm_min, mult.product_error(depth), abs_bound,
                        abs_bound * hi / x_norm_min)


# -- orchestrator ----------------------------------------------------------------------------


def construct(spec: GPSpec, t: float | None = None, eps: float = 1e-6, attention: str = "compact",
              algorithm: str = "chebyshev", time_conditioning: str = "fixed",
              window: int | None = None, **options: Any) -> Construction:
    """Build a transformer whose forward pass is the unrolled ``algorithm`` (THEORY.md §3–4).

    ``t`` defaults to ``t0`` (the hardest time); for ``gated``/``multiply`` it is only the
    time at which the error is measured.  Further ``options``: ``truncation_share``,
    ``multiply_share``, ``coefficients`` (``"t"`` or ``"all-t"``), ``pos_radius``,
    ``measure_seed``, ``measure`` (default True).
    """
    if not isinstance(spec, GPSpec):
        raise SpecError("spec", spec, "a GPSpec")
    measure = options.pop("measure", True)
    t = spec.schedule.t0 if t is None else float(spec.schedule.check_time(t))
    choices = Choices(attention=attention, algorithm=algorithm, time_conditioning=time_conditioning,
                      eps=float(eps), t=t, window=window, **options)
    _check_eps_floor(spec, choices, t)
    w, tail = spec_to_window(spec, choices, t)
    multiplying = choices.time_conditioning == "multiply"
    plan, system = window_to_plan(spec, choices, t, w, tail)
    minfo = None
    if multiplying:
        if plan.truncation_bound >= choices.eps:
            raise SpecError("window", w, "a window whose truncation bound "
                            f"({plan.truncation_bound:.3g}) leaves room below eps for the "
                            "multiplication module")
        remaining = (choices.eps - plan.truncation_bound) / (1 + plan.truncation_bound)
        plan, system = window_to_plan(spec, choices, t, w, tail,
                                      iteration_target=(1 - choices.multiply_share) * remaining)
        mult_target = choices.eps - plan.error_bound
        minfo = _multiply_setup(spec, plan, system, mult_target)
    heads = plan_to_heads(spec, choices, plan)
    con = _build(spec, choices, t, plan, heads, minfo)
    con.resources = module_resources(con)
    if measure:
        con.measured = measure_error(con, t)
    return con


def _check_eps_floor(spec: GPSpec, choices: Choices, t: float) -> None:
    """Refuse an ``eps`` below what float64 rounding allows: ``16·κ_t·u`` with ``κ_t`` of the
    exact ``A_t`` (over ``[t0, T]`` for all-t plans) — a bound below it cannot be met."""
    oracle = Oracle.for_spec(spec)
    times = (spec.schedule.t0, spec.schedule.T) if choices.all_t else (t,)
    ends = [oracle.a_extremes(tt) for tt in times]
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    kappa = hi / lo if lo > 0 else math.inf
    floor = eps_floor(kappa)
    if not choices.eps >= floor:
        raise SpecError("eps", choices.eps,
                        f"a relative error ≥ {floor:.3g}, the float64 floor 16·κ_t·u "
                        f"(κ_t = {kappa:.4g}, u = float64 machine epsilon "
                        f"{ROUNDING['float64']:.3g})")


def _build(spec, choices, t, plan, heads, minfo) -> Construction:
    layout = plan_to_layout(spec, choices)
    tf = _time_features(choices)
    depth = minfo.depth if minfo else 1
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    programs: list[list[UnitGroup]] = []
    for k in range(plan.K):
        for j in range(1, depth + 1):
            if minfo:
                programs.append(_multiply_groups(plan, k, j, depth, minfo.B))
            else:
                programs.append(_update_groups(choices, plan, k, a2, s2))
    hidden = max(len(p) for p in programs) * spec.d if programs else 0
    softmax = choices.attention == "softmax"
    R = _output_bound(spec, plan, minfo)
    cfg = ArchConfig(
        d=spec.d, H=spec.H, layout=layout, layers=len(programs), heads=len(heads),
        head_dim=1 if softmax else 3, value_dim=spec.d,
        attention="softmax" if softmax else "relu", ffn_hidden=hidden,
        sink=softmax, rel_pos=softmax, window=plan.window if softmax else None,
        gated=choices.time_conditioning == "gated", time_features=tf,
        pos_radius=choices.pos_radius, pos_period=2 * spec.H, readout="v", output_clip=R,
        dtype="float64",
    )
    module = Transformer(cfg)
    units = []
    with torch.no_grad():
        for b, block in enumerate(module.blocks):
            if b % depth == 0:
                _write_attention(block.attn, layout, heads, spec.Sigma, softmax)
            hl = write_ffn(block.ffn, layout, programs[b], spec.d, tf)
            units.append({n: list(hl.range(n)) for n in hl.names})
        module.decoder.W[:, layout.slice("v")] = -torch.eye(spec.d, dtype=torch.float64)
    module.eval()
    return Construction(spec, choices, t, plan, cfg, module, heads, depth, units, minfo)


def _write_attention(attn, layout: ChannelLayout, heads: list[Head], Sigma: np.ndarray,
                     softmax: bool) -> None:
    """Queries/keys read ``pos`` and ``const``; values read ``v``; outputs write ``coef·Σ``
    to ``u``."""
    pos, const, v, u = (layout.slice(n) for n in ("pos", "const", "v", "u"))
    Sig = torch.tensor(np.array(Sigma), dtype=torch.float64)
    d = Sig.shape[0]
    for m, h in enumerate(heads):
        if softmax:
            attn.rel_bias[m] = torch.as_tensor(h.rel_bias)
            attn.rel_mask[m] = torch.as_tensor(h.rel_mask)
            attn.sink_bias[m] = torch.as_tensor(h.sink_bias)
        else:
            attn.W_q[m, 0:2, pos] = torch.eye(2, dtype=torch.float64)
            attn.W_q[m, 2, const] = 1.0
            attn.W_k[m, 0:2, pos] = torch.eye(2, dtype=torch.float64)
            attn.W_k[m, 2, const] = -h.bias
        # V_m = W_o W_v = coef·Σ, split so that ‖W_v‖_F = ‖W_o‖_F (keeps B small)
        scale = math.sqrt(abs(h.coef) * float(torch.linalg.matrix_norm(Sig)) / math.sqrt(d))
        scale = scale if scale > 0 else 1.0
        attn.W_v[m][:, v] = scale * torch.eye(d, dtype=torch.float64)
        attn.W_o[m][u, :] = (h.coef / scale) * Sig


def _output_bound(spec: GPSpec, plan: IterationPlan, minfo: MultiplyInfo | None) -> float:
    """``R``: every iterate satisfies ``‖v_k‖ ≤ 2‖x‖/a_min`` (``|1 - P_k| ≤ 2`` on the
    spectrum), so on the data ball the output never exceeds ``2R_x/a_min`` (+ module error)."""
    if minfo is not None:
        return 2 * minfo.R_x / plan.interval[0] + minfo.abs_bound
    sched = spec.schedule
    tr = max(float(sched.alpha2(tt)) * spec.H * float(np.trace(spec.Sigma))
             + float(sched.sigma2(tt)) * spec.d * spec.H for tt in (sched.t0, sched.T))
    R_x = math.sqrt(tr) + math.sqrt(2 * plan.interval[1] * math.log(1 / DATA_BALL_FAILURE))
    return 2 * R_x / plan.interval[0]


# -- reports -----------------------------------------------------------------------------


def module_resources(con: Construction) -> dict[str, Any]:
    """``D, L, M, params, B, R`` of the built network beside THEORY.md §4's formulas."""
    cfg, plan, spec = con.config, con.plan, con.spec
    mats = weight_matrices(con.module)
    norms = [float(torch.linalg.matrix_norm(w.detach().double(), "fro")) for w in mats.values()]
    B = max(norms, default=0.0)
    params = sum(p.numel() for p in con.module.parameters())
    mdepth = con.multiply.depth if con.multiply else 0
    sched = spec.schedule
    s2_t0 = float(sched.sigma2(sched.t0))
    w = plan.window
    return {
        "D": cfg.width,
        "L": cfg.layers,
        "M": cfg.heads,
        "params": params,
        "B": B,
        "R": cfg.output_clip,
        "K": plan.K,
        "window": w,
        "theory": {
            "D": {"formula": "O(d + d_e)", "value": spec.d + 3,
                  "note": "d + positional (2) + constant (1); buffers add (2-3)d"},
            "L": {"formula": "K × (1 + depth of multiplication module)",
                  "value": plan.K * (1 + mdepth),
                  "K_formula": ("⌈ln(1/ε)/ln(1/ρ_t)⌉ ≈ (κ_t/2)ln(1/ε)" if plan.algorithm == "gd"
                                else "⌈arccosh(1/ε)/arccosh(σ)⌉ ≤ ⌈(√κ_t/2)ln(2/ε)⌉"),
                  "kappa": plan.kappa},
            "M": {"formula": "O(w(ε)) ≤ 4H; paper: 4(w+1)", "value": 4 * (w + 1),
                  "bound_4H": 4 * spec.H},
            "B": {"formula": "poly(d, ‖Σ‖, r, data bound)",
                  "Sigma_norm": float(np.linalg.norm(spec.Sigma, 2)), "r": cfg.pos_radius},
            "R": {"formula": "O(σ_t0⁻² √(Hd))", "value": math.sqrt(spec.H * spec.d) / s2_t0},
        },
    }


def measure_error(con: Construction, t: float, n: int = MEASURE_SAMPLES) -> dict[str, Any]:
    """Max relative error ``‖out - s‖/‖s‖`` over ``n`` fresh draws of ``X_t ~ N(0, A_t)``."""
    oracle = Oracle.for_spec(con.spec)
    X = oracle.sample(n, seed=con.choices.measure_seed, t=t)
    s = oracle.score(X, t)
    out = con.score(X, t)
    rel = np.linalg.norm(out - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
    return {"rel_error": float(rel.max()), "t": float(t), "samples": n,
            "seed": con.choices.measure_seed}


def spectrum_ends_of(spec: GPSpec, t: float, window: int | None = None) -> tuple[float, float]:
    """Convenience: ``(a_min, a_max)`` of ``A_w(t)``."""
    system = TruncatedSystem.of(spec, window)
    return spectrum_ends(system.lam_w[0], system.lam_w[-1], system.mu[0], system.mu[-1],
                         *system.coeffs(t))
