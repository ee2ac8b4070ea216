"""Pass 5, certificate: the float64 floor of ``eps``, the resources ``D, L, M, params, B, R``
beside docs/theory.md §8's formulas, and the error measured against the oracle."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from ...iterations import TruncatedSystem, spectrum_ends
from ...oracle import Oracle
from ...tolerances import ROUNDING, eps_floor
from ..architecture import weight_matrices
from .decisions import MEASURE_SAMPLES, Choices

if TYPE_CHECKING:  # annotations only
    from .construction import Construction


def check_eps_floor(spec: GPSpec, choices: Choices, t: float) -> None:
    """Refuse an ``eps`` below what float64 rounding allows: ``16·κ_t·u`` with ``κ_t`` of the
    exact ``A_t`` (over ``[t0, T]`` for all-t plans) — a bound below it cannot be met."""
    oracle = Oracle.for_spec(spec)
    times = (spec.schedule.t0, spec.schedule.T) if choices.all_t else (t,)
    ends = [oracle.a_extremes(tt) for tt in times]
    lo, hi = min(e[0] for e in ends), max(e[1] for e in ends)
    kappa = hi / lo if lo > 0 else math.inf
    floor = eps_floor(kappa)
    if not choices.eps >= floor:
        raise SpecError("eps", choices.eps,
                        f"a relative error ≥ {floor:.3g}, the float64 floor 16·κ_t·u "
                        f"(κ_t = {kappa:.4g}, u = float64 machine epsilon "
                        f"{ROUNDING['float64']:.3g})")


def module_resources(con: Construction) -> dict[str, Any]:
    """``D, L, M, params, B, R`` of the built network beside docs/theory.md §8's formulas."""
    cfg, plan, spec = con.config, con.plan, con.spec
    mats = weight_matrices(con.module)
    norms = [float(torch.linalg.matrix_norm(w.detach().double(), "fro")) for w in mats.values()]
    B = max(norms, default=0.0)
    params = sum(p.numel() for p in con.module.parameters())
    mdepth = con.multiply.depth if con.multiply else 0
    sched = spec.schedule
    s2_t0 = float(sched.sigma2(sched.t0))
    w = plan.window
    return {
        "D": cfg.width,
        "L": cfg.layers,
        "M": cfg.heads,
        "params": params,
        "B": B,
        "R": cfg.output_clip,
        "K": plan.K,
        "window": w,
        "theory": {
            "D": {"formula": "O(d + d_e)", "value": spec.d + 3,
                  "note": "d + positional (2) + constant (1); buffers add (2-3)d"},
            "L": {"formula": "K × (1 + depth of multiplication module)",
                  "value": plan.K * (1 + mdepth),
                  "K_formula": ("⌈ln(1/ε)/ln(1/ρ_t)⌉ ≈ (κ_t/2)ln(1/ε)" if plan.algorithm == "gd"
                                else "⌈arccosh(1/ε)/arccosh(σ)⌉ ≤ ⌈(√κ_t/2)ln(2/ε)⌉"),
                  "kappa": plan.kappa},
            "M": {"formula": "O(w(ε)) ≤ 4H; paper: 4(w+1)", "value": 4 * (w + 1),
                  "bound_4H": 4 * spec.H},
            "B": {"formula": "poly(d, ‖Σ‖, r, data bound)",
                  "Sigma_norm": float(np.linalg.norm(spec.Sigma, 2)), "r": cfg.pos_radius},
            "R": {"formula": "O(σ_t0⁻² √(Hd))", "value": math.sqrt(spec.H * spec.d) / s2_t0},
        },
    }


def measure_error(con: Construction, t: float, n: int = MEASURE_SAMPLES) -> dict[str, Any]:
    """Max relative error ``‖out - s‖/‖s‖`` over ``n`` fresh draws of ``X_t ~ N(0, A_t)``."""
    oracle = Oracle.for_spec(con.spec)
    X = oracle.sample(n, seed=con.choices.measure_seed, t=t)
    s = oracle.score(X, t)
    out = con.score(X, t)
    rel = np.linalg.norm(out - s, axis=(1, 2)) / np.linalg.norm(s, axis=(1, 2))
    return {"rel_error": float(rel.max()), "t": float(t), "samples": n,
            "seed": con.choices.measure_seed}


def spectrum_ends_of(spec: GPSpec, t: float, window: int | None = None) -> tuple[float, float]:
    """Convenience: ``(a_min, a_max)`` of ``A_w(t)``."""
    system = TruncatedSystem.of(spec, window)
    return spectrum_ends(system.lam_w[0], system.lam_w[-1], system.mu[0], system.mu[-1],
                         *system.coeffs(t))
