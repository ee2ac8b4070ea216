"""The three-way comparison on a tiny run trained inside the test session (seconds)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ditgp.verify.compare_trained import compare, dsm_excess, load_networks
from trained_runs import CONTROL_SPEC, SPEC, T0, control_run, tiny_run  # noqa: F401

from ditgp.cli import main

#: MC_Z of verify.tolerances: a direct DSM estimate of an (almost) exact score is within
#: this many SE of zero (false alarm 2e-9 per check)
Z = 6.0


@pytest.fixture(scope="module")
def doc(tiny_run, control_run, tmp_path_factory):  # noqa: F811
    out = tmp_path_factory.mktemp("cmp")
    nets = load_networks(tiny_run, eps=1e-2, control=control_run)
    d = compare(tiny_run, nets=nets, n=32, t_grid=[T0, 0.3, 1.0, 3.0], out=out)
    return d, out


def test_compare_writes_report_and_plots(doc):
    d, out = doc
    for name in ("compare.md", "compare.json", "errors.png", "excess_loss.png",
                 "attention_profile.png", "attention_heatmaps.png", "layer_distance.png"):
        assert (out / name).is_file(), name
    back = json.loads((out / "compare.json").read_text())
    assert [r["t"] for r in back["errors"]["rows"]] == [T0, 0.3, 1.0, 3.0]
    assert "trained vs constr." in (out / "compare.md").read_text()


def test_three_way_errors_are_consistent(doc):
    d, _ = doc
    for r in d["errors"]["rows"]:
        # the construction (eps = 1e-2 over all t) is near exact, so trained-vs-constructed
        # is the trained error up to the construction's: triangle inequality with slack
        assert r["constructed_rel_error"] < 1e-2
        assert abs(r["trained_vs_constructed"] - r["trained_rel_error"]) <= \
            1.1 * r["constructed_rel_error"] * (1 + r["trained_rel_error"])
        for name in ("trained", "constructed", "independent"):
            dsm = r[f"{name}_dsm"]
            assert dsm["excess"] >= -Z * dsm["se"], (name, r["t"], dsm)
            assert r[f"{name}_excess_identity"] >= 0
        assert abs(r["constructed_dsm"]["excess"]) <= Z * r["constructed_dsm"]["se"] + 1e-4


def test_trained_beats_independent_frames_somewhere_and_attention_follows_gamma(doc):
    d, _ = doc
    rows = [r for r in d["errors"]["rows"] if r["t"] <= 1.0]
    assert all(r["trained_rel_error"] < r["independent_rel_error"] for r in rows)
    a = d["attention"]
    assert a["constructed"]["vs_gamma"]["rel_l2"] < 1e-10
    assert max(a["constructed"]["layers"]["distance"]) < 1e-10
    assert a["trained"]["vs_gamma"]["spearman"] > a["control"]["vs_gamma"]["spearman"]


def test_identity_excess_matches_direct_estimate(doc):
    """Two estimators of the same excess (identity σ²E‖ŝ−s‖²/dH on X_t draws; direct ε-loss
    minus floor on fresh (X₀, Z)) agree within the direct one's Z·SE plus the identity
    estimator's own spread (≤ 50 % relative with 32 draws, generous)."""
    d, _ = doc
    for r in d["errors"]["rows"]:
        ident, dsm = r["trained_excess_identity"], r["trained_dsm"]
        assert abs(dsm["excess"] - ident) <= Z * dsm["se"] + 0.5 * ident


def test_dsm_excess_planted_floor_error():
    """Plant: a floor 1 % too high makes the exact score "beat" it by more than 6 SE (n chosen
    as in claim trained-floor: 6·√(2/(n dH)) ≈ 0.5 % relative)."""
    from ditgp.models.data import bayes_floor
    from ditgp.models.sampling import exact_score_fn

    ok = dsm_excess(exact_score_fn(SPEC), SPEC, 0.3, 200000, 0)
    assert abs(ok["excess"]) <= Z * ok["se"]
    bad = dsm_excess(exact_score_fn(SPEC), SPEC, 0.3, 200000, 0,
                     floor_fn=lambda s, t: 1.01 * bayes_floor(s, t))
    assert bad["excess"] < -Z * bad["se"]


def test_cli_compare_and_bad_inputs(tiny_run, tmp_path, capsys):  # noqa: F811
    out = tmp_path / "c"
    assert main(["compare", "--run", str(tiny_run), "--t-grid", "0.2,2", "--n", "8",
                 "--eps", "0.01", "--out", str(out)]) == 0
    assert (out / "compare.md").is_file()
    assert main(["compare", "--run", str(tmp_path / "missing")]) == 2
    assert "--run" in capsys.readouterr().err
    assert main(["compare", "--run", str(tiny_run), "--t-grid", "0.01"]) == 2
    assert "--t-grid" in capsys.readouterr().err


def test_cli_sample_from_run_with_report(tiny_run, tmp_path):  # noqa: F811
    out = tmp_path / "s.npy"
    assert main(["sample", "--run", str(tiny_run), "--n", "64", "--steps", "20",
                 "--output", str(out), "--report", str(tmp_path / "rep")]) == 0
    X = np.load(out)
    assert X.shape == (64, SPEC.d, SPEC.H)
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    assert set(rep["reports"]) == {"samples", "exact-score sampler"} and "excess" in rep
    assert main(["sample", "--run", str(tiny_run), "--n", "4", "--output", str(out)]) == 2
