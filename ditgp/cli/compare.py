"""``ditgp compare``: trained vs constructed vs exact on identical oracle inputs."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_threads_argument, apply_threads


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare", help="three-way comparison of a trained run, a construction and the exact score",
        description="On identical oracle draws per t: relative score error of the trained "
                    "network, the construction and the independent-frames baseline against "
                    "the exact score, trained vs constructed, excess DSM loss over the Bayes "
                    "floor (minus the exact score's on the same draws), the operator probe "
                    "(the networks' Jacobians against −A_t⁻¹), the attention test (held-out "
                    "model comparison of the attention profile: kernel vs free-length decay, "
                    "exact operator, flat, control), the gated value path vs Σ and layer↔"
                    "iteration distances against their trivial bound. Writes DIR/compare.md, "
                    "compare.json and PNGs. Without --bundle a gated Chebyshev construction is "
                    "built for the run's spec at its t0 and --eps.")
    p.add_argument("--run", dest="run_dir", required=True, metavar="RUN", help="training run folder")
    p.add_argument("--bundle", default=None, metavar="BUNDLE", help="construction bundle")
    p.add_argument("--control", default=None, metavar="RUN",
                   help="a run of the same architecture trained on Γ = I data (attention control)")
    p.add_argument("--t-grid", default=None, metavar="T1,T2,...",
                   help="times in [t0, T] (default: 8 log-spaced)")
    p.add_argument("--n", type=int, default=64, help="oracle draws per t (default: 64)")
    p.add_argument("--eps", type=float, default=1e-3,
                   help="accuracy of the construction built without --bundle (default: 1e-3)")
    p.add_argument("--probe-t", type=float, default=None, help="time of the attention probes "
                                                               "(default: the spec's t0)")
    p.add_argument("--seed", type=int, default=0, help="seed of the draws (default: 0)")
    add_threads_argument(p)
    p.add_argument("--out", default="ditgp-compare", metavar="DIR",
                   help="report folder (default: ditgp-compare); one holding a comparison "
                        "already is refused unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace the report files (compare.md/json, PNGs) of an existing --out; "
                        "run beyond the time budget")
    p.set_defaults(run=run)


#: The files a comparison writes into --out (the only ones --force replaces).
REPORT_FILES = ("compare.md", "compare.json", "errors.png", "excess_loss.png",
                "attention_profile.png", "attention_heatmaps.png", "layer_distance.png")


def check_construction_bundle(flag: str, bundle: str | None) -> None:
    """``--bundle`` must be a construction: a trained bundle is not "the construction"."""
    from ditgp.models.export import is_trained_bundle
    from ditgp.theory.errors import SpecError

    if bundle is not None and is_trained_bundle(bundle):
        raise SpecError(flag, bundle, "a construction bundle (made by `ditgp construct`; this one "
                        "is a trained network: compare it as --run, or --control)")


def _check_budget(args, grid: list[float] | None) -> None:
    """Wall clock of the comparison before the work: the trained network is timed on a few
    draws here and the count of network evaluations (draws and DSM pairs per time, two networks)
    extrapolated from it; the draws' memory too."""
    import time
    from pathlib import Path

    import numpy as np

    from ditgp.models.export import load_trained
    from ditgp.numerics import BundleError
    from ditgp.numerics.budget import F64, Estimate, check_seconds
    from ditgp.numerics.oracle import Oracle
    from ditgp.theory.errors import SpecError
    from ditgp.verify.compare_trained import DSM_N, PROBE_N, default_t_grid

    final = Path(args.run_dir) / "final"
    if not (final / "manifest.json").is_file():
        raise SpecError("--run", args.run_dir, "a training run folder with a final/ bundle "
                        "(made by ditgp train)")
    try:
        tr = load_trained(final)
    except BundleError as exc:
        raise SpecError("--run", args.run_dir, f"a run with a valid final bundle ({exc})") from None
    spec = tr.spec
    points = len(grid) if grid else len(default_t_grid(spec))
    Estimate(f"{args.n} draws per t (H={spec.H}, d={spec.d})",
             8 * F64 * float(args.n) * spec.d * spec.H).check(
        "--n", args.n, force=args.force, alternative="fewer --n")
    m = min(args.n, 32)
    t = float(np.sqrt(spec.schedule.t0 * spec.schedule.T))
    X = Oracle.for_spec(spec).sample(m, seed=0, t=t)
    start = time.perf_counter()
    tr.score(X, t)
    per_row = (time.perf_counter() - start) / m
    rows = points * (args.n + DSM_N) + PROBE_N
    check_seconds("--n", args.n, 2 * per_row * rows,
                  f"the trained network scored {m} draws at {per_row:.3g} s each here; × {rows} "
                  f"draws over {points} times × 2 networks", force=args.force,
                  alternative="fewer --n or --t-grid times")


def parse_t_grid(text: str | None) -> list[float] | None:
    from ditgp.theory.errors import SpecError

    if text is None:
        return None
    try:
        grid = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SpecError("--t-grid", text, "comma-separated numbers, e.g. 0.01,0.1,1") from None
    if not grid:
        raise SpecError("--t-grid", text, "at least one time")
    return grid


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ditgp.cli.common import check_new_files, check_writable_folder
    from ditgp.theory.errors import SpecError
    from ditgp.verify.compare_trained import compare

    apply_threads(args.threads)
    if args.n < 2:
        raise SpecError("--n", args.n, "an integer ≥ 2")
    if not (0 < args.eps < 1):
        raise SpecError("--eps", args.eps, "a relative accuracy in (0, 1)")
    check_new_files("--out", Path(args.out), REPORT_FILES, args.force, "comparison")
    check_writable_folder("--out", Path(args.out))
    check_construction_bundle("--bundle", args.bundle)
    grid = parse_t_grid(args.t_grid)
    _check_budget(args, grid)
    doc = compare(args.run_dir, bundle=args.bundle, t_grid=grid, n=args.n,
                  seed=args.seed, eps=args.eps, control=args.control, probe_t=args.probe_t,
                  out=args.out)
    print("operator probe (Jacobian vs −A_t⁻¹): relative error per t")
    for key, probe in doc["operator"].items():
        j = probe["jacobian"]
        print(f"  {key:12s} " + "  ".join(f"t={t:.3g}: {e:.3g}" for t, e in zip(j["t"], j["rel_error"],
                                                                               strict=True)))
    print(f"{'t':>8} {'trained':>10} {'constructed':>12} {'indep':>10} {'tr vs con':>10}")
    for r in doc["errors"]["rows"]:
        print(f"{r['t']:8.3g} {r['trained_rel_error']:10.3g} {r['constructed_rel_error']:12.3g} "
              f"{r['independent_rel_error']:10.3g} {r['trained_vs_constructed']:10.3g}")
    for key, a in doc["attention"].items():
        kt = a["kernel_test"]
        print(f"attention {key:12s} kernel test {'PASS' if kt['passed'] else 'FAIL'} (best shape "
              f"{kt['best']}, p {kt['p_value']:.3g}, kernel share {kt['share']:.3f})")
    print(f"report: {args.out}/compare.md")
    return 0
