"""Probe hooks of a network: attention patterns, the value path per head and per layer, and
per-block read-outs (THEORY.md §4: attention carries the temporal kernel, values the
spatial covariance, blocks unroll an iteration).

Accepted networks (:func:`as_probeable`): the sequence :class:`~ditgp.models.dit.DiT`, a
trainable :class:`~ditgp.models.theory_net.TheoryNet`, a numerics
:class:`~ditgp.numerics.architecture.Transformer`, a
:class:`~ditgp.numerics.construct.Construction`, a loaded construction
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
  for the DiT ``W_final V_m W_embed`` (final linear ∘ value ∘ frame embedding; LayerNorm and
  adaLN modulation are ignored — a linearised path, stated).
* :func:`value_weighted_profile` — ``Σ_m c_m · profile_m`` with ``c_m = ⟨F_m, Σ⟩/‖Σ‖²`` (the
  head's value coefficient along ``Σ``).  For a construction every head's value is
  ``coef_m·Σ`` and the sum is exactly ``γ_w`` (THEORY.md §4; compact: the piecewise-linear
  interpolant through ``(s_m, γ(m))``; softmax: ``Σ_j γ(|h-j|)/N`` times ``N``).
* :func:`block_readouts` — what the network would output if it stopped after block ``k``,
  as the estimate of ``v* = A_t⁻¹x = -s``: theory family ``-decoder(Y_k)``; DiT ``ε̂_k/σ_t``
  with ``ε̂_k = final_layer(Y_k, c)`` (a "logit lens").  Entry 0 is the encoder output.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

__all__ = ["Probeable", "as_probeable", "attention_maps", "gap_profile", "value_paths",
           "value_weighted_profile", "block_readouts", "gap_matrix"]


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
    from ditgp.numerics.architecture import Transformer

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


def value_paths(net: Any) -> dict[str, np.ndarray]:
    """``{"full": (L, M, D, D), "frame": (L, M, d, d)}`` value maps per block and head."""
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
        else:
            dit = p.module
            E = dit.x_embedder.weight.double()  # (D, d)
            Wf = dit.final_layer.linear.weight.double()  # (d, D)
            for block in dit.blocks:
                at = block.attn
                D, M, dk = at.proj.weight.shape[0], at.heads, at.head_dim
                Wv = at.qkv.weight[2 * D:3 * D].double().reshape(M, dk, D)  # (M, dk, D)
                Wo = at.proj.weight.double().reshape(D, M, dk).permute(1, 0, 2)  # (M, D, dk)
                V = Wo @ Wv  # (M, D, D)
                full.append(V.numpy())
                frame.append((Wf @ V @ E).numpy())
    return {"full": np.asarray(full), "frame": np.asarray(frame)}


def value_coefficients(frame: np.ndarray, Sigma: np.ndarray) -> np.ndarray:
    """``c = ⟨F, Σ⟩_F / ‖Σ‖²_F`` for frame blocks ``(..., d, d)``."""
    S = np.asarray(Sigma, dtype=np.float64)
    return np.einsum("...ij,ij->...", frame, S) / float(np.sum(S * S))


def value_weighted_profile(net: Any, X, t: float) -> np.ndarray:
    """``(L, H)``: per block ``Σ_m c_m · profile_m`` (see the module docstring)."""
    p = as_probeable(net)
    prof = gap_profile(attention_maps(p, X, t))  # (L, M, H)
    c = value_coefficients(value_paths(p)["frame"], p.spec.Sigma)  # (L, M)
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
