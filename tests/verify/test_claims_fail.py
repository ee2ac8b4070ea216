"""Every claim fails on a wrong implementation perturbed just above its tolerance.

Each test checks one fixed input directly (fast, deterministic) and plants one bug: a step,
a bound, an oracle, a network weight, a label.  The perturbations are a small multiple of the
claim's own tolerance, so that loosening the tolerance (e.g. ``ROUNDING_SAFETY`` 16 → 160,
``MC_Z`` 6 → 60) or comparing the wrong quantities lets them through and the test fails.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Schedule, Spatial
from ditgp.verify import claims as C
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.claims.base import KernelSize, KernelWindow, TimedDraw
from hypothesis import HealthCheck, Phase, given, settings

#: On H = 2, d = 1 the spectrum of A_t is exactly {a_min, a_max}: the GD bound ρ^k and the
#: Chebyshev bound 1/T_k(σ) are attained for every x, so any wrong step shows at once.
TIGHT = TimedDraw(GPSpec(kernel("laplace", ell=6.0), H=2, d=1), t=0.002, seed=3)
SMALL = TimedDraw(GPSpec(kernel("laplace", ell=2.0), H=5, d=2), t=0.3, seed=1)
#: κ_t ≈ 1 at t = T: one GD step scales a perturbation of v* by ≈ 1.
FLAT = TimedDraw(GPSpec(kernel("laplace", ell=2.0), H=4, d=2), t=10.0, seed=2)


def _draws(strategy, n: int = 60) -> list:
    """``n`` draws of ``strategy`` (generation only: no shrinking, no database)."""
    seen: list = []

    @settings(database=None, max_examples=n, deadline=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(x):
        seen.append(x)
    collect()
    return seen


def _find(strategy, pred, n: int = 60):
    hits = [x for x in _draws(strategy, n) if pred(x)]
    assert hits, "the strategy never drew such an input in its first draws"
    return hits[0]


# -- 1. oracle residual ---------------------------------------------
def test_fixed_point_catches_an_oracle_off_by_twice_the_rounding():
    from ditgp.numerics.oracle import exact_score

    ok = C.check_fixed_point(FLAT)
    assert ok.margin >= 0
    spec = FLAT.spec  # the documented allowance 16·2(d+H)·κ_t·u, written out (not read back)
    allowance = 16 * 2 * (spec.d + spec.H) * ok.detail["kappa_t"] * np.finfo(float).eps
    assert ok.rhs == pytest.approx(allowance, rel=1e-12)
    delta = 2.0 * allowance  # twice the allowance: caught; ROUNDING_SAFETY ×10 would let it pass
    out = C.check_fixed_point(FLAT, score_fn=lambda s, X, t: exact_score(s, X, t) * (1 + delta))
    assert out.margin < 0


def test_fixed_point_claim_is_labelled_an_oracle_check():
    c = C.claim("score-fixed-point")
    assert c.source == "diagnostic" and "oracle" in c.statement.lower()


# -- 2/3. iterations ---------------------------------------------
def test_gd_bound_is_attained_and_a_step_off_by_1e5_is_caught():
    ok = C.check_gd(TIGHT)
    assert 0 <= ok.margin < 1e-6  # attained: the bound is tight on this input
    assert C.check_gd(TIGHT, eta_scale=1 + 1e-5).margin < 0  # well inside ρ⁻¹ = one step late


def test_chebyshev_bound_is_attained_and_wrong_coefficients_are_caught():
    ok = C.check_chebyshev(TIGHT)
    assert 0 <= ok.margin < 1e-6
    assert C.check_chebyshev(TIGHT, interval_scale=1 + 1e-5).margin < 0


# -- 4. spectral bounds ---------------------------------------------
def _bounds_with(**change):
    from ditgp.theory.spectral import eigenvalue_bounds

    def fn(k, H):
        b = eigenvalue_bounds(k, H)
        return dataclasses.replace(b, **{key: f(b, k, H) for key, f in change.items()})
    return fn


SPECTRAL = KernelSize(kernel("laplace", ell=2.0), 16)


def test_a_lower_bound_above_lambda_min_by_twice_the_rounding_is_caught():
    lam = np.linalg.eigvalsh(SPECTRAL.kernel.matrix(SPECTRAL.H))
    slack = tol.rounding(SPECTRAL.H) * 1.0 * max(3.0, 1.0)
    bad = _bounds_with(lower=lambda b, k, H: float(lam[0]) + 2 * slack * max(b.upper, 1.0))
    assert C.check_spectral(SPECTRAL).margin >= 0
    out = C.check_spectral(SPECTRAL, bounds=bad)
    assert out.margin < 0 and out.detail["side"] == "lower"


@pytest.mark.parametrize("change", ["lazy", "upper-loose", "lower-loose"])
def test_loose_spectral_bounds_fail_tightness(change):
    lam = np.linalg.eigvalsh(SPECTRAL.kernel.matrix(C.TIGHTNESS_H if hasattr(C, "TIGHTNESS_H")
                                                     else 512))
    f = tol.SPECTRAL_TIGHTNESS * 1.01  # just outside the stated factor
    bad = {"lazy": _bounds_with(lower=lambda b, k, H: 0.0, upper=lambda b, k, H: 1000.0),
           "upper-loose": _bounds_with(upper=lambda b, k, H: f * float(lam[-1])),
           "lower-loose": _bounds_with(lower=lambda b, k, H: float(lam[0]) / f)}[change]
    out = C.check_spectral(SPECTRAL, bounds=bad)
    assert out.margin < 0 and "tight" in out.detail["side"]


# -- 5. truncation ---------------------------------------------
TRUNC = KernelWindow(kernel("power-law", ell=1.0, nu=2.0), 40, 5)


def test_a_finite_tail_a_hair_below_the_exact_sum_is_caught():
    from ditgp.theory.truncation import tail_bound

    assert C.check_truncation(TRUNC).margin >= 0
    out = C.check_truncation(TRUNC, tail=lambda k, w, H: tail_bound(k, w, H) * (1 - 1e-9))
    assert out.margin < 0


def test_a_closed_form_tail_below_the_independent_sum_is_caught():
    from ditgp.theory.truncation import tail_bound
    from ditgp.verify.claims.spectra import independent_tail

    def wrong(k, w, H):  # finite sums right, infinite-lattice closed form 1e-6 too small
        return tail_bound(k, w, H) if H is not None else independent_tail(k, w)[0] * (1 - 1e-6)
    out = C.check_truncation(TRUNC, tail=wrong)
    assert out.margin < 0 and "closed-form" in out.detail["part"]


def test_independent_tail_encloses_the_closed_form_for_laplace():
    from ditgp.verify.claims.spectra import independent_tail

    k = kernel("laplace", ell=3.0)
    exact = math.exp(-6 / 3.0) / (1 - math.exp(-1 / 3.0))  # Σ_{m>5} e^{-m/3}
    lo, hi = independent_tail(k, 5)
    assert lo <= exact * (1 + 1e-12) and exact <= hi * (1 + 1e-12)
    assert hi - lo <= 1e-7 * exact  # the remainder beyond 48 terms is ~1e-8 of the sum


# -- 8. window growth ---------------------------------------------
@pytest.mark.parametrize(("k", "wrong"), [
    (kernel("laplace", ell=2.0), "one short"), (kernel("power-law", ell=1.0, nu=3.0), "one short"),
    (kernel("laplace", ell=2.0), "lazy ×5"),  # 'not lazy' is checked for exponential kernels
], ids=["laplace-short", "power-law-short", "laplace-lazy"])
def test_a_wrong_window_is_caught_against_the_independent_tail(k, wrong):
    from ditgp.theory.truncation import window

    assert C.check_window(k).margin >= 0
    fn = {"one short": lambda kk, d, H: max(window(kk, d, H) - 1, 0),
          "lazy ×5": lambda kk, d, H: 5 * window(kk, d, H) + 1}[wrong]
    assert C.check_window(k, window_fn=fn).margin < 0


def test_a_window_that_grows_too_slowly_is_caught():
    from ditgp.theory.truncation import window

    k = kernel("power-law", ell=1.0, nu=3.0)

    def capped(kk, d, H):  # right for large δ, then stops growing (a log law for a power law)
        return min(window(kk, d, H), window(kk, 1e-4, H))
    out = C.check_window(k, window_fn=capped)
    assert out.margin < 0


def test_non_summable_window_uses_the_finite_tail():
    from ditgp.theory.truncation import window

    k = kernel("logarithmic", ell=1.0, nu=2.0)
    assert C.check_window(k).margin >= 0
    out = C.check_window(k, window_fn=lambda kk, d, H: max(window(kk, d, H) - 1, 0))
    assert out.margin < 0


# -- 9. Bayes floor ---------------------------------------------
def test_a_floor_off_by_one_and_a_half_mc_tolerances_is_caught():
    from ditgp.theory.process import bayes_floor

    ok = C.check_bayes_floor(SMALL)
    assert ok.margin >= 0
    e = ok.detail["mc"] - ok.detail["floor"]
    # 1.5 × the documented 6 standard errors (written out, not read back): MC_Z ×10 lets it pass
    off = -math.copysign(1.5 * 6.0 * ok.detail["stderr"], e)
    out = C.check_bayes_floor(SMALL, floor_fn=lambda *a: bayes_floor(*a) + off)
    assert out.margin < 0


# -- 10. conditioning ---------------------------------------------
@pytest.mark.parametrize("k", [kernel("laplace", ell=2.0), kernel("power-law", ell=1.0, nu=2.0)],
                         ids=["laplace", "power-law-2"])
def test_a_summable_kernel_labelled_non_summable_fails(k):
    from ditgp.theory.spectral import eigenvalue_bounds

    def nonuniform(kk, H):  # what the bounds would say for a non-summable kernel
        b = eigenvalue_bounds(kk, H)
        return dataclasses.replace(b, uniform=False) if H is None else b
    inp = KernelSize(k, 8)
    assert C.check_conditioning(inp).margin >= 0
    out = C.check_conditioning(inp, bounds=nonuniform, summable=lambda kk: False)
    assert out.margin < 0


def test_non_summable_growth_holds_at_the_law_rate():
    out = C.check_conditioning(KernelSize(kernel("power-law", ell=1.0, nu=0.5), 8))
    assert out.margin >= 0 and out.detail["part"] in ("growth at the law's rate", "upper at nH")


# -- 11. score vs log-density ---------------------------------------------
def test_score_off_by_twice_the_log_density_rounding_is_caught():
    from ditgp.numerics.oracle import exact_score

    inp = TimedDraw(GPSpec(kernel("laplace", ell=2.0), H=3, d=2), t=0.5, seed=0)
    ok = C.check_score_density(inp)
    assert ok.margin >= 0
    delta = ok.lhs + 2.0 * ok.rhs
    out = C.check_score_density(inp, score_fn=lambda s, X, t: exact_score(s, X, t) * (1 + delta))
    assert out.margin < 0


# -- 6/7/12/13. constructions ---------------------------------------------
REQ = ds.ConstructionRequest(GPSpec(kernel("laplace", ell=1.5), H=5, d=2), t=0.2, eps=1e-4,
                             attention="paper", algorithm="gd", time_conditioning="fixed")


def _scaled(param: str, block: int, factor: float, head: int | None = None):
    def build(req):
        import torch

        c = req.build()
        with torch.no_grad():
            obj = c.module.blocks[block]
            mod, name = param.split(".")
            p = getattr(getattr(obj, mod), name)
            if head is None:
                p.mul_(factor)
            else:
                p[head].mul_(factor)
        return c
    return build


def test_a_feed_forward_update_off_by_1e9_is_caught_layer_by_layer():
    assert C.check_construction_layers(REQ).margin >= 0
    out = C.check_construction_layers(REQ, build=_scaled("ffn.W_2", 1, 1 + 1e-9))
    assert out.margin < 0


def test_a_value_matrix_off_by_1e9_is_caught_by_the_attention_claim():
    assert C.check_attention(REQ).margin >= 0
    out = C.check_attention(REQ, build=_scaled("attn.W_v", 0, 1 + 1e-9, head=0))
    assert out.margin < 0


def test_resources_are_counted_from_the_network():
    ok = C.check_construction_resources(REQ)
    assert ok.margin >= 0
    # a head whose value path is zeroed: 4(w+1) - 1 heads counted
    out = C.check_construction_resources(REQ, build=_scaled("attn.W_v", 0, 0.0, head=0))
    assert out.margin < 0 and out.detail["resource"].startswith("M")
    assert out.lhs == 4 * (out.detail["window"] + 1) - 1


def test_extra_iterations_are_caught_against_k_of_eps():
    """K + 3 (a network built for a tighter eps than requested) no longer reads equal."""
    def more(req):
        c = dataclasses.replace(req, eps=req.eps * 0.5).build()
        return c
    out = C.check_construction_resources(REQ, build=more)
    assert out.margin < 0 and out.detail["resource"] == "K ≤ K(ε)"


def test_a_window_too_short_for_its_budget_is_caught():
    from ditgp.numerics import construct

    def short(req):
        c0 = req.build()
        return construct(req.spec, **req.kwargs(), window=max(int(c0.plan.window) - 1, 0))
    out = C.check_construction_resources(REQ, build=short)
    assert out.margin < 0


THEOREM = ds.ConstructionRequest(
    GPSpec(kernel("power-law", ell=1.0, nu=1.5), H=4, d=1, spatial=Spatial("identity"),
           schedule=Schedule(0.1, 5.0)),
    t=0.1, eps=1e-3, attention="compact", algorithm="chebyshev", time_conditioning="gated")


def test_theorem1_holds_and_a_decoder_off_by_twice_eps_is_caught():
    ok = C.check_theorem1(THEOREM)
    assert ok.margin >= 0
    def off(req):
        import torch

        c = req.build()
        with torch.no_grad():
            c.module.decoder.W.mul_(1 + 2 * req.eps)
        return c
    assert C.check_theorem1(THEOREM, build=off).margin < 0


# -- strategies reach what the claims need ---------------------------------------------
def test_construction_claims_draw_gated_networks_and_every_attention():
    for cid in ("construction-layers", "attention-kernel"):
        strat = C.claim(cid).strategy()
        assert _find(strat, lambda r: r.time_conditioning == "gated").time_conditioning == "gated"
        assert _find(strat, lambda r: r.attention == "softmax")


def test_theorem1_draws_every_decay_class_and_the_multiplication_module():
    strat = C.claim("theorem-1").strategy()
    for cls in ("exponential", "polynomial", "logarithmic"):
        assert _find(strat, lambda r, c=cls: r.spec.kernel.decay_class.value == c)
    assert _find(strat, lambda r: r.time_conditioning == "multiply")


def test_spec_claims_draw_composites_and_sigma_on_both_sides_of_one():
    strat = C.claim("gd-contraction").strategy()
    from ditgp.theory.kernels.composite import ProductKernel, SumKernel

    assert _find(strat, lambda d: isinstance(d.spec.kernel, SumKernel | ProductKernel))
    assert _find(strat, lambda d: d.spec.d > 1 and np.linalg.eigvalsh(d.spec.Sigma)[-1] < 1)
    assert _find(strat, lambda d: d.spec.d > 1 and np.linalg.eigvalsh(d.spec.Sigma)[0] > 1)


def test_kernel_claims_draw_scaled_composites():
    from ditgp.theory.kernels.composite import ScaledKernel

    strat = C.claim("spectral-bounds").strategy()
    assert _find(strat, lambda d: isinstance(d.kernel, ScaledKernel))


def test_every_claim_has_a_source_label():
    allowed = {"paper", "paper (Fu et al. 2024 construction)", "derived", "diagnostic"}
    assert {c.source for c in C.REGISTRY.values()} <= allowed
    assert C.claim("construction-resources").source == "paper (Fu et al. 2024 construction)"


# -- 19/20 the probes' own claims: planted instruments fail ------------------------------------
def _probe_request(attention="compact", tc="fixed"):
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec, Spatial
    from ditgp.verify.strategies import ConstructionRequest

    spec = GPSpec(kernel("laplace", ell=2.0), H=6, d=2, spatial=Spatial("ar", rho=0.5))
    return ConstructionRequest(spec, 0.1, 1e-2, attention=attention, algorithm="gd",
                               time_conditioning=tc)


def test_operator_probe_claim_holds_and_a_sign_flipped_jacobian_fails():
    from ditgp.models.probes import score_jacobian
    from ditgp.verify.claims.probes import check_operator_probe

    req = _probe_request()
    assert check_operator_probe(req).margin >= 0
    # plant: the Jacobian of −ŝ (the solve's v instead of the score) — the operators here are
    # symmetric, so a transposed read would be an equivalent mutant; a sign is not
    bad = check_operator_probe(req, jacobian=lambda f, X, t: -score_jacobian(f, X, t))
    assert bad.margin < 0


def test_operator_probe_claim_sees_a_weight_off_by_1e_6():
    import torch
    from ditgp.verify.claims.probes import check_operator_probe

    def build(r):
        con = r.build()
        with torch.no_grad():
            con.module.blocks[-1].attn.W_v.mul_(1 + 1e-6)
        return con

    assert check_operator_probe(_probe_request(), build=build).margin < 0


def test_attention_test_controls_claim_holds_and_fails_when_the_positive_control_is_wrong():
    from ditgp.verify.claims.probes import check_attention_test_controls

    req = _probe_request(attention="softmax")
    assert check_attention_test_controls(req).margin >= 0
    # plant: a compact construction as the "positive control" (its attention is a ReLU
    # pattern, only its value-weighted sum is γ): the test must not call it ∝ γ
    compact = _probe_request(attention="compact")
    assert check_attention_test_controls(req, build=lambda r: compact.build()).margin < 0


def test_attention_test_controls_refuses_a_construction_without_an_attention_shape():
    """w = 0 (pure self-attention) is outside the claim: inside hypothesis such a draw is
    rejected, called directly it is refused, never reported as a failed positive control."""
    from ditgp.theory.errors import SpecError
    from ditgp.theory.kernels import kernel
    from ditgp.theory.spec import GPSpec
    from ditgp.verify.claims.probes import MIN_SHAPE_WINDOW, check_attention_test_controls
    from ditgp.verify.strategies import ConstructionRequest

    req = ConstructionRequest(GPSpec(kernel("laplace", ell=0.2), H=6, d=1), 0.1, 1e-2,
                              attention="softmax", algorithm="gd", time_conditioning="fixed")
    assert int(req.build().plan.window) < MIN_SHAPE_WINDOW
    with pytest.raises(SpecError, match="construction window"):
        check_attention_test_controls(req)
