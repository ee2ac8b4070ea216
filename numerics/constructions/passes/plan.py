"""Pass 2, window → plan: iteration count ``K`` and coefficients (docs/theory.md §3,
:mod:`ditgp.theory.iterations`)."""

from __future__ import annotations

import math

from ditgp.theory import iterations as theory_it
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from ...iterations import TruncatedSystem
from .decisions import Choices, IterationPlan
from .window import theory_tail_bound, trunc_bound, worst_coeffs


def window_to_plan(spec: GPSpec, choices: Choices, t: float, w: int, tail: float,
                   iteration_target: float | None = None) -> tuple[IterationPlan, TruncatedSystem]:
    """Iteration count and coefficients (from :mod:`ditgp.theory.iterations`)."""
    system = TruncatedSystem.of(spec, w)
    a2, s2 = worst_coeffs(spec, choices, t)
    tau = trunc_bound(float(system.lam_w[0]), system.mu, tail, a2, s2)
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
