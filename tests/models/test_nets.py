"""The sequence DiT and the trainable theory family: shapes, adaLN-Zero, attention kinds,
positional embeddings, H limits, parameter counts, init from a construction bundle."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ditgp.models import DiT, ModelConfig, TheoryNet, build_model, count_parameters, preset
from ditgp.models.config import PRESETS, Preset, theory_config
from ditgp.models.dit import FREQUENCY_DIM, circle_embedding
from ditgp.models.theory_net import config_from_bundle
from ditgp.numerics import construct, exact_score
from ditgp.theory.errors import SpecError
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial

SPEC = GPSpec(kernel("laplace", ell=3.0), H=8, d=2)
CONFIGS = [
    ModelConfig("dit", 32, 2, 4),
    ModelConfig("dit", 32, 2, 4, attention="relu", pos_emb="circle"),
    ModelConfig("dit", 32, 2, 2, pos_emb="learned", max_H=8, mlp_ratio=2.0),
    ModelConfig("theory", 32, 2, 4, pos_emb="circle", attention="relu"),
    ModelConfig("theory", 32, 2, 4, pos_emb="circle", attention="softmax"),
]
IDS = ["dit-softmax", "dit-relu-circle", "dit-learned", "theory-relu", "theory-softmax"]


def _inputs(B=3, spec=SPEC, dtype=torch.float32):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(B, spec.d, spec.H, generator=g, dtype=torch.float64).to(dtype)
    t = torch.tensor([0.01, 0.5, 3.0][:B], dtype=torch.float64)
    return x, t


def _randomise(model, std=0.2):
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(std * torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_shapes_and_dtype(cfg):
    model = _randomise(build_model(cfg, SPEC))
    x, t = _inputs()
    eps = model(x, t)
    assert eps.shape == x.shape and eps.dtype == torch.float32
    assert torch.isfinite(eps).all() and eps.abs().max() > 0
    p = model.probe(x, t)
    assert len(p["attention"]) == cfg.depth and len(p["residual"]) == cfg.depth + 1
    for P in p["attention"]:
        assert P.shape[:3] == (3, cfg.heads, SPEC.H) and P.shape[3] in (SPEC.H, SPEC.H + 1)
    width = cfg.width if cfg.arch == "dit" else model.arch.width
    for R in p["residual"]:
        assert R.shape == (3, SPEC.H, width)
    model64 = model.to(torch.float64)
    e64 = model64(x.double(), t)
    assert e64.dtype == torch.float64
    assert torch.allclose(e64.float(), eps, rtol=1e-3, atol=1e-4)
    # a scalar t is broadcast over the batch
    assert torch.equal(model64(x.double(), 0.5)[1], model64(x.double(), t)[1])


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_score_is_minus_eps_over_sigma(cfg):
    model = _randomise(build_model(cfg, SPEC)).double()
    x, t = _inputs(dtype=torch.float64)
    sigma = torch.sqrt(1 - torch.exp(-t))[:, None, None]
    assert torch.allclose(model.score(x, t), -model(x, t) / sigma, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("cfg", CONFIGS, ids=IDS)
def test_fresh_network_outputs_exactly_zero(cfg):
    torch.manual_seed(0)
    model = build_model(cfg, SPEC)
    x, t = _inputs()
    assert torch.count_nonzero(model(x, t)) == 0
    # the zero comes from the zero-initialised output layer: perturb it and it is gone
    with torch.no_grad():
        if isinstance(model, DiT):
            model.final_layer.linear.bias.add_(1e-3)
        else:
            model.net.decoder.W.add_(1e-3)
    assert torch.count_nonzero(model(x, t)) == x.numel()


def test_fresh_dit_blocks_are_the_identity():
    torch.manual_seed(0)
    model = build_model(CONFIGS[0], SPEC)
    x, t = _inputs()
    res = model.probe(x, t)["residual"]
    for R in res[1:]:
        assert torch.equal(R, res[0])


def test_dit_trains_at_all():
    """One gradient step moves the output away from zero (adaLN-Zero does not block learning)."""
    torch.manual_seed(0)
    model = build_model(CONFIGS[0], SPEC)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    x, t = _inputs()
    z = torch.randn_like(x)
    for _ in range(2):
        opt.zero_grad()
        loss = ((model(x, t) - z) ** 2).mean()
        loss.backward()
        opt.step()
    assert model(x, t).abs().max() > 0
    assert any(p.grad is not None and p.grad.abs().max() > 0
               for b in model.blocks for p in b.adaLN_modulation.parameters())


@pytest.mark.parametrize("kind", ["softmax", "relu"])
def test_probe_patterns_follow_the_attention_kind(kind):
    cfg = ModelConfig("dit", 32, 2, 4, attention=kind)
    model = _randomise(build_model(cfg, SPEC)).double()
    x, t = _inputs(dtype=torch.float64)
    out = model.probe(x, t)
    # the probe path computes the same function as the fast path (SDPA for softmax)
    assert torch.allclose(out["eps"], model(x, t), rtol=1e-10, atol=1e-12)
    blk = model.blocks[0]
    shift, scale, *_ = blk.adaLN_modulation(model.t_embedder(t)).chunk(6, dim=-1)
    y = blk.norm1(out["residual"][0]) * (1 + scale[:, None]) + shift[:, None]
    q, k, _ = blk.attn.qkv(y).reshape(3, SPEC.H, 3, 4, 8).permute(2, 0, 3, 1, 4)
    S = q @ k.transpose(-1, -2) / math.sqrt(8)
    P = out["attention"][0]
    if kind == "softmax":
        assert torch.allclose(P.sum(-1), torch.ones_like(P.sum(-1)), atol=1e-12)
        assert torch.allclose(P, torch.softmax(S, -1), atol=1e-12)
    else:
        assert torch.allclose(P, torch.relu(S) / SPEC.H, atol=1e-12)
        assert (P == 0).any() and not torch.allclose(P.sum(-1), torch.ones_like(P.sum(-1)))


def test_relu_and_softmax_networks_differ():
    torch.manual_seed(0)
    a = _randomise(build_model(ModelConfig("dit", 32, 2, 4), SPEC))
    b = build_model(ModelConfig("dit", 32, 2, 4, attention="relu"), SPEC)
    b.load_state_dict(a.state_dict())
    x, t = _inputs()
    assert not torch.allclose(a(x, t), b(x, t), atol=1e-3)


def test_circle_embedding_logits_decrease_with_the_gap():
    """With q = k = token and tokens = circle embedding, the logits are
    ⟨e_h, e_j⟩/√d_k = √D cos(2π(h-j)/C): strictly decreasing in |h-j| < C/2."""
    H, D = 8, 16
    cfg = ModelConfig("dit", D, 1, 1, pos_emb="circle", max_H=H)
    model = build_model(cfg, GPSpec(kernel("laplace", ell=3.0), H=H, d=2)).double()
    with torch.no_grad():
        model.x_embedder.weight.zero_()
        w = torch.zeros(3 * D, D, dtype=torch.float64)
        w[:D], w[D:2 * D] = torch.eye(D), torch.eye(D)
        model.blocks[0].attn.qkv.weight.copy_(w)
        model.blocks[0].attn.qkv.bias.zero_()
    P = model.probe(torch.zeros(1, 2, H, dtype=torch.float64),
                    torch.tensor([0.5], dtype=torch.float64))["attention"][0][0, 0]
    logit = torch.log(P)  # = S - logsumexp(S) row-wise
    gap = (torch.arange(H)[:, None] - torch.arange(H)[None, :]).abs()
    C = 2 * H
    ref = math.sqrt(D) * torch.cos(2 * math.pi * gap.double() / C)
    rel = logit - logit.diagonal()[:, None]
    assert torch.allclose(rel, ref - ref.diagonal()[:, None], atol=1e-5)
    for h in range(H):
        row = rel[h]
        right, left = row[h:], row[: h + 1].flip(0)
        assert torch.all(torch.diff(right) < 0) and torch.all(torch.diff(left) < 0)


def test_circle_embedding_geometry():
    E = circle_embedding(6, 8, 12)
    gap = (torch.arange(6)[:, None] - torch.arange(6)[None, :]).double()
    assert torch.allclose(E @ E.T, 8 * torch.cos(2 * math.pi * gap / 12), atol=1e-12)
    assert torch.allclose(E.mean(-1), torch.zeros(6, dtype=torch.float64), atol=1e-15)


def test_H_beyond_max_H_is_refused_naming_the_flag():
    spec16 = GPSpec(kernel("laplace", ell=3.0), H=16, d=2)
    for cfg in (ModelConfig("dit", 32, 1, 4, pos_emb="learned", max_H=8),
                ModelConfig("dit", 32, 1, 4, pos_emb="circle", max_H=8),
                ModelConfig("theory", 32, 1, 4, pos_emb="circle", max_H=8)):
        with pytest.raises(SpecError, match="--H.*max_H=8"):
            build_model(cfg, spec16)
        model = build_model(cfg, SPEC)
        with pytest.raises(SpecError, match="--H"):
            model(torch.zeros(1, 2, 9), torch.tensor([0.5]))
    # sinusoidal with max_H=None serves any H
    model = build_model(ModelConfig("dit", 32, 1, 4), SPEC)
    assert model(torch.zeros(1, 2, 40), torch.tensor([0.5])).shape == (1, 2, 40)


def _dit_params(D, L, d, hidden, learned_rows=0):
    t_emb = FREQUENCY_DIM * D + D + D * D + D
    block = (3 * D * D + 3 * D) + (D * D + D) + (D * hidden + hidden) + (hidden * D + D) \
        + (6 * D * D + 6 * D)
    final = D * d + d + 2 * D * D + 2 * D
    return d * D + D + t_emb + L * block + final + learned_rows * D


def test_parameter_counts_match_the_formula():
    cfg = ModelConfig("dit", 32, 3, 4, mlp_ratio=2.0)
    assert count_parameters(build_model(cfg, SPEC)) == _dit_params(32, 3, 2, 64)
    cfg = ModelConfig("dit", 32, 2, 4, pos_emb="learned", max_H=10)
    assert count_parameters(build_model(cfg, SPEC)) == _dit_params(32, 2, 2, 128, 10)
    p = PRESETS["paper"]
    spec = GPSpec(kernel("laplace", ell=3.0), H=p.H, d=p.d)
    assert count_parameters(build_model(p.model, spec)) == _dit_params(256, 12, 8, 1024)


@pytest.mark.parametrize("bad, field", [
    (dict(arch="gpt"), "model.arch"),
    (dict(width=30), "model.width"),
    (dict(heads=0), "model.heads"),
    (dict(depth=0), "model.depth"),
    (dict(pos_emb="rope"), "model.pos_emb"),
    (dict(attention="linear"), "model.attention"),
    (dict(pos_emb="learned"), "model.max_H"),
    (dict(mlp_ratio=-1.0), "model.mlp_ratio"),
    (dict(max_H=0), "model.max_H"),
    (dict(arch="theory", pos_emb="sinusoidal"), "model.pos_emb"),
], ids=lambda v: str(v))
def test_bad_configs_are_refused_naming_the_field(bad, field):
    args = dict(arch="dit", width=32, depth=2, heads=4) | bad
    with pytest.raises(SpecError) as info:
        ModelConfig(**args)
    assert info.value.field == field


def test_config_round_trip_and_presets():
    for p in PRESETS.values():
        assert ModelConfig.from_dict(p.model.to_dict()) == p.model
        assert isinstance(p, Preset)
    assert (preset("paper").H, preset("paper").d, preset("paper").model.width,
            preset("paper").model.depth, preset("paper").model.heads,
            preset("paper").train.batch) == (96, 8, 256, 12, 16, 64)
    assert preset("long").H == 512
    with pytest.raises(SpecError, match="--preset"):
        preset("huge")
    with pytest.raises(SpecError, match="model.bogus"):
        ModelConfig.from_dict({"arch": "dit", "width": 8, "depth": 1, "heads": 1, "bogus": 1})
    tc = theory_config(preset("paper"), d=8)
    assert tc.arch == "theory" and tc.width % tc.heads == 0 and tc.width >= 21


def test_a_preset_carries_a_train_config_and_the_cli_changes_only_the_flags_given(tmp_path):
    """A preset's training numbers are one :class:`TrainConfig` (validated there, refused by
    the flag's name); ``ditgp train`` starts from it and replaces what its flags give."""
    from ditgp.models.config import TrainConfig
    from ditgp.models.train import TrainConfig as FromTrain

    from ditgp.cli import build_parser
    from ditgp.cli.train import resolve

    assert FromTrain is TrainConfig
    p = preset("tiny")
    assert isinstance(p.train, TrainConfig)
    assert (p.train.lr, p.train.warmup, p.train.t_sampling) == (1e-3, 100, "log-uniform")
    assert p.train.clip == TrainConfig().clip and p.train.n_train is None  # not set: defaults
    args = build_parser().parse_args(["train", "--preset", "paper", "--lr", "3e-4",
                                      "--threads", "1", "--out", str(tmp_path / "r")])
    _, _, tc, _ = resolve(args)
    assert tc == preset("paper").train.replace(lr=3e-4, threads=1)
    with pytest.raises(SpecError) as info:
        p.replace(train=p.train.replace(lr=-1.0))
    assert info.value.field == "--lr"
    with pytest.raises(SpecError, match="preset.train"):
        p.replace(train={"lr": 1e-3})
    with pytest.raises(SpecError, match="preset.H"):
        p.replace(H=0)


