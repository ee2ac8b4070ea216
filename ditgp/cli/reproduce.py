"""``ditgp reproduce``: the paper's experiments end to end (one results folder each)."""

from __future__ import annotations

import argparse
import sys

from ditgp.theory.choices import EXECUTORS, EXPERIMENTS, REPRODUCE_DTYPES, REPRODUCE_PRESETS

CHOICES = (*EXPERIMENTS, "all")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "reproduce", help="the paper's experiments: attention, decay, video, length (or all)",
        description="Reproduce the paper's experiments in spirit and past them: attention "
                    "(patterns vs Γ, γ and Σ, with the Γ = I control), decay (decay class → "
                    "sample efficiency), video (moving ball on a GP trajectory), length (error "
                    "and attention fidelity as H grows, trained vs constructed). Each writes "
                    "OUT/<experiment>/ with results.json, summary.md and PNGs; finished cells "
                    "are skipped on a re-run and interrupted training resumes.")
    p.add_argument("experiment", choices=CHOICES, metavar="EXPERIMENT",
                   help="one of " + ", ".join(CHOICES))
    p.add_argument("--preset", default="cpu", choices=REPRODUCE_PRESETS,
                   help="toy (seconds, smoke test), cpu (2 cores; all ≤ 20 min), gpu "
                        "(paper-sized; one experiment ≤ 9 min on one H100) (default: cpu)")
    p.add_argument("--seeds", default=None, metavar="N|S1,S2,...",
                   help="number of seeds (0..N-1) or a list (default: the preset's)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a preset number (JSON value), repeatable; --list shows them")
    p.add_argument("--out", default="ditgp-reproduce", metavar="DIR",
                   help="results folder (default: ditgp-reproduce)")
    p.add_argument("--device", default=None,
                   help="cpu or cuda[:N] (default: cuda for --preset gpu, else cpu)")
    p.add_argument("--dtype", default="float32", choices=REPRODUCE_DTYPES,
                   help="training precision (bf16 autocast needs CUDA; default float32)")
    p.add_argument("--jobs", type=int, default=None,
                   help="cells run in parallel processes on CPU (default: min(2, cores); 1 on GPU)")
    p.add_argument("--figures", default=None, metavar="DIR",
                   help="also copy each experiment's PNGs and summary.md into DIR/<experiment>/ "
                        "(e.g. docs/figures/reproduce; overwrites those files)")
    p.add_argument("--dry-run", action="store_true",
                   help="print the cells and the time estimate, run nothing")
    p.add_argument("--list", action="store_true",
                   help="print the preset's parameters (what --set can change) and exit")
    p.add_argument("--force", action="store_true",
                   help="run even when the estimated time exceeds 6 hours (e.g. --preset gpu "
                        "on a CPU)")
    p.add_argument("--executor", default="local", choices=EXECUTORS,
                   help="local: this machine (--jobs processes); ray: each cell a Ray task, on "
                        "an embedded local runtime or the cluster at --ray-address (one GPU per "
                        "training cell on CUDA); needs pip install -e \".[cluster]\" "
                        "(default: local)")
    p.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="with --executor ray: the cluster (auto, HOST:6379 or ray://HOST:10001; "
                        "the results folder on a file system every node sees); default: an "
                        "embedded runtime on this machine")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    import os
    from pathlib import Path

    from ditgp.cli.common import check_writable_folder
    from ditgp.theory.errors import SpecError
    from ditgp.verify.reproduce import ORDER, experiment, run_all, run_experiment
    from ditgp.verify.reproduce.base import apply_overrides, check_params, parse_overrides

    names = list(ORDER) if args.experiment == "all" else [args.experiment]
    overrides = parse_overrides(args.overrides)
    if args.experiment == "all" and overrides:
        raise SpecError("--set", args.overrides[0], "used with one experiment, not all")
    if args.list:  # the parameters --set would give (a bad --set is refused, as without --list)
        for name in names:
            exp = experiment(name)
            params = apply_overrides(exp.params(args.preset), overrides,
                                     f"{name} --preset {args.preset}")
            check_params(params)
            print(f"# {name} --preset {args.preset}: {exp.title}")
            print(json.dumps(params, indent=2))
        return 0
    device = args.device or ("cuda" if args.preset == "gpu" else "cpu")
    jobs = args.jobs if args.jobs is not None else (
        1 if device.startswith("cuda") else max(1, min(2, os.cpu_count() or 1)))
    if jobs < 1:
        raise SpecError("--jobs", jobs, "an integer ≥ 1")
    if args.dtype == "bf16" and not device.startswith("cuda"):
        raise SpecError("--dtype", args.dtype, "float32 on CPU (bf16 autocast is for CUDA)")
    out = Path(args.out)
    if not args.dry_run:
        check_writable_folder("--out", out)
        if args.figures:
            check_writable_folder("--figures", Path(args.figures))

    def say(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    kw = dict(preset=args.preset, seeds=args.seeds, device=device, dtype=args.dtype, jobs=jobs,
              quiet=args.quiet, notify=say, figures=args.figures, dry_run=args.dry_run,
              force=args.force, executor=args.executor, ray_address=args.ray_address)
    if args.experiment == "all":
        docs = run_all(out, **kw)
    else:
        docs = {args.experiment: run_experiment(args.experiment, out, overrides=overrides, **kw)}
    if args.dry_run:
        return 0
    for name, doc in docs.items():
        print(f"{name}: {out / name / 'summary.md'} ({len(doc['figures'])} figures)")
    return 0
