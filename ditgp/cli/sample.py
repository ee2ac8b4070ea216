"""``ditgp sample``: draw sequences with a reverse-time sampler driven by a trained run, a
bundle or the exact score, and optionally report their distribution error."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_spec_arguments, add_threads_argument, apply_threads
from ditgp.theory.choices import GRIDS, PRIORS, SAMPLERS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample", help="generate sequences with the reverse SDE/ODE (network or exact score)",
        description="Run the reverse-time SDE (Euler–Maruyama) or probability-flow ODE (Heun) "
                    "from T to t0 with the score of a training run, a bundle or the exact "
                    "oracle; write (n, d, H) float64 samples. With --report, compare them with "
                    "the true marginal at t0 (per-lag autocorrelation, spatial covariance, "
                    "Gaussian KL and W2 with finite-sample bias and SE) and, for a network, "
                    "with the exact-score sampler run on the same prior draws and noise.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", dest="run_dir", metavar="RUN", help="a training run (uses RUN/final)")
    src.add_argument("--weights", metavar="BUNDLE", help="a bundle (trained or constructed)")
    src.add_argument("--exact", action="store_true", help="the exact score (spec from flags)")
    add_spec_arguments(p, time=False)
    p.add_argument("--n", type=int, required=True, help="number of sequences")
    p.add_argument("--sampler", default="sde", choices=SAMPLERS,
                   help="sde (Euler–Maruyama) or ode (Heun) (default: sde)")
    p.add_argument("--steps", type=int, default=200, help="time steps (default: 200)")
    p.add_argument("--grid", default="log", choices=GRIDS,
                   help="time grid (default: log, fine near t0)")
    p.add_argument("--prior", default="exact", choices=PRIORS,
                   help="X_T ~ N(0, A_T) (exact, default) or N(0, I) (standard)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    add_threads_argument(p)
    p.add_argument("--batch", type=int, default=512, help="rows per chunk (part of the seed's "
                                                          "meaning; default: 512)")
    p.add_argument("--output", required=True, metavar="samples.npy", help="where to write")
    p.add_argument("--report", default=None, metavar="DIR", help="write a metrics report here")
    p.add_argument("--force", action="store_true",
                   help="overwrite an existing --output and the report files of --report; run "
                        "beyond the time or memory budget")
    p.set_defaults(run=run)


#: The files ``--report DIR`` writes (an existing one is replaced only with --force).
REPORT_FILES = ("report.md", "report.json", "autocorrelation.png", "spatial.png")


def _check_outputs(args) -> None:
    """Refuse, before any work, an --output or --report that cannot be written or would
    replace a file without --force."""
    from pathlib import Path

    from ditgp.cli.common import check_new_files, check_writable_folder
    from ditgp.theory.errors import SpecError

    out = Path(args.output)
    if out.is_dir():
        raise SpecError("--output", str(out), "a .npy file name (this is a folder)")
    if out.suffix != ".npy":
        raise SpecError("--output", str(out), "a .npy file name")
    if (out.exists() or out.is_symlink()) and not args.force:
        raise SpecError("--output", str(out), "a path that does not exist yet (or --force)")
    check_writable_folder("--output", out.parent)
    if args.report:
        check_new_files("--report", Path(args.report), REPORT_FILES, args.force,
                        "sample report")
        check_writable_folder("--report", Path(args.report))


def _check_budget(args, fn, spec, report_base: bool) -> None:
    """Memory of the samples (and of the exact-score sampler's, with --report) and the wall
    clock, timed on one step of one chunk, within the budget (or --force)."""
    from ditgp.models.sampling import estimate_seconds
    from ditgp.numerics.budget import F64, Estimate, check_seconds

    copies = 2 if report_base else 1
    rows = float(args.n) * spec.d * spec.H
    Estimate(f"{args.n} samples (H={spec.H}, d={spec.d})" + (" and the exact-score sampler's"
             if report_base else ""), F64 * rows * (copies + 1)).check(
        "--n", args.n, force=args.force, alternative="ask for fewer sequences")
    seconds, how = estimate_seconds(fn, spec, args.n, sampler=args.sampler, steps=args.steps,
                                    batch=args.batch, prior=args.prior)
    check_seconds("--n", args.n, copies * seconds, how + (" × 2 with --report (the exact-score "
                  "sampler runs too)" if copies == 2 else ""), force=args.force,
                  alternative="fewer --n or --steps")


def run(args: argparse.Namespace) -> int:
    import io
    import time
    from pathlib import Path

    import numpy as np

    from ditgp.cli.common import refuse_spec_flags, spec_from_args
    from ditgp.models.sampling import exact_score_fn, load_score, sample
    from ditgp.theory.errors import SpecError

    apply_threads(args.threads)
    if args.n < 1:
        raise SpecError("--n", args.n, "an integer ≥ 1")
    out = Path(args.output)
    _check_outputs(args)
    if args.exact:
        spec = spec_from_args(args)
        fn, source = exact_score_fn(spec), "exact score"
    else:
        src = args.run_dir or args.weights
        refuse_spec_flags(args, "--run" if args.run_dir else "--weights")
        fn, spec, _ = load_score(src)
        source = f"{'run' if args.run_dir else 'bundle'} {src}"
    opts = dict(sampler=args.sampler, steps=args.steps, grid=args.grid, seed=args.seed,
                prior=args.prior, batch=args.batch)
    _check_budget(args, fn, spec, report_base=bool(args.report) and not args.exact)
    start = time.perf_counter()
    X = sample(fn, spec, args.n, progress=True, **opts)
    seconds = time.perf_counter() - start
    from ditgp.verify.report import atomic_write_bytes

    buf = io.BytesIO()
    np.save(buf, X, allow_pickle=False)
    atomic_write_bytes(out, buf.getvalue())
    print(f"wrote {out} (shape {X.shape}, float64; {args.sampler}, {args.steps} {args.grid} "
          f"steps, {source}, {seconds:.1f} s)")
    if args.report:
        from ditgp.verify.distribution import distribution_report, write_sample_report

        t0 = spec.schedule.t0
        reports = {"samples": distribution_report(X, spec, t0, seed=args.seed)}
        if not args.exact:
            base = sample(exact_score_fn(spec), spec, args.n, progress=True, **opts)
            reports["exact-score sampler"] = distribution_report(base, spec, t0, seed=args.seed)
        meta = {"source": source, "spec": spec.describe(), "n": args.n, **opts,
                "t_end": t0, "seconds": round(seconds, 2)}
        doc = write_sample_report(args.report, reports, meta)
        g = doc["reports"]["samples"]["gaussian"]
        print(f"report: {args.report}/report.md (KL {g['kl']:.3g}, W2 {g['w2']:.3g}, "
              f"fit {g['fit']})")
    return 0
