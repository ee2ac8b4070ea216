"""``ditgp reproduce``: the paper's experiments, in spirit, and past them (docs/theory.md §9).

Experiments (each one command, one results folder with JSON, PNGs and a markdown summary):

* ``attention`` — a DiT trained on Laplace-kernel data with a non-trivial ``Σ``: attention
  heat-maps beside ``Γ``, attention-vs-gap profile beside ``γ``, value path beside ``Σ``, and
  the ``Γ = I`` control (do the patterns come from the positional embedding alone?);
* ``decay`` — decay class → sample efficiency: excess loss and score error vs training-set
  size ``n`` per decay class, fitted log-log slopes with confidence intervals, beside the
  constructive resources ``M(ε)``, ``w(ε)``, ``L(ε)``;
* ``video`` — semi-synthetic moving-ball video whose trajectory is a GP in time;
* ``length`` — score error and attention fidelity as ``H`` grows, trained vs constructed.

The shared machinery (cells, resume, presets, jobs) is :mod:`ditgp.verify.reproduce.base`.
"""

from __future__ import annotations

from .base import (
    EXPERIMENTS,
    ORDER,
    PRESETS,
    Cell,
    Context,
    Experiment,
    experiment,
    load_all,
    run_experiment,
)

__all__ = ["EXPERIMENTS", "PRESETS", "ORDER", "Cell", "Context", "Experiment", "experiment",
           "load_all", "run_experiment", "run_all"]


def run_all(out, **kwargs):
    """Run every experiment (``ORDER``) into ``out/<name>`` and write ``out/summary.md``,
    an index of the experiments with links to their summaries."""
    from pathlib import Path

    from ..report import atomic_write_text

    load_all()
    docs = {}
    for name in ORDER:
        if name in EXPERIMENTS:
            docs[name] = run_experiment(name, out, **kwargs)
    if kwargs.get("dry_run"):
        return docs
    lines = ["# ditgp reproduce — all experiments", ""]
    for name, doc in docs.items():
        lines.append(f"* [{doc['title']}]({name}/summary.md) — preset {doc['preset']}, "
                     f"device {doc['device']}")
    atomic_write_text(Path(out) / "summary.md", "\n".join(lines) + "\n")
    return docs
