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
from ditgp.verify.probes import layer_iteration_distance, profile_vs_kernel, value_alignment

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


def test_permutation_pvalue_is_uniformish_for_noise():
    """Under the null (profile independent of γ) p-values are not small: 20 noise profiles,
    at most 3 below 0.05 (binomial(20, 0.05) tail P(≥4) ≈ 0.016)."""
    rng = np.random.default_rng(0)
    ps = [profile_vs_kernel(rng.random(10), SPEC.Gamma[:, 0], n_perm=199, seed=i)["p_value"]
          for i in range(20)]
    assert sum(p < 0.05 for p in ps) <= 3


def test_value_alignment_of_a_construction_and_a_planted_rotation():
    con = construct(SPEC, t=T, eps=1e-3, attention="compact", algorithm="gd", window=W)
    frame = value_paths(con)["frame"]
    al = value_alignment(frame, SPEC.Sigma)
    heads = np.abs(np.asarray(al["per_head"]))
    assert np.allclose(heads, 1.0, atol=EXACT)
    # plant: Σ's off-diagonal sign flipped (a different spatial covariance) lowers the cosine
    wrong = np.array(SPEC.Sigma) * np.array([[1, -1], [-1, 1]])
    assert np.max(np.abs(value_alignment(frame, wrong)["per_head"])) < 0.9


def test_dit_hooks_shapes_and_softmax_rows():
    torch.manual_seed(0)
    cfg = ModelConfig("dit", width=16, depth=2, heads=4)
    model = build_model(cfg, SPEC)
    X = _X()
    maps = attention_maps(model, X, T)
    assert len(maps) == 2 and maps[0].shape == (3, 4, 10, 10)
    assert np.allclose(maps[0].sum(-1), 1.0, atol=1e-6)
    prof = gap_profile(maps)
    assert prof.shape == (2, 4, 10)
    assert value_paths(model)["frame"].shape == (2, 4, 2, 2)
    R = block_readouts(model, X, T)
    assert R.shape == (3, 3, 2, 10)
    with torch.no_grad():  # last read-out = the network's own ε̂/σ
        eps = model(torch.as_tensor(X, dtype=torch.float32), torch.full((3,), T, dtype=torch.float64))
    assert np.allclose(R[-1], eps.double().numpy() / np.sqrt(-np.expm1(-T)), atol=1e-5)


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
