"""Claims about constructed networks: layer-by-layer equality with the reference iteration
(6), resources (7) and attention realising the kernel (12)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from ditgp.verify import strategies as ds
from ditgp.verify import tolerances as tol
from ditgp.verify.claims.base import (
    _CONSTRUCT,
    _SLOW,
    Claim,
    Outcome,
    TimedDraw,
    _a_ends,
    _draw,
    _margins,
    _worst_of,
)

#: The claims of this subject, in the order they are defined (collected by ``registry``).
CLAIMS: list[Claim] = []
_register = CLAIMS.append


# -- 6/7/12. constructions ---------------------------------------------
def _construct_request(inp: ds.ConstructionRequest, build: Callable | None):
    return (build or (lambda r: r.build()))(inp)


def check_construction_layers(inp: ds.ConstructionRequest, *,
                              build: Callable | None = None) -> Outcome:
    """Residual stream after block ``k`` (its iterate channel) equals reference iterate ``k``
    of the same (truncated) system."""
    from ditgp.verify.adapters import construction_iterates, reference_iterates_for

    c = _construct_request(inp, build)
    X = _draw(TimedDraw(inp.spec, inp.t, 0))
    layers, per_step = construction_iterates(c, X, inp.t)
    ref = reference_iterates_for(c, inp, X, len(layers) - 1)
    scale = float(np.linalg.norm(ref[-1])) or 1.0
    errs = np.array([float(np.linalg.norm(layers[k] - ref[k])) / scale
                     for k in range(len(layers))])
    kappa = _a_ends(inp.spec, inp.t)
    rhs = np.full_like(errs, tol.rounding(len(layers) * (inp.spec.d + inp.spec.H + per_step),
                                          kappa[1] / kappa[0]))
    out = _worst_of(_margins(errs, rhs), errs, rhs, "layer")
    return out


def check_construction_resources(inp: ds.ConstructionRequest, *,
                                 build: Callable | None = None) -> Outcome:
    """Heads ``M = 4(w+1)`` (paper), ``≤ w+1`` (compact); layers from ``K(ε)``."""
    from ditgp.verify.adapters import resource_expectations

    c = _construct_request(inp, build)
    checks = resource_expectations(c, inp)
    worst_key, worst = None, math.inf
    for key, (value, bound, kind) in checks.items():
        if kind == "eq":
            m = 1.0 if value == bound else -abs(value - bound) / max(abs(bound), 1.0)
        else:
            m = tol.relative_margin(value, bound) if bound > 0 else (1.0 if value <= bound else -1.0)
        if m < worst:
            worst_key, worst = key, m
    value, bound, _ = checks[worst_key]
    return Outcome(float(worst), float(value), float(bound), {"resource": worst_key})


def check_attention(inp: ds.ConstructionRequest, *, build: Callable | None = None) -> Outcome:
    """In every iteration's first block, the mixing realised by the attention patterns and the
    value/output weights (read from the network) equals ``Γ_w ⊗ Σ``: ``γ(|h-j|)`` on
    ``|h-j| ≤ w``, zero beyond, times ``Σ`` — with no free scale.  Tolerance: the float
    rounding of the patterns (see :func:`~ditgp.verify.adapters.effective_mixing`) times
    ``ROUNDING_SAFETY``."""
    from ditgp.verify.adapters import mixing_errors

    c = _construct_request(inp, build)
    worst: Outcome | None = None
    for block, err, rhs in mixing_errors(c, inp, int(c.blocks_per_iteration)):
        out = Outcome(tol.relative_margin(err, rhs), err, rhs,
                      {"window": int(c.plan.window), "block": block})
        if worst is None or out.margin < worst.margin:
            worst = out
    return worst


# -- claims ---------------------------------------------
_register(Claim(
    "construction-layers", 6,
    "Every constructed network (attention realisation × algorithm × time conditioning) "
    "equals its reference iteration layer by layer.",
    r"\mathrm{block}_k(\mathrm{enc}(X))|_{\text{iterate}} = v_k \quad (k = 0..K)",
    "derived",
    "rounding only: 16·L·(d+H+channels)·κ_t·u",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning=("fixed", "gated")),
    check_construction_layers, requires=_CONSTRUCT, health_checks=_SLOW,
))
_register(Claim(
    "construction-resources", 7,
    "Constructed resources match the formulas: M = 4(w+1) heads (paper), ≤ w+1 (compact), "
    "L from K(ε).",
    r"M_{\text{paper}} = 4(w+1),\; M_{\text{compact}} \le w+1,\; L = K(\varepsilon)\cdot L_{\text{step}}",
    "paper",
    "exact integer equalities (no tolerance)",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning=("fixed", "gated")),
    check_construction_resources,
    requires=_CONSTRUCT, health_checks=_SLOW, default_examples=30,
))
_register(Claim(
    "attention-kernel", 12,
    "The attention of a constructed network reproduces γ on |h-j| ≤ w and is zero beyond "
    "(\"attention captures the temporal kernel\", exactly).",
    r"\sum_{\text{heads}} P_{hj}\,V = c\,\gamma(|h-j|)\,\mathbb 1\{|h-j|\le w\}\,\Sigma",
    "paper",
    "rounding only: ROUNDING_SAFETY · Σ_heads ‖W_o W_v‖_F · H · (k+2) · u · (max|q·k| + 1), "
    "relative to ‖Γ_w⊗Σ‖_F (float rounding of the patterns, read from the network)",
    lambda: ds.constructions(eps=(1e-6, 1e-2), time_conditioning="fixed"), check_attention,
    requires=_CONSTRUCT, health_checks=_SLOW,
))
