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
                   help="report folder (default: ditgp-compare)")
    p.set_defaults(run=run)


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
    from ditgp.theory.errors import SpecError
    from ditgp.verify.trained import compare

    apply_threads(args.threads)
    if args.n < 2:
        raise SpecError("--n", args.n, "an integer ≥ 2")
    if not (0 < args.eps < 1):
        raise SpecError("--eps", args.eps, "a relative accuracy in (0, 1)")
    doc = compare(args.run_dir, bundle=args.bundle, t_grid=parse_t_grid(args.t_grid), n=args.n,
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
