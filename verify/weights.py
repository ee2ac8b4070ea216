"""Verify a weight bundle against its own manifest (``ditgp verify --weights DIR``).

Checks, each named in the result: ``load`` (the bundle loads: files present, hash matches),
``score-vs-oracle`` (the network's output against the exact score of the manifest's spec at
the manifest's ``t`` on fresh GP draws, within the manifest's ``error_bound``),
``resources`` (layers and heads of the loaded module as the manifest states).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

__all__ = ["verify_bundle", "BUNDLE_SAMPLES"]

#: GP draws on which a bundle's scores are compared with the oracle.
BUNDLE_SAMPLES = 16


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail}


def verify_bundle(directory: str | Path, seed: int = 0) -> dict[str, Any]:
    """Run the bundle checks; ``passed`` is true only if every check passes."""
    from ditgp.numerics import BundleError, load_bundle
    from ditgp.verify.compare import gp_draws, noised, oracle, relative_l2
    from ditgp.verify.tolerances import rounding

    checks: list[dict[str, Any]] = []
    out = {"bundle": str(directory), "checks": checks, "passed": False}
    try:
        b = load_bundle(directory)
    except BundleError as exc:
        checks.append(_check("load", False, str(exc)))
        return out
    checks.append(_check("load", True, "manifest, weights and sha256 agree"))
    m = b.manifest
    spec = b.spec
    t = float(m["construction"]["t"])
    X, _ = noised(spec, gp_draws(spec, BUNDLE_SAMPLES, seed), t, seed + 1)
    got = b.score(X, t)
    err = relative_l2(got, oracle(spec)(X, t))
    bound = float(m["error_bound"]) + rounding(spec.d + spec.H + int(b.config.layers))
    checks.append(_check("score-vs-oracle", err <= bound,
                         f"relative error {err:.3g} vs error_bound {float(m['error_bound']):.3g}"))
    res = m.get("resources", {})
    layers, heads = int(b.config.layers), int(b.config.heads)
    ok = res.get("L") == layers and res.get("M") == heads
    checks.append(_check("resources", ok, f"module L={layers}, M={heads}; manifest "
                                          f"L={res.get('L')}, M={res.get('M')}"))
    out["passed"] = all(c["passed"] for c in checks)
    out["error"] = float(err) if np.isfinite(err) else None
    return out
