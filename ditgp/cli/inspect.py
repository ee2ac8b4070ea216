"""``ditgp inspect``: load and validate a weight bundle, print its manifest summary."""

from __future__ import annotations

import argparse

from ditgp.cli.common import add_force_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("inspect", help="validate a weight bundle and summarise its manifest",
                       description="Load a weight bundle (checks files, hash, version, tensor "
                                   "shapes) and print its manifest summary.")
    p.add_argument("bundle", metavar="DIR", help="bundle folder")
    p.add_argument("--check", action="store_true",
                   help="also re-measure the error against the exact score on fresh draws")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    add_force_argument(p)
    p.set_defaults(run=run)


def _check_path(bundle: str) -> None:
    from pathlib import Path

    from ditgp.theory.errors import SpecError

    path = Path(bundle)
    if not bundle.strip():
        raise SpecError("DIR", bundle, "a bundle folder written by `ditgp construct`")
    if not path.exists():
        raise SpecError("DIR", bundle, "a bundle folder written by `ditgp construct` (no such "
                        "file or folder)")
    if not path.is_dir():
        raise SpecError("DIR", bundle, "a bundle folder written by `ditgp construct` (this is a "
                        "file, not a folder)")


def run(args: argparse.Namespace) -> int:
    import sys

    from ditgp.cli.common import emit_json
    from ditgp.models.export import is_trained_bundle, trained_info, trained_info_lines
    from ditgp.numerics import load_bundle, validate_bundle

    _check_path(args.bundle)
    if is_trained_bundle(args.bundle):  # a trained network (ditgp train): its own summary
        tinfo = trained_info(args.bundle)
        if args.check:  # the checks of `ditgp verify --weights` (one verifier for both commands)
            from ditgp.verify.bundle_check import verify_trained

            res = verify_trained(args.bundle)
            tinfo["checks"] = res["checks"]
            tinfo["valid"] = res["passed"]
            tinfo["rechecked_rel_error"] = res.get("rechecked_rel_error")
        failed = [c["name"] for c in tinfo.get("checks", []) if not c["passed"]]
        if args.json:
            emit_json(tinfo)
        else:
            print("\n".join(trained_info_lines(tinfo)))
        if failed:
            print(f"ditgp inspect: {args.bundle}: check failed ({', '.join(failed)})",
                  file=sys.stderr)
        return 1 if failed else 0
    b = load_bundle(args.bundle)
    m = b.manifest
    r = m["resources"]
    info = {
        "bundle": str(b.path),
        "format": m["format"],
        "library_version": m["library"]["version"],
        "spec": b.spec.describe(),
        "construction": m["construction"],
        "layers": r["L"], "heads": r["M"], "width": r["D"], "params": r["params"],
        "weight_norm": r["B"], "output_bound": r["R"], "window": m["plan"]["window"],
        "iterations": m["plan"]["K"], "error_bound": m["error_bound"],
        "rel_error": m["measured"].get("rel_error"),
        "layout": m["layout"]["channels"],
        "sha256": m["weights"]["sha256"],
        "valid": True,
    }
    check = None
    if args.check:  # the logic lives in ditgp.numerics.validate_bundle
        from ditgp.numerics.budget import network_estimate, oracle_estimate

        H, d = b.spec.H, b.spec.d
        est = oracle_estimate(H, d).then(network_estimate(b.config, n=8), keep=16.0 * H * H)
        est.check("--check", True, force=args.force,
                  alternative="inspect without --check reads the manifest only")
        check = validate_bundle(b)
        info["rechecked_rel_error"] = check.rechecked_rel_error
        info["checks"] = [i.to_dict() for i in check.items]
        info["valid"] = check.ok
    status = 0 if check is None or check.ok else 1
    if args.json:
        emit_json(info)
        return status
    c = info["construction"]
    print(f"bundle     {info['bundle']} ({info['format']}, "
          f"ditgp {info['library_version']}) — {'valid' if info['valid'] else 'INVALID'}")
    print(f"spec       {info['spec']}")
    print(f"network    {c['attention']} attention, {c['algorithm']}, {c['time_conditioning']}, "
          f"eps={c['eps']:g}, t={c['t']:g}")
    print(f"resources  D={info['width']} L={info['layers']} M={info['heads']} "
          f"params={info['params']} "
          f"B={info['weight_norm']:.4g}")
    print(f"error      measured {info['rel_error']:.3e} ≤ bound {info['error_bound']:.3e}")
    if check is not None:
        for item in check.items:
            print(f"check      {item.name}: {'ok' if item.passed else 'FAILED'} ({item.detail})")
    print("layout     " + ", ".join(f"{k}[{a}:{z}]" for k, (a, z) in info["layout"].items()))
    if status:
        names = ", ".join(i.name for i in check.failures)
        print(f"ditgp inspect: {info['bundle']}: check failed ({names})", file=sys.stderr)
    return status
