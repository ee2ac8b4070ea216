"""Feed-forward weights written by naming channels: coordinate-wise unit groups.

Every feed-forward layer of a construction acts coordinate-wise on ``d``-dimensional
channels: a :class:`UnitGroup` is ``d`` hidden units, unit ``i`` computing
``ReLU(Σ_c a_c y_{c,i} + Σ_f a_f φ_f + b)`` (channels ``c`` read at coordinate ``i``, time
channels ``f`` broadcast), optionally multiplied by a gate ``φ_g(t)`` (a time feature), and
adding ``Σ_o w_o · unit`` to coordinate ``i`` of output channel ``o``.

The identity ``y = ReLU(y) - ReLU(-y)`` (exact in floating point: one side is 0) turns any
linear update into a :func:`linear_pair` of groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from .layout import ChannelLayout

__all__ = ["UnitGroup", "linear_pair", "write_ffn", "hidden_layout"]


@dataclass(frozen=True)
class UnitGroup:
    name: str
    inputs: dict[str, float]
    outputs: dict[str, float]
    bias: float = 0.0
    gate: str | None = None
    time_inputs: dict[str, float] = field(default_factory=dict)


def linear_pair(name: str, channel: str, outputs: dict[str, float], gate: str | None = None,
                ) -> list[UnitGroup]:
    """Two groups realising ``out_o += w_o · gate · y_channel`` exactly."""
    return [
        UnitGroup(f"{name}+", {channel: 1.0}, dict(outputs), gate=gate),
        UnitGroup(f"{name}-", {channel: -1.0}, {o: -w for o, w in outputs.items()}, gate=gate),
    ]


def hidden_layout(groups: list[UnitGroup], d: int) -> ChannelLayout:
    return ChannelLayout(tuple((g.name, d) for g in groups))


@torch.no_grad()
def write_ffn(ffn, layout: ChannelLayout, groups: list[UnitGroup], d: int,
              time_features: tuple[str, ...]) -> ChannelLayout:
    """Write ``groups`` into ``ffn`` (a :class:`~ditgp.numerics.constructions.architecture.FeedForward`);
    unused hidden units stay 0.  Returns the hidden layout (names → unit ranges)."""
    hidden = hidden_layout(groups, d)
    Fh, D = ffn.W_1.shape
    if hidden.width > Fh:
        raise ValueError(f"{hidden.width} hidden units needed, block has {Fh}")
    gated = hasattr(ffn, "gate_w")
    W1, b1, W2 = np.zeros((Fh, D)), np.zeros(Fh), np.zeros((D, Fh))
    gw, gb = np.zeros((Fh, len(time_features))), np.ones(Fh)
    coords = np.arange(d)
    for g in groups:
        units = hidden.range(g.name)[0] + coords  # (d,) one unit per coordinate
        for ch, a in g.inputs.items():
            W1[units, layout.range(ch)[0] + coords] += a
        for f, a in g.time_inputs.items():
            W1[units, layout.index("time", time_features.index(f))] += a
        b1[units] = g.bias
        for ch, w in g.outputs.items():
            W2[layout.range(ch)[0] + coords, units] += w
        if g.gate is not None:
            if not gated:
                raise ValueError(f"group {g.name!r} is gated but the network is not")
            gw[units, time_features.index(g.gate)] = 1.0
            gb[units] = 0.0
    dtype = ffn.W_1.dtype
    ffn.W_1.copy_(torch.as_tensor(W1, dtype=dtype))
    ffn.b_1.copy_(torch.as_tensor(b1, dtype=dtype))
    ffn.W_2.copy_(torch.as_tensor(W2, dtype=dtype))
    if gated:
        ffn.gate_w.copy_(torch.as_tensor(gw, dtype=dtype))
        ffn.gate_b.copy_(torch.as_tensor(gb, dtype=dtype))
    return hidden
