"""Probe hooks of a network: attention patterns, the value path per head and per layer, and
per-block read-outs (docs/theory.md §8: attention carries the temporal kernel, values the
spatial covariance, blocks unroll an iteration).

Accepted networks (:func:`as_probeable`): the sequence :class:`~ditgp.models.dit.DiT`, a
trainable :class:`~ditgp.models.theory_net.TheoryNet`, a numerics
:class:`~ditgp.numerics.constructions.architecture.Transformer`, a
:class:`~ditgp.numerics.constructions.construct.Construction`, a loaded construction
:class:`~ditgp.numerics.bundle.Bundle`, a :class:`~ditgp.models.export.TrainedNetwork`, or a
bundle folder.

* :func:`attention_maps` — every block's pattern ``(n, M, H, H)`` (a softmax sink column is
  dropped), evaluated on the given inputs (DiT patterns depend on the data; a construction's
  do not).
* :func:`gap_profile` — mean attention weight as a function of the gap ``|h-j|``:
  ``(L, M, H)``, averaged over the batch and over all pairs at that gap.
* :func:`value_paths` — per head the value/output map ``V_m = W_o[m] W_v[m]`` (``D × D``) and
  its **frame block** ``F_m`` (``d × d``): for the theory family the block from the iterate
  channel ``v`` to the channel the attention writes (``u`` in constructions, else ``v``);
  for the DiT at a time ``t`` the whole linear path of the frame through head ``m``, adaLN
  gates and ``(1 + scale)`` factors included (see :func:`value_paths`; the spatial verdict
  about a DiT comes from the Jacobian's same-frame blocks, :mod:`ditgp.verify.operator`).
* :func:`value_weighted_profile` — ``Σ_m c_m · profile_m`` with ``c_m = ⟨F_m, Σ⟩/‖Σ‖²`` (the
  head's value coefficient along ``Σ``).  For a construction every head's value is
  ``coef_m·Σ`` and the sum is exactly ``γ_w`` (docs/theory.md §8; compact: the piecewise-linear
  interpolant through ``(s_m, γ(m))``; softmax: ``Σ_j γ(|h-j|)/N`` times ``N``).
* :func:`block_readouts` — what the network would output if it stopped after block ``k``,
  as the estimate of ``v* = A_t⁻¹x = -s``: theory family ``-decoder(Y_k)``; DiT ``ε̂_k/σ_t``
  with ``ε̂_k = final_layer(Y_k, c)`` (a "logit lens").  Entry 0 is the encoder output.
* :func:`score_callable` — the network's score as a differentiable float64 torch function
  ``f(x (n, d, H), t) -> ŝ (n, d, H)`` (the DiT's ``-ε̂/σ_t`` with every adaLN gate and
  modulation included; a construction's output; the exact oracle's ``-A_t⁻¹x``).
* :func:`score_jacobian` — ``J(X, t) = ∂ŝ/∂X`` at base points ``X`` ``(n, d, H)``, exactly by
  reverse-mode automatic differentiation (``torch.func.jacrev`` under ``vmap``), shape
  ``(n, d, H, d, H)`` with ``J[n, a, i, b, j] = ∂ŝ_{a,i}/∂x_{b,j}``: block ``(i, j)`` (query
  frame ``i``, key frame ``j``) is ``J[n, :, i, :, j]`` (docs/theory.md, the operator view).
  :func:`score_jacobian_rows` gives only the rows of chosen query frames (``torch.func.vjp``),
  for the frame-sampled estimates of large ``dH``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["Probeable", "as_probeable", "attention_maps", "gap_profile", "value_paths",
           "value_weighted_profile", "block_readouts", "gap_matrix", "input_gap_profiles",
           "score_callable",
           "score_jacobian", "score_jacobian_rows", "exact_score_callable"]


@dataclass
class Probeable:
    """A network reduced to what the probes need: ``kind`` (``"theory"`` or ``"dit"``), the
    module (``Transformer`` or ``DiT``), the spec it serves and, for constructions, the
    manifest (its ``plan``)."""

    kind: str
    module: torch.nn.Module
    spec: Any
    manifest: dict[str, Any] | None = None


def as_probeable(net: Any, spec: Any = None) -> Probeable:
    """Wrap any supported network (see the module docstring)."""
    from ditgp.numerics.constructions.architecture import Transformer

    from .dit import DiT
    from .theory_net import TheoryNet

    if isinstance(net, Probeable):
        return net
    if isinstance(net, str | Path):
        from .export import is_trained_bundle, load_trained

        if is_trained_bundle(net):
            net = load_trained(net)
        else:
            from ditgp.numerics.bundle import load_bundle

            net = load_bundle(net)
    cls = type(net).__name__
    if cls == "TrainedNetwork":
        return as_probeable(net.model, net.spec)
    if cls == "Construction":
        return Probeable("theory", net.module, net.spec, net.manifest)
    if cls == "Bundle":
        return Probeable("theory", net.module, net.spec, net.manifest)
    if isinstance(net, TheoryNet):
        return Probeable("theory", net.net, spec if spec is not None else getattr(net, "spec", None))
    if isinstance(net, Transformer):
        return Probeable("theory", net, spec)
    if isinstance(net, DiT):
        return Probeable("dit", net, spec)
    raise TypeError(f"cannot probe a {cls}")


def _torch_in(module: torch.nn.Module, X) -> torch.Tensor:
    dtype = next(module.parameters()).dtype
    return torch.as_tensor(np.asarray(X, dtype=np.float64)).to(dtype)


def _trace(p: Probeable, X, t: float):
    """``(attention list, residual list)`` as torch tensors."""
    x = _torch_in(p.module, X)
    tt = torch.full((x.shape[0],), float(t), dtype=torch.float64)
    with torch.no_grad():
        if p.kind == "theory":
            tr = p.module(x, tt, return_all=True)
            return tr.attention, tr.residuals
        out = p.module.probe(x, tt)
        return out["attention"], out["residual"]


def attention_maps(net: Any, X, t: float) -> list[np.ndarray]:
    """Per block the attention pattern ``(n, M, H, H)`` (float64; sink column dropped)."""
    p = as_probeable(net)
    att, _ = _trace(p, X, t)
    H = np.asarray(X).shape[2]
    return [a[..., :H].double().numpy() for a in att]


def gap_matrix(H: int) -> np.ndarray:
    """``|h - j|`` as ``(H, H)`` integers."""
    return np.abs(np.subtract.outer(np.arange(H), np.arange(H)))


def gap_profile(maps: list[np.ndarray]) -> np.ndarray:
    """Mean attention weight per gap: ``(L, M, H)`` from per-block maps ``(n, M, H, H)``."""
    if not maps:
        return np.zeros((0, 0, 0))
    H = maps[0].shape[-1]
    G = gap_matrix(H).ravel()
    count = np.bincount(G, minlength=H).astype(np.float64)  # H at gap 0, 2(H-g) beyond
    out = np.empty((len(maps), maps[0].shape[1], H))
    for layer, P in enumerate(maps):
        mean = P.mean(axis=0).reshape(P.shape[1], H * H)  # (M, H²)
        for m in range(mean.shape[0]):  # one pass over the H² pairs per head: O(M·H²)
            out[layer, m] = np.bincount(G, weights=mean[m], minlength=H) / count
    return out


def input_gap_profiles(maps: list[np.ndarray]) -> np.ndarray:
    """Per probe input the mean attention weight per gap, averaged over heads and layers:
    ``(n, H)`` from per-block maps ``(n, M, H, H)`` (the rows a bootstrap over inputs
    resamples)."""
    if not maps:
        return np.zeros((0, 0))
    H = maps[0].shape[-1]
    G = gap_matrix(H).ravel()
    count = np.bincount(G, minlength=H).astype(np.float64)
    mean = np.mean([P.mean(axis=1) for P in maps], axis=0).reshape(-1, H * H)  # (n, H²)
    return np.stack([np.bincount(G, weights=row, minlength=H) / count for row in mean])


def value_paths(net: Any, t: float | None = None) -> dict[str, np.ndarray]:
    """``{"full": (L, M, D, D), "frame": (L, M, d, d)}`` value maps per block and head.

    DiT frame blocks at time ``t`` are the linear path the network computes from a frame to its
    score through head ``m`` of block ``l``, with every time-dependent factor included:
    ``-(1/σ_t) W_f diag(1 + scale_f(t)) C diag(gate₁(t)) W_o[m] W_v[m] diag(1 + scale₁(t)) C W_embed``
    (``C = I − 11ᵀ/D`` the centring of LayerNorm; its division by the token's RMS is a positive
    scalar per token, which no cosine sees; the attention weights and the additive shifts are
    not part of a linear path).  ``t=None`` drops the time-dependent factors (the plain weight
    product, reported as ``"gated": False``)."""
    p = as_probeable(net)
    full, frame = [], []
    with torch.no_grad():
        if p.kind == "theory":
            cfg = p.module.config
            lay = cfg.layout
            src = lay.slice("v" if "v" in lay else cfg.readout)
            dst = lay.slice("u" if "u" in lay else ("v" if "v" in lay else cfg.readout))
            for block in p.module.blocks:
                a = block.attn
                V = torch.einsum("mDv,mvE->mDE", a.W_o, a.W_v).double()  # (M, D, D)
                full.append(V.numpy())
                frame.append(V[:, dst, src].numpy())
            return {"full": np.asarray(full), "frame": np.asarray(frame), "gated": True}
        dit = p.module
        E = dit.x_embedder.weight.double()  # (D, d)
        Wf = dit.final_layer.linear.weight.double()  # (d, D)
        D = E.shape[0]
        C = torch.eye(D, dtype=torch.float64) - 1.0 / D  # LayerNorm's centring
        if t is not None:
            c = dit.t_embedder(torch.full((1,), float(t), dtype=torch.float64))  # (1, D)
            _, sc_f = dit.final_layer.adaLN_modulation(c).double().chunk(2, dim=-1)
            out_map = -Wf * (1 + sc_f[0])[None, :] @ C / math.sqrt(-math.expm1(-float(t)))
        else:
            out_map = Wf
        for block in dit.blocks:
            at = block.attn
            M, dk = at.heads, at.head_dim
            Wv = at.qkv.weight[2 * D:3 * D].double().reshape(M, dk, D)  # (M, dk, D)
            Wo = at.proj.weight.double().reshape(D, M, dk).permute(1, 0, 2)  # (M, D, dk)
            V = Wo @ Wv  # (M, D, D)
            if t is not None:
                _, sc1, g1, *_ = block.adaLN_modulation(c).double().chunk(6, dim=-1)
                V = g1[0][None, :, None] * V * (1 + sc1[0])[None, None, :]
                V = V @ C
            full.append(V.numpy())
            frame.append((out_map @ V @ E).numpy())  # V holds the input centring when gated
    return {"full": np.asarray(full), "frame": np.asarray(frame), "gated": t is not None}


def value_coefficients(frame: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """``c = ⟨F, Σ⟩_F / ‖Σ‖²_F`` for frame blocks ``(..., d, d)``."""
    S = np.asarray(Sigma, dtype=np.float64)
    return np.einsum("...ij,ij->...", frame, S) / float(np.sum(S * S))


def value_weighted_profile(net: Any, X, t: float) -> np.ndarray:
    """``(L, H)``: per block ``Σ_m c_m · profile_m`` (see the module docstring)."""
    p = as_probeable(net)
    prof = gap_profile(attention_maps(p, X, t))  # (L, M, H)
    c = value_coefficients(value_paths(p, t)["frame"], p.spec.Sigma)  # (L, M)
    return np.einsum("lm,lmh->lh", c, prof)


def block_readouts(net: Any, X, t: float) -> np.ndarray:
    """``(L+1, n, d, H)`` float64: per block the estimate of ``A_t⁻¹x`` (module docstring)."""
    p = as_probeable(net)
    _, res = _trace(p, X, t)
    out = []
    with torch.no_grad():
        if p.kind == "theory":
            for Y in res:
                out.append(-p.module.decoder(Y).double().numpy())
        else:
            dit = p.module
            x = _torch_in(dit, X)
            tt = torch.full((x.shape[0],), float(t), dtype=torch.float64)
            c = dit.t_embedder(tt)
            sigma = float(np.sqrt(-np.expm1(-float(t))))
            for Y in res:
                eps = dit.final_layer(Y, c).transpose(1, 2).double().numpy()
                out.append(eps / sigma)
    return np.asarray(out)


# -- the operator view: the network's Jacobian -----------------------------------------------


def exact_score_callable(spec: Any):
    """The exact score ``-A_t⁻¹x`` as a differentiable float64 torch function (the oracle's
    eigen form, without its input checks, so it runs under ``torch.func`` transforms)."""
    from ditgp.numerics.oracle import Oracle

    o = Oracle.for_spec(spec)
    U_S = torch.as_tensor(np.array(o.U_Sigma), dtype=torch.float64)
    U_G = torch.as_tensor(np.array(o.U_Gamma), dtype=torch.float64)
    mu = torch.as_tensor(np.array(o.mu), dtype=torch.float64)
    lam = torch.as_tensor(np.array(o.lam), dtype=torch.float64)

    def f(x: torch.Tensor, t: float) -> torch.Tensor:
        a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
        den = a2 * mu[:, None] * lam[None, :] + s2  # (d, H) eigenvalues of A_t
        Y = U_S.T @ x @ U_G  # (n, d, H) in the eigenbasis
        return -(U_S @ (Y / den) @ U_G.T)

    return f


def score_callable(net: Any, spec: Any = None):
    """``(f, spec)``: the network's score as a differentiable float64 torch function
    ``f(x (n, d, H) float64, t float) -> (n, d, H)`` and the spec it serves.

    Accepts what :func:`as_probeable` accepts and the string ``"exact"`` (with ``spec``).
    Trained networks are evaluated on a float64 copy of their weights (verification math is
    float64); the DiT's score is ``-ε̂/σ_t`` through the whole network — LayerNorm, the adaLN
    shifts, scales and gates included — so the Jacobian is the object the network computes."""
    import copy

    from ditgp.numerics.constructions.architecture import Transformer

    from .dit import DiT
    from .theory_net import TheoryNet

    if isinstance(net, str) and net == "exact":
        if spec is None:
            raise ValueError("score_callable('exact') needs the spec")
        return exact_score_callable(spec), spec
    if isinstance(net, str | Path):
        from .export import is_trained_bundle, load_trained

        if is_trained_bundle(net):
            net = load_trained(net)
        else:
            from ditgp.numerics.bundle import load_bundle

            net = load_bundle(net)
    cls = type(net).__name__
    if isinstance(net, Probeable):
        return score_callable(net.module, spec if spec is not None else net.spec)
    if cls == "TrainedNetwork":
        return score_callable(net.model, net.spec)
    if cls in ("Construction", "Bundle"):
        return score_callable(net.module, net.spec)
    if isinstance(net, DiT | TheoryNet):
        model = copy.deepcopy(net).to(torch.float64).eval()
        for p in model.parameters():
            p.requires_grad_(False)

        def f(x: torch.Tensor, t: float) -> torch.Tensor:
            tt = torch.full((x.shape[0],), float(t), dtype=torch.float64)
            if isinstance(model, TheoryNet):
                return model.score(x, tt)
            # the explicit attention path (probe=True): same numbers as the fused kernel,
            # and differentiable under vmap without a batching fallback
            eps = model.probe(x, tt)["eps"]
            return -eps / torch.sqrt(-torch.expm1(-tt))[:, None, None]

        return f, spec if spec is not None else getattr(net, "spec", None)
    if isinstance(net, Transformer):
        module = net if net.config.torch_dtype == torch.float64 else \
            copy.deepcopy(net).to(torch.float64)
        module.eval()

        def g(x: torch.Tensor, t: float) -> torch.Tensor:
            return module(x.to(module.config.torch_dtype), float(t)).to(torch.float64)

        return g, spec
    if callable(net):
        return net, spec
    raise TypeError(f"cannot differentiate a {cls}")


def _single(f, t: float):
    """``x (d, H) -> f(x[None], t)[0]``: one base point, for ``torch.func`` transforms."""
    return lambda x: f(x[None], t)[0]


def score_jacobian(f, X, t: float, chunk: int = 8) -> np.ndarray:
    """``J = ∂ŝ/∂X`` at each base point of ``X`` ``(n, d, H)``: float64 ``(n, d, H, d, H)``
    (module docstring), by ``vmap(jacrev(·))`` in chunks of ``chunk`` base points.
    ``f`` from :func:`score_callable`."""
    from torch.func import jacrev, vmap

    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    jac = vmap(jacrev(_single(f, float(t))))
    out = [jac(X[a:a + chunk]).detach().numpy() for a in range(0, X.shape[0], chunk)]
    return np.concatenate(out, axis=0)


def score_jacobian_rows(f, X, t: float, frames) -> np.ndarray:
    """The rows of ``J`` for query frames ``frames`` (``S`` indices): float64
    ``(n, d, S, d, H)`` with ``[:, a, s, b, j] = ∂ŝ_{a, frames[s]}/∂x_{b, j}``, by reverse mode
    (one ``vjp`` per base point, vmapped over the ``d·S`` unit cotangents)."""
    from torch.func import vjp, vmap

    X = torch.as_tensor(np.asarray(X, dtype=np.float64))
    n, d, H = X.shape
    frames = np.asarray(frames, dtype=np.int64)
    S = frames.size
    E = torch.zeros(d * S, d, H, dtype=torch.float64)  # unit cotangents (a, frames[s])
    for s, i in enumerate(frames):
        for a in range(d):
            E[s * d + a, a, int(i)] = 1.0
    g = _single(f, float(t))
    out = np.empty((n, d, S, d, H))
    for k in range(n):
        _, pull = vjp(g, X[k])
        rows = vmap(pull)(E)[0]  # (d·S, d, H): row (a, frames[s]) of J
        out[k] = rows.reshape(S, d, d, H).permute(1, 0, 2, 3).detach().numpy()
    return out
