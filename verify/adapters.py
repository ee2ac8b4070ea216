"""Adapters from ``ditgp.numerics`` constructions to the plain arrays the claims compare.

Kept apart from :mod:`ditgp.verify.compare` (which stays free of any construction API):
these read a :class:`ditgp.numerics.Construction` — its residual stream (channel ``v`` after
every ``blocks_per_iteration`` blocks is iterate ``k``), its heads and its plan.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

__all__ = ["construction_iterates", "reference_iterates_for", "resource_expectations",
           "Counted", "count_resources",
           "effective_mixing", "Mixing", "mixing_errors"]


def _trace(c: Any, X: np.ndarray, t: float):
    import torch

    with torch.no_grad():
        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64)).to(c.config.torch_dtype)
        return c.module(Xt, torch.as_tensor(t, dtype=torch.float64), return_all=True)


def construction_iterates(c: Any, X: np.ndarray, t: float) -> tuple[np.ndarray, int]:
    """Iterate channel ``v`` of the residual stream after each iteration's blocks,
    ``(K+1, n, d, H)``, and the stream width ``D`` (for the rounding slack)."""
    trace = _trace(c, X, t)
    bpi = int(c.blocks_per_iteration)
    K = int(c.plan.K)
    layers = [trace.channel(k * bpi, c.layout, "v").double().numpy() for k in range(K + 1)]
    return np.stack(layers), int(c.config.width)


def reference_iterates_for(c: Any, inp: Any, X: np.ndarray, K: int) -> np.ndarray:
    """The construction's reference iteration (same truncated system and coefficients)."""
    its = np.asarray(c.reference_iterates(X, inp.t))
    return its[: K + 1]


def resource_expectations(c: Any, inp: Any) -> dict[str, tuple[float, float, str]]:
    """``name -> (value, bound, 'eq'|'le')`` for the resource formulas of docs/theory.md §8."""
    from ditgp.theory import iterations as tit

    w = int(c.plan.window)
    heads = int(c.config.heads)
    out: dict[str, tuple[float, float, str]] = {}
    if inp.attention == "paper":
        out["M = 4(w+1)"] = (heads, 4 * (w + 1), "eq")
    elif inp.attention == "compact":
        out["M ≤ w+1"] = (heads, w + 1, "le")
    else:
        out["M ≤ 2(w+1)"] = (heads, 2 * (w + 1), "le")
    if inp.time_conditioning != "multiply":
        out["L = K·blocks per step"] = (int(c.config.layers),
                                        int(c.plan.K) * int(c.blocks_per_iteration), "eq")
    a_min, a_max = c.plan.interval
    target = float(c.plan.iteration_bound)
    if 0 < target < 1:
        steps = (tit.gd_steps if c.plan.algorithm == "gd" else tit.chebyshev_steps)(
            a_min, a_max, target)
        out["K ≤ K(ε) of the theory"] = (int(c.plan.K), steps, "le")
    out["error bound ≤ eps"] = (float(c.plan.error_bound), float(inp.eps), "le")
    out["resources.M as stated"] = (heads, int(c.resources.get("M", heads)), "eq")
    out["resources.L as stated"] = (int(c.config.layers), int(c.resources.get("L", 0)), "eq")
    return out


class Mixing(NamedTuple):
    """What :func:`effective_mixing` reads off one block."""

    G: np.ndarray  # (H·d, H·d) realised mixing v -> u, token-major
    expected: np.ndarray  # Γ_w ⊗ Σ
    rounding: float  # Frobenius bound on the float rounding of G (before the safety factor)
    sink_leak: float  # ‖value a softmax sink writes into u‖ (must be 0)


def effective_mixing(c: Any, inp: Any, block: int = 0, trace: Any = None) -> Mixing:
    """The token-and-channel mixing ``v ↦ u`` that block ``block``'s attention realises, read
    from the network itself: its attention patterns ``P_i`` (data-independent: queries and keys
    read only positional and constant channels) and its value/output weights,

        G = Σ_i g_i(t) · P_i ⊗ (W_o,i[u, :] W_v,i[:, v])        ((H·d) × (H·d), token-major)

    with ``g_i`` the head gates (1 when ungated).  The theory (docs/theory.md §8) says
    ``G = Γ_w ⊗ Σ``: attention carries the truncated temporal kernel, value matrices the
    spatial covariance.  ``rounding`` bounds the float rounding of ``G`` in Frobenius norm
    (before the safety factor):
    ``Σ_i ‖W_o,i W_v,i‖_F · H · (k+2) · u · (S_i + 1)``, ``S_i`` the largest absolute
    query-key product of head ``i`` and ``k`` its key width; a softmax sink must carry no value.
    """
    import torch
    from ditgp.verify.tolerances import UNIT_ROUNDOFF

    cfg = c.config
    layout = c.layout
    spec = inp.spec
    H, d = spec.H, spec.d
    X = torch.zeros((1, d, H), dtype=cfg.torch_dtype)
    t = torch.as_tensor(inp.t, dtype=torch.float64)
    with torch.no_grad():
        if trace is None:  # patterns do not depend on the data: one zero input will do
            trace = c.module(X, t, return_all=True)
        Y = trace.residuals[block][0]  # (H, D), input of block `block` (v = 0: patterns only)
        attn = c.module.blocks[block].attn
        P = trace.attention[block][0].double().numpy()  # (M, H, H[+1]); a sink is last
        q = torch.einsum("mkD,hD->mhk", attn.W_q, Y).double().numpy()  # (M, H, k)
        k = torch.einsum("mkD,hD->mhk", attn.W_k, Y).double().numpy()
        W_v = attn.W_v.double().numpy()  # (M, dv, D)
        W_o = attn.W_o.double().numpy()  # (M, D, dv)
        if cfg.gated:
            phi = c.module.encoder.time_features(t.reshape(1))
            g = (phi @ attn.gate_w.T + attn.gate_b)[0].double().numpy()
        else:
            g = np.ones(W_v.shape[0])
        sink_value = attn.sink_value.double().numpy() if getattr(cfg, "sink", False) else None
    u, v = layout.slice("u"), layout.slice("v")
    G = np.zeros((H * d, H * d))
    abs_round = 0.0
    leak = 0.0
    unit = UNIT_ROUNDOFF["float64" if cfg.dtype == "float64" else "float32"]
    for i in range(W_v.shape[0]):
        M_i = g[i] * (W_o[i][u, :] @ W_v[i][:, v])  # (d, d)
        G += np.kron(P[i, :, :H], M_i)
        S_i = float(np.max(np.abs(q[i]) @ np.abs(k[i]).T)) if q.shape[-1] else 0.0
        abs_round += float(np.linalg.norm(M_i)) * H * (q.shape[-1] + 2) * unit * (S_i + 1.0)
        if sink_value is not None:  # the sink's value must not leak into u
            leak += float(np.linalg.norm(g[i] * (W_o[i][u, :] @ sink_value[i])))
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    w = int(c.plan.window)
    expected = np.kron(np.where(gaps <= w, spec.Gamma, 0.0), spec.Sigma)
    return Mixing(G, expected, abs_round, leak)


