"""``ditgp sample``: draw sequences with a reverse-time sampler driven by a trained run, a
bundle or the exact score, and optionally report their distribution error."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_spec_arguments, add_threads_argument, apply_threads


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
    p.add_argument("--sampler", default="sde", choices=("sde", "ode"),
                   help="sde (Euler–Maruyama) or ode (Heun) (default: sde)")
    p.add_argument("--steps", type=int, default=200, help="time steps (default: 200)")
    p.add_argument("--grid", default="log", choices=("uniform", "log"),
                   help="time grid (default: log, fine near t0)")
    p.add_argument("--prior", default="exact", choices=("exact", "standard"),
                   help="X_T ~ N(0, A_T) (exact, default) or N(0, I) (standard)")
    p.add_argument("--seed", type=int, default=0, help="seed (default: 0)")
    add_threads_argument(p)
    p.add_argument("--batch", type=int, default=512, help="rows per chunk (part of the seed's "
                                                          "meaning; default: 512)")
    p.add_argument("--output", required=True, metavar="samples.npy", help="where to write")
    p.add_argument("--report", default=None, metavar="DIR", help="write a metrics report here")
    p.add_argument("--force", action="store_true", help="overwrite an existing --output")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import io
    import time
    from pathlib import Path

    import numpy as np

    from ditgp.cli.common import spec_from_args
    from ditgp.models.sampling import exact_score_fn, load_score, sample
    from ditgp.theory.errors import SpecError

    apply_threads(args.threads)
    out = Path(args.output)
    if out.exists() and not args.force:
        raise SpecError("--output", str(out), "a path that does not exist yet (or --force)")
    if out.suffix != ".npy":
        raise SpecError("--output", str(out), "a .npy file name")
    if args.exact:
        spec = spec_from_args(args)
        fn, source = exact_score_fn(spec), "exact score"
    else:
        src = args.run_dir or args.weights
        fn, spec, _ = load_score(src)
        source = f"{'run' if args.run_dir else 'bundle'} {src}"
    opts = dict(sampler=args.sampler, steps=args.steps, grid=args.grid, seed=args.seed,
                prior=args.prior, batch=args.batch)
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
