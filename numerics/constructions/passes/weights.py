"""Pass 4, plan + heads → weights: residual-stream layout, the ArchConfig, feed-forward
programs and attention weights written by channel name (:mod:`ditgp.numerics.constructions.ffn`,
:mod:`ditgp.numerics.constructions.multiply`)."""

from __future__ import annotations

import math

import numpy as np
import torch
from ditgp.theory.spec import GPSpec

from .. import multiply as mult
from ..architecture import ArchConfig, Transformer
from ..ffn import UnitGroup, linear_pair, write_ffn
from ..layout import ChannelLayout
from ..realise import Head
from .construction import Construction
from .decisions import DATA_BALL_FAILURE, Choices, IterationPlan, MultiplyInfo


def plan_to_layout(spec: GPSpec, choices: Choices) -> ChannelLayout:
    d = spec.d
    chans: list[tuple[str, int]] = [("x", d), ("v", d)]
    if choices.algorithm == "chebyshev":
        chans.append(("v_prev", d))
    chans += [("u", d), ("pos", 2), ("const", 1)]
    tf = time_features(choices)
    if tf:
        chans.append(("time", len(tf)))
    if choices.time_conditioning == "multiply":
        chans += [("sawP", d), ("sawM", d), ("accP", d), ("accM", d)]
    return ChannelLayout(tuple(chans))


def time_features(choices: Choices) -> tuple[str, ...]:
    features = {"fixed": (), "gated": ("alpha2", "sigma2"), "multiply": ("alpha2",)}
    return features[choices.time_conditioning]


def update_groups(choices: Choices, plan: IterationPlan, k: int, a2: float, s2: float,
                   ) -> list[UnitGroup]:
    """Feed-forward groups of block ``k`` (fixed / gated): the iteration update.

    ``c`` = step on the residual (``η`` or ``ω_{k+1}/θ``), ``β`` = momentum ``ω_{k+1} - 1``.
    """
    cheb = plan.algorithm == "chebyshev"
    c = plan.eta if not cheb else plan.omega[k] / plan.theta
    mom = plan.omega[k] - 1.0 if cheb else 0.0
    groups = linear_pair("x", "x", {"v": c})
    if choices.time_conditioning == "gated":
        groups += linear_pair("uA", "u", {"v": -c}, gate="alpha2")
        groups += linear_pair("u", "u", {"u": -1.0})
        groups += linear_pair("vS", "v", {"v": -c}, gate="sigma2")
        if cheb:
            groups += linear_pair("v", "v", {"v": mom, "v_prev": 1.0})
    else:
        groups += linear_pair("u", "u", {"v": -c * a2, "u": -1.0})
        groups += linear_pair("v", "v", {"v": -c * s2 + mom, **({"v_prev": 1.0} if cheb else {})})
    if cheb:
        groups += linear_pair("vp", "v_prev", {"v": -mom, "v_prev": -1.0})
    return groups


def multiply_groups(plan: IterationPlan, k: int, j: int, depth: int, B: float) -> list[UnitGroup]:
    """Feed-forward groups of sub-block ``j`` (1-based, of ``depth``) of iteration ``k``.

    Update ``v ← v + c(x - v) - cB·p̃ + β(v - v_prev)`` with ``p̃ ≈ α²(u - v)/B``.
    """
    cheb = plan.algorithm == "chebyshev"
    c = plan.eta if not cheb else plan.omega[k] / plan.theta
    mom = plan.omega[k] - 1.0 if cheb else 0.0
    final = j == depth
    prod_out = {"v": -c * B} if final else None
    groups = mult.first_groups(B, prod_out) if j == 1 else mult.saw_groups(j, prod_out)
    if final:
        groups += linear_pair("x", "x", {"v": c})
        groups += linear_pair("v", "v", {"v": -c + mom, **({"v_prev": 1.0} if cheb else {})})
        groups += linear_pair("u", "u", {"u": -1.0})
        if cheb:
            groups += linear_pair("vp", "v_prev", {"v": -mom, "v_prev": -1.0})
    return groups


