"""Verify a weight bundle against its own manifest (``ditgp verify --weights DIR``).

Checks, each named in the result: ``load`` (the bundle loads: files present, hash matches),
``score-vs-oracle`` (the network's output against the exact score of the manifest's spec at
the manifest's ``t`` on fresh GP draws, within the manifest's ``error_bound``),
``resources`` (layers and heads of the loaded module as the manifest states), ``attention``
(in the first block of every iteration, the attention patterns times the value/output weights
equal ``Γ_w ⊗ Σ`` of the manifest's spec and window — claim ``attention-kernel`` applied to
the bundle; this also catches altered weights that happen not to move the scores, e.g. those
of block 1, which acts on the zero initial iterate).
"""

from __future__ import annotations

import math
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
    from ditgp.models.export import is_trained_bundle, verify_trained
    from ditgp.numerics import BundleError, load_bundle
    from ditgp.verify.compare import gp_draws, noised, oracle, relative_l2
    from ditgp.verify.tolerances import rounding

    if is_trained_bundle(directory):  # a trained network: load, resources, measured errors
        return verify_trained(directory, seed=seed)
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
    finite = math.isfinite(err) and math.isfinite(bound) and float(m["error_bound"]) > 0
    checks.append(_check("score-vs-oracle", finite and err <= bound,
                         f"relative error {err:.3g} vs error_bound {float(m['error_bound']):.3g}"))
    res = m.get("resources", {})
    layers, heads = int(b.config.layers), int(b.config.heads)
    ok = res.get("L") == layers and res.get("M") == heads
    checks.append(_check("resources", ok, f"module L={layers}, M={heads}; manifest "
                                          f"L={res.get('L')}, M={res.get('M')}"))
    from types import SimpleNamespace

    from ditgp.verify.adapters import mixing_errors

    net = SimpleNamespace(config=b.config, layout=b.layout, module=b.module,
                          plan=SimpleNamespace(window=int(m["plan"]["window"])))
    rows = mixing_errors(net, SimpleNamespace(spec=spec, t=t), int(m["blocks_per_iteration"]))
    block, a_err, a_tol = max(rows, key=lambda r: r[1] / r[2] if r[2] > 0 else np.inf)
    checks.append(_check("attention", bool(rows) and all(
        math.isfinite(e) and math.isfinite(r) and e <= r for _, e, r in rows),
                         f"worst block {block + 1}: |mixing - Γ_w⊗Σ|/|Γ_w⊗Σ| = {a_err:.3g} "
                         f"(rounding allowance {a_tol:.3g})"))
    out["passed"] = all(c["passed"] for c in checks)
    out["error"] = float(err) if np.isfinite(err) else None
    return out
