"""``ditgp reproduce length``: the toy preset end to end (API and CLI), resumable cells, and the
statistics on inputs with a known answer (each with the bug it guards against planted)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import base, length
from ditgp.verify.reproduce.length import (
    batch_for,
    loglog_slope,
    mean_se,
    near_gaps,
    relative_errors,
    saturation_H,
)


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
    # exact power law: zero residual, zero-width interval; the intercept is log(0.02)
    exact = loglog_slope([1, 10, 100], [3.0, 0.3, 0.03])
    assert exact["slope"] == pytest.approx(-1.0, abs=1e-12)
    assert exact["intercept"] == pytest.approx(math.log(3.0), abs=1e-12)
    # by hand: log x = 0..3, log y = (0, 1, 1, 2): b = 3/5, SSR = 0.2, se = √(0.1/5), and the
    # two-sided 95% t quantile with 2 degrees of freedom is 4.3027 (a one-sided 1.645-style
    # quantile, 2.920, would give a too-narrow interval)
    hand = loglog_slope(np.exp([0, 1, 2, 3]), np.exp([0, 1, 1, 2]))
    half = 4.302652729749464 * math.sqrt(0.02)
    assert hand["slope"] == pytest.approx(0.6) and hand["se"] == pytest.approx(math.sqrt(0.02))
    assert hand["ci"] == pytest.approx([0.6 - half, 0.6 + half], rel=1e-9)
    # planted bug: slope of y on H (no logs) is far from the power
    assert abs(np.polyfit(H, y, 1)[0] - 0.5) > 0.4
    # non-positive values are dropped; too few points give no interval
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
    assert saturation_H(Hs[::-1], [53, 53, 53, 31, 15]) == 64  # order of the grid is irrelevant
    assert saturation_H(Hs, [15, 31, 53, 60, 61]) is None  # still growing at the end
    assert saturation_H(Hs, [7, 7, 7, 7, 7]) == 16
    assert saturation_H(Hs, [53, 53, 31, 53, 53]) == 128  # a dip resets the run


def test_near_gaps_and_batch_rule():
    gamma = np.exp(-np.arange(64) / 4.0)
    G = near_gaps(gamma)
    assert gamma[G] >= length.GAMMA_FLOOR > gamma[G + 1] and G == 18  # 4·ln(100) = 18.4
    assert near_gaps(gamma[:10]) == 9  # capped at H - 1
    assert near_gaps(np.r_[1.0, 1e-5, 1e-6, 1e-7]) == 2  # at least 3 gaps
    assert batch_for(128, [16, 128], 32, "sequences") == 32
    assert batch_for(128, [16, 128], 32, "frames") == 4 and batch_for(32, [16, 32], 32, "frames") == 16
    with pytest.raises(SpecError, match="budget_rule"):
        batch_for(16, [16], 32, "tokens")


def test_relative_errors_and_the_excess_identity():
    rng = np.random.default_rng(0)
    S = [rng.standard_normal((5, 2, 8)) for _ in range(2)]
    X = [np.zeros_like(s) for s in S]
    t = [0.1, 1.0]
    # a score off by exactly 10% of s: relative error 0.1, excess σ²·0.01·|s|²/(n d H)
    out = relative_errors(lambda _X, tt: S[t.index(tt)] * 1.1, X, S, t)
    assert out["rel_error"] == pytest.approx([0.1, 0.1])
    want = [-math.expm1(-tt) * 0.01 * float(np.sum(s ** 2)) / s.size for s, tt in zip(S, t, strict=True)]
    assert out["excess"] == pytest.approx(want)
    assert out["excess"][0] != pytest.approx(0.01 * float(np.sum(S[0] ** 2)) / S[0].size)  # σ² kept


# -- end to end ---------------------------------------------------------------------------------
def test_toy_preset_end_to_end_and_rerun_skips(tmp_path, monkeypatch):
    doc = base.run_experiment("length", tmp_path, preset="toy", quiet=True)
    root = tmp_path / "length"
    num = doc["numbers"]
    assert num["H"] == [8, 16] and set(doc["figures"]) == {
        "errors_vs_H.png", "fidelity_vs_H.png", "resources_vs_H.png"}
    for H in ("8", "16"):
        r = num["per_H"][H]
        # the construction meets its certified bound; independent frames are far worse
        assert r["constructed_max_error"] <= r["bound"] < 0.05 < r["independent_band_error"]
        assert 0 < r["trained_band_error"] and -1 <= r["spearman_near"] <= 1
        assert r["window"] == int(H) - 1  # toy: the window covers every gap
    # the network forward is the iteration it realises (checked where affordable)
    assert num["per_H"]["8"]["network_vs_iteration"] < 1e-10
    assert num["construction_within_bound"] is True
    md = (root / "summary.md").read_text()
    assert "What changes with H" in md and "| 16 |" in md
    # a re-run runs no cell
    calls = []
    monkeypatch.setattr(length.LengthExperiment, "run_cell", lambda *a: calls.append(a))
    doc2 = base.run_experiment("length", tmp_path, preset="toy", quiet=True)
    saved = json.loads((root / "results.json").read_text())["numbers"]
    assert calls == [] and base.to_jsonable(doc2["numbers"]) == saved


def test_cli_toy_run_and_bad_grid(tmp_path, capsys):
    from ditgp.cli import main

    out = tmp_path / "cli"
    argv = ["reproduce", "length", "--preset", "toy", "--out", str(out), "--jobs", "1",
            "--set", "Hs=[6,8]", "--set", "steps=5", "--set", "eval_points=5"]
    assert main(argv) == 0
    res = json.loads((out / "length" / "results.json").read_text())
    assert res["numbers"]["H"] == [6, 8] and res["params"]["steps"] == 5
    capsys.readouterr()
    assert main(["reproduce", "length", "--preset", "toy", "--out", str(tmp_path / "x"),
                 "--set", "Hs=[8]"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Hs" in err
