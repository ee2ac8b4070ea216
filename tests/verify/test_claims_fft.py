"""Claims of the long-sequence FFT path: each passes on its inputs and fails when fed a wrong
implementation just above its tolerance."""

from __future__ import annotations

import numpy as np
import pytest
from ditgp.numerics.fft.fft_oracle import FFTOracle
from ditgp.numerics.oracle import Oracle
from ditgp.verify.claims import claim
from ditgp.verify.claims.fft import CLAIMS, examples, inputs
from hypothesis import given, settings


@pytest.mark.parametrize("c", CLAIMS, ids=[c.id for c in CLAIMS])
def test_claims_hold_on_examples(c):
    assert c.source == "derived" and c.statement and c.tolerance
    for inp in examples():
        out = c.check(inp)
        assert out.margin >= 0, (c.id, inp.spec.describe(), out)


@settings(max_examples=6, deadline=None, derandomize=True, database=None)
@given(inp=inputs())
def test_fft_equals_eig_property(inp):
    assert claim("fft-equals-eig").check(inp).margin >= 0


def _factor_above(out, k=2.0):
    return 1 + k * out.rhs / max(out.lhs, 1e-300) if out.lhs else 1.0


def test_wrong_solver_just_above_tolerance_fails():
    inp = examples()[0]
    c = claim("fft-equals-eig")
    out = c.check(inp)
    o = Oracle.for_spec(inp.spec)
    for k, ok in ((0.5, True), (1.5, False)):
        def solve(X, t, k=k):
            return o.solve(X, t) * (1 + k * out.rhs)  # relative error k·tolerance

        assert (c.check(inp, solve_fn=solve).margin >= 0) is ok


def test_bound_below_true_error_fails():
    inp = examples()[1]
    c = claim("fft-certificate")
    assert c.check(inp).margin >= 0

    def too_small(res, exact):
        return 0.5 * np.linalg.norm(res.V - exact, axis=(1, 2))  # below the true error

    assert c.check(inp, bound_fn=too_small).margin < 0

    def too_loose(res, exact):  # a bound looser than the stated factor allows
        return 1e6 * res.error_bound

    assert c.check(inp, bound_fn=too_loose).margin < 0


def test_floor_just_outside_its_bound_fails():
    inp = examples()[2]
    c = claim("fft-bayes-floor")
    out = c.check(inp)
    assert c.check(inp, floor_fn=lambda est: est.value + 0.5 * out.rhs).margin >= 0
    assert c.check(inp, floor_fn=lambda est: est.value + 2.0 * out.rhs + out.lhs).margin < 0


def test_embedding_wrong_spectrum_fails():
    inp = examples()[0]
    c = claim("circulant-embedding-exact")
    out = c.check(inp)
    N = FFTOracle.for_spec(inp.spec).embedding.N
    # shift every eigenvalue by 3× the tolerance: the implied γ(0) moves by 3·tol
    assert c.check(inp, spectrum_fn=lambda lam: lam + 3 * out.rhs).margin < 0
    assert c.check(inp, spectrum_fn=lambda lam: lam + 0.1 * out.rhs / N).margin >= 0


def test_logdet_just_outside_fails():
    inp = examples()[3]
    c = claim("slq-logdet")
    out = c.check(inp)
    assert c.check(inp, logdet_fn=lambda e, se: e + 2 * out.rhs).margin < 0


@settings(max_examples=4, deadline=None, derandomize=True, database=None)
@given(inp=inputs())
def test_certificate_property(inp):
    assert claim("fft-certificate").check(inp).margin >= 0


def test_embedding_claim_rejects_kernels_that_do_not_embed():
    """A kernel whose embedding is refused (rational quadratic ℓ = 4, α = 1 at H = 16: a
    negative eigenvalue at every size) is not an input of the claim: hypothesis rejects it
    instead of reporting an error (the suite failed order-dependently on such a draw)."""
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec
    from ditgp.verify.claims.base import TimedDraw
    from ditgp.verify.claims.fft import check_embedding
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Unsatisfiable

    spec = GPSpec(kernel("rational-quadratic", ell=4.0, alpha=1.0), H=16, d=1)

    @settings(max_examples=2, database=None)
    @given(st.just(TimedDraw(spec, 0.1, 0)))
    def prop(inp):
        check_embedding(inp)

    with pytest.raises(Unsatisfiable):  # every draw rejected — not an error of the claim
        prop()
