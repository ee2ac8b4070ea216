"""Trained-model claims (101–107): each holds on the tiny run and fails on a planted defect;
the mechanism claims (attention, operator) also on planted wrong networks, with a construction
as the positive control."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from ditgp.models import sampling
from ditgp.models.data import bayes_floor, independent_frames_score
from ditgp.verify.claims.registry import REGISTRY, TRAINED
from ditgp.verify.claims.runner import run_claim
from ditgp.verify.claims.trained import TrainedContext
from trained_runs import CONTROL_SPEC, SPEC, control_run, tiny_run, trained_ctx  # noqa: F401


def _run(claim_id, ctx, **extra):
    c = TRAINED[claim_id]
    return run_claim(c, examples=c.default_examples, seed=0, overrides={"ctx": ctx, **extra})


def _independent(ctx):
    return TrainedContext(ctx.nets, trained_score=lambda X, t: independent_frames_score(SPEC, X, t))


def test_trained_claims_are_not_in_the_default_registry():
    assert set(TRAINED).isdisjoint(REGISTRY)
    assert all(c.number > 100 for c in TRAINED.values())


def test_claims_need_a_run():
    r = run_claim(TRAINED["trained-floor"], examples=1, seed=0)
    assert r.status == "error" and "--run" in r.message


@pytest.mark.parametrize("claim_id", list(TRAINED))
def test_claim_holds_on_the_tiny_run(trained_ctx, claim_id):  # noqa: F811
    r = _run(claim_id, trained_ctx)
    assert r.status == "pass", (r.message, r.worst)


def test_floor_planted_one_percent_high_fails(trained_ctx):  # noqa: F811
    r = _run("trained-floor", trained_ctx, floor_fn=lambda s, t: 1.01 * bayes_floor(s, t))
    assert r.status == "fail"


def test_baseline_fails_when_the_network_is_the_baseline(trained_ctx):  # noqa: F811
    assert _run("trained-beats-baseline", _independent(trained_ctx)).status == "fail"


def _planted(ctx, network):
    return TrainedContext(ctx.nets, network=network)


def _flat(model):
    """Queries and keys zeroed: every attention row uniform."""
    import copy

    flat = copy.deepcopy(model)
    with torch.no_grad():
        for b in flat.blocks:
            D = b.attn.proj.weight.shape[0]
            b.attn.qkv.weight[:2 * D] = 0
            b.attn.qkv.bias[:2 * D] = 0
    return flat


def test_attention_positive_control_softmax_construction_passes(trained_ctx):  # noqa: F811
    from ditgp.numerics import construct

    con = construct(SPEC, t=0.1, eps=1e-2, attention="softmax", algorithm="chebyshev")
    nets = dataclasses.replace(trained_ctx.nets, control=None)
    assert _run("trained-attention-kernel", TrainedContext(nets, network=con)).status == "pass"


@pytest.mark.parametrize("plant", ["flat", "untrained", "gamma-identity-run", "control-as-good"])
def test_attention_fails_for_planted_networks(trained_ctx, control_run, plant):  # noqa: F811
    from ditgp.models.dit import DiT
    from ditgp.models.export import load_trained

    model = trained_ctx.nets.trained.model
    if plant == "flat":
        ctx = _planted(trained_ctx, _flat(model))
    elif plant == "untrained":
        torch.manual_seed(1)
        ctx = _planted(trained_ctx, DiT(trained_ctx.nets.trained.config, SPEC))
    elif plant == "gamma-identity-run":  # trained on Γ = I data, tested against the run's γ
        ctx = _planted(trained_ctx, load_trained(control_run / "final").model)
    else:  # the control shows the same pattern: positional, not learned from the data
        ctx = TrainedContext(dataclasses.replace(trained_ctx.nets, control=trained_ctx.nets.trained))
    assert _run("trained-attention-kernel", ctx).status == "fail"


def test_attention_fails_for_shuffled_positions(trained_ctx, monkeypatch):  # noqa: F811
    model = trained_ctx.nets.trained.model
    orig = model.positions
    perm = torch.as_tensor(np.random.default_rng(3).permutation(SPEC.H))
    monkeypatch.setattr(model, "positions", lambda H, like: orig(H, like)[perm])
    assert _run("trained-attention-kernel", trained_ctx).status == "fail"


def test_operator_temporal_fails_for_the_independent_frames_model(trained_ctx):  # noqa: F811
    from ditgp.verify.operator import independent_jacobian

    def indep(x, t):  # the Γ = I model: −(α²Σ + σ²I)⁻¹ frame by frame
        Pt = torch.as_tensor(independent_jacobian(SPEC, t)[:, 0, :, 0])
        return torch.einsum("ab,nbh->nah", Pt, x)

    assert _run("trained-operator-temporal", _planted(trained_ctx, indep)).status == "fail"


def test_operator_claims_on_the_gamma_identity_run(trained_ctx, control_run):  # noqa: F811
    from ditgp.models.export import load_trained

    ctl = _planted(trained_ctx, load_trained(control_run / "final"))
    assert _run("trained-operator-temporal", ctl).status == "fail"
    # it learned the same Σ: the spatial claim holds for it (it is about Σ, not Γ)
    assert _run("trained-operator-spatial", ctl).status == "pass"


def test_operator_spatial_fails_for_a_network_of_another_sigma(trained_ctx):  # noqa: F811
    """Plant: x ↦ Q ŝ(Qᵀx) with Q swapping Σ's eigenvectors — the trained network as it would
    be had it been trained on QΣQᵀ (= ar:−0.5) instead of Σ."""
    from ditgp.models.probes import score_callable

    f, _ = score_callable(trained_ctx.nets.trained)
    U = np.linalg.eigh(SPEC.Sigma)[1]
    Q = torch.as_tensor(U @ np.array([[0.0, 1.0], [1.0, 0.0]]) @ U.T)

    def rotated(x, t):
        return Q @ f(Q.T @ x, t)

    assert _run("trained-operator-spatial", _planted(trained_ctx, rotated)).status == "fail"


def test_operator_spatial_is_inconclusive_for_an_isotropic_sigma(trained_ctx):  # noqa: F811
    from ditgp.theory.spec import Spatial

    iso = dataclasses.replace(SPEC, spatial=Spatial("identity"))
    nets = dataclasses.replace(trained_ctx.nets, spec=iso)
    r = _run("trained-operator-spatial", TrainedContext(nets, network="exact"))
    assert r.status == "inconclusive" and "isotropic" in r.message


def test_cli_verify_attention_fails_on_the_gamma_identity_run(control_run, tmp_path):  # noqa: F811
    from ditgp.cli import main

    out = tmp_path / "ctl-report"
    assert main(["verify", "--run", str(control_run), "--claims", "trained-attention-kernel",
                 "--out", str(out), "--no-plots"]) == 1
    import json

    doc = json.loads((out / "report.json").read_text())
    (row,) = [c for c in doc["claims"] if c["id"] == "trained-attention-kernel"]
    assert row["status"] == "fail" and not doc["passed"]
    assert CONTROL_SPEC.Gamma[1, 0] == 0.0  # Γ = I exactly


def test_order_fails_for_an_euler_ode_step(trained_ctx, monkeypatch):  # noqa: F811
    def euler(score_fn, X, t, t_next, noise=None):
        return X + (t_next - t) * (-0.5 * X - 0.5 * score_fn(X, t))

    monkeypatch.setitem(sampling._STEPS, "ode", euler)
    assert _run("exact-sampler-order", trained_ctx).status == "fail"


def test_autocorrelation_fails_for_independent_frames(trained_ctx):  # noqa: F811
    assert _run("trained-autocorrelation", _independent(trained_ctx)).status == "fail"


def test_cli_verify_run_adds_the_trained_section(tiny_run, tmp_path):  # noqa: F811
    import json

    from ditgp.cli import main

    out = tmp_path / "rep"
    assert main(["verify", "--run", str(tiny_run), "--claims", "exact-sampler-order",
                 "--out", str(out), "--no-plots"]) == 0
    md = (out / "report.md").read_text()
    assert "## Trained network" in md and "exact-sampler-order" in md
    doc = json.loads((out / "report.json").read_text())
    assert [c["id"] for c in doc["claims"]] == ["exact-sampler-order"] and "trained" in doc
    assert (out / "trained" / "compare.md").is_file()
    assert main(["verify", "--run", str(tiny_run), "--claims", "199", "--out", str(out)]) == 2
    plain = tmp_path / "plain"
    assert main(["verify", "--claims", "1", "--examples", "2", "--out", str(plain),
                 "--no-plots"]) == 0
    assert "Trained network" not in (plain / "report.md").read_text()