# -- theory family from a construction bundle ------------------------------------------------

@pytest.fixture(scope="module")
def gated_bundle(tmp_path_factory):
    spec = GPSpec(kernel("laplace", ell=2.0), H=6, d=2, spatial=Spatial("ar", rho=0.3))
    con = construct(spec, eps=1e-3, attention="compact", algorithm="chebyshev",
                    time_conditioning="gated", measure=False)
    path = con.save(tmp_path_factory.mktemp("b") / "bundle")
    return spec, con, path


def test_theory_net_from_bundle_reproduces_the_constructed_score(gated_bundle):
    spec, con, path = gated_bundle
    cfg = ModelConfig("theory", 32, 1, 1, pos_emb="circle")
    net = build_model(cfg, spec, init_from=str(path))
    assert isinstance(net, TheoryNet) and net.init_from == str(path)
    X = np.random.default_rng(0).standard_normal((4, spec.d, spec.H))
    for t in (spec.schedule.t0, 0.3, 2.0):
        ref = con.score(X, t)
        with torch.no_grad():
            got = net.score(torch.from_numpy(X), torch.full((4,), t, dtype=torch.float64)).numpy()
        assert np.allclose(got, ref, rtol=0, atol=1e-12 * np.abs(ref).max())
        # and the constructed network is a good score (so this is not a comparison of zeros)
        exact = exact_score(spec, X, t)
        assert np.linalg.norm(got - exact) <= 1e-2 * np.linalg.norm(exact)
    # block by block: the residual streams are the construction's iterates
    with torch.no_grad():
        trace = con.module(torch.from_numpy(X), 0.3, return_all=True)
        probe = net.probe(torch.from_numpy(X), 0.3)
    for R_con, R_net in zip(trace.residuals, probe["residual"], strict=True):
        assert torch.allclose(R_con, R_net, rtol=0, atol=1e-12)
    # a planted change of one weight is visible beyond the tolerance
    with torch.no_grad():
        net.net.blocks[1].ffn.W_2[0, 0] += 1e-6
        got = net.score(torch.from_numpy(X), 0.3).numpy()
    assert not np.allclose(got, con.score(X, 0.3), rtol=0, atol=1e-12 * np.abs(got).max())


