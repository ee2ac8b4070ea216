"""Exponential moving average of the weights (DiT's ``update_ema``), and the learning-rate
schedule (linear warm-up, then cosine decay to a floor).

The EMA network is a full copy of the model whose parameters track
``θ_ema ← β_k θ_ema + (1 - β_k) θ`` after every optimizer step, with the warm-up
``β_k = min(β, (1 + k) / (10 + k))`` (step ``k`` counted from 0), so that a short run is not
dominated by its random initialisation.  Evaluation and export use the EMA weights.
"""

from __future__ import annotations

import copy
import math

import torch

__all__ = ["make_ema", "ema_decay", "update_ema", "learning_rate", "MIN_LR_RATIO"]

#: The cosine schedule decays the learning rate from ``lr`` to ``MIN_LR_RATIO · lr``.
MIN_LR_RATIO = 0.1


def make_ema(model: torch.nn.Module) -> torch.nn.Module:
    """A frozen copy of ``model`` (same dtype and device) to hold the averaged weights."""
    ema = copy.deepcopy(model)
    ema.requires_grad_(False)
    ema.eval()
    return ema


def ema_decay(step: int, decay: float) -> float:
    """``β_k = min(β, (1 + k)/(10 + k))`` for the update after optimizer step ``k`` (0-based)."""
    return min(float(decay), (1.0 + step) / (10.0 + step))


@torch.no_grad()
def update_ema(ema: torch.nn.Module, model: torch.nn.Module, beta: float) -> None:
    """``θ_ema ← β θ_ema + (1 - β) θ`` for every parameter (buffers are copied)."""
    src = dict(model.named_parameters())
    for name, p in ema.named_parameters():
        p.lerp_(src[name].detach().to(p.dtype), 1.0 - beta)
    src_buf = dict(model.named_buffers())
    for name, b in ema.named_buffers():
        b.copy_(src_buf[name])


def learning_rate(step: int, *, lr: float, warmup: int, decay_steps: int,
                  min_ratio: float = MIN_LR_RATIO) -> float:
    """Learning rate of optimizer step ``step`` (0-based).

    Linear warm-up ``lr·(k+1)/warmup`` for ``k < warmup``; then cosine decay from ``lr`` to
    ``min_ratio·lr`` reached at ``k = decay_steps - 1``; constant ``min_ratio·lr`` after.
    A pure function of the step, so a resumed run needs no scheduler state.
    """
    if step < warmup:
        return lr * (step + 1) / warmup
    span = max(1, decay_steps - 1 - warmup)
    progress = min(1.0, (step - warmup) / span)
    return lr * (min_ratio + (1.0 - min_ratio) * 0.5 * (1.0 + math.cos(math.pi * progress)))
