"""Claims about the unrolled iterations: the score as GD's fixed point (1), the GD
contraction (2) and the Chebyshev bound (3)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from ditgp.theory import iterations as tit
from ditgp.verify import tolerances as tol
from ditgp.verify.claims.base import (
    SLOW,
    Claim,
    Outcome,
    TimedDraw,
    a_ends,
    apply_A,
    noised_draws,
    relative_margins,
    solution,
    timed_specs,
    worst_of,
)
from ditgp.verify.compare import relative_l2

#: The claims of this subject, in the order they are defined (collected by ``registry``).
CLAIMS: list[Claim] = []
_register = CLAIMS.append


# -- 1. fixed point ---------------------------------------------
def check_fixed_point(inp: TimedDraw, *, score_fn: Callable | None = None) -> Outcome:
    """Oracle residual: ``v* = -s(x, t)`` solves ``A_t v* = x``, so one GD step with
    ``η_t = 2/(a_min + a_max)`` moves it by ``‖η_t(A_t v* - x)‖/‖v*‖ ≤`` rounding.  This checks
    the *oracle* (``score_fn`` replaces it); it cannot see a wrong step size — every ``η``
    keeps an exact solution fixed — which claims 2 and 6 check."""
    from ditgp.numerics.oracle import exact_score

    spec, t = inp.spec, inp.t
    X = noised_draws(inp)
    v = -np.asarray((score_fn or exact_score)(spec, X, t))
    a_min, a_max = a_ends(spec, t)
    eta = float(tit.gd_step_size(a_min, a_max))
    step = v - eta * (apply_A(spec, v, t) - X)
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
    X = noised_draws(inp)
    v = solution(spec, X, t)
    a_min, a_max = a_ends(spec, t)
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
    out = worst_of(relative_margins(errs, rhs), errs, rhs, "k")
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


# -- claims ---------------------------------------------
_register(Claim(
    "score-fixed-point", 1,
    "Oracle residual: the oracle's v* = -s(x, t) solves A_t v* = x, i.e. it is the fixed point "
    "of gradient descent on A_t (a check of the oracle, not of the step size).",
    r"v^\star = -s(x,t) \;\Rightarrow\; \frac{\|\eta_t (A_t v^\star - x)\|}{\|v^\star\|} "
    r"\le \text{rounding}",
    "diagnostic",
    "rounding only: 16·2(d+H)·κ_t·u (the oracle's relative error is O((d+H)κ_t u) and one "
    "step multiplies it by η_t a_max ≤ 2)",
    timed_specs(max_H=16, max_d=3), check_fixed_point,
    requires=("ditgp.numerics.oracle:exact_score",), health_checks=SLOW,
))
_register(Claim(
    "gd-contraction", 2,
    "Gradient descent with η_t = 2/(a_min + a_max) from v_0 = 0 has relative error at most "
    "ρ_t^k after k steps.",
    r"\frac{\|v_k - v^\star\|}{\|v^\star\|} \le \rho_t^k,\quad "
    r"\rho_t = \frac{\kappa_t - 1}{\kappa_t + 1}",
    "paper",
    "the contraction ρ_t^k itself (from ditgp.theory.iterations) + rounding 16·2(d+H)·κ_t·u",
    timed_specs(max_H=12, max_d=3), check_gd,
    requires=("ditgp.numerics.iterations:gd_iterates",), health_checks=SLOW,
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
    timed_specs(max_H=12, max_d=3), check_chebyshev,
    requires=("ditgp.numerics.iterations:chebyshev_iterates",), health_checks=SLOW,
))
