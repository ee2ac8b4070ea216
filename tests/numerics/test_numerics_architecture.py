"""The architecture family: config validation and round trip, presets, traces."""

from __future__ import annotations

import pytest
import torch
from ditgp.numerics import PRESETS, ArchConfig, ChannelLayout, Transformer, preset


def test_layout_round_trip():
    lay = ChannelLayout((("x", 3), ("v", 3), ("pos", 2), ("const", 1)))
    assert ChannelLayout.from_dict(lay.to_dict()) == lay
    assert lay.range("pos") == (6, 8) and lay.index("const") == 8
    with pytest.raises(KeyError):
        lay.range("nope")
    with pytest.raises(ValueError, match="duplicate"):
        ChannelLayout((("x", 1), ("x", 2)))


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_presets_forward_and_round_trip(name):
    cfg = preset(name, d=3, H=12)
    assert ArchConfig.from_dict(cfg.to_dict()) == cfg
    torch.manual_seed(0)
    net = Transformer(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.normal_(0.0, 0.02)
        tr = net(torch.randn(2, 3, 12), torch.tensor([0.1, 1.0]), return_all=True)
    assert tr.output.shape == (2, 3, 12)
    assert len(tr.residuals) == cfg.layers + 1 and len(tr.attention) == cfg.layers
    extra = 1 if cfg.sink else 0
    assert tr.attention[0].shape == (2, cfg.heads, 12, 12 + extra)
    assert tr.residuals[-1].shape == (2, 12, cfg.width)


@pytest.mark.parametrize("bad, message", [
    (dict(attention="linear"), "attention"),
    (dict(sink=True), "softmax options"),
    (dict(gated=True), "time_features"),
    (dict(pos_period=5), "pos_period"),
    (dict(readout="w"), "readout"),
], ids=["attention", "sink-on-relu", "gated-no-time", "period", "readout"])
def test_invalid_configs(bad, message):
    lay = ChannelLayout((("x", 2), ("v", 2), ("pos", 2), ("const", 1)))
    base = dict(d=2, H=8, layout=lay, layers=1, heads=1)
    with pytest.raises(ValueError, match=message):
        ArchConfig(**{**base, **bad})


def test_public_api_is_exported():
    import ditgp.numerics as numerics

    import ditgp

    for name in ("exact_score", "construct", "load_bundle", "BundleError"):
        assert getattr(ditgp, name) is getattr(numerics, name)
