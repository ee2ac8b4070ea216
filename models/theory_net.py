"""The theory's architecture family (:mod:`ditgp.numerics.constructions.architecture`, docs/theory.md §8) made
trainable: ReLU (or softmax + sink) attention with time gates, the gated ReLU feed-forward
layer, the circle positional embedding and named residual channels.

The network is the *same* :class:`~ditgp.numerics.constructions.architecture.Transformer` the constructions
fill with explicit weights, so a trained and a constructed network of the family can be
compared block by block (same parameter names, same residual channels, same attention
patterns).  Its output is the **score** (the constructions' decoder reads ``-v = -A_t⁻¹x``);
as a denoiser it predicts ``ε̂ = -σ_t · s``.

* random initialisation (:meth:`TheoryNet.initialize_weights`): queries, keys, values and the
  first feed-forward layer ``N(0, 1/fan_in)``, output and second feed-forward layer scaled by
  ``0.1``, gates at ``1``, decoder at ``0`` (so the fresh network outputs ``0``, as the DiT);
  draws come from torch's global generator (seed it before building).
* ``init_from=BUNDLE`` (:func:`from_bundle`): the architecture *and* weights of a construction
  bundle (:func:`ditgp.numerics.load_bundle`, hash-checked), in the bundle's dtype (float64):
  the network's score equals the constructed network's score to rounding.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from ditgp.numerics.constructions.architecture import TIME_FEATURES, ArchConfig, Transformer
from ditgp.numerics.constructions.layout import ChannelLayout
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec
from torch import nn

from .config import ModelConfig

__all__ = ["TheoryNet", "theory_arch", "from_bundle", "config_from_bundle", "TIME_FEATURE_NAMES"]

#: the time features ``φ(t) = (α_t², σ_t²)`` feeding the gates of the trainable family
TIME_FEATURE_NAMES = ("alpha2", "sigma2")


def theory_arch(cfg: ModelConfig, spec: GPSpec, dtype: str = "float32") -> ArchConfig:
    """The :class:`ArchConfig` of a randomly initialised theory-family network: channels
    ``x`` (d), ``v`` (d, read out), ``pos`` (2), ``const`` (1), ``time`` (2), ``free`` (rest),
    ``heads`` heads of dimension ``width // heads``, feed-forward ``mlp_hidden`` units, gated."""
    d, D = spec.d, cfg.width
    require(D >= 2 * d + 5, "model.width", D,
            f"≥ 2d + 5 = {2 * d + 5} for the theory family's channels x, v, pos, const, time")
    H = cfg.max_H if cfg.max_H is not None else spec.H
    cfg.check_H(spec.H)
    layout = ChannelLayout((("x", d), ("v", d), ("pos", 2), ("const", 1), ("time", 2),
                            ("free", D - 2 * d - 5)))
    softmax = cfg.attention == "softmax"
    return ArchConfig(d=d, H=H, layout=layout, layers=cfg.depth, heads=cfg.heads,
                      head_dim=cfg.head_dim, value_dim=cfg.head_dim, attention=cfg.attention,
                      ffn_hidden=cfg.mlp_hidden, sink=softmax, rel_pos=softmax, gated=True,
                      time_features=TIME_FEATURE_NAMES, readout="v", dtype=dtype)


def _model_config(arch: ArchConfig) -> ModelConfig:
    """The :class:`ModelConfig` that describes an :class:`ArchConfig` (for records)."""
    return ModelConfig("theory", width=arch.width, depth=max(arch.layers, 1),
                       heads=max(arch.heads, 1),
                       mlp_ratio=max(arch.ffn_hidden, 1) / arch.width, pos_emb="circle",
                       attention=arch.attention, max_H=arch.H)


