"""Measures on network probes (:mod:`ditgp.models.probes`) against the theory (docs/theory.md §8).

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
* :func:`kernel_model_test` — **the discriminating attention test** ("attention carries the
  temporal kernel").  The profile ``p(m)`` is fitted by weighted least squares (weights: the
  number of query–key pairs at gap ``m``, so every pair counts once) with four candidate
  shapes, each with a free scale ``a`` and offset ``b``: the **kernel** ``a·γ(m) + b``; a
  **free-length exponential** ``a·e^{−m/τ} + b`` (``τ`` on a log grid: a decay of any length, what
  a positional embedding alone produces); the **exact operator's** gap profile ``a·P*_t(m) + b``
  (the block norms of ``−A_t⁻¹``: what a network computing the exact score needs, docs/theory.md
  "The operator view"); **flat** ``b``; and, when a control network is given, the
  **control's own profile** ``a·p_ctrl(m) + b`` (what the positional embedding and training
  produce without temporal correlation in the data).  Each is scored by its leave-one-gap-out
  cross-validated error (a held-out error, so the exponential's extra parameter costs it).  The
  kernel is **selected** when its CV error is below every other candidate's by more than a
  relative ``TIE_RTOL`` (a tie — e.g. ``γ = δ`` against the block-diagonal exact operator of
  Γ = I data — is not a selection), and its scale is positive (attention grows with ``γ``).
  Effect size: the **kernel share** ``a·⟨w, γ⟩/⟨w, p⟩`` of the attention mass must be at
  least ``SHARE_MIN`` (at the bootstrap's lower ``alpha`` quantile).  Null hypothesis: the
  kernel is not the best-predicting shape; the p-value is ``(1 + #{resamples where it is not
  selected})/(1 + N_BOOT)`` over a bootstrap of the probe inputs (the unit of replication is
  the input, since the statement is about one network; statements about *training* need
  seeds, :mod:`ditgp.verify.reproduce`).  Pass: selected on the full data, ``p ≤
  ATTENTION_ALPHA`` and the share above.  Planted networks that fail it (tests): flat
  attention, an untrained network, networks trained on Γ = I data or with shuffled positions;
  a softmax construction (attention ∝ ``γ`` by design) passes.
* :func:`layer_iteration_distance` — per block read-out (``A_t⁻¹x`` estimate) the relative
  distance ``min_j ‖r_k - v_j‖/‖v*‖`` to the nearest GD and Chebyshev iterate ``v_j`` of the
  same input (``j ≤ K_max``), and the index ``j``.  With a construction's ``plan`` the
  reference is the construction's own iteration (window, step or interval), so the
  constructed network sits at 0 to rounding; otherwise the exact system with the theory's
  optimal coefficients.  Beside each distance: the **trivial bound** ``min(‖r_k‖,
  ‖r_k − v_K‖)/‖v*‖`` (the iterates include ``v_0 = 0`` and ``v_K ≈ v*``, so any read-out is
  at most that far from *some* iterate) and a **null**: the distance to the iterates of the
  Γ = I system (same ``Σ``, same algorithm).  A layer shows evidence of following the iteration
  only if its distance is below ``LAYER_EVIDENCE_RATIO`` times both; otherwise the report says
  "no evidence".
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ditgp.numerics.iterations import TruncatedSystem, run_chebyshev, run_gd
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import require
from ditgp.theory.spec import GPSpec

__all__ = ["N_PERM", "spearman", "profile_vs_kernel", "value_alignment",
           "layer_iteration_distance", "ATTENTION_ALPHA", "N_BOOT", "TAU_GRID_SIZE", "TIE_RTOL",
           "gap_weights", "fit_profile_models", "kernel_model_test", "LAYER_EVIDENCE_RATIO",
           "SHARE_MIN"]

#: permutations for the null of :func:`profile_vs_kernel` (p-value resolution 1/1000)
N_PERM = 999
#: level of the attention test :func:`kernel_model_test` (one-sided)
ATTENTION_ALPHA = 0.05
#: bootstrap resamples of the probe inputs in :func:`kernel_model_test` (p resolution 1/1000)
N_BOOT = 999
#: decay lengths of the free-length exponential candidate: log grid from 0.25 frames to 4H
TAU_GRID_SIZE = 48
#: relative CV-error margin below which two candidates tie (a tie is not a selection); far above
#: float64 rounding of the fits (~1e-12 relative), far below any real difference of shapes
TIE_RTOL = 1e-6
#: smallest share of the (pair-weighted) attention mass the kernel term ``a·γ`` must carry
#: (``a·⟨w, γ⟩/⟨w, p⟩``; 1 for the softmax construction).  Calibrated on nulls: untrained
#: DiTs (the tiny and paper configurations, 20 seeded initialisations each, H = 16, Laplace
#: ℓ = 4) have |share| ≤ 0.051, DiTs trained on Γ = I data ≤ 0.004; 0.1 is twice the largest
SHARE_MIN = 0.1
#: a layer "follows the iteration" only if its distance is below this fraction of both the
#: trivial bound and the Γ = I null (a chosen evidence threshold, stated in reports)
LAYER_EVIDENCE_RATIO = 0.5


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


def gap_weights(H: int) -> np.ndarray:
    """Number of ordered query–key pairs at each gap ``m``: ``H`` at 0, ``2(H − m)`` beyond."""
    m = np.arange(H)
    return np.where(m == 0, H, 2 * (H - m)).astype(np.float64)


def _fit_ab(E: np.ndarray | None, y: np.ndarray, w: np.ndarray, mask: np.ndarray,
            sse: bool = False):
    """Closed-form weighted least squares ``y ≈ a·e + b`` on the gaps in ``mask``, for every
    shape row ``e`` of ``E`` ``(S, G)`` and every profile row of ``y`` ``(N, G)``: ``(a, b)``
    each ``(S, N)`` — and with ``sse`` the in-mask weighted SSE ``(S, N)`` from the same
    sufficient statistics (no ``(S, N, G)`` array).  ``E=None`` fits a constant (``a = 0``); a
    shape collinear with the constant on ``mask`` (``det ≤ 1e-12·A₁₁A₂₂``) falls back to it."""
    wm = w * mask
    A22 = float(wm.sum())
    r2 = y @ wm  # (N,)
    if E is None:
        a, b = np.zeros((1, y.shape[0])), (r2 / A22)[None]
        A11 = A12 = np.zeros(1)
        r1 = np.zeros((1, y.shape[0]))
    else:
        A11, A12 = (E * E) @ wm, E @ wm  # (S,)
        r1 = (E * wm) @ y.T  # (S, N)
        det = A11 * A22 - A12 * A12
        ok = (det > 1e-12 * A11 * A22)[:, None]
        safe = np.where(ok[:, 0], det, 1.0)[:, None]
        a = np.where(ok, (A22 * r1 - A12[:, None] * r2[None]) / safe, 0.0)
        b = np.where(ok, (A11[:, None] * r2[None] - A12[:, None] * r1) / safe, (r2 / A22)[None])
    if not sse:
        return a, b
    syy = (y * y) @ wm  # (N,)
    out = (syy[None] - 2 * a * r1 - 2 * b * r2[None] + a * a * A11[:, None]
           + 2 * a * b * A12[:, None] + b * b * A22)
    return a, b, np.maximum(out, 0.0)


def _errors(E: np.ndarray | None, a: np.ndarray, b: np.ndarray, y: np.ndarray,
            w: np.ndarray) -> np.ndarray:
    """Weighted squared errors ``w (y − a·e − b)²`` at every gap: ``(S, N, G)``."""
    pred = b[:, :, None] if E is None else a[:, :, None] * E[:, None, :] + b[:, :, None]
    return w * (y[None] - pred) ** 2


def _cv_shapes(E: np.ndarray | None, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Leave-one-gap-out CV error of ``a·e + b`` for each shape row (``(S, N)``; weighted mean
    squared prediction error over the held-out gaps)."""
    G = y.shape[-1]
    tot = 0.0
    for g in range(G):
        mask = np.ones(G)
        mask[g] = 0.0
        a, b = _fit_ab(E, y, w, mask)
        tot = tot + _errors(E, a, b, y, w)[:, :, g]
    return tot / w.sum()