def test_init_from_is_checked(gated_bundle, tmp_path):
    spec, _, path = gated_bundle
    cfg = ModelConfig("theory", 32, 1, 1, pos_emb="circle")
    other = GPSpec(kernel("laplace", ell=2.0), H=7, d=2)
    with pytest.raises(SpecError, match="--init-from.*H=7"):
        build_model(cfg, other, init_from=str(path))
    with pytest.raises(SpecError, match="--init-from"):
        build_model(cfg, spec, init_from=str(tmp_path / "nowhere"))
    with pytest.raises(SpecError, match="--init-from"):
        build_model(ModelConfig("dit", 32, 1, 4), spec, init_from=str(path))
    c = config_from_bundle(path)
    assert c.arch == "theory" and c.depth == gated_bundle[1].config.layers


def test_theory_net_trains_in_float32(gated_bundle):
    """A bundle-initialised net cast to float32 still runs and gets gradients."""
    spec, _, path = gated_bundle
    net = build_model(ModelConfig("theory", 32, 1, 1, pos_emb="circle"), spec,
                      init_from=str(path)).float()
    x, t = _inputs(spec=spec)
    loss = (net(x, t) ** 2).mean()
    loss.backward()
    assert net.net.decoder.W.grad is not None and net(x, t).dtype == torch.float32


@pytest.mark.parametrize("name", ["ditgp.models.config", "ditgp.models.data", "ditgp.models.dit",
                                  "ditgp.models.theory_net", "ditgp.models.export"])
def test_docstring_examples(name):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
