"""The shared machinery of ``ditgp reproduce``: presets, overrides, seeds, resumable cells,
parallel jobs, the refusal of a folder made with other parameters, the CLI's one-line errors."""

from __future__ import annotations

import json

import numpy as np
import pytest
from ditgp.models.plotting import pyplot, save_png
from ditgp.theory.errors import SpecError
from ditgp.verify.reproduce import EXPERIMENTS, base
from ditgp.verify.reproduce.base import (
    Cell,
    Experiment,
    apply_overrides,
    parse_overrides,
    parse_seeds,
    run_experiment,
)

CALLS: list[str] = []


class Fake(Experiment):
    """Cells compute a seeded mean; the summary plots it. Cheap and deterministic."""

    name = "fake-exp"
    title = "A fake experiment"
    claim = "means of seeded draws are near zero"
    default_seeds = {"toy": 2, "cpu": 2, "gpu": 3}

    def params(self, preset):
        return {"sizes": [10, 100], "scale": 1.0, "label": "x"}

    def cells(self, params, seeds):
        return [Cell(f"n{n}-s{s}", {"n": n, "seed": s, "scale": params["scale"]})
                for n in params["sizes"] for s in seeds]

    def run_cell(self, cell, ctx):
        CALLS.append(cell.id)
        if ctx.params.get("label") == "boom" and cell.params["n"] == 100:
            raise RuntimeError("planted failure")
        rng = np.random.default_rng(cell.params["seed"])
        return {"mean": float(cell.params["scale"] * rng.standard_normal(cell.params["n"]).mean())}

    def summarise(self, results, cells, ctx):
        plt = pyplot()
        fig, ax = plt.subplots()
        ax.plot([r["mean"] for r in results.values()])
        name = save_png(fig, ctx.root / "means.png")
        from ditgp.verify.reproduce.verdict import seed_level_test

        verdict = seed_level_test([r["mean"] for r in results.values()], claim="the mean is > 0",
                                  statistic="mean", control_name="none", control_verdict=None)
        return {"verdict": verdict, "numbers": {"means": results}, "markdown": "means",
                "figures": [name]}

    def estimate_seconds(self, params, cells, device):
        return 0.01 * len(cells)


base.register(Fake())


def test_seeds_and_overrides_parse_and_refuse():
    assert parse_seeds(None, 3) == (0, 1, 2)
    assert parse_seeds("2", 5) == (0, 1)
    assert parse_seeds("4,1", 5) == (4, 1)
    for bad in ("0", "a", "1,1", "-1,2", ""):
        with pytest.raises(SpecError, match="--seeds"):
            parse_seeds(bad, 1)
    assert parse_overrides(["steps=20", "ns=[1,2]", "kernel=laplace"]) == {
        "steps": 20, "ns": [1, 2], "kernel": "laplace"}
    with pytest.raises(SpecError, match="--set"):
        parse_overrides(["steps"])
    p = {"steps": 10, "lr": 1e-3, "ns": [1]}
    assert apply_overrides(p, {"lr": 1}, "x") == {"steps": 10, "lr": 1.0, "ns": [1]}
    with pytest.raises(SpecError, match="one of the x parameters"):
        apply_overrides(p, {"stepz": 1}, "x")
    with pytest.raises(SpecError, match="--set steps"):
        apply_overrides(p, {"steps": "many"}, "x")


def test_cells_are_skipped_on_rerun_and_more_seeds_only_add(tmp_path):
    CALLS.clear()
    doc = run_experiment("fake-exp", tmp_path, preset="toy", quiet=True)
    assert sorted(CALLS) == ["n10-s0", "n10-s1", "n100-s0", "n100-s1"]
    root = tmp_path / "fake-exp"
    assert {p.name for p in (root / "cells").iterdir()} == {f"{c}.json" for c in CALLS}
    assert (root / "means.png").stat().st_size > 0 and "means" in (root / "summary.md").read_text()
    first = json.loads((root / "results.json").read_text())["numbers"]["means"]
    CALLS.clear()
    doc2 = run_experiment("fake-exp", tmp_path, preset="toy", quiet=True)
    assert CALLS == [] and doc2["numbers"] == doc["numbers"]
    run_experiment("fake-exp", tmp_path, preset="toy", seeds=3, quiet=True)
    assert sorted(CALLS) == ["n10-s2", "n100-s2"]
    assert json.loads((root / "results.json").read_text())["numbers"]["means"]["n10-s0"] == first["n10-s0"]