def fit_profile_models(profile, gamma, *, exact=None, control=None) -> dict[str, Any]:
    """Leave-one-gap-out CV errors of the candidate shapes for one profile or a stack
    ``(N, G)`` of profiles (:func:`kernel_model_test` describes the candidates).  Returns
    ``{"cv": {name: error(s)}, "tau": best decay length of the exponential (full fit),
    "decay_share": the share a·⟨w, e^{−m/τ}⟩/⟨w, p⟩ of the attention mass in that decay,
    "tau_max": the top of the τ grid}``."""
    y0 = np.asarray(profile, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    G = y0.shape[-1]
    require(g.shape == (G,) and G >= 4 and y0.ndim in (1, 2), "profile", y0.shape,
            f"one profile or a stack (N, G) over the {g.shape[0]} gaps of gamma (≥ 4 gaps)")
    y = y0.reshape(-1, G)
    w = gap_weights(G)
    m = np.arange(G, dtype=np.float64)
    shapes = {"kernel": g, "flat": None}
    if exact is not None:
        shapes["exact-operator"] = np.asarray(exact, dtype=np.float64)
    if control is not None:
        shapes["control"] = np.asarray(control, dtype=np.float64)
    cv = {name: _cv_shapes(None if e is None else e[None], y, w)[0] for name, e in shapes.items()}
    # free-length exponential: τ refitted inside each fold (best in-fold fit on the training
    # gaps), scored at the held-out gap
    taus = np.geomspace(0.25, 4.0 * G, TAU_GRID_SIZE)
    E = np.exp(-m[None, :] / taus[:, None])  # (T, G)
    tot = np.zeros(y.shape[0])
    rows = np.arange(y.shape[0])
    for gap in range(G):
        mask = np.ones(G)
        mask[gap] = 0.0
        a, b, fit = _fit_ab(E, y, w, mask, sse=True)  # each (T, N)
        best = np.argmin(fit, axis=0)  # (N,): the τ of the best in-fold fit
        pred = a[best, rows] * E[best, gap] + b[best, rows]
        tot = tot + w[gap] * (y[:, gap] - pred) ** 2
    cv["free-exponential"] = tot / w.sum()
    a_full, _, full = _fit_ab(E, y, w, np.ones(G), sse=True)  # (T, N)
    k = np.argmin(full, axis=0)
    tau_hat = taus[k]
    mass = y @ w
    decay_share = np.where(mass > 0, a_full[k, rows] * (E[k] @ w) / np.where(mass > 0, mass, 1),
                           0.0)  # (N,): share of the attention mass in the exponential term
    if y0.ndim == 1:  # one profile: refine τ between the grid neighbours (a smooth 1-D problem)
        from scipy.optimize import minimize_scalar

        def sse(log_tau):
            e = np.exp(-m / math.exp(log_tau))[None]
            aa, bb = _fit_ab(e, y, w, np.ones(G))
            return float(_errors(e, aa, bb, y, w).sum())

        kk = int(k[0])
        lo, hi = math.log(taus[max(kk - 1, 0)]), math.log(taus[min(kk + 1, taus.size - 1)])
        tau_hat = float(taus[kk])
        r = minimize_scalar(sse, bounds=(lo, hi), method="bounded", options={"xatol": 1e-6})
        if r.fun <= float(full[kk, 0]):
            tau_hat = math.exp(r.x)
        cv = {name: float(v[0]) for name, v in cv.items()}
        decay_share = float(decay_share[0])
    return {"cv": cv, "tau": tau_hat, "decay_share": decay_share, "tau_max": float(taus[-1])}


def _kernel_fit(y: np.ndarray, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pair-weighted LS fit ``y ≈ a·γ + b`` of one profile or a stack ``(..., G)``: ``(a, share)``
    with ``share = a·⟨w, γ⟩/⟨w, y⟩`` the share of the attention mass the kernel term carries."""
    w = gap_weights(g.size)
    Phi = np.stack([g, np.ones_like(g)], axis=1) * np.sqrt(w)[:, None]
    beta = np.linalg.lstsq(Phi, (y * np.sqrt(w)).T, rcond=None)[0]  # (2, ...)
    a = beta[0]
    mass = y @ w
    share = np.where(mass > 0, a * float(w @ g) / np.where(mass > 0, mass, 1.0), 0.0)
    return a, share


def _selected(cv: dict[str, np.ndarray], a: np.ndarray) -> np.ndarray:
    """Whether the kernel (with a positive scale ``a``: attention grows with ``γ``) beats every
    other candidate's CV error by more than ``TIE_RTOL``."""
    others = np.min(np.stack([v for k, v in cv.items() if k != "kernel"]), axis=0)
    return (cv["kernel"] < (1.0 - TIE_RTOL) * others) & (a > 0)


def kernel_model_test(profiles, gamma, *, exact=None, control=None, n_boot: int = N_BOOT,
                      alpha: float = ATTENTION_ALPHA, seed: int = 0) -> dict[str, Any]:
    """The discriminating attention test (module docstring) on per-input gap profiles
    ``(n, G)`` (one row per probe input; a single row gives no bootstrap and cannot pass).
    ``exact``: the exact operator's gap profile at the probe time; ``control``: a control
    network's mean profile on the same inputs.

    Pass: the kernel is selected (positive scale, lowest CV error), selection is stable
    (``p ≤ alpha``), and the kernel term carries at least ``SHARE_MIN`` of the attention mass at
    the bootstrap's lower ``alpha`` quantile."""
    P = np.asarray(profiles, dtype=np.float64)
    g = np.asarray(gamma, dtype=np.float64)
    require(P.ndim == 2 and P.shape[0] >= 1, "profiles", P.shape, "(n inputs, G gaps)")
    mean = P.mean(axis=0)
    fit = fit_profile_models(mean, g, exact=exact, control=control)
    a, share = _kernel_fit(mean, g)
    cv = {k: float(v) for k, v in fit["cv"].items()}
    sel = bool(_selected(fit["cv"], a))
    best = min(cv, key=cv.get)
    n = P.shape[0]
    share_lo = float("nan")
    if n >= 2:
        rng = np.random.default_rng([seed, 0xB007])
        idx = rng.integers(0, n, size=(n_boot, n))
        boot = P[idx].mean(axis=1)  # (n_boot, G) resampled mean profiles
        ba, bshare = _kernel_fit(boot, g)
        bsel = _selected(fit_profile_models(boot, g, exact=exact, control=control)["cv"], ba)
        p = float((1 + np.sum(~bsel)) / (1 + n_boot))
        share_lo = float(np.quantile(bshare, alpha))
    else:
        p = 1.0
    others = min(v for k, v in cv.items() if k != "kernel")
    flat = cv["flat"]
    passed = bool(sel and p <= alpha and share_lo >= SHARE_MIN)
    return {"selected": sel, "best": best, "p_value": p, "alpha": alpha, "passed": passed,
            "cv": cv, "cv_ratio": cv["kernel"] / others if others > 0 else
            (1.0 if cv["kernel"] == 0 else float("inf")),
            "explained": 1.0 - cv["kernel"] / flat if flat > 0 else 0.0,
            "scale": float(a), "share": float(share), "share_lower": share_lo,
            "share_min": SHARE_MIN, "tau": float(fit["tau"]),
            "decay_share": float(fit["decay_share"]), "tau_max": float(fit["tau_max"]),
            "n_inputs": int(n),
            "n_boot": int(n_boot) if n >= 2 else 0,
            "replication": "probe inputs (this network; not training seeds)",
            "candidates": sorted(cv)}


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
    # the trivial bound: the iterates contain v_0 = 0 and the last iterates v_K (≈ v* when K is
    # large), so every read-out is at most min(‖r‖, ‖r − v_K‖)/‖v*‖ from some iterate,
    # whatever it computes
    flat = R.reshape(R.shape[0], -1)
    trivial = np.linalg.norm(flat, axis=1)
    for it in (gd, cheb):
        trivial = np.minimum(trivial, np.linalg.norm(flat - it[-1].reshape(1, -1), axis=1))
    trivial = trivial / norm
    # the null: the same read-outs against the iterates of the Γ = I system (same Σ, algorithm)
    white = TruncatedSystem.of(_white_spec(spec), 0)
    null_it = [run_gd(white, X, t, K), run_chebyshev(white, X, t, K)]
    null = np.min([np.linalg.norm((R[:, None] - it[None]).reshape(R.shape[0], it.shape[0], -1),
                                  axis=-1).min(axis=1) for it in null_it], axis=0) / norm
    dist = np.asarray(out["distance"])
    ref = np.minimum(trivial, null)
    evidence = dist < LAYER_EVIDENCE_RATIO * ref
    out["trivial_bound"] = trivial.tolist()
    out["null_distance"] = null.tolist()
    out["ratio_to_reference"] = np.where(ref > 0, dist / np.where(ref > 0, ref, 1.0), 1.0).tolist()
    out["evidence"] = evidence.tolist()
    # block 0 is the encoder: it holds the input, at v_0 = 0 by construction for every network
    inner = evidence[1:-1] if evidence.size > 2 else evidence[:0]
    out["verdict"] = ("evidence: read-outs of blocks " + ", ".join(
        str(i + 1) for i in np.flatnonzero(inner)) + " sit on iterates" if inner.any() else
        "no evidence: every intermediate read-out is as far from the iterates as the trivial "
        f"bound or the Γ = I null allows (ratio ≥ {LAYER_EVIDENCE_RATIO})")
    return out


def _white_spec(spec: GPSpec) -> GPSpec:
    """``spec`` with ``Γ = I`` (a Laplace kernel whose ``γ(m ≥ 1)`` underflows to 0)."""
    from dataclasses import replace

    from ditgp.theory.kernels import kernel

    return replace(spec, kernel=kernel("laplace", ell=1e-3))
