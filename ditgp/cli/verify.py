"""``ditgp verify``: run the theory's claims as property tests and write a report."""

from __future__ import annotations

import argparse
import sys


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "verify",
        help="check the theory's claims numerically (property tests) and write a report",
        description="Run the registry of theory claims under hypothesis (seeded, with a budget "
        "of examples each), print one line per claim as it finishes (claim, source, examples, "
        "worst margin, pass/fail), write DIR/report.md, DIR/report.json and PNG plots. Exits 0 "
        "only if every claim holds with a finite measured value within a finite bound; on "
        "failure prints the shrunk counterexample spec as JSON. With --weights alone only the "
        "bundle is checked (add --with-claims or --claims to run claims too).",
    )
    p.add_argument("--claims", default=None, metavar="ID,...",
                   help="comma-separated claim ids or numbers (default: all)")
    p.add_argument("--examples", type=int, default=None, metavar="N",
                   help="examples per claim (default: each claim's own budget)")
    p.add_argument("--seed", type=int, default=0, help="hypothesis seed (default: 0)")
    p.add_argument("--out", default="ditgp-report", metavar="DIR",
                   help="report folder (default: ditgp-report); an existing report there is "
                        "refused unless --force")
    p.add_argument("--force", action="store_true",
                   help="replace the report files (report.md/json, plots) of an existing --out")
    p.add_argument("--weights", default=None, metavar="DIR",
                   help="verify a weight bundle against its own manifest (only the bundle, "
                        "unless --with-claims or --claims)")
    p.add_argument("--with-claims", action="store_true",
                   help="with --weights: also run the claims (default: the bundle only)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object")
    p.add_argument("--shard", default=None, metavar="I/N",
                   help="run only claims i, i+n, ... of the selection (0-based i)")
    p.add_argument("--merge", nargs="+", default=None, metavar="DIR",
                   help="merge the reports of shards (folders written by --shard runs) into "
                        "--out instead of running claims")
    p.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.add_argument("--run", dest="run_dir", default=None, metavar="RUN",
                   help="also run the trained-model claims (101-107) on this training run and add "
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


#: Files a report writes into --out (the only ones --force replaces).
REPORT_FILES = ("report.md", "report.json")


def _check_out(args: argparse.Namespace) -> None:
    """Refuse, before any work, an --out that is a file, lies in a read-only place, holds a
    report already (unless --force), or is one of the --merge inputs."""
    import os
    import tempfile
    from pathlib import Path

    from ditgp.theory.errors import SpecError

    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError("--out", args.out, "a folder for the report (this is a file)")
    if args.merge and any(out.resolve() == Path(d).resolve() for d in args.merge):
        raise SpecError("--out", args.out, "a folder other than the shards being merged")
    if out.is_dir() and any((out / f).exists() for f in REPORT_FILES) and not args.force:
        raise SpecError("--out", args.out, "a folder without a report (pass --force to replace "
                        "its report files)")
    if args.run_dir:  # the comparison goes to OUT/trained/
        from ditgp.cli.common import check_new_files
        from ditgp.cli.compare import REPORT_FILES as COMPARE_FILES

        check_new_files("--out", out / "trained", COMPARE_FILES, args.force, "comparison")
    probe = out
    while not probe.exists():
        probe = probe.parent
    if not probe.is_dir() or not os.access(probe, os.W_OK | os.X_OK):
        raise SpecError("--out", args.out, f"a writable place ({probe} is not writable)")
    if out.is_dir():
        try:
            fd, tmp = tempfile.mkstemp(dir=out, prefix=".ditgp-write-test.")
            os.close(fd)
            os.unlink(tmp)
        except OSError as exc:
            raise SpecError("--out", args.out, f"a writable folder ({exc.strerror})") from None


def _check_run_flags(args: argparse.Namespace) -> None:
    """--bundle and --control belong to --run (they were ignored without it), and so do the
    trained-model claims (101+)."""
    from ditgp.theory.errors import SpecError

    if not args.run_dir:
        for flag, value in (("--bundle", args.bundle), ("--control", args.control)):
            if value is not None:
                raise SpecError(flag, value, "--run RUN as well (it is the construction, or the "
                                "control run, that a training run is compared with)")
        from ditgp.verify.claims.registry import TRAINED

        numbers = {str(c.number) for c in TRAINED.values()}
        for k in (k.strip() for k in (args.claims or "").split(",")):
            if k in TRAINED or k in numbers:
                raise SpecError("--claims", k, "--run RUN as well (the trained-model claims "
                                "101+ check a training run)")
        return
    from ditgp.cli.compare import check_construction_bundle

    check_construction_bundle("--bundle", args.bundle)


def _row(number: int, cid: str, source: str, examples: int, margin, status: str) -> str:
    return (f"{number:>2}  {cid:24s} {source:36s} {examples:>8d} {_fmt(margin):>13s}  "
            f"{status.upper()}")


def _header() -> str:
    return f"{'#':>2}  {'claim':24s} {'source':36s} {'examples':>8s} {'worst margin':>13s}  status"


def run(args: argparse.Namespace) -> int:
    import json
    import time

    from tqdm import tqdm

    from ditgp.cli.common import emit_json
    from ditgp.theory.errors import SpecError
    from ditgp.verify.claims import REGISTRY, run_claim, select
    from ditgp.verify.report import write_report

    if args.examples is not None and args.examples < 1:
        raise SpecError("--examples", args.examples, "an integer ≥ 1")
    if args.claims is not None and not [k for k in args.claims.split(",") if k.strip()]:
        raise SpecError("--claims", args.claims, "at least one claim id or number (omit "
                        "--claims for all)")
    _check_run_flags(args)
    _check_out(args)
    if args.merge:
        from ditgp.verify.report import merge_reports

        rows, meta, merged_weights = merge_reports(args.merge)
        doc = write_report(args.out, rows, meta=meta, weights=merged_weights,
                           with_plots=not args.no_plots, claims=REGISTRY)
        if args.json:
            emit_json(doc)
        else:
            print(_header())
            for r in rows:
                print(_row(r["number"], r["id"], r["source"], r["examples"], r["worst_margin"],
                           r["status"]))
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
        selection = select(rest) if (rest or not keys) else []
        run_suite = bool(selection)
        claims = _shard(selection, args.shard)
    else:
        selection = select(args.claims)
        run_suite = args.weights is None or args.with_claims or args.claims is not None
        claims = _shard(selection, args.shard) if run_suite else []
    results = []
    start = time.perf_counter()
    # one line per claim as it finishes: on stdout for the table, on stderr with --json
    line_out = sys.stderr if args.json else sys.stdout
    if claims and not args.json:
        print(_header(), flush=True)
    for c in claims:
        budget = args.examples or c.default_examples
        with tqdm(total=budget, desc=f"{c.number:>2} {c.id}", file=sys.stderr, leave=False,
                  disable=None) as bar:
            def tick(bar=bar):
                if bar.n < bar.total:
                    bar.update(1)

            r = run_claim(c, examples=budget, seed=args.seed, on_example=tick)
        results.append(r)
        if not args.json or not sys.stderr.isatty():
            print(_row(r.number, r.id, r.source, r.examples, r.worst_margin, r.status)
                  + f"  ({r.seconds:.1f} s)", file=line_out, flush=True)
    trained_doc = None
    if args.run_dir:
        from ditgp.verify.claims.trained import context_for_run

        ctx = context_for_run(args.run_dir, bundle=args.bundle, control=args.control)
        for c in trained_claims:
            budget = args.examples or c.default_examples
            with tqdm(total=budget, desc=f"{c.number:>3} {c.id}", file=sys.stderr, leave=False,
                      disable=None) as bar:
                r = run_claim(c, examples=budget, seed=args.seed, overrides={"ctx": ctx},
                              on_example=lambda bar=bar: bar.update(1))
            results.append(r)
            if not args.json or not sys.stderr.isatty():
                print(_row(r.number, r.id, r.source, r.examples, r.worst_margin, r.status)
                      + f"  ({r.seconds:.1f} s)", file=line_out, flush=True)
        from ditgp.verify.compare_trained import compare

        trained_doc = compare(args.run_dir, nets=ctx.nets, seed=args.seed,
                              out=f"{args.out}/trained")
    weights = None
    if args.weights:
        from ditgp.verify.bundle_check import verify_bundle

        weights = verify_bundle(args.weights, seed=args.seed)
    meta = {"seed": args.seed, "examples": args.examples or "default",
            "claims": ",".join(c.id for c in claims), "shard": args.shard or "0/1",
            "selection": ",".join(c.id for c in selection) if run_suite else "",
            "seconds": round(time.perf_counter() - start, 1)}
    doc = write_report(args.out, results, meta=meta, weights=weights,
                       with_plots=not args.no_plots, claims=REGISTRY)
    if trained_doc is not None:
        doc = _add_trained_section(args.out, doc, trained_doc)
    if args.json:
        emit_json(doc)
    else:
        if weights is not None:
            for chk in weights["checks"]:
                print(f"    weights {chk['name']:30s} {'ok' if chk['passed'] else 'FAILED'}  "
                      f"{chk['detail']}")
        print(f"report: {args.out}/report.md ({meta['seconds']:g} s)")
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
    op = trained["operator"]["trained"]["jacobian"]
    lines += ["", "Operator probe of the trained network (Jacobian vs −A_t⁻¹, relative error): "
              + ", ".join(f"t = {t:.3g}: {e:.3g}" for t, e in zip(op["t"], op["rel_error"],
                                                                  strict=True)) + ".", "",
              "Attention test (held-out model comparison; unit: probe inputs): " + "; ".join(
                  f"{k} {'PASS' if v['kernel_test']['passed'] else 'FAIL'} (best shape "
                  f"{v['kernel_test']['best']}, p {v['kernel_test']['p_value']:.3g})"
                  for k, v in a.items()) + ".", ""]
    lines += [f"![{p}](trained/{p})" for p in ("operator_gap_profile.png", "errors.png",
                                               "excess_loss.png", "attention_profile.png",
                                               "layer_distance.png")]
    path = Path(out) / "report.md"
    atomic_write_text(path, path.read_text() + "\n".join(lines) + "\n")
    doc = dict(doc, trained=trained)
    atomic_write_text(Path(out) / "report.json", json.dumps(doc, indent=2, default=float))
    return doc
