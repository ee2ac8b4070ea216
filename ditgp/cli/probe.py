"""``ditgp probe``: a network's Jacobian against the exact operator ``−A_t⁻¹``."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_force_argument, add_threads_argument, apply_threads
from ditgp.theory.choices import PROBE_METHODS

#: files ``--out`` receives (the only ones ``--force`` replaces)
PROBE_FILES = ("probe.json", "probe.md", "gap_profile.png")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "probe", help="a network's Jacobian ∂ŝ/∂X against the exact operator −A_t⁻¹",
        description="The operator probe (docs/theory.md, the operator view): at n base points "
                    "X ~ N(0, A_t) per t, the network's Jacobian J = ∂ŝ/∂X (exact, by "
                    "automatic differentiation, up to dH = 2048; beyond, from sampled query "
                    "frames) against J* = −A_t⁻¹: relative Frobenius error, block norm by gap "
                    "(temporal reach) beside the exact and the Γ = I model's, the temporal part "
                    "explained beyond the Γ = I model, the same-frame (spatial) cosine with a "
                    "Haar-rotation null, and the nonlinearity (spread of J over base points, "
                    "change with the input's scale). Prints a table, or one JSON object with "
                    "--json; --out DIR writes probe.json, probe.md and gap_profile.png.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--run", dest="run_dir", default=None, metavar="RUN",
                     help="a training run (its final/ bundle)")
    src.add_argument("--weights", default=None, metavar="BUNDLE",
                     help="a trained or constructed weight bundle")
    p.add_argument("--t", dest="times", default=None, metavar="T[,T...]",
                   help="diffusion times in the network's range (default: t0, 0.01, 0.1, 1 — "
                        "those inside [t0, T]; a fixed-t construction: its t)")
    p.add_argument("--n-base", type=int, default=8, metavar="N",
                   help="base points per t (default: 8; ≥ 2 for a spread)")
    p.add_argument("--method", choices=PROBE_METHODS, default="auto",
                   help="exact Jacobian, frame-sampled sketch, or auto (exact up to dH = 2048)")
    p.add_argument("--frames", type=int, default=16, metavar="S",
                   help="query frames sampled by the sketch (default: 16)")
    p.add_argument("--seed", type=int, default=0, help="seed of the base points (default: 0)")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--out", default=None, metavar="DIR",
                   help="also write probe.json, probe.md and gap_profile.png into DIR")
    add_force_argument(p, "with --out: replace the probe files of an earlier probe in DIR")
    add_threads_argument(p)
    p.set_defaults(run=run)


def parse_times(text: str | None) -> list[float] | None:
    from ditgp.theory.errors import SpecError

    if text is None:
        return None
    try:
        ts = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise SpecError("--t", text, "comma-separated numbers, e.g. 0.01,0.1,1") from None
    if not ts:
        raise SpecError("--t", text, "at least one time")
    return ts


def _check_out(args) -> None:
    from pathlib import Path

    from ditgp.cli.common import check_writable_folder
    from ditgp.theory.errors import SpecError

    if args.out is None:
        return
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise SpecError("--out", args.out, "a folder for the probe files (this is a file)")
    if out.is_dir() and any((out / f).exists() for f in PROBE_FILES) and not args.force:
        raise SpecError("--out", args.out, "a folder without an earlier probe (pass --force to "
                        "replace its " + ", ".join(PROBE_FILES) + ")")
    check_writable_folder("--out", out)


#: bytes per float64 entry kept per base point by the exact Jacobian (J and J(cX), and slack)
_EXACT_BYTES_PER_ENTRY = 8 * 4
#: memory the exact method may use without --force
EXACT_MEMORY_LIMIT = 4 << 30


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from ditgp.cli.common import emit_json
    from ditgp.theory.errors import ResourceError, SpecError

    apply_threads(args.threads)
    if args.n_base < 2:
        raise SpecError("--n-base", args.n_base, "an integer ≥ 2 (a spread needs two base points)")
    if args.frames < 2:
        raise SpecError("--frames", args.frames, "an integer ≥ 2")
    if args.seed < 0:
        raise SpecError("--seed", args.seed, "an integer ≥ 0")
    times = parse_times(args.times)
    _check_out(args)
    source = args.weights if args.weights is not None else str(Path(args.run_dir) / "final")
    flag = "--weights" if args.weights is not None else "--run"
    net, manifest, spec = _load(flag, args.weights or args.run_dir, source)
    from ditgp.verify.operator import EXACT_MAX_DH, network_times, operator_probe

    served = network_times(manifest)
    if served is not None:
        if times is None:
            times = list(served)
        bad = [t for t in times if abs(t - served[0]) > 1e-12 * max(1.0, served[0])]
        if bad:
            raise SpecError("--t", args.times, f"t = {served[0]:g} only (this construction is "
                            "built for a fixed t; build a gated one to probe other times)")
    dH = spec.d * spec.H
    method = args.method if args.method != "auto" else ("exact" if dH <= EXACT_MAX_DH else "sketch")
    if method == "exact":
        need = min(args.n_base, 8) * dH * dH * _EXACT_BYTES_PER_ENTRY + args.n_base * dH * dH * 8
        if need > EXACT_MEMORY_LIMIT and not args.force:
            raise ResourceError("--method", "exact", f"at most {EXACT_MEMORY_LIMIT >> 30} GiB "
                                f"(the exact Jacobian of dH = {dH} needs ≈ {need / 2**30:.1f} GiB: "
                                "use --method sketch, or --force)")
    doc = operator_probe(net, spec, times, n_base=args.n_base, seed=args.seed,
                         method=method, frames=args.frames)
    doc["source"] = source
    if args.out is not None:
        from ditgp.verify.operator import write_probe

        write_probe(args.out, doc, name=Path(args.weights or args.run_dir).name)
    if args.json:
        from ditgp.numerics.jsonable import jsonable

        emit_json(jsonable(doc, nonfinite="string"))
        return 0
    j = doc["jacobian"]
    print(f"operator probe of {source} ({doc['method']}, {doc['n_base']} base points per t)")
    print(f"{'t':>8} {'rel error':>10} {'± spread':>9} {'gap1':>9} {'exact1':>9} {'gap2':>9} "
          f"{'exact2':>9} {'τ temporal':>11} {'same-frame cos':>15}")
    for i, t in enumerate(j["t"]):
        g, e = j["gap_profile"][i], j["exact_gap_profile"][i]
        g1, e1 = (g[1], e[1]) if len(g) > 1 else (float("nan"),) * 2
        g2, e2 = (g[2], e[2]) if len(g) > 2 else (float("nan"),) * 2
        tau = j["temporal_explained"][i]
        print(f"{t:8.3g} {j['rel_error'][i]:10.4g} {j['rel_error_spread'][i]:9.2g} {g1:9.4g} "
              f"{e1:9.4g} {g2:9.4g} {e2:9.4g} {tau if tau is not None else float('nan'):11.3g} "
              f"{j['same_frame_cos'][i]:15.4f}")
    if args.out is not None:
        print(f"report: {args.out}/probe.md")
    return 0


def _load(flag: str, given: str, source: str):
    """``(network, manifest, spec)`` of a bundle folder, refused in one line if unreadable."""
    from pathlib import Path

    from ditgp.theory.errors import SpecError

    path = Path(source)
    if not path.is_dir():
        what = ("a training run folder with a final/ bundle (made by ditgp train)"
                if flag == "--run" else "a weight bundle folder")
        raise SpecError(flag, given, what)
    from ditgp.numerics.bundle import BundleError

    try:
        from ditgp.models.export import is_trained_bundle, load_trained

        if is_trained_bundle(path):
            net = load_trained(path)
            return net, net.manifest, net.spec
        from ditgp.numerics.bundle import load_bundle

        b = load_bundle(path)
        return b, b.manifest, b.spec
    except BundleError as exc:
        raise SpecError(flag, given, f"a valid bundle ({exc})") from None
