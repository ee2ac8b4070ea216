"""The transformer family ``T(D, L, M, B, R)`` of docs/theory.md §8 — the one definition of the
architecture, used by the constructions here and by the trainable models of ``ditgp.models``.

Token stream ``Y`` has shape ``(n, H, D)`` (the paper writes ``Y ∈ R^{D×H}``; we keep tokens
on the second axis, channels last).  One block is

    Attn(Y) = Y + Σ_m g_m(t) · ReLU((Q_m Y)ᵀ(K_m Y)) V_m Y          (attention="relu")
    Attn(Y) = Y + Σ_m g_m(t) · softmax(QKᵀ/√d_k + b_rel [+ sink]) V_m Y (attention="softmax")
    FFN(Y)  = Y + W_2 (g(t) ⊙ ReLU(W_1 Y + b_1)) + b_2

with ``V_m = W_o[m] W_v[m]`` and optional *gates* ``g(t) = G φ(t) + c`` linear in the time
features ``φ(t)`` (DiT's adaLN-Zero gating; without ``gated`` all gates are 1).  The encoder
writes the input frame ``x_h``, the circle positional embedding
``e_h = r(cos 2πh/C, sin 2πh/C)``, a constant ``1`` and ``φ(t)`` into their named channels
of a :class:`~ditgp.numerics.constructions.layout.ChannelLayout` (all other channels start at 0); the
decoder is a linear read-out ``(d × D)`` with optional clipping to ``[-R, R]``.

Time features (``ArchConfig.time_features``): ``alpha2`` = ``α_t² = e^{-t}``, ``sigma2`` =
``σ_t² = 1 - e^{-t}`` (docs/theory.md §2).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from .layout import ChannelLayout

__all__ = [
    "ArchConfig",
    "Transformer",
    "ForwardTrace",
    "TIME_FEATURES",
    "PRESETS",
    "preset",
    "register_preset",
    "weight_matrices",
    "network_score",
]

#: Time-feature name -> function of a float64 tensor of times.
TIME_FEATURES: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "alpha2": lambda t: torch.exp(-t),
    "sigma2": lambda t: -torch.expm1(-t),
}

ATTENTION_KINDS = ("relu", "softmax")
DTYPES = {"float64": torch.float64, "float32": torch.float32}


@dataclass(frozen=True)
class ArchConfig:
    """Typed configuration of one network of the family (validated when built).

    ``layout`` must contain channels ``x`` (``d``), ``pos`` (2), ``const`` (1) and, when
    ``time_features`` is non-empty, ``time`` (``len(time_features)``).  ``ffn_layout`` optionally
    names the hidden units (its width must be ``ffn_hidden``).  ``window`` (softmax only)
    masks gaps ``|h-j| > window``.
    """

    d: int
    H: int
    layout: ChannelLayout
    layers: int
    heads: int
    head_dim: int = 3
    value_dim: int = 0  # 0: use d
    attention: str = "relu"
    ffn_hidden: int = 0
    ffn_layout: ChannelLayout | None = None
    sink: bool = False
    rel_pos: bool = False
    window: int | None = None
    gated: bool = False
    time_features: tuple[str, ...] = ()
    pos_radius: float = 1.0
    pos_period: int = 0  # 0: use 2H
    readout: str = "v"
    output_clip: float | None = None
    dtype: str = "float64"

    def __post_init__(self) -> None:
        def need(ok: bool, what: str) -> None:
            if not ok:
                raise ValueError(f"ArchConfig: {what}")

        need(self.d >= 1 and self.H >= 1, f"d={self.d}, H={self.H} must be ≥ 1")
        need(self.layers >= 0 and self.heads >= 0, "layers and heads must be ≥ 0")
        need(self.attention in ATTENTION_KINDS,
             f"attention={self.attention!r} not in {ATTENTION_KINDS}")
        need(self.dtype in DTYPES, f"dtype={self.dtype!r} not in {tuple(DTYPES)}")
        for name, size in (("x", self.d), ("pos", 2), ("const", 1)):
            need(name in self.layout and self.layout.size(name) == size,
                 f"layout needs channel {name!r} of size {size}")
        for f in self.time_features:
            need(f in TIME_FEATURES, f"time feature {f!r} not in {tuple(TIME_FEATURES)}")
        if self.time_features:
            need("time" in self.layout and self.layout.size("time") == len(self.time_features),
                 f"layout needs channel 'time' of size {len(self.time_features)}")
        need(not self.gated or bool(self.time_features), "gated=True needs time_features")
        need(self.readout in self.layout and self.layout.size(self.readout) == self.d,
             f"readout channel {self.readout!r} of size d={self.d} missing")
        if self.ffn_layout is not None:
            need(self.ffn_layout.width == self.ffn_hidden, "ffn_layout width ≠ ffn_hidden")
        if self.attention == "relu":
            need(not (self.sink or self.rel_pos or self.window is not None),
                 "sink / rel_pos / window are softmax options")
        need(self.effective_period >= 2 * self.H, f"pos_period C={self.pos_period} must be ≥ 2H")

    @property
    def width(self) -> int:
        """``D``."""
        return self.layout.width

    @property
    def dv(self) -> int:
        return self.value_dim or self.d

    @property
    def effective_period(self) -> int:
        return self.pos_period or 2 * self.H

    @property
    def torch_dtype(self) -> torch.dtype:
        return DTYPES[self.dtype]

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["layout"] = self.layout.to_dict()
        out["ffn_layout"] = None if self.ffn_layout is None else self.ffn_layout.to_dict()
        out["time_features"] = list(self.time_features)
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ArchConfig:
        data = dict(data)
        data["layout"] = ChannelLayout.from_dict(data["layout"])
        if data.get("ffn_layout") is not None:
            data["ffn_layout"] = ChannelLayout.from_dict(data["ffn_layout"])
        data["time_features"] = tuple(data.get("time_features", ()))
        known = {f for f in cls.__dataclass_fields__}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"ArchConfig: unknown fields {sorted(unknown)}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    def replace(self, **changes: Any) -> ArchConfig:
        return replace(self, **changes)


@dataclass
class ForwardTrace:
    """Everything a forward pass saw: ``output`` ``(n, d, H)``; ``residuals[k]`` the stream
    ``(n, H, D)`` after block ``k`` (``residuals[0]`` = encoder output); ``attention[k]`` the
    pattern of block ``k+1`` ``(n, M, H, H)`` (softmax with sink: ``(n, M, H, H+1)``)."""

    output: torch.Tensor
    residuals: list[torch.Tensor] = field(default_factory=list)
    attention: list[torch.Tensor] = field(default_factory=list)

    def channel(self, k: int, layout: ChannelLayout, name: str) -> torch.Tensor:
        """Channel ``name`` of residual ``k`` as ``(n, size, H)`` (frame-columns convention)."""
        return self.residuals[k][..., layout.slice(name)].transpose(1, 2)


# -- modules -------------------------------------------------------------------------------


class Encoder(nn.Module):
    """Writes ``x_h``, ``e_h``, ``1`` and ``φ(t)`` into their channels; the rest are 0."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        h = torch.arange(cfg.H, dtype=torch.float64)
        angle = 2 * math.pi * h / cfg.effective_period
        pos = cfg.pos_radius * torch.stack([torch.cos(angle), torch.sin(angle)], dim=-1)  # (H, 2)
        self.register_buffer("pos", pos.to(cfg.torch_dtype), persistent=False)

    def time_features(self, t: torch.Tensor) -> torch.Tensor:
        """``φ(t)`` of shape ``(n, F)`` (computed in float64, cast to the model dtype)."""
        t64 = t.to(torch.float64)
        if not self.cfg.time_features:
            return t64.new_zeros((t64.shape[0], 0)).to(self.cfg.torch_dtype)
        phi = torch.stack([TIME_FEATURES[f](t64) for f in self.cfg.time_features], dim=-1)
        return phi.to(self.cfg.torch_dtype)

    def forward(self, X: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        cfg, lay = self.cfg, self.cfg.layout
        n, H = X.shape[0], X.shape[2]
        Y = X.new_zeros((n, H, lay.width))  # (n, H, D)
        Y[..., lay.slice("x")] = X.transpose(1, 2)  # frames as tokens
        Y[..., lay.slice("pos")] = self.pos[:H]
        Y[..., lay.index("const")] = 1.0
        if cfg.time_features:
            Y[..., lay.slice("time")] = phi[:, None, :]
        return Y


class Attention(nn.Module):
    """Multi-head ReLU or softmax attention with per-head value ``V_m = W_o[m] W_v[m]``."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        M, dk, dv, D, F = cfg.heads, cfg.head_dim, cfg.dv, cfg.width, len(cfg.time_features)
        z = lambda *s: nn.Parameter(torch.zeros(*s, dtype=cfg.torch_dtype))  # noqa: E731
        self.W_q, self.W_k = z(M, dk, D), z(M, dk, D)
        self.W_v, self.W_o = z(M, dv, D), z(M, D, dv)
        if cfg.gated:
            self.gate_w, self.gate_b = z(M, F), nn.Parameter(torch.ones(M, dtype=cfg.torch_dtype))
        if cfg.rel_pos:
            self.rel_bias = z(M, cfg.H)
            self.register_buffer("rel_mask", torch.ones(M, cfg.H, dtype=torch.bool))
        if cfg.sink:
            self.sink_key, self.sink_value, self.sink_bias = z(M, dk), z(M, dv), z(M, cfg.H)
        gap = (torch.arange(cfg.H)[:, None] - torch.arange(cfg.H)[None, :]).abs()
        self.register_buffer("gap", gap, persistent=False)

    def forward(self, Y: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cfg = self.cfg
        H = Y.shape[1]
        q = torch.einsum("mkD,nhD->nmhk", self.W_q, Y)  # (n, M, H, dk)
        k = torch.einsum("mkD,nhD->nmhk", self.W_k, Y)  # (n, M, H, dk)
        v = torch.einsum("mvD,nhD->nmhv", self.W_v, Y)  # (n, M, H, dv)
        if cfg.attention == "relu":
            P = torch.relu(q @ k.transpose(-1, -2))  # (n, M, H, H)
            heads = P @ v  # (n, M, H, dv)
        else:
            gap = self.gap[:H, :H]
            S = (q @ k.transpose(-1, -2)) / math.sqrt(cfg.head_dim)  # (n, M, H, H)
            allowed = torch.ones_like(gap, dtype=torch.bool).expand(cfg.heads, H, H)
            if cfg.rel_pos:
                S = S + self.rel_bias[:, gap]  # (M, H, H) bias by gap
                allowed = allowed & self.rel_mask[:, gap]
            if cfg.window is not None:
                allowed = allowed & (gap <= cfg.window)
            S = S.masked_fill(~allowed, -math.inf)
            if cfg.sink:
                # (n, M, H, 1): sink score per query
                s_sink = (q @ self.sink_key[None, :, :, None]) / math.sqrt(cfg.head_dim)
                s_sink = s_sink + self.sink_bias[None, :, :H, None]
                P = torch.softmax(torch.cat([S, s_sink], dim=-1), dim=-1)  # (n, M, H, H+1)
                heads = P[..., :H] @ v + P[..., H:] * self.sink_value[None, :, None, :]
            else:
                P = torch.softmax(S, dim=-1)
                heads = P @ v
        if cfg.gated:
            g = phi @ self.gate_w.T + self.gate_b  # (n, M)
            heads = heads * g[:, :, None, None]
        out = torch.einsum("mDv,nmhv->nhD", self.W_o, heads)  # (n, H, D)
        return Y + out, P


class FeedForward(nn.Module):
    """``Y + W_2 (g(t) ⊙ ReLU(W_1 Y + b_1)) + b_2`` (hidden units optionally time-gated)."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        Fh, D, F = cfg.ffn_hidden, cfg.width, len(cfg.time_features)
        z = lambda *s: nn.Parameter(torch.zeros(*s, dtype=cfg.torch_dtype))  # noqa: E731
        self.W_1, self.b_1, self.W_2, self.b_2 = z(Fh, D), z(Fh), z(D, Fh), z(D)
        if cfg.gated:
            self.gate_w, self.gate_b = z(Fh, F), nn.Parameter(torch.ones(Fh, dtype=cfg.torch_dtype))

    def forward(self, Y: torch.Tensor, phi: torch.Tensor) -> torch.Tensor:
        if self.cfg.ffn_hidden == 0:
            return Y
        hidden = torch.relu(Y @ self.W_1.T + self.b_1)  # (n, H, Fh)
        if self.cfg.gated:
            hidden = hidden * (phi @ self.gate_w.T + self.gate_b)[:, None, :]
        return Y + hidden @ self.W_2.T + self.b_2


class Block(nn.Module):
    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.attn = Attention(cfg)
        self.ffn = FeedForward(cfg)

    def forward(self, Y: torch.Tensor, phi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        Y, P = self.attn(Y, phi)
        return self.ffn(Y, phi), P


class Decoder(nn.Module):
    """Linear read-out ``(n, H, D) -> (n, d, H)``, clipped to ``[-R, R]`` when configured."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.cfg = cfg
        self.W = nn.Parameter(torch.zeros(cfg.d, cfg.width, dtype=cfg.torch_dtype))

    def forward(self, Y: torch.Tensor) -> torch.Tensor:
        out = (Y @ self.W.T).transpose(1, 2)  # (n, d, H)
        if self.cfg.output_clip is not None:
            out = out.clamp(-self.cfg.output_clip, self.cfg.output_clip)
        return out


class Transformer(nn.Module):
    """Encoder → ``L`` blocks → decoder.  ``forward(X, t)`` maps ``X`` ``(n, d, H)`` and ``t``
    (float or ``(n,)``) to ``(n, d, H)``; with ``return_all=True`` a :class:`ForwardTrace`."""

    def __init__(self, cfg: ArchConfig):
        super().__init__()
        self.config = cfg
        self.encoder = Encoder(cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.layers))
        self.decoder = Decoder(cfg)

    def _times(self, X: torch.Tensor, t: Any) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=X.device)
        return t.expand(X.shape[0]) if t.ndim == 0 else t

    def forward(self, X: torch.Tensor, t: Any = 0.0, return_all: bool = False):
        cfg = self.config
        if X.ndim != 3 or X.shape[1] != cfg.d or X.shape[2] > cfg.H:
            raise ValueError(f"X has shape {tuple(X.shape)}, expected (n, {cfg.d}, ≤{cfg.H})")
        dtype = self.decoder.W.dtype  # the weights' (a float32-trained family network's config
        # may say float64: it is copied from the construction it started from)
        phi = self.encoder.time_features(self._times(X, t)).to(dtype)  # (n, F)
        Y = self.encoder(X.to(dtype), phi)  # (n, H, D)
        trace = ForwardTrace(output=Y, residuals=[Y]) if return_all else None
        for block in self.blocks:
            Y, P = block(Y, phi)
            if trace is not None:
                trace.residuals.append(Y)
                trace.attention.append(P)
        out = self.decoder(Y)
        if trace is not None:
            trace.output = out
            return trace
        return out


def network_score(module: Transformer, X, t):
    """Run ``module`` on ``X`` ``(n, d, H)`` at time(s) ``t`` without gradients: numpy in
    (any real dtype) → float64 numpy out, torch in → torch out (the module's dtype)."""
    as_numpy = not isinstance(X, torch.Tensor)
    Xt = torch.as_tensor(np.asarray(X, dtype=np.float64)) if as_numpy else X
    with torch.no_grad():
        out = module(Xt.to(module.config.torch_dtype), torch.as_tensor(t, dtype=torch.float64))
    return out.double().numpy() if as_numpy else out


def weight_matrices(module: Transformer) -> dict[str, torch.Tensor]:
    """Every weight *matrix* by name (per-head slices split out): the set ``B`` is taken over."""
    out: dict[str, torch.Tensor] = {}
    for name, p in module.named_parameters():
        if p.ndim == 3:
            for m in range(p.shape[0]):
                out[f"{name}[{m}]"] = p[m]
        elif p.ndim == 2:
            out[name] = p
    return out


# -- presets ---------------------------------------------------------------------------

PRESETS: dict[str, Callable[..., ArchConfig]] = {}


def register_preset(name: str) -> Callable:
    def deco(fn: Callable[..., ArchConfig]) -> Callable[..., ArchConfig]:
        PRESETS[name] = fn
        return fn
    return deco


def preset(name: str, **kwargs: Any) -> ArchConfig:
    """Build a named preset configuration (``d`` and ``H`` are required keywords)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; one of {sorted(PRESETS)}")
    return PRESETS[name](**kwargs)


def _trainable_layout(d: int, hidden: int) -> ChannelLayout:
    free = max(hidden - 2 * d - 5, 0)
    return ChannelLayout((("x", d), ("v", d), ("pos", 2), ("const", 1), ("time", 2),
                          ("free", free)))


@register_preset("relu-small")
def _relu_small(d: int, H: int, layers: int = 4, heads: int = 8, hidden: int = 64) -> ArchConfig:
    """Paper-style ReLU attention, time-gated, for quick CPU training."""
    return ArchConfig(d=d, H=H, layout=_trainable_layout(d, hidden), layers=layers, heads=heads,
                      head_dim=8, value_dim=8, attention="relu", ffn_hidden=4 * hidden,
                      gated=True, time_features=("alpha2", "sigma2"), dtype="float32")


@register_preset("softmax-small")
def _softmax_small(d: int, H: int, layers: int = 4, heads: int = 8, hidden: int = 64) -> ArchConfig:
    """Softmax attention with sink and relative-position bias, time-gated."""
    return ArchConfig(d=d, H=H, layout=_trainable_layout(d, hidden), layers=layers, heads=heads,
                      head_dim=8, value_dim=8, attention="softmax", ffn_hidden=4 * hidden,
                      sink=True, rel_pos=True, gated=True, time_features=("alpha2", "sigma2"),
                      dtype="float32")


@register_preset("dit-paper")
def _dit_paper(d: int = 8, H: int = 96) -> ArchConfig:
    """The related work's default scale: hidden 256, 12 layers, 16 heads (docs/theory.md §9)."""
    return ArchConfig(d=d, H=H, layout=_trainable_layout(d, 256), layers=12, heads=16,
                      head_dim=16, value_dim=16, attention="softmax", ffn_hidden=1024,
                      sink=True, rel_pos=True, gated=True, time_features=("alpha2", "sigma2"),
                      dtype="float32")