def mixing_errors(c: Any, inp: Any, blocks_per_iteration: int) -> list[tuple[int, float, float]]:
    """``(block, relative error, relative rounding allowance)`` of :func:`effective_mixing`
    against ``Γ_w ⊗ Σ`` for the first block of every iteration (one forward pass).  The
    allowance is ``ROUNDING_SAFETY`` times the mixing's rounding bound."""
    import torch
    from ditgp.verify.tolerances import ROUNDING_SAFETY

    zeros = torch.zeros((1, inp.spec.d, inp.spec.H), dtype=c.config.torch_dtype)
    with torch.no_grad():
        trace = c.module(zeros, torch.as_tensor(inp.t, dtype=torch.float64), return_all=True)
    out = []
    for block in range(0, int(c.config.layers), int(blocks_per_iteration)):
        # a broken network can blow its residual stream up: that is a failure (err = inf),
        # not a floating-point warning
        with np.errstate(all="ignore"):
            mix = effective_mixing(c, inp, block, trace)
            norm = max(float(np.linalg.norm(mix.expected)), 1e-300)
            err = (float(np.linalg.norm(mix.G - mix.expected)) + mix.sink_leak) / norm
            rhs = ROUNDING_SAFETY * mix.rounding / norm
        if not (np.isfinite(err) and np.isfinite(rhs)):
            err, rhs = np.inf, 0.0
        out.append((block, err, rhs))
    return out


class Counted(NamedTuple):
    """Resources read off a built network's tensors (:func:`count_resources`)."""

    D: int  # residual-stream width
    L: int  # blocks present
    M: int  # heads with a non-zero value path (W_o·W_v ≠ 0), most in any block
    M_min: int  # the fewest in any block whose attention is active
    K: int  # blocks whose attention is active (one per iteration)
    blocks_per_iteration: int
    window: int  # largest gap |h-j| the first block's attention mixes
    B: float  # largest Frobenius norm of any weight matrix (per-head slices split)
    R: float  # the decoder's output clip


def count_resources(c: Any, inp: Any) -> Counted:
    """``D, L, M, K, w, B, R`` counted from the tensors of ``c.module`` — not from its plan
    or its ``resources`` table — so that claim ``construction-resources`` compares what was
    built with the theory's formulas."""
    import torch

    blocks = list(c.module.blocks)
    active_heads, active_blocks = [], []
    B = 0.0
    with torch.no_grad():
        for _name, p in c.module.named_parameters():
            if p.ndim < 2:
                continue
            mats = p if p.ndim == 3 else p[None]
            for m in mats:
                B = max(B, float(torch.linalg.matrix_norm(m.double(), "fro")))
        for i, blk in enumerate(blocks):
            W_v, W_o = blk.attn.W_v.double(), blk.attn.W_o.double()
            n = sum(1 for m in range(W_v.shape[0]) if float((W_o[m] @ W_v[m]).abs().max()) > 0)
            active_heads.append(n)
            if n:
                active_blocks.append(i)
        D = int(blocks[0].attn.W_q.shape[-1]) if blocks else 0
    bpi = int(active_blocks[1] - active_blocks[0]) if len(active_blocks) > 1 else max(len(blocks), 1)
    mix = effective_mixing(c, inp, 0) if blocks else None
    window = 0
    if mix is not None:
        H, d = inp.spec.H, inp.spec.d
        G = np.abs(mix.G).reshape(H, d, H, d).sum(axis=(1, 3))
        floor = 16.0 * mix.rounding
        gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
        used = gaps[G > floor]
        window = int(used.max()) if used.size else 0
    clip = c.module.cfg.output_clip if hasattr(c.module, "cfg") else c.config.output_clip
    return Counted(D, len(blocks), max(active_heads, default=0),
                   min((n for n in active_heads if n), default=0), len(active_blocks), bpi, window,
                   B, float(clip) if clip is not None else float("inf"))
