"""``ditgp verify``: run the theory's claims as property tests and write a report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check the theory's claims numerically (property tests) and write a report",
        description="Run the registry of theory claims under hypothesis (seeded, with a budget "
        "of examples each), print a table (claim, source, examples, worst margin, pass/fail), "
        "write DIR/report.md, DIR/report.json and PNG plots. Exits 0 only if every claim "
        "holds; on failure prints the shrunk counterexample spec as JSON.",
    )
    p.add_argument("--claims", default=None, metavar="ID,...",
                   help="comma-separated claim ids or numbers (default: all)")
    p.add_argument("--examples", type=int, default=None, metavar="N",
                   help="examples per claim (default: each claim's own budget)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (default: 0)")
    p.add_argument("--out", default="ditgp-report", metavar="DIR",
                   help="report folder (default: ditgp-report)")
    p.add_argument("--weights", default=None, metavar="DIR",
                   help="also verify a weight bundle against its own manifest")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only claims i, i+n, ... of the selection (0-based i)")
    p.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                   help="merge the reports of shards (folders written by --shard runs) into "
                        "--out instead of running claims")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--run", dest="run_dir", default=None, metavar="RUN",
                   help="also run the trained-model claims (101+) on this training run and add "
                        "the three-way comparison (DIR/trained/compare.md) to the report")
    p.add_argument("--bundle", default=None, metavar="BUNDLE",
                   help="with --run: the construction to compare with (default: built)")
    p.add_argument("--control", default=None, metavar="RUN",
                   help="with --run: a run trained on Γ = I data (attention control)")
    p.set_defaults(run=run)


def _shard(items: list, text: str | None) -> list:
    from ditgp.theory.errors import SpecError

    if text is None:
        return items
    try:
        i, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise SpecError("--shard", text, "I/N with integers 0 ≤ I < N") from None
    if not (n >= 1 and 0 <= i < n):
        raise SpecError("--shard", text, "I/N with integers 0 ≤ I < N")
    return items[i::n]


def _fmt(m: float) -> str:
    import math

    return "—" if m is None or not math.isfinite(m) else f"{m:.3g}"


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from tqdm import tqdm

    from ditgp.cli.common import emit_json
    from ditgp.theory.errors import SpecError
    from ditgp.verify.claims import run_claim, select
    from ditgp.verify.report import write_report

    if args.examples is not None and args.examples < 1:
        raise SpecError("--examples", args.examples, "an integer ≥ 1")
    if args.merge:
        from ditgp.verify.report import merge_reports

        rows, meta, merged_weights = merge_reports(args.merge)
        doc = write_report(args.out, rows, meta=meta, weights=merged_weights,
                           with_plots=not args.no_plots)
        if args.json:
            emit_json(doc)
        else:
            for r in rows:
                print(f"{r['number']:>2}  {r['id']:24s} {r['source']:8s} {r['examples']:>8d} "
                      f"{_fmt(r['worst_margin']):>13s}  {r['status'].upper()}")
            print(f"report: {args.out}/report.md (merged from {len(args.merge)} shards)")
        return 0 if doc["passed"] else 1
    trained_claims: list = []
    if args.run_dir:
        from ditgp.verify.claims.registry import TRAINED

        keys = [k.strip() for k in (args.claims or "").split(",") if k.strip()]
        tkeys = [k for k in keys if k in TRAINED or (k.isdigit() and int(k) > 100)]
        for k in tkeys:
            if k not in TRAINED and not any(c.number == int(k) for c in TRAINED.values()):
                raise SpecError("--claims", k, "a trained claim id or number: "
                                + ", ".join(f"{c.number} {c.id}" for c in TRAINED.values()))
        rest = [k for k in keys if k not in tkeys]
        trained_claims = [c for c in TRAINED.values()
                          if not keys or c.id in tkeys or str(c.number) in tkeys]
        claims = _shard(select(rest) if (rest or not keys) else [], args.shard)
    else:
        claims = _shard(select(args.claims), args.shard)
    results = []
    start = time.perf_counter()
    for c in claims:
        budget = args.examples or c.default_examples
        with tqdm(total=budget, desc=f"{c.number:>2} {c.id}", file=sys.stderr, leave=False,
                  disable=None) as bar:
            def tick(bar=bar):
                if bar.n < bar.total:
                    bar.update(1)

            results.append(run_claim(c, examples=budget, seed=args.seed, on_example=tick))
    trained_doc = None
    if args.run_dir:
        from ditgp.verify.claims.trained import context_for_run

        ctx = context_for_run(args.run_dir, bundle=args.bundle, control=args.control)
        for c in trained_claims:
            budget = args.examples or c.default_examples
            with tqdm(total=budget, desc=f"{c.number:>3} {c.id}", file=sys.stderr, leave=False,
                      disable=None) as bar:
                results.append(run_claim(c, examples=budget, seed=args.seed,
                                         overrides={"ctx": ctx},
                                         on_example=lambda bar=bar: bar.update(1)))
        from ditgp.verify.trained import compare

        trained_doc = compare(args.run_dir, nets=ctx.nets, seed=args.seed,
                              out=f"{args.out}/trained")
    weights = None
    if args.weights:
        from ditgp.verify.weights import verify_bundle

        weights = verify_bundle(args.weights, seed=args.seed)
    meta = {"seed": args.seed, "examples": args.examples or "default",
            "claims": ",".join(c.id for c in claims), "shard": args.shard or "0/1",
            "seconds": round(time.perf_counter() - start, 1)}
    doc = write_report(args.out, results, meta=meta, weights=weights,
                       with_plots=not args.no_plots)
    if trained_doc is not None:
        doc = _add_trained_section(args.out, doc, trained_doc)
    if args.json:
        emit_json(doc)
    else:
        print(f"{'#':>2}  {'claim':24s} {'source':8s} {'examples':>8s} {'worst margin':>13s}  status")
        for r in results:
            print(f"{r.number:>2}  {r.id:24s} {r.source:8s} {r.examples:>8d} "
                  f"{_fmt(r.worst_margin):>13s}  {r.status.upper()}")
        if weights is not None:
            for chk in weights["checks"]:
                print(f"    weights {chk['name']:30s} {'ok' if chk['passed'] else 'FAILED'}  "
                      f"{chk['detail']}")
        print(f"report: {args.out}/report.md")
    for r in results:
        if r.status in ("fail", "error") and r.counterexample is not None:
            print(f"counterexample for {r.id} ({r.message}):", file=sys.stderr)
            spec = r.counterexample.get("spec", r.counterexample)
            print(json.dumps(spec, indent=2), file=sys.stderr)
    if weights is not None and not weights["passed"]:
        failed = ", ".join(c["name"] for c in weights["checks"] if not c["passed"])
        print(f"ditgp verify: weight bundle {args.weights} failed: {failed}", file=sys.stderr)
    return 0 if doc["passed"] else 1


def _add_trained_section(out: str, doc: dict, trained: dict) -> dict:
    """Append the trained-network section (summary + link to trained/compare.md and its plots)
    to report.md and the comparison to report.json."""
    import json
    from pathlib import Path

    from ditgp.verify.report import atomic_write_text

    rows = trained["errors"]["rows"]
    a = trained["attention"]
    lines = ["## Trained network", "", f"Run `{trained['run']}` ({trained['spec_text']}); full "
             "comparison in [trained/compare.md](trained/compare.md).", "",
             "| t | trained | constructed | independent frames |", "|---|---|---|---|"]
    lines += [f"| {r['t']:.3g} | {r['trained_rel_error']:.3g} | {r['constructed_rel_error']:.3g} "
              f"| {r['independent_rel_error']:.3g} |" for r in rows]
    lines += ["", "Attention vs γ: " + "; ".join(
        f"{k} Spearman {v['vs_gamma']['spearman']:.3f} (p {v['vs_gamma']['p_value']:.3g})"
        for k, v in a.items()), ""]
    lines += [f"![{p}](trained/{p})" for p in ("errors.png", "excess_loss.png",
                                               "attention_profile.png", "layer_distance.png")]
    path = Path(out) / "report.md"
    atomic_write_text(path, path.read_text() + "\n".join(lines) + "\n")
    doc = dict(doc, trained=trained)
    atomic_write_text(Path(out) / "report.json", json.dumps(doc, indent=2, default=float))
    return doc