def test_an_interrupted_experiment_keeps_its_finished_cells(tmp_path):
    CALLS.clear()
    with pytest.raises(RuntimeError, match="planted"):
        run_experiment("fake-exp", tmp_path, preset="toy", overrides={"label": "boom"}, seeds=1,
                       quiet=True)
    assert (tmp_path / "fake-exp" / "cells" / "n10-s0.json").is_file()
    assert not (tmp_path / "fake-exp" / "cells" / "n100-s0.json").exists()


def test_a_folder_of_another_setup_is_refused(tmp_path):
    run_experiment("fake-exp", tmp_path, preset="toy", seeds=1, quiet=True)
    with pytest.raises(SpecError, match="--out"):
        run_experiment("fake-exp", tmp_path, preset="toy", seeds=1, overrides={"scale": 2.0},
                       quiet=True)


def test_parallel_jobs_give_the_same_cells(tmp_path):
    a = run_experiment("fake-exp", tmp_path / "a", preset="toy", quiet=True, jobs=1)
    b = run_experiment("fake-exp", tmp_path / "b", preset="toy", quiet=True, jobs=2)
    assert a["numbers"] == b["numbers"]


def test_dry_run_writes_nothing(tmp_path):
    doc = run_experiment("fake-exp", tmp_path, preset="cpu", dry_run=True)
    assert doc["cells"] == 4 and doc["todo"] == 4 and not tmp_path.joinpath("fake-exp").exists()


def test_figures_are_copied(tmp_path):
    run_experiment("fake-exp", tmp_path / "o", preset="toy", seeds=1, quiet=True,
                   figures=tmp_path / "figs")
    assert {p.name for p in (tmp_path / "figs" / "fake-exp").iterdir()} == {"means.png", "summary.md"}


@pytest.mark.parametrize("argv,flag", [
    (["reproduce", "nope"], "EXPERIMENT"),
    (["reproduce", "attention", "--preset", "huge"], "--preset"),
    (["reproduce", "attention", "--seeds", "x"], "--seeds"),
    (["reproduce", "attention", "--jobs", "0"], "--jobs"),
    (["reproduce", "attention", "--dtype", "bf16"], "--dtype"),
    (["reproduce", "all", "--set", "steps=3"], "--set"),
])
def test_cli_bad_input_is_one_line_exit_2(argv, flag, capsys, tmp_path):
    from ditgp.cli import main

    if "attention" in argv and "attention" not in EXPERIMENTS:
        pytest.skip("attention experiment not built in this tree")
    assert main([*argv, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and (flag in err or "invalid choice" in err), err


def test_a_run_estimated_beyond_the_budget_is_refused_before_work(tmp_path, monkeypatch):
    from ditgp.theory.errors import ResourceError

    # 2.5× the budget per 4 cells: 4 cells on 2 jobs → 1.25× (refused), 2 cells → 0.625× (runs)
    monkeypatch.setattr(Fake, "estimate_seconds",
                        lambda self, p, cells, device: base.MAX_UNFORCED_SECONDS * 2.5 * len(cells) / 4)
    CALLS.clear()
    with pytest.raises(ResourceError, match="--force"):
        run_experiment("fake-exp", tmp_path, preset="toy", quiet=True, jobs=2)
    assert CALLS == [] and not (tmp_path / "fake-exp").exists()
    run_experiment("fake-exp", tmp_path, preset="toy", quiet=True, jobs=2, seeds=1)
    run_experiment("fake-exp", tmp_path / "f", preset="toy", quiet=True, jobs=2, force=True)


def test_cli_refuses_the_gpu_preset_on_a_cpu_in_one_line(tmp_path, capsys):
    from ditgp.cli import main

    if "attention" not in EXPERIMENTS:
        from ditgp.verify.reproduce.base import experiment

        experiment("attention")
    assert main(["reproduce", "attention", "--preset", "gpu", "--device", "cpu",
                 "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "--force" in err and "--preset" in err, err
    assert not any(tmp_path.iterdir())


def test_a_summary_without_a_verdict_is_refused(tmp_path, monkeypatch):
    """Every experiment ends in a verdict: a summary without one is not written as results."""
    monkeypatch.setattr(Fake, "summarise", lambda self, r, c, ctx: {"numbers": {}, "markdown": ""})
    with pytest.raises(SpecError, match="verdict"):
        base.run_experiment("fake-exp", tmp_path, preset="toy", quiet=True)
    assert not (tmp_path / "fake-exp" / "results.json").exists()
