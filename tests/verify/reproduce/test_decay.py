"""``ditgp reproduce decay``: matched kernels, the statistics on inputs with a known answer,
the summary on planted learning curves, and the toy preset end to end (API, resume, CLI)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import decay as D
from ditgp.verify.reproduce.base import Context, run_experiment


# -- matched kernels --------------------------------------------------------------------------
@pytest.mark.parametrize("lc", [1.5, 4.0])
def test_matched_kernels_have_the_closed_form_length(lc):
    """γ(ℓ_c) = 1/e solved by hand: Laplace ell = ℓ_c; power law (1+ℓ_c/ell)^-ν = 1/e;
    logarithmic (1+log(1+ℓ_c/ell))^-ν = 1/e."""
    assert D.matched_kernel("laplace", lc).ell == pytest.approx(lc, rel=1e-10)
    for nu in (1.0, 2.0):
        pl = D.matched_kernel("power-law", lc, nu=nu)
        assert pl.ell == pytest.approx(lc / math.expm1(1 / nu), rel=1e-9)
        lg = D.matched_kernel("logarithmic", lc, nu=nu)
        assert lg.ell == pytest.approx(lc / math.expm1(math.expm1(1 / nu)), rel=1e-9)
        for k in (pl, lg):
            assert float(k.gamma(0.0)) == 1.0 and float(k.gamma(lc)) == pytest.approx(math.exp(-1))


def test_matched_kernel_refuses_bad_input():
    with pytest.raises(SpecError, match="corr_length"):
        D.matched_kernel("laplace", -1.0)
    with pytest.raises(SpecError, match="kernel"):
        D.matched_kernel("matern32", 2.0)


# -- statistics ---------------------------------------------------------------------------------
def test_seed_mean_se_known_answer():
    assert D.seed_mean_se([1.0, 3.0]) == (2.0, 1.0)  # sd (ddof 1) = √2, SE = √2/√2
    mu, se = D.seed_mean_se([5.0])
    assert mu == 5.0 and math.isnan(se)


def test_loglog_fit_recovers_a_power_law_and_its_interval():
    n = np.array([10.0, 100.0, 1000.0, 10.0, 100.0, 1000.0])
    exact = D.loglog_fit(n, 3.0 * n ** -0.5)
    assert exact["slope"] == pytest.approx(-0.5) and exact["intercept"] == pytest.approx(math.log(3))
    assert exact["hi"] - exact["lo"] == pytest.approx(0.0, abs=1e-9) and exact["df"] == 4
    jitter = np.array([1.1, 0.95, 1.05, 0.9, 1.08, 0.97])
    f = D.loglog_fit(n, 3.0 * n ** -0.5 * jitter)
    # independent reference: scipy's simple regression and the t quantile at df = 4
    from scipy import stats

    ref = stats.linregress(np.log(n), np.log(3.0 * n ** -0.5 * jitter))
    assert f["slope"] == pytest.approx(ref.slope) and f["se"] == pytest.approx(ref.stderr)
    assert f["hi"] - f["slope"] == pytest.approx(2.7764451 * ref.stderr, rel=1e-6)
    assert f["lo"] < -0.5 < f["hi"]
    with pytest.raises(SpecError, match="positive"):
        D.loglog_fit([1, 10], [1.0, -1.0])
    with pytest.raises(SpecError, match="distinct"):
        D.loglog_fit([10, 10, 10], [1.0, 2.0, 3.0])


def test_sign_flip_test_known_p_values():
    assert D.sign_flip_test([1.0, 1.0, 1.0, 1.0])["p"] == 1 / 16  # only the observed pattern
    assert D.sign_flip_test([-1.0, -1.0])["p"] == 1.0
    # flips of (3, -1): means 1, 2, -2, -1 → P(mean ≥ 1) = 2/4
    assert D.sign_flip_test([3.0, -1.0])["p"] == 0.5
    mc = D.sign_flip_test([1.0] * 20)
    assert mc["p"] < 1e-3 and "Monte Carlo" in mc["method"]
    assert D.ordering_holds({"a": 1, "b": 2, "c": 3}, "abc")
    assert not D.ordering_holds({"a": 1, "b": 3, "c": 2}, "abc")


# -- the summary on planted learning curves ---------------------------------------------------
@pytest.fixture(scope="module")
def toy_construct():
    """The constructive cells of the toy preset (exact; computed once for the module)."""
    exp = D.DecayExperiment()
    p = exp.params("toy")
    return {c.params["kernel"]: exp._construct(c.params) for c in exp.cells(p, (0,))
            if c.params["kind"] == "construct"}


def _planted(levels, slope, tmp_path, construct, seeds=(0, 1, 2)):
    """Cells of the toy preset with results ``level_k · n^slope`` (±3 % seeded jitter)."""
    exp = D.DecayExperiment()
    params = exp.params("toy") | {"ns": [10, 100, 1000]}
    cells = exp.cells(params, seeds)
    rng = np.random.default_rng(5)
    results = {}
    for c in cells:
        p = c.params
        if p["kind"] == "construct":
            results[c.id] = construct[p["kernel"]]
            continue
        base = levels[p["kernel"]] * p["n"] ** slope
        mean = {m: base * (1 + 0.03 * rng.standard_normal()) for m in
                ("excess", "dsm_excess", "rel_error", "baseline_excess", "baseline_rel_error")}
        mean["baseline_excess"] = 1.0
        mean["train_dsm_excess"] = -base
        results[c.id] = {"kernel": p["kernel"], "n": p["n"], "seed": p["seed"], "mean": mean}
    ctx = Context(root=tmp_path, preset="toy", params=params)
    return exp.summarise(results, cells, ctx), results


def test_summary_finds_the_planted_slopes_and_ordering(tmp_path, toy_construct):
    out, _ = _planted({"laplace": 1.0, "power-law": 2.0, "logarithmic": 4.0}, -0.5, tmp_path,
                      toy_construct)
    num = out["numbers"]
    for k in D.CLASS_OF:
        f = num["fits"]["excess"][k]
        assert f["lo"] < -0.5 < f["hi"] and abs(f["slope"] + 0.5) < 0.05
    assert num["ordering_shows"] and all(t["p"] < D.ALPHA for t in num["ordering_tests"].values())
    assert all(t["p"] < D.ALPHA for t in num["ordering_tests_ratio"].values())
    assert num["ordering_tests"]["laplace<power-law"]["mean_diff"] == pytest.approx(math.log(2),
                                                                                   abs=0.05)
    assert "predicted ordering shows" in out["markdown"]
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
    assert (tmp_path / "resources.png").stat().st_size > 0


def test_summary_reports_a_reversed_ordering(tmp_path, toy_construct):
    out, _ = _planted({"laplace": 4.0, "power-law": 2.0, "logarithmic": 1.0}, -1.0, tmp_path,
                      toy_construct)
    num = out["numbers"]
    assert not num["ordering_shows"] and not any(num["ordering_per_n"].values())
    assert all(t["p"] > 0.5 for t in num["ordering_tests"].values())
    assert "does not show" in out["markdown"]
    assert num["fits"]["excess"]["logarithmic"]["slope"] == pytest.approx(-1.0, abs=0.05)


# -- constructive side ------------------------------------------------------------------------
def test_construct_rows_match_the_closed_form_laplace_window(toy_construct):
    p = D.DecayExperiment().params("toy")
    res = toy_construct
    lap = D.matched_kernel("laplace", p["corr_length"])
    rho = math.exp(-1 / lap.ell)
    for r in res["laplace"]["rows"]:
        H, delta = r["H"], r["eps"] / 2
        # finite-H tail Σ_{m=w+1}^{H-1} ρ^m = (ρ^{w+1} - ρ^H)/(1-ρ): the smallest w with tail ≤ δ
        w = next(w for w in range(H) if (rho ** (w + 1) - rho ** H) / (1 - rho) <= delta)
        assert r["w"] == w and r["M_paper"] == 4 * (w + 1) and r["L"] >= 1
    big = max(p["construct_H"])
    for eps in p["eps_grid"]:
        ws = [next(r["w"] for r in res[k]["rows"] if r["H"] == big and r["eps"] == eps)
              for k in D.CLASS_OF]
        assert ws == sorted(ws)  # slower decay never needs a shorter window
    assert all(res[k]["gamma0"] == 1.0 for k in D.CLASS_OF)


# -- the toy preset end to end ---------------------------------------------------------------------
def test_toy_preset_end_to_end_resumes_and_runs_from_the_cli(tmp_path, monkeypatch, capsys):
    import torch

    torch.set_num_threads(1)
    doc = run_experiment("decay", tmp_path, preset="toy", seeds=2, quiet=True, jobs=1)
    root = tmp_path / "decay"
    num = doc["numbers"]
    assert set(num["fits"]["excess"]) == set(D.CLASS_OF)
    n_cells = len(list((root / "cells").iterdir()))
    assert n_cells == 3 + 3 * 2 * 2
    cell = json.loads((root / "cells" / "train-laplace-n8-s0.json").read_text())["result"]
    for row in cell["rows"]:
        assert row["excess"] >= 0 and 0 < row["rel_error"]
        # identity and direct estimates of the same excess agree within Monte-Carlo noise
        assert abs(row["dsm_excess"] - row["excess"]) < 6 * row["dsm_se"] + 0.05 * row["floor"]
    assert (root / "runs" / "train-laplace-n8-s0" / "train_set.safetensors").is_file()
    for f in doc["figures"]:
        assert (root / f).stat().st_size > 0
    calls = []
    monkeypatch.setattr(D.DecayExperiment, "run_cell", lambda self, c, ctx: calls.append(c.id))
    from ditgp.cli import main

    assert main(["reproduce", "decay", "--preset", "toy", "--seeds", "2", "--out",
                 str(tmp_path), "--jobs", "1"]) == 0
    assert calls == []  # every cell was finished: the re-run only re-summarises
    assert json.loads((root / "results.json").read_text())["numbers"]["fits"] == \
        json.loads(json.dumps(num["fits"]))


def test_cells_refuse_bad_grids():
    exp = D.DecayExperiment()
    p = exp.params("toy")
    for key, bad in (("eval_t_min", 20.0), ("ns", [8]), ("kernels", ["laplace", "laplace"])):
        with pytest.raises(SpecError, match=key):
            exp.cells(p | {key: bad}, (0,))
    cells = exp.cells(p, (0, 1))
    assert len(cells) == 3 + 3 * 2 * 2 and len({c.id for c in cells}) == len(cells)
