"""``ditgp reproduce attention``: the toy preset end to end (cells, resume, CLI, figures) and
the experiment's statistics on inputs with a known answer."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import run_experiment
from ditgp.verify.reproduce.attention import (
    ALPHA,
    CONTROL_GAMMA_TOL,
    AttentionExperiment,
    _haar,
    _spearman_rows,
    control_gamma_error,
    paired_bootstrap_delta,
    paired_t,
    rotation_null,
    specs_for,
)

GAMMA = np.exp(-np.arange(8) / 2.0)


# -- statistics with a known answer ------------------------------------------------------------
def test_paired_t_matches_the_closed_form_for_two_degrees_of_freedom():
    # df = 2: P(T > t) = (1 - t/√(t² + 2))/2 exactly
    out = paired_t([1.0, 2.0, 3.0], [0.0, 0.0, 0.0])
    t = 2.0 / (1.0 / math.sqrt(3.0))
    assert out["t"] == pytest.approx(t, rel=1e-12)
    assert out["p_value"] == pytest.approx(0.5 * (1 - t / math.sqrt(t * t + 2)), rel=1e-10)
    assert out["p_value"] < ALPHA
    # the other direction is not significant (a sign bug would swap these)
    assert paired_t([0.0, 0.0, 0.0], [1.0, 2.0, 3.0])["p_value"] > 1 - ALPHA
    one = paired_t([0.5], [0.1])
    assert one["mean"] == pytest.approx(0.4) and one["p_value"] is None


def test_paired_bootstrap_known_answers_and_pairing():
    rng = np.random.default_rng(0)
    n = 12
    good = np.tile(GAMMA, (n, 1))  # ρ = 1 for every resample
    bad = np.tile(GAMMA[::-1], (n, 1))  # ρ = -1
    out = paired_bootstrap_delta(good, bad, GAMMA, n_boot=500)
    assert out["delta"] == pytest.approx(2.0) and out["lo"] == pytest.approx(2.0)
    assert out["p_value"] == pytest.approx(1 / 501)
    assert paired_bootstrap_delta(bad, good, GAMMA, n_boot=500)["p_value"] == 1.0
    # shape: γ itself has L2 = 0; a flat profile c·1 has L2 = ‖γ − mean-projection‖/‖γ‖
    flat = np.ones((n, GAMMA.size))
    l2_flat = np.linalg.norm(GAMMA - GAMMA.sum() / GAMMA.size) / np.linalg.norm(GAMMA)
    shape = paired_bootstrap_delta(good, flat, GAMMA, stat="rel_l2", n_boot=500)
    assert shape["delta"] == pytest.approx(l2_flat, rel=1e-12) and shape["lo"] > 0
    assert shape["p_value"] == pytest.approx(1 / 501)
    assert paired_bootstrap_delta(flat, good, GAMMA, stat="rel_l2", n_boot=500)["delta"] < 0
    with pytest.raises(SpecError, match="stat"):
        paired_bootstrap_delta(good, flat, GAMMA, stat="pearson")
    # identical networks on the same inputs: Δρ is 0 in every *paired* resample (drawing the
    # inputs of the two networks independently would spread it around 0)
    noisy = GAMMA + 0.6 * rng.standard_normal((n, GAMMA.size))
    same = paired_bootstrap_delta(noisy, noisy.copy(), GAMMA, n_boot=500)
    assert same["lo"] == same["hi"] == same["delta"] == 0.0 and same["p_value"] == 1.0
    with pytest.raises(SpecError, match="prof_a"):
        paired_bootstrap_delta(noisy, noisy[:, :5], GAMMA)


def test_vectorised_spearman_agrees_with_the_scalar_one():
    from ditgp.verify.probes import spearman

    rng = np.random.default_rng(1)
    P = rng.random((20, GAMMA.size))
    P[0] = 1.0  # constant row → 0
    P[1, :4] = P[1, 4]  # ties
    P[2] = -GAMMA
    want = np.array([spearman(p, GAMMA) for p in P])
    assert np.allclose(_spearman_rows(P, GAMMA), want, atol=1e-14)
    assert want[2] == pytest.approx(-1.0) and want[0] == 0.0


def test_rotation_null_separates_eigenvectors_from_the_identity_part():
    _, spec = specs_for(AttentionExperiment().params("toy") | {"d": 4})
    S = spec.Sigma
    Q = _haar(np.random.default_rng(3), 4)
    assert np.allclose(Q @ Q.T, np.eye(4), atol=1e-13)
    exact = rotation_null(S, S, n_rot=199)
    assert exact["cos"] == pytest.approx(1.0) and exact["p_value"] == pytest.approx(1 / 200)
    # the identity has the same cosine with every rotation of Σ: it carries no eigenvector
    # information, so it must not look aligned however large its cosine (a random-matrix
    # null would call it significant)
    ident = rotation_null(np.eye(4), S, n_rot=199)
    assert ident["cos"] == pytest.approx(np.trace(S) / (2 * np.linalg.norm(S)), rel=1e-12)
    assert ident["cos"] > 0.7 and ident["p_value"] == 1.0
    # -Σ is as aligned as Σ (the sign of a value path is free)
    assert rotation_null(-S, S, n_rot=199)["p_value"] == pytest.approx(1 / 200)
    # just off: a rotated Σ is as likely as the null
    off = rotation_null(Q @ S @ Q.T, S, n_rot=199)
    assert off["p_value"] > ALPHA
    with pytest.raises(SpecError, match="F"):
        rotation_null(np.eye(3), S)


def test_the_control_is_white_noise_and_a_correlated_control_is_refused():
    p = AttentionExperiment().params("cpu")
    main, ctrl = specs_for(p)
    assert control_gamma_error(ctrl) == 0.0  # e^{-1000} underflows: Γ = I exactly
    assert control_gamma_error(main) > 0.5
    assert np.array_equal(main.Sigma, ctrl.Sigma) and main.H == ctrl.H
    with pytest.raises(SpecError, match="control_ell"):
        AttentionExperiment().cells(p | {"control_ell": 0.1}, [0])
    # just inside: Γ − I of order e^{-30} ≈ 1e-13 < CONTROL_GAMMA_TOL
    assert math.exp(-30) < CONTROL_GAMMA_TOL
    AttentionExperiment().cells(p | {"control_ell": 1 / 30}, [0])
    with pytest.raises(SpecError, match="probe_ts"):
        AttentionExperiment().cells(p | {"probe_ts": [20.0]}, [0])


def test_cells_pair_main_and_control_per_seed():
    exp = AttentionExperiment()
    cells = exp.cells(exp.params("toy"), [0, 3])
    assert [c.id for c in cells] == ["main-s0", "control-s0", "main-s3", "control-s3"]
    a, b = cells[0].params, cells[1].params
    assert {k for k in a if a[k] != b[k]} == {"role"}  # same everything but the data


# -- the toy preset end to end -------------------------------------------------------------------
def test_toy_preset_end_to_end_resume_and_cli(tmp_path, monkeypatch, capsys):
    from ditgp.cli import main

    torch.set_num_threads(1)
    doc = run_experiment("attention", tmp_path, preset="toy", quiet=True)
    root = tmp_path / "attention"
    nb = doc["numbers"]
    assert sorted(p.name for p in (root / "cells").iterdir()) == ["control-s0.json",
                                                                  "main-s0.json"]
    assert set(doc["figures"]) == {"attention_heatmaps.png", "attention_profile.png",
                                   "value_path.png", "score_error.png"}
    for f in doc["figures"]:
        assert (root / f).stat().st_size > 1000
    assert nb["control_gamma_identity_error"] == 0.0
    assert len(nb["per_t"]) == 2 and len(nb["score_t"]) == 4
    assert all(-1 <= r <= 1 for r in nb["spearman_main"] + nb["spearman_control"])
    assert all(0 < p <= 1 for p in nb["p_main"] + nb["p_control"])
    # the independent-frames baseline is exact on Γ = I data, and far from exact on Laplace data
    cell = json.loads((root / "cells" / "control-s0.json").read_text())["result"]
    assert max(cell["score"]["baseline_rel_error"]) < 1e-10
    assert max(nb["score_error_independent"][0]) > 0.1
    heat = np.asarray(cell["probes"][0]["heatmaps"])
    assert heat.shape == (2, 8, 8) and np.allclose(heat.sum(-1), 1.0, atol=1e-5)  # rows: softmax
    text = (root / "summary.md").read_text()
    assert "Verdict (attention)" in text and "Verdict (values)" in text

    # a re-run (through the CLI) skips the finished cells and only summarises again
    def boom(*_a, **_k):
        raise AssertionError("a finished cell was run again")

    monkeypatch.setattr(AttentionExperiment, "run_cell", boom)
    assert main(["reproduce", "attention", "--preset", "toy", "--out", str(tmp_path)]) == 0
    again = json.loads((root / "results.json").read_text())["numbers"]
    assert again["spearman_main"] == nb["spearman_main"]
    capsys.readouterr()
    # bad input at the CLI: one line, exit 2
    code = main(["reproduce", "attention", "--preset", "toy", "--out", str(tmp_path / "x"),
                 "--set", "control_ell=0.5"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "control_ell" in err and "\n" not in err and "Traceback" not in err
