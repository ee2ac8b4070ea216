"""A diffusion transformer for sequences (DiT, Peebles & Xie 2023, adapted to GP frames).

One token per frame: ``x_h ∈ R^d`` is embedded by a linear map ``d → D`` and a positional
embedding is added; the diffusion time ``t`` goes through a sinusoidal embedding and an MLP
to a conditioning vector ``c ∈ R^D`` that drives **adaLN-Zero** modulation in every block:

    block(Y, c):  shift₁, scale₁, gate₁, shift₂, scale₂, gate₂ = Linear(SiLU(c))
                  Y = Y + gate₁ ⊙ Attn(LN(Y) ⊙ (1 + scale₁) + shift₁)
                  Y = Y + gate₂ ⊙ MLP(LN(Y) ⊙ (1 + scale₂) + shift₂)
    final(Y, c):  ε̂ = Linear(LN(Y) ⊙ (1 + scale) + shift)        (D → d per token)

The modulation layers and the final linear map start at zero, so a freshly initialised
network outputs exactly ``ε̂ = 0`` (and every block is the identity).  The network predicts
the noise ``ε`` (ε-prediction); the score is ``s = -ε̂/σ_t`` (docs/theory.md §2).

Attention ``softmax`` runs through ``torch.nn.functional.scaled_dot_product_attention``;
``relu`` is the theory's ReLU attention (docs/theory.md §8), ``P = ReLU(QKᵀ/√d_k)/H`` (the ``1/H``
is a constant rescaling absorbed by the value matrices; it keeps the output scale independent
of ``H``).  Positional embeddings: ``sinusoidal`` (fixed, DiT's 1-D sin-cos), ``learned`` (a
``max_H × D`` table) or ``circle``: ``e_h = r(cos 2πh/C · u + sin 2πh/C · w)`` with fixed
orthonormal, zero-mean directions ``u, w ∈ R^D``, ``C = 2·max_H`` and ``r = √D`` — so
``⟨e_h, e_j⟩ = r² cos(2π(h-j)/C)`` strictly decreases with the gap ``|h-j| < C/2``
(docs/theory.md §8), and LayerNorm leaves ``e_h`` unchanged (zero mean, unit RMS).

Time enters as ``τ = 1000·t/T`` (DiT's integer-step scale) through the sinusoidal embedding.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from ditgp.theory.spec import GPSpec
from torch import nn

from .config import ModelConfig

__all__ = ["DiT", "timestep_embedding", "sincos_embedding", "circle_embedding",
           "FREQUENCY_DIM"]

#: width of the sinusoidal time embedding before the MLP (DiT's default)
FREQUENCY_DIM = 256


def timestep_embedding(tau: torch.Tensor, dim: int = FREQUENCY_DIM,
                       max_period: float = 10000.0) -> torch.Tensor:
    """``(B,) -> (B, dim)``: ``[cos(τ ω_k), sin(τ ω_k)]`` with ``ω_k = max_period^{-k/half}``."""
    half = dim // 2
    freqs = torch.exp(-math.log(max_period)
                      * torch.arange(half, dtype=torch.float64, device=tau.device) / half)
    args = tau.to(torch.float64)[:, None] * freqs[None]  # (B, half)
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def sincos_embedding(H: int, D: int, device: torch.device | str | None = None) -> torch.Tensor:
    """DiT's fixed 1-D sin-cos positional embedding ``(H, D)`` (float64, on ``device``)."""
    half = D // 2
    f64 = dict(dtype=torch.float64, device=device)
    omega = 1.0 / 10000 ** (torch.arange(half, **f64) / max(half, 1))
    pos = torch.arange(H, **f64)[:, None] * omega[None]  # (H, half)
    emb = torch.cat([torch.sin(pos), torch.cos(pos)], dim=-1)
    if D % 2:
        emb = torch.cat([emb, torch.zeros(H, 1, **f64)], dim=-1)
    return emb


def circle_embedding(H: int, D: int, C: int, device: torch.device | str | None = None
                     ) -> torch.Tensor:
    """The circle embedding ``(H, D)`` (float64): ``√D (cos 2πh/C · u + sin 2πh/C · w)``.

    ``u = (e₀ - e₁)/√2`` and ``w = (e₂ - e₃)/√2`` (``D ≥ 4``): orthonormal and zero-mean, so
    ``⟨e_h, e_j⟩ = D·cos(2π(h-j)/C)`` and ``LayerNorm(e_h) = e_h``."""
    if D < 4:
        raise ValueError(f"circle embedding needs D ≥ 4, got D={D}")
    angle = 2 * math.pi * torch.arange(H, dtype=torch.float64, device=device) / C
    emb = torch.zeros(H, D, dtype=torch.float64, device=device)
    r = math.sqrt(D) / math.sqrt(2)
    emb[:, 0], emb[:, 1] = r * torch.cos(angle), -r * torch.cos(angle)
    emb[:, 2], emb[:, 3] = r * torch.sin(angle), -r * torch.sin(angle)
    return emb


def modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """``x ⊙ (1 + scale) + shift`` with per-sequence ``shift, scale`` ``(B, D)``."""
    return x * (1 + scale[:, None, :]) + shift[:, None, :]


class TimestepEmbedder(nn.Module):
    """``t -> c``: sinusoidal embedding of ``τ = 1000 t/T``, then Linear–SiLU–Linear."""

    def __init__(self, D: int, T: float):
        super().__init__()
        self.scale = 1000.0 / T
        self.mlp = nn.Sequential(nn.Linear(FREQUENCY_DIM, D), nn.SiLU(), nn.Linear(D, D))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        emb = timestep_embedding(t * self.scale)  # (B, 256) float64
        return self.mlp(emb.to(self.mlp[0].weight.dtype))  # (B, D)


class Attention(nn.Module):
    """Multi-head self-attention over frames: softmax (SDPA) or the theory's ReLU."""

    def __init__(self, D: int, heads: int, kind: str):
        super().__init__()
        self.heads, self.kind = heads, kind
        self.head_dim = D // heads
        self.qkv = nn.Linear(D, 3 * D)
        self.proj = nn.Linear(D, D)

    def forward(self, x: torch.Tensor, probe: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        B, H, D = x.shape
        qkv = self.qkv(x).reshape(B, H, 3, self.heads, self.head_dim)  # (B, H, 3, M, dk)
        q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (B, M, H, dk)
        P = None
        if self.kind == "softmax" and not probe:
            out = F.scaled_dot_product_attention(q, k, v)  # (B, M, H, dk)
        else:
            S = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)  # (B, M, H, H)
            P = torch.softmax(S, dim=-1) if self.kind == "softmax" else torch.relu(S) / H
            out = P @ v  # (B, M, H, dk)
        out = out.transpose(1, 2).reshape(B, H, D)  # (B, H, D)
        return self.proj(out), P


class Mlp(nn.Module):
    def __init__(self, D: int, hidden: int):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(D, hidden), nn.Linear(hidden, D)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x), approximate="tanh"))


class DiTBlock(nn.Module):
    """LN → MHA → LN → MLP, each residual branch modulated and gated by adaLN-Zero."""

    def __init__(self, D: int, heads: int, hidden: int, attention: str):
        super().__init__()
        self.norm1 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(D, heads, attention)
        self.norm2 = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.mlp = Mlp(D, hidden)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 6 * D))

    def forward(self, x: torch.Tensor, c: torch.Tensor, probe: bool = False
                ) -> tuple[torch.Tensor, torch.Tensor | None]:
        sh1, sc1, g1, sh2, sc2, g2 = self.adaLN_modulation(c).chunk(6, dim=-1)  # each (B, D)
        a, P = self.attn(modulate(self.norm1(x), sh1, sc1), probe)
        x = x + g1[:, None, :] * a
        x = x + g2[:, None, :] * self.mlp(modulate(self.norm2(x), sh2, sc2))
        return x, P


