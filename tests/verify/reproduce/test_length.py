"""``ditgp reproduce length``: the statistics on inputs with a known answer, the verdict rule,
planted networks through the whole pipeline (a length penalty and a network without temporal
structure must never be "supported"; an exact-but-noisy network with no penalty must be), the
toy preset end to end (API and CLI), resumable cells, and the presets' budgets.  Each test
plants the bug it guards against."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import base, length
from ditgp.verify.reproduce.length import (
    band_mean,
    batch_for,
    length_verdict,
    loglog_slope,
    mean_se,
    planted_factor,
    planted_score,
    relative_errors,
    saturation_H,
    seed_slopes,
)
from ditgp.verify.reproduce.verdict import validate_verdict

#: Student-t quantiles used by the hand computations (scipy-independent constants)
T95_DF4 = 2.131846786326649  # one-sided 95 %, 4 degrees of freedom


@pytest.fixture(autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


# -- statistics ------------------------------------------------------------------------------
def test_loglog_slope_recovers_a_power_law_and_its_interval_covers_it():
    rng = np.random.default_rng(3)
    H = np.repeat([16, 32, 64, 128, 256], 3).astype(float)
    y = 0.02 * H ** 0.5 * np.exp(0.05 * rng.standard_normal(H.size))
    fit = loglog_slope(H, y)
    assert abs(fit["slope"] - 0.5) < 0.05 and fit["ci"][0] < 0.5 < fit["ci"][1]
    assert fit["n"] == 15 and fit["se"] > 0
    exact = loglog_slope([1, 10, 100], [3.0, 0.3, 0.03])
    assert exact["slope"] == pytest.approx(-1.0, abs=1e-12)
    assert exact["intercept"] == pytest.approx(math.log(3.0), abs=1e-12)
    # by hand: log x = 0..3, log y = (0, 1, 1, 2): b = 3/5, SSR = 0.2, se = √(0.1/5), and the
    # two-sided 95% t quantile with 2 degrees of freedom is 4.3027
    hand = loglog_slope(np.exp([0, 1, 2, 3]), np.exp([0, 1, 1, 2]))
    half = 4.302652729749464 * math.sqrt(0.02)
    assert hand["slope"] == pytest.approx(0.6) and hand["se"] == pytest.approx(math.sqrt(0.02))
    assert hand["ci"] == pytest.approx([0.6 - half, 0.6 + half], rel=1e-9)
    # planted bug: slope of y on H (no logs) is far from the power
    assert abs(np.polyfit(H, y, 1)[0] - 0.5) > 0.4
    assert loglog_slope([1, 2, 4], [1.0, -1.0, 4.0])["n"] == 2
    assert math.isnan(loglog_slope([1, 2], [1.0, 2.0])["ci"][0])


def test_mean_se_matches_the_textbook_formula():
    m, se, n = mean_se([1.0, 2.0, 3.0, 4.0, None, math.nan])
    assert (m, n) == (2.5, 4)
    assert se == pytest.approx(math.sqrt(5 / 3) / 2)  # sd (ddof=1) / sqrt(n)
    assert se != pytest.approx(math.sqrt(5 / 4) / 2)  # planted: ddof=0
    assert math.isnan(mean_se([1.0])[1]) and mean_se([])[2] == 0


def test_saturation_finds_where_a_resource_stops_growing():
    Hs = [16, 32, 64, 128, 256]
    assert saturation_H(Hs, [15, 31, 53, 53, 53]) == 64
    assert saturation_H(Hs[::-1], [53, 53, 53, 31, 15]) == 64
    assert saturation_H(Hs, [15, 31, 53, 60, 61]) is None
    assert saturation_H(Hs, [7, 7, 7, 7, 7]) == 16
    assert saturation_H(Hs, [53, 53, 31, 53, 53]) == 128


def test_batch_rule_and_band_mean():
    assert batch_for(128, [16, 128], 32, "sequences") == 32
    assert batch_for(128, [16, 128], 32, "frames") == 4 and batch_for(32, [16, 32], 32, "frames") == 16
    with pytest.raises(SpecError, match="budget_rule"):
        batch_for(16, [16], 32, "tokens")
    t = np.geomspace(1e-3, 10, 9)  # t0 and 1 are grid points up to rounding
    vals = np.arange(9.0)
    assert band_mean(t, vals, 1e-3, 1.0) == pytest.approx(3.0)  # points 0..6
    assert band_mean(t, vals, 0.1, 1.0) == pytest.approx(5.0)  # points 4..6
    # planted: an exact comparison would drop t = 1 computed as 0.9999999999999998
    assert not np.any(t[:7] > 1.0 * (1 + 1e-9)) and band_mean(t, vals, 5.0, 6.0) == 4.0


def test_relative_errors_and_the_excess_identity():
    rng = np.random.default_rng(0)
    S = [rng.standard_normal((5, 2, 8)) for _ in range(2)]
    X = [np.zeros_like(s) for s in S]
    t = [0.1, 1.0]
    out = relative_errors(lambda _X, tt: S[t.index(tt)] * 1.1, X, S, t)
    assert out["rel_error"] == pytest.approx([0.1, 0.1])
    want = [-math.expm1(-tt) * 0.01 * float(np.sum(s ** 2)) / s.size for s, tt in zip(S, t, strict=True)]
    assert out["excess"] == pytest.approx(want)
    assert out["excess"][0] != pytest.approx(0.01 * float(np.sum(S[0] ** 2)) / S[0].size)


def test_planted_score_scales_the_error_exactly():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((4, 2, 32))
    exact = lambda Y, _t: -2.0 * Y  # noqa: E731
    net = lambda Y, _t: -2.0 * Y + 0.1 * np.sin(Y)  # noqa: E731
    f = planted_factor(32, 8, 0.3)
    assert f == pytest.approx(4 ** 0.3)
    ctrl = planted_score(net, 32, 8, 0.3)
    e_net = np.linalg.norm(net(X, 0.1) - exact(X, 0.1))
    e_ctl = np.linalg.norm(ctrl(X, 0.1, exact) - exact(X, 0.1))
    assert e_ctl / e_net == pytest.approx(f, rel=1e-12)
    # so the per-seed log-log slope grows by exactly β (planted: scaling ŝ instead of ŝ − s)
    Hs = [8, 16, 32]
    e = {0: {8: 0.2, 16: 0.25, 32: 0.22}}
    c = {0: {H: e[0][H] * planted_factor(H, 8, 0.3) for H in Hs}}
    assert seed_slopes(c, Hs)[0] - seed_slopes(e, Hs)[0] == pytest.approx(0.3, abs=1e-12)
    wrong = np.linalg.norm(f * net(X, 0.1) - exact(X, 0.1)) / e_net
    assert abs(wrong - f) > 1.0


def test_seed_slopes_by_hand_and_incomplete_seeds_are_left_out():
    Hs = [16, 64]
    errs = {0: {16: 0.1, 64: 0.2}, 1: {16: 0.1, 64: 0.1}, 2: {16: 0.3}}
    sl = seed_slopes(errs, Hs)
    assert sl == {0: pytest.approx(math.log(2) / math.log(4)), 1: pytest.approx(0.0)}
    assert 2 not in sl  # a slope over another grid would be another statistic


def _errs(slopes, Hs, base=0.2, ratio=0.3):
    """Per-seed errors with exactly the given log-log slopes, and independent-frames errors
    ``error / r_s`` with ``r_s = ratio + 0.01·s`` (the guard's per-seed ratio; spread > 0)."""
    e = {s: {H: base * (H / Hs[0]) ** b for H in Hs} for s, b in enumerate(slopes)}
    ind = {s: {H: v / (ratio + 0.01 * s) for H, v in row.items()} for s, row in e.items()}
    return e, ind


KW = {"claim": "c", "statistic": "s", "margin": 0.1, "control_name": "planted"}


def test_length_verdict_by_hand():
    Hs = [16, 32, 64, 128]
    slopes = [0.01, -0.02, 0.03, 0.0, -0.01]
    e, ind = _errs(slopes, Hs)
    v = length_verdict(e, ind, Hs, control_verdict="inconclusive", **KW)
    validate_verdict(v)
    m, sd = np.mean(slopes), np.std(slopes, ddof=1)
    assert v["estimate"] == pytest.approx(m, abs=1e-12)
    assert v["interval"][1] == pytest.approx(m + T95_DF4 * sd / math.sqrt(5), rel=1e-6)
    # all five slopes are below δ: only the observed sign pattern reaches the mean → 2⁻⁵
    assert v["details"]["p_value"] == pytest.approx(1 / 32)
    assert v["verdict"] == "supported" and v["replication"] == {"unit": "seeds", "n": 5}
    # a significant penalty beyond the margin is refuted
    e2, ind2 = _errs([0.31, 0.28, 0.35, 0.30, 0.26], Hs)
    assert length_verdict(e2, ind2, Hs, control_verdict="inconclusive", **KW)["verdict"] == "refuted"
    # a penalty inside the margin but not significantly so: inconclusive
    e3, ind3 = _errs([0.12, 0.02, 0.2, 0.05, 0.09], Hs)
    assert length_verdict(e3, ind3, Hs, control_verdict=None, **KW)["verdict"] == "inconclusive"
    # a supported control blocks support
    assert length_verdict(e, ind, Hs, control_verdict="supported", **KW)["verdict"] == "inconclusive"
    # the unit is the seed: one slope per seed enters the test (planted bug: the 20 (seed, H)
    # runs pooled into one OLS fit would claim n = 20 and an interval over runs)
    v3 = length_verdict(e3, ind3, Hs, control_verdict=None, **KW)
    assert v3["details"]["per_unit"] == pytest.approx([0.12, 0.02, 0.2, 0.05, 0.09], abs=1e-12)
    assert v3["replication"]["n"] == 5
    pooled = loglog_slope([H for _ in range(5) for H in Hs], [e3[s][H] for s in range(5) for H in Hs])
    assert pooled["n"] == 20 and pooled["slope"] == pytest.approx(v3["estimate"], abs=1e-12)


def test_the_guard_downgrades_a_network_that_does_not_beat_independent_frames():
    Hs = [16, 32, 64]
    e, ind = _errs([0.0, 0.01, -0.01, 0.0, 0.005], Hs, ratio=1.0)  # flat, but no better
    v = length_verdict(e, ind, Hs, control_verdict="inconclusive", **KW)
    assert v["verdict"] == "inconclusive" and "independent-frames" in v["details"]["downgraded"]
    validate_verdict(v)
    # planted bug: without the guard the same slopes would be supported
    e_ok, ind_ok = _errs([0.0, 0.01, -0.01, 0.0, 0.005], Hs, ratio=0.5)
    assert length_verdict(e_ok, ind_ok, Hs, control_verdict="inconclusive", **KW)["verdict"] == \
        "supported"


# -- planted networks through the whole pipeline ------------------------------------------------
def _planted(monkeypatch, kind: str, beta: float = 0.0, noise: float = 0.02):
    """Replace training by a planted network (a torch callable, so the operator probe
    differentiates it): ``exact`` × (1 + a) with ``a = 0.1·(H/H_ref)^β·e^{noise·z}``, or the
    independent-frames score (no temporal structure)."""
    from ditgp.models.probes import exact_score_callable

    def network(self, spec, p, cell, ctx):
        if kind == "independent":
            def f(x, t):
                a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
                A = a2 * torch.tensor(np.array(spec.Sigma)) + s2 * torch.eye(spec.d,
                                                                            dtype=torch.float64)
                P = -torch.linalg.inv(A)
                return torch.einsum("ab,nbh->nah", P, x)
        else:
            z = np.random.default_rng([int(p["seed"]), spec.H, 5]).standard_normal()
            a = 0.1 * (spec.H / p["H_ref"]) ** beta * math.exp(noise * z)
            ex = exact_score_callable(spec)

            def f(x, t):
                return (1 + a) * ex(x, t)

        def score(X, t):
            return f(torch.as_tensor(np.asarray(X, dtype=np.float64)), float(t)).numpy()

        return score, f, {"steps": 0}

    monkeypatch.setattr(length.LengthExperiment, "_network", network)


@pytest.mark.parametrize("kind,beta,allowed", [
    ("exact", 1.0, {"refuted", "inconclusive"}),  # a planted length penalty: never supported
    ("independent", 0.0, {"inconclusive", "refuted"}),  # no temporal structure: never supported
    ("exact", 0.0, {"supported"}),  # positive control: the test can pass
])
def test_planted_networks_through_the_pipeline(tmp_path, monkeypatch, kind, beta, allowed):
    _planted(monkeypatch, kind, beta)
    doc = base.run_experiment("length", tmp_path, preset="toy", seeds=5, quiet=True,
                              overrides={"construct_Hs": [8], "Hs": [8, 16, 32]})
    v = doc["verdict"]
    validate_verdict(v)
    assert v["verdict"] in allowed, v
    assert v["replication"] == {"unit": "seeds", "n": 5}
    num = doc["numbers"]
    if kind == "exact":
        # the planted relative error is recovered exactly (1 + a times the exact score)
        assert num["main"]["estimate"] == pytest.approx(beta, abs=0.05)
        assert num["per_H"]["8"]["trained_band_error"] == pytest.approx(0.1, rel=0.1)
        # the operator probe sees (1 + a)·J*: relative Jacobian error a
        assert num["per_H"]["8"]["jacobian_error_t0.1"] == pytest.approx(0.1, rel=0.1)
    # the control's slopes are the main's plus the planted β, to rounding
    assert num["planted_recovered"] == pytest.approx(length.PLANTED_SLOPE, abs=1e-9)
    if kind == "independent":
        assert v["details"]["guard"]["verdict"] != "supported"


# -- end to end -----------------------------------------------------------------------------------
def test_toy_preset_end_to_end_and_rerun_skips(tmp_path, monkeypatch):
    doc = base.run_experiment("length", tmp_path, preset="toy", quiet=True)
    root = tmp_path / "length"
    v = doc["verdict"]
    validate_verdict(v)
    assert v["replication"]["n"] == 3 and v["control"]["verdict"] in ("supported", "refuted",
                                                                       "inconclusive")
    saved = json.loads((root / "results.json").read_text())
    assert saved["verdict"]["verdict"] == v["verdict"]
    num = doc["numbers"]
    assert num["H"] == [8, 16] and set(doc["figures"]) == {
        "errors_vs_H.png", "operator_vs_H.png", "resources_vs_H.png"}
    for H in ("8", "16"):
        r = num["per_H"][H]
        assert r["constructed_max_error"] <= r["bound"] < 0.05
        assert r["seeds"] == 3 and 0 < r["trained_band_error"]
        # every seed has its own evaluation draws (planted bug: one shared set would give the
        # deterministic independent-frames model the same error in every seed, SE 0)
        assert r["independent_band_error_se"] > 0
        assert r["window"] == int(H) - 1
        assert r["matched"]["L"] <= r["L"]  # a looser eps needs no more layers
        assert len(r["gap_profile"]) == length.GAPS_SHOWN
    assert num["per_H"]["8"]["network_vs_iteration"] < 1e-10
    assert num["planted_recovered"] == pytest.approx(length.PLANTED_SLOPE, abs=1e-9)
    md = (root / "summary.md").read_text()
    assert md.index("**Verdict:") < md.index("What the numbers say") and "| 16 |" in md
    calls = []
    monkeypatch.setattr(length.LengthExperiment, "run_cell", lambda *a: calls.append(a))
    doc2 = base.run_experiment("length", tmp_path, preset="toy", quiet=True)
    assert calls == [] and base.to_jsonable(doc2["numbers"]) == saved["numbers"]


def test_cli_toy_run_and_bad_input(tmp_path, capsys):
    from ditgp.cli import main

    out = tmp_path / "cli"
    argv = ["reproduce", "length", "--preset", "toy", "--out", str(out), "--jobs", "1",
            "--seeds", "2", "--set", "Hs=[6,8]", "--set", "steps=5", "--set", "eval_points=5",
            "--set", "construct_Hs=[6]"]
    assert main(argv) == 0
    res = json.loads((out / "length" / "results.json").read_text())
    assert res["numbers"]["H"] == [6, 8] and res["verdict"]["replication"]["n"] == 2
    for bad, word in ((["--set", "Hs=[8]"], "Hs"), (["--set", "planted_slope=0.05"], "planted_slope"),
                      (["--set", "slope_margin=0"], "slope_margin")):
        capsys.readouterr()
        assert main(["reproduce", "length", "--preset", "toy", "--out", str(tmp_path / "x"),
                     *bad]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and word in err


# -- budgets ----------------------------------------------------------------------------------
def _estimate(preset: str, device: str, seeds: int | None = None) -> float:
    exp = length.LengthExperiment()
    params = exp.params(preset)
    cells = exp.cells(params, range(seeds or exp.default_seeds[preset]))
    return exp.estimate_seconds(params, cells, device)


def test_presets_fit_their_budgets_by_the_cost_model():
    # cpu: ≤ 30 min on 2 cores (cells spread over --jobs 2); gpu: ≤ 60 min on one device
    assert _estimate("cpu", "cpu") / 2 <= 30 * 60
    assert _estimate("gpu", "cuda") <= 60 * 60
    assert length.LengthExperiment.default_seeds["cpu"] >= 5  # the sign-flip test can reach α
    assert length.LengthExperiment.default_seeds["gpu"] >= 5
    # planted: twice the gpu seeds does not fit — the check can fail
    assert _estimate("gpu", "cuda", seeds=12) > 60 * 60
