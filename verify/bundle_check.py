"""Verify a weight bundle against its own manifest (``ditgp verify --weights DIR``, ``ditgp
inspect --check``): the one verifier of constructed and trained bundles; :func:`verify_bundle`
reads the manifest's ``origin`` and runs the checks of that kind (trained:
:func:`verify_trained`), with one result shape.

Checks of a constructed bundle, each named in the result: ``load`` (the bundle loads: files
present, hash matches),
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

__all__ = ["verify_bundle", "verify_trained", "BUNDLE_SAMPLES"]

#: GP draws on which a bundle's scores are compared with the oracle.
BUNDLE_SAMPLES = 16


def _check(name: str, passed: bool, detail: str) -> dict[str, Any]:
    return {"name": name, "passed": bool(passed), "detail": detail}


def _load(loader, directory, checks: list[dict[str, Any]]):
    """The check ``load``: the loaded bundle, or ``None`` with the refusal as a failed check."""
    from ditgp.numerics.bundle import BundleError

    try:
        loaded = loader(directory)
    except BundleError as exc:
        checks.append(_check("load", False, str(exc)))
        return None
    checks.append(_check("load", True, "manifest, weights and sha256 agree"))
    return loaded


def verify_bundle(directory: str | Path, seed: int = 0) -> dict[str, Any]:
    """Run the bundle checks; ``passed`` is true only if every check passes."""
    from ditgp.models.export import is_trained_bundle
    from ditgp.numerics import load_bundle
    from ditgp.verify.compare import gp_draws, noised, oracle, relative_l2
    from ditgp.verify.tolerances import rounding

    if is_trained_bundle(directory):  # a trained network: load, resources, measured errors
        return verify_trained(directory, seed=seed)
    checks: list[dict[str, Any]] = []
    out = {"bundle": str(directory), "checks": checks, "passed": False}
    b = _load(load_bundle, directory, checks)
    if b is None:
        return out
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


def verify_trained(directory, seed: int = 0) -> dict[str, Any]:
    """Checks of a trained bundle for ``ditgp verify --weights``: ``load`` (files, sha256,
    tensor table, architecture), ``resources`` (the rebuilt module's D, L, M and parameter
    count equal the manifest's), ``measured`` (the recorded score errors re-measured on the
    recorded draws agree within ``MEASURE_RTOL``), ``score-vs-oracle`` (informative: the
    error on fresh draws from ``seed`` is finite).  Same result shape as
    :func:`ditgp.verify.bundle_check.verify_bundle`."""
    from ditgp.models.build import count_parameters
    from ditgp.models.export import (
        MEASURE_RTOL,
        MEASURE_SAMPLES,
        ORIGIN,
        load_trained,
        measure_score_error,
        measure_t_grid,
    )
    checks: list[dict[str, Any]] = []
    out: dict[str, Any] = {"bundle": str(directory), "checks": checks, "passed": False,
                           "origin": ORIGIN}
    net = _load(load_trained, directory, checks)
    if net is None:
        return out
    m, model = net.manifest, net.model
    res = m.get("resources", {})
    if net.config.arch == "theory":
        dims = (model.arch.width, model.arch.layers, model.arch.heads)
    else:
        dims = (net.config.width, net.config.depth, net.config.heads)
    params = count_parameters(model, trainable_only=False)
    ok = (res.get("D"), res.get("L"), res.get("M"), res.get("params")) == (*dims, params)
    checks.append(_check("resources", ok, f"module D={dims[0]} L={dims[1]} M={dims[2]} "
                                          f"params={params}; manifest D={res.get('D')} "
                                          f"L={res.get('L')} M={res.get('M')} "
                                          f"params={res.get('params')}"))
    meas = m.get("measured") or {}
    try:
        again = measure_score_error(net.score, net.spec, meas["t"], meas["n"], meas["seed"])
        rec = np.asarray(meas["rel_error"], dtype=np.float64)
        got = np.asarray(again["rel_error"])
        dev = float(np.max(np.abs(got - rec) / np.maximum(np.abs(rec), 1e-12)))
        checks.append(_check("measured", dev <= MEASURE_RTOL,
                             f"re-measured errors deviate from the recorded ones by "
                             f"{dev:.3g} relative (allowed {MEASURE_RTOL:g})"))
        out["rechecked_rel_error"] = again["rel_error"]
    except (KeyError, TypeError, ValueError) as exc:
        checks.append(_check("measured", False, f"manifest 'measured' unusable ({exc})"))
        again = None
    t_fresh = [float(t) for t in (meas.get("t") or measure_t_grid(*m["time_range"]))]
    fresh = measure_score_error(net.score, net.spec, t_fresh, MEASURE_SAMPLES, seed)
    worst = max(fresh["rel_error"])
    checks.append(_check("score-vs-oracle", bool(np.isfinite(worst)),
                         "relative score error on fresh draws: " + ", ".join(
                             f"t={t:g}: {e:.3g}" for t, e in zip(fresh["t"], fresh["rel_error"],
                                                                 strict=True))))
    out["passed"] = all(c["passed"] for c in checks)
    out["error"] = float(worst) if np.isfinite(worst) else None
    return out
