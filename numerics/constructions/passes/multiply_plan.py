"""Planning the multiplication module (``time_conditioning="multiply"``): its domain ``B``, the
data ball, the depth that meets its share of ``eps``, and the bound of its error carried
through the rest of the iteration (``multiply.py`` holds the module itself)."""

from __future__ import annotations

import math

import numpy as np
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from ...iterations import TruncatedSystem
from .. import multiply as mult
from .decisions import DATA_BALL_FAILURE, DOMAIN_MARGIN, IterationPlan, MultiplyInfo

__all__ = ["perturbation_gains", "step_coeffs", "abs_from_gains", "multiply_abs_bound",
           "plan_multiply"]


def perturbation_gains(plan: IterationPlan, a: np.ndarray) -> np.ndarray:
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


def step_coeffs(plan: IterationPlan) -> np.ndarray:
    if plan.algorithm == "gd":
        return np.full(plan.K, plan.eta)
    return np.asarray(plan.omega) / plan.theta


def abs_from_gains(plan, gains, B, depth, n_coord) -> float:
    total = float(np.sum(gains * step_coeffs(plan)))
    return mult.product_error(depth) * B * math.sqrt(n_coord) * total


def multiply_abs_bound(spec: GPSpec, plan: IterationPlan, m: MultiplyInfo, t: float) -> float:
    """Absolute bound of the multiplication error at ``t`` (exact eigenvalues of ``A_t``)."""
    system = TruncatedSystem.of(spec, plan.window)
    a2, s2 = system.coeffs(t)
    ev = (a2 * np.multiply.outer(system.mu, system.lam_w) + s2).ravel()
    gains = perturbation_gains(plan, ev)
    return abs_from_gains(plan, gains, m.B, m.depth, spec.d * spec.H)


def plan_multiply(spec: GPSpec, plan: IterationPlan, system: TruncatedSystem, target: float,
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
    gains = perturbation_gains(plan, grid)
    base = abs_from_gains(plan, gains, B, 0, spec.d * spec.H) / mult.product_error(0)
    # relative contribution abs·a_max/x_norm_min ≤ target
    depth = mult.depth_for(target * x_norm_min / (hi * base))
    abs_bound = base * mult.product_error(depth)
    if abs_bound > (DOMAIN_MARGIN - 1) * v_bound:
        raise SpecError("eps", target, "an accuracy the multiplication module can certify")
    return MultiplyInfo(depth, B, R_x, x_norm_min, mult.product_error(depth), abs_bound,
                        abs_bound * hi / x_norm_min)
