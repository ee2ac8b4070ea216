"""Measures on network probes (:mod:`ditgp.models.probes`) against the theory (THEORY.md §4).

* :func:`profile_vs_kernel` — an attention-vs-gap profile ``p(m)`` against ``γ(m)``:
  Spearman rank correlation, relative L2 error after the best scale
  ``min_c ‖c·p - γ‖/‖γ‖`` (``c = ⟨p, γ⟩/‖p‖²``), and a **permutation p-value**: the gaps are
  shuffled ``n_perm`` times and ``p = (1 + #{ρ_perm ≥ ρ})/(1 + n_perm)`` (one-sided: the
  theory predicts a positive association; exact finite-sample validity under the null of
  exchangeable gaps, so "correlates with the kernel" has a p-value).
* :func:`value_alignment` — frame blocks ``F`` (``d × d``) of the value path against ``Σ``:
  per head and per layer (the sum over heads, the layer's value path) the Frobenius cosine
  ``cos(F, Σ)``; per layer also the cosine after the **best linear combination** of its heads
  (``Σ`` projected on ``span{F_m}``) with its null level ``√(min(M, d²)/d²)`` (the RMS cosine of
  a random subspace of that dimension: with ``M ≥ d²`` heads the combination is trivially
  perfect, stated); the best layer.  A random ``d × d`` matrix has RMS cosine ``1/d`` with
  ``Σ``.
* :func:`layer_iteration_distance` — per block read-out (``A_t⁻¹x`` estimate) the relative
  distance ``min_j ‖r_k - v_j‖/‖v*‖`` to the nearest GD and Chebyshev iterate ``v_j`` of the
  same input (``j ≤ K_max``), and the index ``j``.  With a construction's ``plan`` the
  reference is the construction's own iteration (window, step or interval), so the
  constructed network sits at 0 to rounding; otherwise the exact system with the theory's
  optimal coefficients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from ditgp.numerics.iterations import TruncatedSystem, run_chebyshev, run_gd
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import require
from ditgp.theory.spec import GPSpec

__all__ = ["N_PERM", "spearman", "profile_vs_kernel", "value_alignment",
           "layer_iteration_distance"]

#: permutations for the null of :func:`profile_vs_kernel` (p-value resolution 1/1000)
N_PERM = 999


def _ranks(a: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(a, axis=-1)


def spearman(a, b) -> float:
    """Spearman rank correlation (average ranks for ties; 0 if either side is constant)."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    den = float(np.sqrt(np.sum(ra * ra) * np.sum(rb * rb)))
    return 0.0 if den == 0 else float(np.sum(ra * rb) / den)


def profile_vs_kernel(profile, gamma, *, max_gap: int | None = None, n_perm: int = N_PERM,
                      seed: int = 0) -> dict[str, Any]:
    """Compare a gap profile with ``γ`` on gaps ``0..max_gap`` (module docstring)."""
    p = np.asarray(profile, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    require(p.ndim == 1 and p.shape == g.shape and p.size >= 3, "profile", p.shape,
            f"a 1-D profile of gamma's length {g.shape} (≥ 3 gaps)")
    m = p.size - 1 if max_gap is None else min(int(max_gap), p.size - 1)
    p, g = p[:m + 1], g[:m + 1]
    rho = spearman(p, g)
    pp = float(p @ p)
    scale = float(p @ g) / pp if pp > 0 else 0.0
    rel_l2 = float(np.linalg.norm(scale * p - g) / np.linalg.norm(g))
    rng = np.random.default_rng(seed)
    rg = _ranks(g)
    rg = rg - rg.mean()
    perms = np.argsort(rng.random((n_perm, p.size)), axis=1)
    rp = _ranks(p)[perms]  # ranks of the shuffled profile, (n_perm, m+1)
    rp = rp - rp.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(rp * rp, axis=1) * np.sum(rg * rg))
    null = np.where(den > 0, (rp @ rg) / np.where(den > 0, den, 1.0), 0.0)
    pval = float((1 + np.sum(null >= rho - 1e-12)) / (1 + n_perm))
    return {"spearman": rho, "rel_l2": rel_l2, "scale": scale, "p_value": pval,
            "n_perm": int(n_perm), "gaps": m + 1}


def _cos(A: np.ndarray, B: np.ndarray) -> float:
    den = float(np.linalg.norm(A) * np.linalg.norm(B))
    return 0.0 if den == 0 else float(np.sum(A * B) / den)


def value_alignment(frame: np.ndarray, Sigma: np.ndarray) -> dict[str, Any]:
    """Alignment of frame blocks ``(L, M, d, d)`` with ``Σ`` (module docstring)."""
    F = np.asarray(frame, dtype=np.float64)
    S = np.asarray(Sigma, dtype=np.float64)
    require(F.ndim == 4 and F.shape[2:] == S.shape, "frame", F.shape, "(L, M, d, d)")
    L, M, d, _ = F.shape
    per_head = [[_cos(F[lay, h], S) for h in range(M)] for lay in range(L)]
    per_layer = [_cos(F[lay].sum(axis=0), S) for lay in range(L)]
    combo = []
    for lay in range(L):
        B = F[lay].reshape(M, -1).T  # (d², M)
        beta, *_ = np.linalg.lstsq(B, S.reshape(-1), rcond=None)
        combo.append(_cos((B @ beta).reshape(d, d), S))
    best = int(np.argmax(np.abs(per_layer))) if L else -1
    return {"per_head": per_head, "per_layer": per_layer, "combination": combo,
            "best_layer": best, "best_cos": float(per_layer[best]) if L else 0.0,
            "null_rms_cos": 1.0 / d, "null_rms_combination": float(np.sqrt(min(M, d * d) / (d * d)))}


def layer_iteration_distance(readouts: np.ndarray, spec: GPSpec, X, t: float, *,
                             K_max: int | None = None, plan: dict[str, Any] | None = None
                             ) -> dict[str, Any]:
    """Distances of per-block read-outs ``(L+1, n, d, H)`` to the nearest GD/Chebyshev
    iterates of the same input ``X`` (module docstring)."""
    R = np.asarray(readouts, dtype=np.float64)
    X = np.asarray(X, dtype=np.float64)
    require(R.ndim == 4 and R.shape[1:] == X.shape, "readouts", R.shape,
            f"(L+1, n, d, H) with (n, d, H) = {X.shape}")
    window = None if plan is None else int(plan["window"])
    system = TruncatedSystem.of(spec, window)
    K = int(K_max if K_max is not None else max(R.shape[0] - 1, (plan or {}).get("K", 0)) + 4)
    if plan is not None and plan.get("algorithm") == "gd":
        gd = run_gd(system, X, t, K, float(plan["eta"]))
    else:
        gd = run_gd(system, X, t, K)
    interval = tuple(plan["interval"]) if plan is not None else None
    cheb = run_chebyshev(system, X, t, K, interval)
    vstar = Oracle.for_spec(spec).solve(X, t)
    norm = float(np.linalg.norm(vstar))
    out: dict[str, Any] = {"K_max": K, "reference": "construction plan" if plan else "exact system"}
    for name, it in (("gd", gd), ("chebyshev", cheb)):
        D = np.linalg.norm((R[:, None] - it[None]).reshape(R.shape[0], it.shape[0], -1),
                           axis=-1) / norm  # (L+1, K+1)
        out[name] = {"distance": D.min(axis=1).tolist(), "nearest": D.argmin(axis=1).tolist()}
    out["distance"] = np.minimum(out["gd"]["distance"], out["chebyshev"]["distance"]).tolist()
    out["final_error"] = float(np.linalg.norm(R[-1] - vstar) / norm)
    return out
