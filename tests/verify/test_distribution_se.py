"""The autocorrelation's standard error is the spread of the estimator: over 400 independent
data sets of 200 exact sequences, the standard deviation of ``ρ̂(m)`` equals the mean stated SE
at every lag (the delta method's ``−ρ̂·D`` term matters where ``ρ`` is large: without it the
SE was about twice the spread at lag 1)."""

from __future__ import annotations

import numpy as np
from ditgp.numerics.oracle import Oracle
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial
from ditgp.verify.distribution import autocorrelation

SPEC = GPSpec(kernel("laplace", ell=2.0), H=6, d=2, spatial=Spatial("ar", rho=0.4),
              schedule=Schedule(0.05, 5.0))
#: replications, sequences per replication
R, N = 400, 200
#: the ratio sd/SE is estimated from R = 400 replications (relative SE ≈ 1/√(2R) = 3.5 %):
#: ±25 % is beyond 6 of its SEs, and the planted SE (twice the spread at lag 1) far outside
BAND = (0.8, 1.25)


def test_stated_se_matches_the_spread_over_replications():
    X = Oracle.for_spec(SPEC).sample(R * N, seed=7, t=0.05).reshape(R, N, SPEC.d, SPEC.H)
    reps = [autocorrelation(x, SPEC, 0.05) for x in X]
    est = np.array([r["estimate"] for r in reps])
    se = np.array([r["se"] for r in reps])
    ratio = est.std(axis=0, ddof=1)[1:] / se.mean(axis=0)[1:]
    assert np.all((ratio > BAND[0]) & (ratio < BAND[1])), ratio
