"""The operator probe where the answer is known: the exact score's Jacobian is −A_t⁻¹, a
construction's is the operator of its unrolled iteration, the Γ = I model explains none of
the temporal part, a network for another Σ fails the spatial test — and each planted defect
is seen."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from ditgp.models.config import ModelConfig
from ditgp.models.dit import DiT
from ditgp.models.probes import exact_score_callable, score_callable, score_jacobian
from ditgp.numerics import Oracle, construct
from ditgp.numerics.oracle import dense_covariance
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.verify import operator as op

SPEC = GPSpec(kernel("laplace", ell=4.0), H=16, d=2, spatial=Spatial("ar", rho=0.5))
SMALL = GPSpec(kernel("laplace", ell=3.0), H=8, d=2, spatial=Spatial("ar", rho=0.5))
torch.set_num_threads(1)
#: rounding of float64 Jacobians of networks ≤ 100 blocks deep and the dense inverse
#: (κ(A_t) ≤ 1e4 here): measured ≤ 1e-13 relative
EXACT = 1e-11


def _dense_J(spec, t):
    d, H = spec.d, spec.H
    return -np.linalg.inv(dense_covariance(spec, t)).reshape(H, d, H, d).transpose(1, 0, 3, 2)


@pytest.mark.parametrize("t", [1e-3, 0.1, 2.0])
def test_exact_jacobian_is_minus_A_inverse(t):
    Jd = _dense_J(SPEC, t)
    assert np.abs(op.exact_jacobian(SPEC, t) - Jd).max() <= EXACT * np.abs(Jd).max()
    # by automatic differentiation of the oracle's eigen form, at arbitrary base points
    X = Oracle.for_spec(SPEC).sample(3, seed=1, t=t)
    J = score_jacobian(exact_score_callable(SPEC), X, t)
    assert np.abs(J - Jd[None]).max() <= EXACT * np.abs(Jd).max()
    # plant: the vec order read as (coordinate, frame)-major is seen
    d, H = SPEC.d, SPEC.H
    wrong = -np.linalg.inv(dense_covariance(SPEC, t)).reshape(d, H, d, H)
    assert np.abs(wrong - Jd).max() > 1e-3


def test_exact_gap_profile_matches_an_independent_computation():
    """Laplace ℓ = 4, H = 16, d = 2, Σ = ar:0.5 at t = 0.1: the block norms of −A_t⁻¹ by gap,
    4.55, 1.79, 0.38, 0.09 (computed from outside by finite differences, issue text)."""
    prof = op.gap_profile_of(op.block_norms(op.exact_jacobian(SPEC, 0.1)))
    assert np.round(prof[:4], 2).tolist() == [4.55, 1.79, 0.38, 0.09]


def _reference_operator(con, t):
    """The construction's linear operator: −(last iterate of its reference iteration) applied to
    the unit inputs, as (d, H, d, H)."""
    d, H = con.spec.d, con.spec.H
    E = np.eye(d * H).reshape(d * H, H, d).transpose(0, 2, 1)
    last = con.reference_iterates(E, t)[-1]  # (dH, d, H): column (b, j)
    return -last.reshape(H, d, d, H).transpose(2, 3, 1, 0)


@pytest.mark.parametrize("attention,algorithm", [("compact", "chebyshev"), ("paper", "gd")])
def test_construction_jacobian_is_its_iteration_operator(attention, algorithm):
    con = construct(SMALL, t=0.1, eps=1e-3, attention=attention, algorithm=algorithm)
    doc = op.operator_probe(con, ts=[0.1], n_base=3)
    assert doc["per_t"][0]["nonlinearity"]["spread"] < EXACT  # linear in X for fixed t
    f, _ = score_callable(con)
    J = score_jacobian(f, op.base_points(SMALL, 0.1, 2, 0, 0), 0.1)
    R = _reference_operator(con, 0.1)
    assert np.abs(J - R[None]).max() <= EXACT * np.abs(R).max()
    # its error against −A_t⁻¹ is the iteration's (≤ eps), not zero
    assert 0 < doc["jacobian"]["rel_error"][0] < 1e-3
    # plant: the last block's value weights off by 1e-4 relative are seen in J (an earlier
    # block's error is damped by the contraction of the blocks after it)
    with torch.no_grad():
        con.module.blocks[-1].attn.W_v.mul_(1 + 1e-4)
    J2 = score_jacobian(score_callable(con)[0], op.base_points(SMALL, 0.1, 1, 0, 0), 0.1)
    assert np.abs(J2[0] - R).max() > 100 * EXACT * np.abs(R).max()


def test_gated_construction_is_linear_at_every_t():
    con = construct(SMALL, t=0.1, eps=1e-3, attention="compact", algorithm="chebyshev",
                    time_conditioning="gated")
    doc = op.operator_probe(con, ts=[0.01, 1.0], n_base=2)
    for r in doc["per_t"]:
        assert r["rel_error"] < 1e-3 and r["temporal_explained"] > 0.99
        assert max(r["nonlinearity"]["scale_change"].values()) < 1e-9


def test_temporal_part_exact_one_independent_zero():
    t = 0.05
    X = op.base_points(SPEC, t, 4, 0, 0)
    Js = op.exact_jacobian(SPEC, t)
    tau = op.temporal_explained(np.stack([Js] * 2), Js)
    assert np.allclose(tau, 1.0)
    Ji = op.independent_jacobian(SPEC, t)
    assert np.all(op.temporal_explained(Ji[None], Js) == 0.0)

    from ditgp.models.data import independent_frames_score

    def indep(x, t):  # the Γ = I model as a differentiable function: −(α²Σ + σ²I)⁻¹ x_h
        P = torch.as_tensor(Ji[:, 0, :, 0])
        return torch.einsum("ab,nbh->nah", P, x)

    assert np.allclose(indep(torch.as_tensor(X), t).numpy(), independent_frames_score(SPEC, X, t))
    doc = op.operator_probe(indep, SPEC, [t], n_base=3)
    assert doc["per_t"][0]["temporal_explained"] == 0.0
    assert doc["per_t"][0]["temporal_explained_lower"] <= 0.0
    assert doc["per_t"][0]["independent_gap_profile"][1] == 0.0
    # Γ = I data: no off-frame part to explain, reported as NaN (never as a pass)
    white = dataclasses.replace(SPEC, kernel=kernel("laplace", ell=1e-3))
    assert np.isnan(op.temporal_explained(Ji[None], op.exact_jacobian(white, t))).all()


def _rotated(spec, Q):
    """The exact score of the data rotated by Q (the network a model trained on QΣQᵀ learns):
    x ↦ Q s(Qᵀx)."""
    f = exact_score_callable(spec)
    Qt = torch.as_tensor(Q)
    return lambda x, t: Qt @ f(Qt.T @ x, t)


def test_spatial_null_passes_the_exact_and_fails_another_sigma():
    t = 0.1
    Js = op.exact_jacobian(SPEC, t)
    r = op.rotation_null_p(Js, Js, n=199)
    assert r["cos"] == pytest.approx(1.0) and r["p_value"] == pytest.approx(1 / 200)
    # plant: a network for the rotated covariance Σ' = QΣQᵀ (Q swaps Σ's eigenvectors: Σ' is
    # ar:-0.5) aligns with it, not with Σ
    Q = np.linalg.eigh(SPEC.Sigma)[1] @ np.array([[0, 1], [1, 0]]) @ np.linalg.eigh(SPEC.Sigma)[1].T
    assert not np.allclose(Q @ SPEC.Sigma @ Q.T, SPEC.Sigma)
    doc = op.operator_probe(_rotated(SPEC, Q), SPEC, [t], n_base=2)
    assert doc["per_t"][0]["spatial_null"]["p_value"] > 0.5
    # an isotropic Σ gives a degenerate null: nothing to decide
    iso = dataclasses.replace(SPEC, spatial=Spatial("identity"))
    Ji = op.exact_jacobian(iso, t)
    assert op.rotation_null_p(Ji, Ji, n=99)["null_spread"] < 1e-12


def test_sketch_equals_exact_with_every_frame_and_estimates_with_fewer():
    torch.manual_seed(0)
    net = DiT(ModelConfig("dit", width=16, depth=1, heads=2), SMALL)
    with torch.no_grad():  # leave adaLN-Zero: a fresh DiT outputs 0 and has J = 0
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    ex = op.operator_probe(net, SMALL, [0.1], n_base=3, method="exact", scales=())
    full = op.operator_probe(net, SMALL, [0.1], n_base=3, method="sketch", frames=SMALL.H)
    for k in ("rel_error", "same_frame_cos"):
        assert full["jacobian"][k][0] == pytest.approx(ex["jacobian"][k][0], rel=1e-10)
    assert np.allclose(full["jacobian"]["gap_profile"][0], ex["jacobian"]["gap_profile"][0],
                       rtol=1e-10)
    few = op.operator_probe(net, SMALL, [0.1], n_base=3, method="sketch", frames=4)
    r = few["per_t"][0]
    assert abs(r["rel_error"] - ex["jacobian"]["rel_error"][0]) < 6 * r["rel_error_se"] + 1e-12
    assert ex["per_t"][0]["nonlinearity"]["spread"] > 1e-4  # a DiT is not linear


def test_fixed_t_networks_serve_only_their_t():
    con = construct(SMALL, t=0.1, eps=1e-2, attention="compact", algorithm="chebyshev")
    assert op.network_times(con.manifest) == (0.1,)
    gated = construct(SMALL, t=0.1, eps=1e-2, attention="compact", algorithm="chebyshev",
                      time_conditioning="gated")
    assert op.network_times(gated.manifest) is None


def test_probe_times_default_to_the_theorem_range():
    assert op.probe_times(SPEC) == [SPEC.schedule.t0, 0.01, 0.1, 1.0]
    from ditgp.theory.errors import SpecError

    with pytest.raises(SpecError, match="--t"):
        op.probe_times(SPEC, [20.0])


def test_one_sided_lower_bound_is_the_student_t_bound():
    """Hand computation: x = (0.3, −0.1, 0.2, 0.4), mean 0.2, sd 0.2160, t_{0.99, 3} = 4.541:
    lower = 0.2 − 4.541·0.2160/2 = −0.2904 (the mean alone would pass a > 0 test)."""
    x = np.array([0.3, -0.1, 0.2, 0.4])
    assert op.one_sided_lower(x, 0.01) == pytest.approx(0.2 - 4.540703 * np.std(x, ddof=1) / 2,
                                                        rel=1e-6)
    assert op.one_sided_lower(x, 0.01) < 0 < x.mean()
    assert np.isnan(op.one_sided_lower(np.array([0.5])))
