"""``ditgp reproduce video``: the toy preset end to end (run_experiment, then the CLI on the same
folder: finished cells are skipped), and the statistics on inputs with a known answer, each
with a planted bug that must fail."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from ditgp.verify.probes import spearman
from ditgp.verify.reproduce import base
from ditgp.verify.reproduce import video as V
from ditgp.verify.tolerances import MC_Z

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    doc = base.run_experiment("video", out, preset="toy", seeds=1, quiet=True, jobs=1)
    return out, doc


def test_toy_end_to_end(toy):
    out, doc = toy
    root = out / "video"
    assert sorted(p.name for p in (root / "cells").iterdir()) == ["ball-s0.json", "control-s0.json"]
    figs = set(doc["figures"])
    assert {"video_profile.png", "video_layers.png", "video_frames.png", "video_samples.png",
            "video_verdict.png"} <= figs
    for name in figs:
        assert (root / name).stat().st_size > 0
    ball = json.loads((root / "cells" / "ball-s0.json").read_text())["result"]
    H = doc["params"]["frames"]
    assert len(ball["profiles"]["0.5"]["mean"]) == H
    assert np.asarray(ball["profiles"]["0.5"]["per_layer"]).shape == (doc["params"]["depth"], H)
    # attention weights are a distribution over keys: the gap profile at gap 0 times 1 plus
    # twice the rest, weighted by the number of pairs, sums to one per query
    prof = np.asarray(ball["profiles"]["0.5"]["mean"])
    pairs = np.array([H] + [2 * (H - m) for m in range(1, H)])
    assert float(prof @ pairs) == pytest.approx(H, rel=1e-5)
    assert ball["refs"]["pixel_corr"][0] == pytest.approx(1.0)
    s = ball["samples"]
    assert s["generated"]["n"] == s["real"]["n"] == doc["params"]["n_samples"]
    gen = np.load(root / s["file"], allow_pickle=False)
    assert gen.shape == (doc["params"]["n_samples"], doc["params"]["size"] ** 2, H)
    md = (root / "summary.md").read_text()
    assert "Reading." in md and "ρ vs γ" in md and "control" in md
    assert md.splitlines()[4].startswith("**Verdict: ")  # the summary leads with the verdict
    v = json.loads((root / "results.json").read_text())["verdict"]
    assert v["replication"] == {"unit": "seeds", "n": 1} and v["verdict"] != "supported"
    ctl = json.loads((root / "cells" / "control-s0.json").read_text())["result"]
    # both arms' samples are compared with the same held-out real sequences of the ball data
    assert ctl["samples"]["real"] == ball["samples"]["real"]
    assert v["estimate"] == pytest.approx(s["generated"]["centre_corr"][1]
                                          - s["real"]["centre_corr"][1])
    assert v["details"]["margin"] == pytest.approx(V.EQUIV_SE * s["real"]["centre_corr1_se"])
    assert len(ball["loss_curve"]) >= 2 and ball["loss_curve"][-1][0] == doc["params"]["steps"]
    nums = json.loads((root / "results.json").read_text())["numbers"]
    assert set(nums["roles"]) == {"ball", "control"} and "samples" in nums
    assert 0 < nums["roles"]["ball"]["gamma_all"]["p_value"][0] <= 1


def test_cli_rerun_skips_finished_cells(toy, capsys, monkeypatch):
    from ditgp.cli import main

    out, doc = toy
    calls = []
    monkeypatch.setattr(V.VideoExperiment, "run_cell", lambda self, c, ctx: calls.append(c.id))
    assert main(["reproduce", "video", "--preset", "toy", "--seeds", "1", "--out", str(out),
                 "--jobs", "1"]) == 0
    assert calls == []
    again = json.loads((out / "video" / "results.json").read_text())
    assert again["numbers"] == json.loads(json.dumps(base.to_jsonable(doc["numbers"])))
    assert "2 done, 0 to run" in capsys.readouterr().err


def test_bad_headline_time_is_refused():
    from ditgp.theory.errors import SpecError

    with pytest.raises(SpecError, match="headline_t"):
        base.run_experiment("video", "/nonexistent", preset="toy", overrides={"headline_t": 9.0},
                            dry_run=True)


# -- statistics on known answers ---------------------------------------------------------------
def _ar1(n, c, H, phi, seed):
    """AR(1) sequences, stationary with unit variance: correlation φ^m at gap m."""
    rng = np.random.default_rng(seed)
    x = np.empty((n, c, H))
    x[..., 0] = rng.standard_normal((n, c))
    for h in range(1, H):
        x[..., h] = phi * x[..., h - 1] + np.sqrt(1 - phi ** 2) * rng.standard_normal((n, c))
    return x + 3.0  # a non-zero mean, which the estimator must remove


def test_temporal_correlation_of_ar1_is_phi_to_the_gap():
    n, c, H, phi = 2000, 4, 8, 0.7
    x = _ar1(n, c, H, phi, seed=0)
    rho = V.temporal_correlation(x)
    truth = phi ** np.arange(H)
    se = np.sqrt((1 + truth ** 2) / (n * c))  # the bound of test_video's trajectory test
    assert rho[0] == 1.0 and np.all(np.abs(rho - truth) <= MC_Z * se)
    # planted: not centring leaves the mean in (correlations near 1 at every gap)
    raw = np.array([np.mean(x[..., : H - m] * x[..., m:]) / np.mean(x * x) for m in range(H)])
    assert not np.all(np.abs(raw - truth) <= MC_Z * se)
    # planted: the gap taken along the channel axis instead of time
    wrong = V.temporal_correlation(np.swapaxes(x, 1, 2)[:, :, :4])
    assert not np.all(np.abs(wrong - truth[:4]) <= MC_Z * se[:4])


def test_affine_r2_known_answers():
    ref = np.exp(-np.arange(10) / 3.0)
    assert V.affine_r2(0.2 + 5 * ref, ref) == pytest.approx(1.0)
    assert V.affine_r2(0.2 - 5 * ref, ref) == pytest.approx(1.0)  # R² ignores the sign (ρ does not)
    assert V.affine_r2(np.ones(10), ref) == 0.0
    rng = np.random.default_rng(0)
    assert V.affine_r2(rng.standard_normal(10), ref) < 0.5
    # a profile with half the variance explained by ref: y = ref + e, e ⟂ {1, ref}, |e|² = |ref - mean|²
    e = rng.standard_normal(10)
    A = np.stack([np.ones(10), ref], 1)
    e -= A @ np.linalg.lstsq(A, e, rcond=None)[0]
    e *= np.linalg.norm(ref - ref.mean()) / np.linalg.norm(e)
    assert V.affine_r2(ref + e, ref) == pytest.approx(0.5)


def test_decay_contrast_measures_size_not_rank():
    H = 10
    gam = np.exp(-np.arange(H) ** 2 / 8.0)
    prof = 1 / H + 0.03 * gam  # slope 0.03 on γ: contrast 0.03·H
    assert V.decay_contrast(prof, gam) == pytest.approx(0.03 * H)
    wiggle = 1 / H + 1e-6 * gam  # rank-perfect, size-negligible
    assert V.decay_contrast(wiggle, gam) == pytest.approx(1e-5)
    assert spearman(wiggle[1:], gam[1:]) == pytest.approx(1.0)
    # planted: the slope read against the gap instead of γ is negative (wrong sign)
    A = np.stack([np.ones(H - 1), np.arange(1, H)], 1)
    assert np.linalg.lstsq(A, prof[1:], rcond=None)[0][1] * H < 0


def test_gap_stats_excludes_gap_zero_in_gaps1():
    gam = np.exp(-np.arange(8) ** 2 / 8.0)
    prof = np.r_[0.9, np.full(7, 0.1 / 7)]  # a pure self-attention spike: flat beyond gap 0
    st = V.gap_stats(prof, {"gamma": gam})["gamma"]
    assert st["all"]["spearman"] > 0.3  # the spike alone correlates over all gaps
    assert st["gaps1"]["spearman"] == 0.0 and st["gaps1"]["p_value"] == 1.0
    decaying = np.r_[0.5, 0.5 * gam[1:] / gam[1:].sum()]
    st2 = V.gap_stats(decaying, {"gamma": gam})["gamma"]
    assert st2["gaps1"]["spearman"] == pytest.approx(1.0) and st2["gaps1"]["p_value"] < 0.01
    assert st2["r2_gaps1"] == pytest.approx(1.0)


def test_sample_checks_on_real_data_and_a_broken_generator():
    from ditgp.models.video import MovingBall, make_video

    ball = MovingBall(frames=10, size=12, radius=2.0, ell=3.0)
    a = make_video(ball, 200, seed=0, dtype=np.float64).x
    b = make_video(ball, 200, seed=1, dtype=np.float64).x
    s = V.sample_checks(ball, a, b)
    g, r = s["generated"], s["real"]
    for key in ("pixel_mean", "pixel_var", "mass"):
        assert abs(g[key][0] - r[key][0]) <= MC_Z * np.hypot(g[key][1], r[key][1])
    assert g["one_ball_frac"] > 0.95 and r["one_ball_frac"] > 0.95
    assert g["centre_corr_rms"] < 0.1
    # planted: frames of each sequence shuffled in time (no trajectory), two balls per frame
    shuffled = a[:, :, np.random.default_rng(0).permutation(10)]
    assert V.sample_checks(ball, shuffled, b)["generated"]["centre_corr_rms"] \
        > 3 * g["centre_corr_rms"]
    two = np.maximum(a, np.roll(a, 3, axis=0))
    assert V.sample_checks(ball, two, b)["generated"]["one_ball_frac"] < 0.5


def test_cost_model_orders_presets():
    exp = V.VideoExperiment()
    est = {p: exp.estimate_seconds(exp.params(p), exp.cells(exp.params(p), [0]),
                                   "cuda" if p == "gpu" else "cpu") for p in ("toy", "cpu", "gpu")}
    assert est["toy"] < est["cpu"] and est["gpu"] <= 60 * 60 / 7  # one seed of 7 in an hour


# -- the verdict: a perfect generator passes, broken ones fail -------------------------------------
VBALL = dict(frames=10, size=10, radius=1.5, ell=2.0)
N_SEQ = 48


def _seed_stats(gen_fn, seeds=range(6)):
    """Per seed: sample_checks of ``gen_fn(seed)`` against held-out real sequences (the
    pipeline of a cell), reduced to what video_verdict reads."""
    from ditgp.models.video import MovingBall, make_video

    ball = MovingBall(**VBALL)
    out = {}
    for s in seeds:
        real = make_video(ball, N_SEQ, seed=5000 + s, dtype=np.float64).x
        c = V.sample_checks(ball, gen_fn(ball, s), real, seed=s)
        out[s] = {"gen": c["generated"]["centre_corr"][1], "real": c["real"]["centre_corr"][1],
                  "se": c["real"]["centre_corr1_se"]}
    return out


def _real_draws(ball, s):  # a perfect generator: fresh draws of the data itself
    from ditgp.models.video import make_video

    return make_video(ball, N_SEQ, seed=9000 + s, dtype=np.float64).x


def _shuffled(ball, s):  # planted: right frames, no motion (time order destroyed)
    x = _real_draws(ball, s)
    return x[:, :, np.random.default_rng(s).permutation(x.shape[2])]


@pytest.fixture(scope="module")
def perfect():
    return _seed_stats(_real_draws)


def test_a_perfect_generator_is_supported_and_shuffled_frames_refuted(perfect):
    v = V.video_verdict(perfect, _seed_stats(_shuffled), claim="c")
    assert v["verdict"] == "supported", v
    assert v["control"]["verdict"] == "refuted"
    lo, hi = v["interval"]
    assert -v["details"]["margin"] < lo < hi < v["details"]["margin"]
    bad = V.video_verdict(_seed_stats(_shuffled), None, claim="c")
    assert bad["verdict"] == "refuted" and bad["interval"][1] < -bad["details"]["margin"]


def test_the_margin_and_the_control_gate_matter(perfect):
    # planted: a margin far below the sampling error cannot be met by a perfect generator
    assert V.video_verdict(perfect, None, claim="c", equiv_se=0.05)["verdict"] != "supported"
    # a control that reproduces the statistic too (here: the same perfect draws) blocks it
    v = V.video_verdict(perfect, perfect, claim="c")
    assert v["control"]["verdict"] == "supported" and v["verdict"] == "inconclusive"
    # a generator with a small systematic deficit (half the margin) is not refuted
    half = {s: {**r, "gen": r["gen"] - 0.5 * V.EQUIV_SE * r["se"]} for s, r in perfect.items()}
    assert V.video_verdict(half, None, claim="c")["verdict"] != "refuted"


def test_gap1_se_is_the_sampling_error_of_the_statistic():
    from ditgp.models.video import MovingBall, make_video

    ball = MovingBall(**VBALL)
    draws = np.array([V.temporal_correlation(make_video(ball, N_SEQ, seed=100 + k).centres)[1]
                      for k in range(120)])
    truth = float(draws.std(ddof=1))  # spread over independent sets of N_SEQ sequences
    est = [V.gap1_se(make_video(ball, N_SEQ, seed=900 + k).centres, seed=k) for k in range(4)]
    assert all(0.6 * truth < e < 1.6 * truth for e in est), (truth, est)
    # planted: the spread of one sequence's statistic (no division by the number of
    # sequences, a dropped √n) is outside the window the test accepts
    c = make_video(ball, N_SEQ, seed=900).centres
    one = float(np.std([V.temporal_correlation(c[i:i + 1])[1] for i in range(N_SEQ)], ddof=1))
    assert not 0.6 * truth < one < 1.6 * truth


def test_planted_null_through_the_pipeline_is_never_supported(tmp_path):
    """The main arm trained on independent frames (Γ = I data), run end to end: its samples
    cannot carry the ball's motion, so the verdict is refuted or inconclusive."""
    doc = base.run_experiment("video", tmp_path, preset="toy", seeds=2, quiet=True, jobs=1,
                              overrides={"planted_null": True, "control": False})
    v = doc["verdict"]
    assert v["verdict"] in ("refuted", "inconclusive") and "PLANTED NULL" in v["claim"]
    assert v["replication"]["n"] == 2 and v["control"]["verdict"] is None
