"""Constructions: spec + time + accuracy + choices → a transformer with built weights.

The pipeline is a chain of single-purpose passes (STYLE.md, tracr), each in its own file
under ``numerics/constructions/passes/``, run in order by :func:`construct` (this file, the orchestrator):

    passes/decisions.py     Choices, IterationPlan, MultiplyInfo: what the passes exchange
    passes/window.py        spec_to_window: the truncation window w from eps (docs/theory.md §5)
    passes/plan.py          window_to_plan: iteration count K and coefficients (docs/theory.md §3,
                            ditgp.theory.iterations)
    passes/heads.py         plan_to_heads: attention realisation of v ↦ ΣΓ_w v (docs/theory.md §8;
                            realise.py)
    passes/weights.py       plan_to_layout, build_weights: residual-stream layout, the ArchConfig and
                            weights written by channel name (ffn.py, multiply.py)
    passes/multiply_plan.py the multiplication module's domain, depth and error bound
    passes/certificate.py   the float64 floor of eps, resources D, L, M, params, B, R beside
                            the theory's formulas; error vs the oracle
    passes/construction.py  Construction, the result

**What a block computes.**  The residual stream has channels ``x`` (input frame),
``v`` (iterate), ``v_prev`` (previous iterate; Chebyshev), ``u`` (scratch), ``pos``, ``const``,
``time`` (gated / multiply) and the multiplication scratch ``saw±``, ``acc±``.  In block
``k`` the attention adds ``u = ΣΓ_w v_k`` (every realisation is exact for this product), and
the feed-forward layer applies the update with exact ReLU pairs ``y = ReLU(y) - ReLU(-y)``:

* GD (docs/theory.md §3): ``v ← v + η(x - α²u - σ²v)``, ``u ← 0``;
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

from typing import Any

from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

# The ``X as X`` imports are explicit re-exports: names this module defined before the passes
# moved to their own files stay importable from here.
from .passes.certificate import check_eps_floor, measure_error, module_resources
from .passes.certificate import spectrum_ends_of as spectrum_ends_of
from .passes.construction import Construction
from .passes.decisions import ALGORITHMS, ATTENTION_REALISATIONS, TIME_CONDITIONINGS, Choices, IterationPlan
from .passes.decisions import COEFFICIENTS as COEFFICIENTS
from .passes.decisions import DATA_BALL_FAILURE as DATA_BALL_FAILURE
from .passes.decisions import DOMAIN_MARGIN as DOMAIN_MARGIN
from .passes.decisions import MEASURE_SAMPLES as MEASURE_SAMPLES
from .passes.decisions import MultiplyInfo as MultiplyInfo
from .passes.heads import plan_to_heads
from .passes.multiply_plan import plan_multiply
from .passes.plan import window_to_plan
from .passes.weights import build_weights
from .passes.weights import plan_to_layout as plan_to_layout
from .passes.window import spec_to_window, theory_tail_bound

__all__ = [
    "ATTENTION_REALISATIONS",
    "ALGORITHMS",
    "TIME_CONDITIONINGS",
    "Choices",
    "IterationPlan",
    "Construction",
    "construct",
    "theory_tail_bound",
]


def construct(spec: GPSpec, t: float | None = None, eps: float = 1e-6, attention: str = "compact",
              algorithm: str = "chebyshev", time_conditioning: str = "fixed",
              window: int | None = None, **options: Any) -> Construction:
    """Build a transformer whose forward pass is the unrolled ``algorithm`` (docs/theory.md §3 and §8).

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
    check_eps_floor(spec, choices, t)
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
        minfo = plan_multiply(spec, plan, system, mult_target)
    heads = plan_to_heads(spec, choices, plan)
    con = build_weights(spec, choices, t, plan, heads, minfo)
    con.resources = module_resources(con)
    if measure:
        con.measured = measure_error(con, t)
    return con