class FinalLayer(nn.Module):
    def __init__(self, D: int, d: int):
        super().__init__()
        self.norm = nn.LayerNorm(D, elementwise_affine=False, eps=1e-6)
        self.linear = nn.Linear(D, d)
        self.adaLN_modulation = nn.Sequential(nn.SiLU(), nn.Linear(D, 2 * D))

    def forward(self, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        shift, scale = self.adaLN_modulation(c).chunk(2, dim=-1)
        return self.linear(modulate(self.norm(x), shift, scale))  # (B, H, d)


class DiT(nn.Module):
    """Sequence DiT: ``forward(x (B, d, H), t (B,)) -> ε̂ (B, d, H)`` in ``x``'s dtype.

    ``score(x, t) = -ε̂/σ_t``; ``probe(x, t)`` returns every block's attention pattern
    ``(B, heads, H, H)`` and the residual stream ``(B, H, D)`` (entry 0 = embedding, entry
    ``k`` = after block ``k``)."""

    def __init__(self, cfg: ModelConfig, spec: GPSpec):
        super().__init__()
        self.config, self.d = cfg, spec.d
        D = cfg.width
        self.max_H = cfg.max_H if cfg.max_H is not None else (
            None if cfg.pos_emb == "sinusoidal" else spec.H)
        self.x_embedder = nn.Linear(spec.d, D)
        self.t_embedder = TimestepEmbedder(D, spec.schedule.T)
        if cfg.pos_emb == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(self.max_H, D))
        else:
            self.pos_embed = None  # fixed sin-cos / circle, computed for each call's H, dtype
        self.blocks = nn.ModuleList(DiTBlock(D, cfg.heads, cfg.mlp_hidden, cfg.attention)
                                    for _ in range(cfg.depth))
        self.final_layer = FinalLayer(D, spec.d)
        self.initialize_weights()

    def initialize_weights(self) -> None:
        """All initialisation in one place (DiT): Xavier-uniform linears with zero bias,
        N(0, 0.02²) time-MLP and learned positions, zero adaLN modulation and final layer."""
        def basic(m: nn.Module) -> None:
            if isinstance(m, nn.Linear):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)
        self.apply(basic)
        if isinstance(self.pos_embed, nn.Parameter):
            nn.init.normal_(self.pos_embed, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[0].weight, std=0.02)
        nn.init.normal_(self.t_embedder.mlp[2].weight, std=0.02)
        for block in self.blocks:
            nn.init.zeros_(block.adaLN_modulation[-1].weight)
            nn.init.zeros_(block.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].weight)
        nn.init.zeros_(self.final_layer.adaLN_modulation[-1].bias)
        nn.init.zeros_(self.final_layer.linear.weight)
        nn.init.zeros_(self.final_layer.linear.bias)

    # -- pieces ---------------------------------------------------------------------------
    def positions(self, H: int, like: torch.Tensor) -> torch.Tensor:
        """Positional embedding ``(H, D)`` in ``like``'s dtype/device."""
        if self.config.pos_emb == "sinusoidal":
            return sincos_embedding(H, self.config.width, like.device).to(like.dtype)
        if self.config.pos_emb == "circle":
            return circle_embedding(H, self.config.width, 2 * self.max_H, like.device
                                    ).to(like.dtype)
        return self.pos_embed[:H].to(like.dtype)

    def _times(self, x: torch.Tensor, t) -> torch.Tensor:
        t = torch.as_tensor(t, dtype=torch.float64, device=x.device)
        return t.expand(x.shape[0]) if t.ndim == 0 else t.to(torch.float64)

    def _check(self, x: torch.Tensor) -> None:
        if x.ndim != 3 or x.shape[1] != self.d:
            raise ValueError(f"x has shape {tuple(x.shape)}, expected (B, d={self.d}, H)")
        if self.max_H is not None and x.shape[2] > self.max_H:
            from ditgp.theory.errors import SpecError

            raise SpecError("--H", x.shape[2], f"H ≤ max_H={self.max_H} of the "
                                               f"{self.config.pos_emb} positional embedding")

    def _run(self, x: torch.Tensor, t, probe: bool):
        self._check(x)
        dtype = self.x_embedder.weight.dtype
        c = self.t_embedder(self._times(x, t))  # (B, D)
        tokens = x.to(dtype).transpose(1, 2)  # (B, H, d): one token per frame
        y = self.x_embedder(tokens) + self.positions(x.shape[2], tokens)  # (B, H, D)
        residual, attention = [y], []
        for block in self.blocks:
            y, P = block(y, c, probe)
            if probe:
                residual.append(y)
                attention.append(P)
        eps = self.final_layer(y, c).transpose(1, 2).to(x.dtype)  # (B, d, H)
        return eps, {"attention": attention, "residual": residual}

    # -- public ---------------------------------------------------------------------------
    def forward(self, x: torch.Tensor, t) -> torch.Tensor:
        return self._run(x, t, probe=False)[0]

    def probe(self, x: torch.Tensor, t) -> dict[str, list[torch.Tensor]]:
        """Attention patterns and residual streams of every block (explicit attention,
        also for softmax; not the fast path)."""
        eps, out = self._run(x, t, probe=True)
        out["eps"] = eps
        return out

    def score(self, x: torch.Tensor, t) -> torch.Tensor:
        """``s = -ε̂/σ_t`` (``σ_t`` in float64, result in ``x``'s dtype)."""
        tt = self._times(x, t)
        sigma = torch.sqrt(-torch.expm1(-tt)).to(x.dtype)[:, None, None]
        return -self(x, tt) / sigma
