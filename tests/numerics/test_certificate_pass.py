"""The certificate pass: the perturbation gains are those of the iteration itself (checked by
running it twice, with and without a unit perturbation), and the measured error is the worst
draw's, not the average."""

from __future__ import annotations

import numpy as np
import pytest
from ditgp.numerics import construct
from ditgp.numerics.constructions.passes.certificate import measure_error
from ditgp.numerics.constructions.passes.multiply_plan import perturbation_gains
from ditgp.numerics.oracle import Oracle
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec

SPEC = GPSpec(kernel("laplace", ell=2.0), H=8, d=2)


def _run(plan, a: np.ndarray, K: int, kick: int | None) -> np.ndarray:
    """The scalar iteration on eigenvalues ``a`` with input 1 (``docs/weights-format.md``:
    GD ``v ← v + η(x − a v)``; Chebyshev ``v ← v + (ω_{j+1}/θ)(x − a v) + (ω_{j+1} − 1)(v −
    v_prev)``), adding 1 to ``v_{kick+1}`` right after it is computed."""
    prev, cur = np.zeros_like(a), np.zeros_like(a)
    for j in range(K):
        if plan.algorithm == "gd":
            nxt = cur + plan.eta * (1.0 - a * cur)
        else:
            om = plan.omega[j]
            nxt = cur + (om / plan.theta) * (1.0 - a * cur) + (om - 1.0) * (cur - prev)
        prev, cur = cur, nxt
        if j == kick:
            cur = cur + 1.0
    return cur


@pytest.mark.parametrize("algorithm", ["gd", "chebyshev"])
def test_perturbation_gains_are_the_iterations_own(algorithm):
    plan = construct(SPEC, t=0.3, eps=1e-3, algorithm=algorithm).plan
    lo, hi = plan.interval
    grid = np.linspace(lo, hi, 257)
    gains = perturbation_gains(plan, grid)
    base = _run(plan, grid, plan.K, None)
    want = [float(np.max(np.abs(_run(plan, grid, plan.K, k) - base))) for k in range(plan.K)]
    assert gains[-1] == 1.0
    assert np.allclose(gains, want, rtol=1e-9, atol=1e-12), (gains, want)


def test_the_measured_error_is_the_worst_draw():
    con = construct(SPEC, t=0.3, eps=1e-2, algorithm="gd")
    m = measure_error(con, 0.3, n=16)
    oracle = Oracle.for_spec(SPEC)
    X = oracle.sample(16, seed=con.choices.measure_seed, t=0.3)
    s = oracle.score(X, 0.3)
    rel = np.linalg.norm(con.score(X, 0.3) - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
    assert m["rel_error"] == pytest.approx(float(rel.max()), rel=1e-12)
    assert rel.max() > 1.01 * rel.mean()  # the draws differ: mean and max tell apart
