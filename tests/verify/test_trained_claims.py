"""Trained-model claims (101–105): each holds on the tiny run and fails on a planted defect."""

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
from trained_runs import SPEC, control_run, tiny_run, trained_ctx  # noqa: F401


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


def test_attention_fails_for_shuffled_positions(trained_ctx, monkeypatch):  # noqa: F811
    model = trained_ctx.nets.trained.model
    orig = model.positions
    perm = torch.as_tensor(np.random.default_rng(3).permutation(SPEC.H))
    monkeypatch.setattr(model, "positions", lambda H, like: orig(H, like)[perm])
    assert _run("trained-attention-kernel", trained_ctx).status == "fail"


def test_attention_fails_when_the_control_is_as_good(trained_ctx):  # noqa: F811
    nets = dataclasses.replace(trained_ctx.nets, control=trained_ctx.nets.trained)
    assert _run("trained-attention-kernel", TrainedContext(nets)).status == "fail"


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
