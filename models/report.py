"""The report of a training run: ``summary.md`` and the learning-curve PNG ``curves.png``.

Read from the run folder's files only (``config.json`` and ``metrics.jsonl``), so a report can
be rewritten at any time — during a run, after it, or after a resume.  Four panels:

1. loss and Bayes floor against the step (log scale);
2. the excess loss ``loss − floor`` and its running mean (symmetric-log scale: it reaches 0
   and fluctuates around it by Monte-Carlo noise);
3. relative score error ``‖ŝ − s‖/‖s‖`` against ``t`` at the last evaluation, for the model
   (EMA weights) and for the independent-frames baseline;
4. the mean score error over ``t ∈ [0.1, 1]`` against the step, with the baseline's as a line.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from ditgp.models.plotting import pyplot, save_png
from ditgp.models.run_folder import read_metrics
from ditgp.numerics.atomic import atomic_write_text

__all__ = ["write_report", "CURVES", "SUMMARY"]

CURVES = "curves.png"
SUMMARY = "summary.md"


def _plot(path: Path, train: list[dict], evals: list[dict], title: str) -> None:
    plt = pyplot()
    fig, axes = plt.subplots(1, 4, figsize=(21, 4.4))
    ax = axes[0]
    if train:
        steps = [r["step"] for r in train]
        ax.plot(steps, [r["loss"] for r in train], label="loss (ε-MSE per element)")
        ax.plot(steps, [r["floor"] for r in train], "--", label="Bayes floor at sampled t")
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss per element")
    ax.set_title("training loss and Bayes floor")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[1]
    if train:
        import numpy as np

        ex = np.array([r["excess"] for r in train])
        w = max(1, len(ex) // 20)
        smooth = np.convolve(ex, np.ones(w) / w, mode="valid")
        ax.plot(steps, ex, color="C2", alpha=0.3, lw=0.8, label="excess per logged window")
        ax.plot(steps[w - 1:], smooth, color="C2", lw=2, label=f"running mean of {w} windows")
        ax.axhline(0.0, color="k", lw=0.8)
        ax.set_yscale("symlog", linthresh=max(1e-4, float(np.abs(smooth).min()) if len(smooth) else 1e-4))
    ax.set_xlabel("step")
    ax.set_ylabel("excess loss = loss − floor")
    ax.set_title("excess loss (what is still to learn)")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[2]
    if evals:
        last = evals[-1]
        ax.loglog(last["t"], last["model"], "o-", label=f"model (EMA, step {last['step']})")
        ax.loglog(last["t"], last["baseline"], "s--", label="independent-frames baseline")
        lo, hi = last.get("band", (0.1, 1.0))
        ax.axvspan(lo, hi, color="grey", alpha=0.12, label=f"t ∈ [{lo:g}, {hi:g}]")
    ax.set_xlabel("diffusion time t")
    ax.set_ylabel("relative score error ‖ŝ − s‖ / ‖s‖")
    ax.set_title("score error vs exact oracle")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)

    ax = axes[3]
    band = [e for e in evals if "model_mean_band" in e]
    if band:
        lo, hi = band[-1].get("band", (0.1, 1.0))
        ax.semilogy([e["step"] for e in band], [e["model_mean_band"] for e in band], "o-",
                    label="model (EMA)")
        ax.axhline(band[-1]["baseline_mean_band"], color="C1", ls="--",
                   label="independent-frames baseline")
        ax.set_title(f"mean score error on t ∈ [{lo:g}, {hi:g}]")
    ax.set_xlabel("step")
    ax.set_ylabel("mean relative score error")
    ax.legend(fontsize=8)
    ax.grid(True, which="both", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    save_png(fig, path, dpi=100, tight=False, stamp=True)


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def write_report(run: str | Path) -> Path:
    """Write ``RUN/summary.md`` and ``RUN/curves.png``; returns the summary's path."""
    from ditgp.theory.spec import GPSpec

    run = Path(run)
    cfg = json.loads((run / "config.json").read_text())
    spec = GPSpec.from_dict(cfg["spec"])
    tr = cfg["train"]
    train, evals = read_metrics(run)
    data = ("exact GP stream" if tr.get("n_train") is None
            else f"{tr['n_train']} fixed training sequences")
    title = (f"{spec.describe()} — {cfg['model']['arch']} D={cfg['model']['width']} "
             f"L={cfg['model']['depth']} heads={cfg['model']['heads']}, {cfg.get('params')} params")
    _plot(run / CURVES, train, evals, title)

    lines = [f"# Training run `{run.name}`", "",
             f"* spec: {spec.describe()}, t ∈ [{spec.schedule.t0:g}, {spec.schedule.T:g}]",
             f"* model: `{json.dumps(cfg['model'])}` — {cfg.get('params')} parameters",
             f"* preset: {cfg.get('preset')}; init: {cfg.get('init_from') or 'random'}; "
             f"processes: {cfg.get('world_size', 1)}",
             f"* training: {tr['steps']} steps, global batch {tr['batch']}, AdamW lr {tr['lr']:g} "
             f"(warm-up {tr['warmup']}, cosine over {tr['decay_steps']}), EMA {tr['ema']}, "
             f"clip {tr['clip']}, dtype {tr['dtype']}, seed {tr['seed']}, "
             f"data: {data}",
             ""]
    if train:
        last = train[-1]
        lines += ["## Loss (last logged window)", "",
                  "| step | loss | Bayes floor | excess | grad-norm | lr | sequences/s |",
                  "|---:|---:|---:|---:|---:|---:|---:|",
                  "| " + " | ".join(_fmt(last.get(k)) for k in
                                   ("step", "loss", "floor", "excess", "grad_norm", "lr",
                                    "seq_per_s")) + " |", ""]
    if evals:
        e = evals[-1]
        lines += [f"## Relative score error at step {e['step']} (EMA weights, "
                  f"{tr['n_eval']} exact draws per t)", "",
                  "| t | model | independent frames | model better |", "|---:|---:|---:|:---:|"]
        for t, m, b in zip(e["t"], e["model"], e["baseline"], strict=True):
            lines.append(f"| {t:.4g} | {m:.4g} | {b:.4g} | {'yes' if m < b else 'no'} |")
        lines.append("")
        if "model_mean_band" in e:
            lo, hi = e["band"]
            verdict = "beats" if e["beats_baseline_band"] else "does NOT beat"
            lines += [f"On t ∈ [{lo:g}, {hi:g}] the model {verdict} the independent-frames baseline "
                      f"at every grid point: mean error {e['model_mean_band']:.4g} vs "
                      f"{e['baseline_mean_band']:.4g}.", ""]
    lines += [f"![learning curves]({CURVES})", ""]
    path = run / SUMMARY
    atomic_write_text(path, "\n".join(lines))
    return path