class TheoryNet(nn.Module):
    """A trainable network of the theory family: ``forward(x (B, d, H), t) -> ε̂ (B, d, H)``.

    ``score(x, t)`` is the network output itself; ``probe(x, t)`` returns the attention
    pattern of every block ``(B, heads, H, H)`` (``H+1`` columns with a softmax sink) and the
    residual stream ``(B, H, D)`` (entry 0 = encoder output, entry ``k`` = after block ``k``).
    ``self.net`` is the :class:`~ditgp.numerics.constructions.architecture.Transformer`; ``self.arch`` its
    config.  Computation runs in the parameters' dtype (``.to(dtype)`` works), not the
    ``ArchConfig``'s."""

    def __init__(self, arch: ArchConfig, cfg: ModelConfig | None = None,
                 init_from: str | None = None):
        super().__init__()
        self.arch = arch
        self.config = cfg if cfg is not None else _model_config(arch)
        self.init_from = init_from
        self.d = arch.d
        self.net = Transformer(arch)

    def initialize_weights(self) -> None:
        """Random initialisation (see the module docstring)."""
        with torch.no_grad():
            for block in self.net.blocks:
                a, f = block.attn, block.ffn
                D = a.W_q.shape[-1]
                for W in (a.W_q, a.W_k, a.W_v):
                    W.normal_(0.0, 1 / math.sqrt(D))
                a.W_o.normal_(0.0, 0.1 / math.sqrt(a.W_o.shape[0] * a.W_o.shape[-1]))
                if self.arch.ffn_hidden:
                    f.W_1.normal_(0.0, 1 / math.sqrt(D))
                    f.W_2.normal_(0.0, 0.1 / math.sqrt(f.W_2.shape[-1]))

    def _phi(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        phi = torch.stack([TIME_FEATURES[f](t) for f in self.arch.time_features], dim=-1)
        return phi.to(dtype)  # (B, F)

    def _times(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=x.device)
        return t.expand(x.shape[0]) if t.ndim == 0 else t.to(torch.float64)

    def _run(self, x: torch.Tensor, t, probe: bool):
        if x.ndim != 3 or x.shape[1] != self.d:
            raise ValueError(f"x has shape {tuple(x.shape)}, expected (B, d={self.d}, H)")
        if x.shape[2] > self.arch.H:
            raise SpecError("--H", x.shape[2], f"H ≤ {self.arch.H}, the largest H this "
                                               "theory-family network's circle embedding serves")
        dtype = self.net.decoder.W.dtype
        phi = self._phi(self._times(x, t), dtype)
        Y = self.net.encoder(x.to(dtype), phi)  # (B, H, D)
        residual, attention = [Y], []
        for block in self.net.blocks:
            Y, P = block(Y, phi)
            if probe:
                residual.append(Y)
                attention.append(P)
        s = self.net.decoder(Y)  # (B, d, H): the score
        return s, {"attention": attention, "residual": residual}

    def score(self, x: torch.Tensor, t) -> torch.Tensor:
        """The network's score estimate, in ``x``'s dtype."""
        return self._run(x, t, probe=False)[0].to(x.dtype)

    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        """``ε̂ = -σ_t · s(x, t)`` (``σ_t`` in float64), in ``x``'s dtype."""
        tt = self._times(x, t)
        s = self._run(x, tt, probe=False)[0]
        sigma = torch.sqrt(-torch.expm1(-tt)).to(s.dtype)[:, None, None]
        return (-sigma * s).to(x.dtype)

    def probe(self, x: torch.Tensor, t) -> dict[str, list[torch.Tensor]]:
        s, out = self._run(x, t, probe=True)
        out["score"] = s
        return out


def config_from_bundle(path: str | Path) -> ModelConfig:
    """The :class:`ModelConfig` describing a construction bundle's network (hash-checked
    load); ``build_model(cfg, spec, init_from=path)`` takes the architecture from the bundle
    itself, so this is for records (run config, parameter counts)."""
    return from_bundle_unchecked_spec(path).config


def from_bundle_unchecked_spec(path: str | Path) -> TheoryNet:
    from ditgp.numerics.bundle import BundleError, load_bundle

    try:
        b = load_bundle(path)
    except BundleError as exc:
        raise SpecError("--init-from", str(path), f"a valid construction bundle ({exc})") from None
    if not b.config.time_features:  # training samples every t: a fixed-t network serves one
        raise SpecError("--init-from", str(path), "a construction serving every t in [t0, T] "
                        f"(this one is fixed at t={b.manifest['construction'].get('t')}; build "
                        "one with `ditgp construct --time-conditioning gated`)")
    net = TheoryNet(b.config, init_from=str(path))
    net.net.load_state_dict(b.module.state_dict(), strict=True)
    net.spec = b.spec
    return net


def from_bundle(path: str | Path, spec: GPSpec) -> TheoryNet:
    """A :class:`TheoryNet` with the architecture and weights of a construction bundle."""
    net = from_bundle_unchecked_spec(path)
    got = net.spec
    require(got.d == spec.d and got.H == spec.H, "--init-from", str(path),
            f"a bundle built for d={spec.d}, H={spec.H} (it has d={got.d}, H={got.H})")
    return net