def build_weights(spec, choices, t, plan, heads, minfo) -> Construction:
    layout = plan_to_layout(spec, choices)
    tf = time_features(choices)
    depth = minfo.depth if minfo else 1
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    programs: list[list[UnitGroup]] = []
    for k in range(plan.K):
        for j in range(1, depth + 1):
            if minfo:
                programs.append(multiply_groups(plan, k, j, depth, minfo.B))
            else:
                programs.append(update_groups(choices, plan, k, a2, s2))
    hidden = max(len(p) for p in programs) * spec.d if programs else 0
    softmax = choices.attention == "softmax"
    R = output_bound(spec, plan, minfo)
    cfg = ArchConfig(
        d=spec.d, H=spec.H, layout=layout, layers=len(programs), heads=len(heads),
        head_dim=1 if softmax else 3, value_dim=spec.d,
        attention="softmax" if softmax else "relu", ffn_hidden=hidden,
        sink=softmax, rel_pos=softmax, window=plan.window if softmax else None,
        gated=choices.time_conditioning == "gated", time_features=tf,
        pos_radius=choices.pos_radius, pos_period=2 * spec.H, readout="v", output_clip=R,
        dtype="float64",
    )
    module = Transformer(cfg)
    units = []
    with torch.no_grad():
        for b, block in enumerate(module.blocks):
            if b % depth == 0:
                write_attention(block.attn, layout, heads, spec.Sigma, softmax)
            hl = write_ffn(block.ffn, layout, programs[b], spec.d, tf)
            units.append({n: list(hl.range(n)) for n in hl.names})
        module.decoder.W[:, layout.slice("v")] = -torch.eye(spec.d, dtype=torch.float64)
    module.eval()
    return Construction(spec, choices, t, plan, cfg, module, heads, depth, units, minfo)


def write_attention(attn, layout: ChannelLayout, heads: list[Head], Sigma: np.ndarray,
                     softmax: bool) -> None:
    """Queries/keys read ``pos`` and ``const``; values read ``v``; outputs write ``coef·Σ``
    to ``u``."""
    pos, const, v, u = (layout.slice(n) for n in ("pos", "const", "v", "u"))
    Sig = torch.tensor(np.array(Sigma), dtype=torch.float64)
    d = Sig.shape[0]
    for m, h in enumerate(heads):
        if softmax:
            attn.rel_bias[m] = torch.as_tensor(h.rel_bias)
            attn.rel_mask[m] = torch.as_tensor(h.rel_mask)
            attn.sink_bias[m] = torch.as_tensor(h.sink_bias)
        else:
            attn.W_q[m, 0:2, pos] = torch.eye(2, dtype=torch.float64)
            attn.W_q[m, 2, const] = 1.0
            attn.W_k[m, 0:2, pos] = torch.eye(2, dtype=torch.float64)
            attn.W_k[m, 2, const] = -h.bias
        # V_m = W_o W_v = coef·Σ, split so that ‖W_v‖_F = ‖W_o‖_F (keeps B small)
        scale = math.sqrt(abs(h.coef) * float(torch.linalg.matrix_norm(Sig)) / math.sqrt(d))
        scale = scale if scale > 0 else 1.0
        attn.W_v[m][:, v] = scale * torch.eye(d, dtype=torch.float64)
        attn.W_o[m][u, :] = (h.coef / scale) * Sig


def output_bound(spec: GPSpec, plan: IterationPlan, minfo: MultiplyInfo | None) -> float:
    """``R``: every iterate satisfies ``‖v_k‖ ≤ 2‖x‖/a_min`` (``|1 - P_k| ≤ 2`` on the
    spectrum), so on the data ball the output never exceeds ``2R_x/a_min`` (+ module error)."""
    if minfo is not None:
        return 2 * minfo.R_x / plan.interval[0] + minfo.abs_bound
    sched = spec.schedule
    tr = max(float(sched.alpha2(tt)) * spec.H * float(np.trace(spec.Sigma))
             + float(sched.sigma2(tt)) * spec.d * spec.H for tt in (sched.t0, sched.T))
    R_x = math.sqrt(tr) + math.sqrt(2 * plan.interval[1] * math.log(1 / DATA_BALL_FAILURE))
    return 2 * R_x / plan.interval[0]
