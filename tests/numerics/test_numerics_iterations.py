"""Reference iterations: every iterate obeys the theory's error bound; the limit is the
(truncated) exact solution."""

from __future__ import annotations

import numpy as np
import pytest
from ditgp.numerics import Oracle, chebyshev_iterates, gd_iterates
from ditgp.numerics.iterations import TruncatedSystem
from ditgp.numerics.oracle import unvec, vec
from ditgp.numerics.toeplitz import dense_toeplitz
from ditgp.theory import iterations as theory_it


def _rel_errors(iterates, target):
    num = np.linalg.norm((iterates - target).reshape(len(iterates), -1), axis=1)
    return num / np.linalg.norm(target)


@pytest.mark.parametrize("t", [0.05, 1.0])
def test_gd_within_rho_k(spec, t):
    o = Oracle.for_spec(spec)
    X = o.sample(1, seed=0, t=t)
    its = gd_iterates(spec, X, t, 60)
    errs = _rel_errors(its, o.solve(X, t))
    bounds = [theory_it.gd_error_bound(*o.a_extremes(t), k) for k in range(61)]
    assert np.all(errs <= np.asarray(bounds) * (1 + 1e-9) + 1e-14)


@pytest.mark.parametrize("t", [0.05, 1.0])
def test_chebyshev_within_bound(spec, t):
    o = Oracle.for_spec(spec)
    X = o.sample(1, seed=1, t=t)
    its = chebyshev_iterates(spec, X, t, 40)
    errs = _rel_errors(its, o.solve(X, t))
    plan = theory_it.chebyshev_plan(*o.a_extremes(t), 40)
    assert np.all(errs <= plan.bounds * (1 + 1e-9) + 1e-14)


def test_truncated_system_limit(small_spec):
    spec, t, w = small_spec, 0.3, 2
    system = TruncatedSystem.of(spec, w)
    X = Oracle.for_spec(spec).sample(2, seed=2, t=t)
    a2, s2 = system.coeffs(t)
    A_w = a2 * np.kron(dense_toeplitz(system.g), spec.Sigma) + s2 * np.eye(spec.d * spec.H)
    target = unvec(np.linalg.solve(A_w, vec(X).T).T, spec.d, spec.H)
    its = chebyshev_iterates(spec, X, t, 80, window=w)
    assert np.max(np.abs(its[-1] - target)) < 1e-10 * np.max(np.abs(target))
    assert np.all(system.g[w + 1:] == 0) and system.g[w] != 0
