"""Probes on networks where the answer is known: a construction's value-weighted attention
profile is γ_w exactly and its blocks are its iterates; a shuffled-attention construction
fails; value alignment and DiT hooks."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ditgp.models import ModelConfig, build_model
from ditgp.models.probes import (
    attention_maps,
    block_readouts,
    gap_profile,
    value_paths,
    value_weighted_profile,
)
from ditgp.numerics import Oracle, construct
from ditgp.theory.kernels import kernel
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.verify.probes import (
    SHARE_MIN,
    gap_weights,
    kernel_model_test,
    layer_iteration_distance,
    profile_vs_kernel,
    value_alignment,
)

SPEC = GPSpec(kernel("laplace", ell=3.0), H=10, d=2, spatial=Spatial("ar", rho=0.5))
T = 0.1
torch.set_num_threads(1)
W = 6
#: rounding of a float64 forward pass through ≤ 100 blocks of width ≤ 20 (Higham γ_n·κ):
#: measured ≤ 4e-15; a planted error of 1e-9 is far above
EXACT = 1e-12


def _X(n=3, seed=0):
    return Oracle.for_spec(SPEC).sample(n, seed=seed, t=T)


def _gamma_w():
    g = np.array(SPEC.Gamma[:, 0])
    g[W + 1:] = 0.0
    return g


@pytest.mark.parametrize("attention", ["compact", "paper", "softmax"])
def test_constructed_profile_is_gamma_w_exactly(attention):
    con = construct(SPEC, t=T, eps=1e-3, attention=attention, algorithm="gd", window=W)
    prof = value_weighted_profile(con, _X(), T)
    assert np.max(np.abs(prof - _gamma_w()[None])) < EXACT
    res = profile_vs_kernel(prof[0], SPEC.Gamma[:, 0], max_gap=W, n_perm=199)
    assert res["spearman"] == pytest.approx(1.0) and res["rel_l2"] < EXACT
    assert res["p_value"] <= 1 / 200 + 1e-12


@pytest.mark.parametrize("algorithm", ["gd", "chebyshev"])
def test_constructed_layer_distance_is_zero(algorithm):
    con = construct(SPEC, t=T, eps=1e-2, attention="compact", algorithm=algorithm, window=W)
    X = _X()
    R = block_readouts(con, X, T)
    dist = layer_iteration_distance(R, SPEC, X, T, plan=con.manifest["plan"])
    assert max(dist["distance"]) < EXACT
    assert dist[algorithm]["nearest"] == list(range(R.shape[0]))
    # plant: a perturbed read-out of one block is seen at its size
    R[3] += 1e-9 * np.linalg.norm(R[3]) / np.sqrt(R[3].size)
    assert layer_iteration_distance(R, SPEC, X, T, plan=con.manifest["plan"])["distance"][3] > EXACT


def test_shuffled_attention_fails():
    """Plant: positions permuted in the encoder (attention no longer a function of the gap)."""
    con = construct(SPEC, t=T, eps=1e-3, attention="compact", algorithm="gd", window=W)
    perm = torch.as_tensor(np.random.default_rng(1).permutation(SPEC.H))
    con.module.encoder.pos = con.module.encoder.pos[perm]
    prof = value_weighted_profile(con, _X(), T)
    res = profile_vs_kernel(prof[0], SPEC.Gamma[:, 0], n_perm=999)
    assert res["rel_l2"] > 0.1 and res["p_value"] > 0.01
    X = _X()
    dist = layer_iteration_distance(block_readouts(con, X, T), SPEC, X, T,
                                    plan=con.manifest["plan"])
    assert max(dist["distance"]) > 1e-2


def test_permutation_pvalue_has_its_level_under_the_null():
    """Under the null (profile independent of γ) P(p ≤ 0.05) ≤ 0.05: 400 noise profiles, at
    most 0.05 + 3·SE = 0.083 below (an uncentred rank null gives ~22 %)."""
    rng = np.random.default_rng(0)
    ps = np.array([profile_vs_kernel(rng.random(10), SPEC.Gamma[:, 0], n_perm=99, seed=i)["p_value"]
                   for i in range(400)])
    assert np.mean(ps <= 0.05) <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 400)


def test_permutation_pvalue_is_never_zero():
    res = profile_vs_kernel(SPEC.Gamma[:, 0], SPEC.Gamma[:, 0], n_perm=99)
    assert res["spearman"] == pytest.approx(1.0) and res["p_value"] == pytest.approx(1 / 100)


def test_value_alignment_best_layer_by_absolute_cosine():
    S = np.array(SPEC.Sigma)
    frame = np.stack([[-S], [S + 2 * np.array([[0.0, 1.0], [-1.0, 0.0]])]])  # (2, 1, 2, 2)
    al = value_alignment(frame, S)
    assert al["per_layer"][0] == pytest.approx(-1.0) and 0 < al["per_layer"][1] < 0.9
    assert al["best_layer"] == 0 and al["best_cos"] == pytest.approx(-1.0)


def test_value_alignment_of_a_construction_and_a_planted_rotation():
    con = construct(SPEC, t=T, eps=1e-3, attention="compact", algorithm="gd", window=W)
    frame = value_paths(con)["frame"]
    al = value_alignment(frame, SPEC.Sigma)
    heads = np.abs(np.asarray(al["per_head"]))
    assert np.allclose(heads, 1.0, atol=EXACT)
    # plant: Σ's off-diagonal sign flipped (a different spatial covariance) lowers the cosine
    wrong = np.array(SPEC.Sigma) * np.array([[1, -1], [-1, 1]])
    assert np.max(np.abs(value_alignment(frame, wrong)["per_head"])) < 0.9


def _perturbed_dit(seed=0, width=16, depth=2, heads=4):
    """A DiT off its adaLN-Zero start (a fresh one outputs exactly 0: any read-out check
    against its output would compare 0 with 0)."""
    torch.manual_seed(seed)
    model = build_model(ModelConfig("dit", width=width, depth=depth, heads=heads), SPEC)
    with torch.no_grad():
        for prm in model.parameters():
            prm.add_(0.1 * torch.randn_like(prm))
    return model


def test_dit_hooks_shapes_and_softmax_rows():
    model = _perturbed_dit()
    X = _X()
    maps = attention_maps(model, X, T)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 10, 10)
    assert np.allclose(maps[0].sum(-1), 1.0, atol=1e-6)
    prof = gap_profile(maps)
    assert prof.shape == (2, 4, 10)
    assert value_paths(model)["frame"].shape == (2, 4, 2, 2)
    R = block_readouts(model, X, T)
    assert R.shape == (3, 3, 2, 10)
    with torch.no_grad():  # last read-out = the network's own ε̂/σ = −score (not 0 = 0)
        eps = model(torch.as_tensor(X, dtype=torch.float32), torch.full((3,), T, dtype=torch.float64))
        score = model.score(torch.as_tensor(X, dtype=torch.float32), T).double().numpy()
    assert np.abs(R[-1]).max() > 1e-2
    assert np.allclose(R[-1], eps.double().numpy() / np.sqrt(-np.expm1(-T)), atol=1e-5)
    assert np.allclose(R[-1], -score, atol=1e-5)


def test_dit_value_path_reads_the_value_rows_and_the_gates():
    """The value path is built from W_v (rows 2D:3D of qkv), the adaLN gate and (1 + scale):
    zero values → zero path whatever the keys; zero keys leave it; doubling W_v doubles it;
    a zero gate at t kills it (the gate is part of what the network computes)."""
    model = _perturbed_dit(1)
    D = 16
    base = value_paths(model, T)["frame"]
    assert np.abs(base).max() > 1e-3
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[D:2 * D] = 0  # keys
    assert np.allclose(value_paths(model, T)["frame"], base)
    with torch.no_grad():
        model.blocks[0].attn.qkv.weight[2 * D:3 * D] *= 2  # values
    assert np.allclose(value_paths(model, T)["frame"][0], 2 * base[0])
    assert np.allclose(value_paths(model, T)["frame"][1], base[1])
    with torch.no_grad():
        model.blocks[1].attn.qkv.weight[2 * D:3 * D] = 0
    assert np.abs(value_paths(model, T)["frame"][1]).max() == 0.0
    with torch.no_grad():  # the attention gate g1 is chunk 3 of 6 of the modulation output
        lin = model.blocks[0].adaLN_modulation[-1]
        lin.weight[2 * D:3 * D] = 0
        lin.bias[2 * D:3 * D] = 0
    assert np.abs(value_paths(model, T)["frame"][0]).max() == 0.0
    assert np.abs(value_paths(model)["frame"][0]).max() > 0  # the ungated product ignores it


def test_gap_profile_is_the_mean_over_pairs_at_each_gap():
    """Known answer: a Toeplitz pattern ``P[h, j] = f(|h-j|)`` has profile ``f``; and on a
    random pattern the profile is the plain mean over the pairs at each gap (the masked
    definition, computed here independently)."""
    H = 7
    f = np.arange(H, dtype=float) ** 2 + 1.0
    G = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    toe = np.broadcast_to(f[G], (2, 3, H, H))
    assert np.allclose(gap_profile([toe])[0], np.broadcast_to(f, (3, H)), rtol=1e-15)
    rng = np.random.default_rng(1)
    P = rng.random((4, 2, H, H))
    mean = P.mean(axis=0)
    ref = np.array([[mean[m][G == g].mean() for g in range(H)] for m in range(2)])
    assert np.allclose(gap_profile([P])[0], ref, rtol=1e-13)
    # counts matter: a pattern with weight only on the two gap-(H-1) corners averages to 1/2
    corner = np.zeros((1, 1, H, H))
    corner[0, 0, 0, H - 1] = 1.0
    assert gap_profile([corner])[0, 0, H - 1] == 0.5


# -- the discriminating attention test ---------------------------------------------------------

GAMMA = np.exp(-np.arange(16) / 4.0)  # Laplace ℓ = 4, H = 16


def _rows(mean, n=16, noise=1e-4, seed=0):
    rng = np.random.default_rng(seed)
    return mean[None] + noise * rng.standard_normal((n, mean.size))


def test_kernel_test_passes_a_kernel_profile_and_p_is_never_zero():
    res = kernel_model_test(_rows(0.1 * GAMMA + 0.01), GAMMA, n_boot=199)
    assert res["passed"] and res["best"] == "kernel"
    assert res["p_value"] == pytest.approx(1 / 200)
    assert res["share"] == pytest.approx(0.1 * (gap_weights(16) @ GAMMA)
                                         / (gap_weights(16) @ (0.1 * GAMMA + 0.01)), rel=1e-2)


@pytest.mark.parametrize("case", ["flat", "wrong-length", "increasing", "weak", "unstable"])
def test_kernel_test_fails_planted_profiles(case):
    m = np.arange(16)
    mean = {"flat": np.full(16, 1 / 16),
            "wrong-length": 0.1 * np.exp(-m / 1.0) + 0.02,  # decays, but not like γ
            "increasing": 0.1 - 0.05 * GAMMA,  # anti-correlated with γ
            "weak": 0.005 * GAMMA + 0.06,  # γ-shaped but 5 % of the mass (an untrained DiT)
            "unstable": 0.002 * GAMMA + 0.06}[case]
    noise = 5e-3 if case == "unstable" else 1e-5
    res = kernel_model_test(_rows(mean, noise=noise), GAMMA, n_boot=199)
    assert not res["passed"], res
    if case == "weak":
        assert res["selected"] and res["share"] < SHARE_MIN  # only the effect size fails it
    if case == "unstable":
        assert res["p_value"] > 0.05


def test_kernel_test_tie_is_no_selection():
    """Γ = I: γ = δ and the exact operator's profile (block diagonal) are the same shape; a
    network attending to itself cannot be said to carry γ over the exact operator."""
    delta = np.eye(16)[0]
    res = kernel_model_test(_rows(0.5 * delta + 0.03), delta, exact=3.0 * delta, n_boot=99)
    assert not res["selected"] and not res["passed"]


def test_kernel_test_control_candidate():
    """A profile the control shows too is explained by the control: no selection."""
    prof = 0.1 * GAMMA + 0.01
    res = kernel_model_test(_rows(prof), GAMMA, control=prof, n_boot=99)
    assert not res["passed"] and "control" in res["candidates"]


def test_untrained_dits_fail_the_kernel_test():
    """The calibration of SHARE_MIN: untrained DiTs (positional prior only) fail."""
    from ditgp.models.probes import input_gap_profiles

    spec = GPSpec(kernel("laplace", ell=4.0), H=16, d=2, spatial=Spatial("ar", rho=0.5))
    X = Oracle.for_spec(spec).sample(8, seed=1, t=0.1)
    for seed in range(3):
        torch.manual_seed(seed)
        net = build_model(ModelConfig("dit", width=64, depth=4, heads=4), spec)
        res = kernel_model_test(input_gap_profiles(attention_maps(net, X, 0.1)), GAMMA, n_boot=99)
        assert not res["passed"] and abs(res["share"]) < SHARE_MIN / 2


def test_softmax_construction_passes_the_kernel_test():
    from ditgp.models.probes import input_gap_profiles

    spec = GPSpec(kernel("laplace", ell=4.0), H=16, d=2, spatial=Spatial("ar", rho=0.5))
    con = construct(spec, t=T, eps=1e-3, attention="softmax", algorithm="chebyshev")
    X = Oracle.for_spec(spec).sample(4, seed=1, t=T)
    res = kernel_model_test(input_gap_profiles(attention_maps(con, X, T)), GAMMA, n_boot=99)
    assert res["passed"] and res["share"] == pytest.approx(1.0, abs=1e-9)


def test_layer_distance_reports_the_trivial_bound():
    """A read-out that is exactly 0 or exactly v* sits on an iterate trivially: distance =
    trivial bound = 0 there; read-outs off every iterate (v* plus noise of half its size) have
    distance ≤ the bound and give no evidence (their ratio to the bound is not small)."""
    con = construct(SPEC, t=T, eps=1e-2, attention="compact", algorithm="chebyshev", window=W)
    X = _X()
    vstar = Oracle.for_spec(SPEC).solve(X, T)
    rng = np.random.default_rng(3)
    off = [vstar + 0.5 * np.linalg.norm(vstar) * z / np.linalg.norm(z)
           for z in rng.standard_normal((2, *X.shape))]
    R = np.stack([np.zeros_like(X), *off, vstar])
    res = layer_iteration_distance(R, SPEC, X, T, K_max=60)  # v_60 = v* to ~1e-7
    assert res["trivial_bound"][0] == 0 and res["trivial_bound"][-1] < 1e-5
    assert all(d <= b + 1e-12 for d, b in zip(res["distance"], res["trivial_bound"], strict=True))
    assert res["verdict"].startswith("no evidence")
    # the construction's own read-outs sit on its iterates: evidence
    Rc = block_readouts(con, X, T)
    assert layer_iteration_distance(Rc, SPEC, X, T, plan=con.manifest["plan"])["verdict"].startswith(
        "evidence")
