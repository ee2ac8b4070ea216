"""The operator probe: a score network's Jacobian against the exact operator ``−A_t⁻¹``
(docs/theory.md, "The operator view").

The exact score is linear, ``s(X, t) = −A_t⁻¹ vec X``, so the most direct, mechanism-agnostic
comparison of *any* score network with the theory is its Jacobian ``J(X, t) = ∂ŝ/∂X``
against ``J* = −A_t⁻¹``: a ``dH × dH`` matrix of ``d × d`` blocks ``B_ij`` (query frame ``i``,
key frame ``j``).  :func:`operator_probe` measures, per ``t``, at ``n_base`` **base points**
``X ~ N(0, A_t)`` (typical inputs at that time; seeded):

* ``rel_error`` — ``‖J(X) − J*‖_F/‖J*‖_F``, mean over base points, and ``rel_error_spread``
  (their standard deviation);
* ``gap_profile`` — the mean Frobenius norm of the blocks ``B_ij`` with ``|i − j| = m``
  (temporal reach), beside ``exact_gap_profile`` of ``J*`` and ``independent_gap_profile``
  of the **Γ = I model** (the independent-frames score, whose Jacobian is block diagonal: 0
  beyond gap 0);
* ``temporal_explained`` — ``τ = 1 − ‖J_off − J*_off‖_F/‖J*_off‖_F`` over the off-frame blocks
  (``i ≠ j``): 1 for the exact operator, **0 for the Γ = I model** (its ``J_off = 0``), < 0
  for coupling worse than none; mean, spread and a one-sided ``1 − ALPHA`` lower bound
  (Student t over the base points — the unit of replication is the input, since the claim is
  about this network);
* ``same_frame_cos`` — the Frobenius cosine of the same-frame blocks ``(B_ii)_i`` with the
  exact ones (the spatial part; for ``t → 0`` the exact block is ``α⁻²(Γ⁻¹)_ii Σ⁻¹``), with a
  **Haar-rotation null**: the cosine with ``(Q B*_ii Qᵀ)_i`` for Haar-random orthogonal ``Q``
  keeps the exact blocks' spectrum (so the trivial agreement of any positive-definite block
  with its identity part) and destroys only their eigenvectors; ``p = (1 + #{null ≥ obs})/
  (1 + N_ROT)`` (never 0);
* ``nonlinearity`` — the spread of ``J`` over base points, ``mean_i ‖J(X_i) − J̄‖/‖J̄‖``, and
  its change with the input's size, ``‖J(cX) − J(X)‖/‖J(X)‖`` for ``c`` in :data:`SCALES`
  (towards the mean input ``X = 0`` and out to the tails).  A linear network (the exact score, a
  fixed-``t`` or gated construction) has 0 for both.

``J`` is computed exactly with ``torch.func`` (:func:`ditgp.models.probes.score_jacobian`)
when ``dH ≤ EXACT_MAX_DH``; beyond, by **frame sampling**: the rows of ``S`` query frames
drawn without replacement (reverse mode), which estimate every quantity above without bias in
the sums, with standard errors from the between-frame spread (finite-population corrected);
``method`` says which was used.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ditgp.numerics.jsonable import jsonable
from ditgp.numerics.oracle import Oracle
from ditgp.theory.choices import PROBE_METHODS
from ditgp.theory.errors import require
from ditgp.theory.spec import GPSpec

__all__ = ["ALPHA", "N_BASE", "N_ROT", "SCALES", "EXACT_MAX_DH", "SKETCH_FRAMES",
           "exact_jacobian", "independent_jacobian", "block_norms", "gap_profile_of",
           "same_frame_cosine", "rotation_null_p", "temporal_explained", "operator_probe",
           "probe_times", "t_quantile", "base_points", "network_times", "write_probe",
           "probe_markdown", "plot_gap_profiles", "one_sided_lower"]

#: one-sided level of the lower bound of ``temporal_explained`` and of the spatial null test
ALPHA = 0.01
#: base points per ``t`` (the unit of replication of the per-network statements)
N_BASE = 8
#: Haar rotations of the spatial null (p-value resolution ``1/(N_ROT + 1)``)
N_ROT = 999
#: input scales ``c`` of the nonlinearity probe, ``J(cX)`` against ``J(X)`` (not ``c = 0``: a
#: ReLU network's derivative at exactly 0 is the one-sided convention of its kinks)
SCALES = (0.25, 3.0)
#: largest ``dH`` probed by the full Jacobian (``dH`` reverse passes per base point)
EXACT_MAX_DH = 2048
#: query frames sampled beyond :data:`EXACT_MAX_DH`
SKETCH_FRAMES = 16


def t_quantile(p: float, dof: int) -> float:
    """Student-t quantile (scipy)."""
    from scipy.stats import t as student

    return float(student.ppf(p, dof))


def _as_blocks(M: np.ndarray, d: int, H: int) -> np.ndarray:
    """A ``dH × dH`` matrix in vec (column-stacking) order as ``(d, H, d, H)``."""
    return M.reshape(H, d, H, d).transpose(1, 0, 3, 2)


def exact_jacobian(spec: GPSpec, t: float) -> np.ndarray:
    """``J* = −A_t⁻¹`` as ``(d, H, d, H)``: the oracle's score of the ``dH`` unit inputs."""
    d, H = spec.d, spec.H
    E = np.eye(d * H).reshape(d * H, H, d).transpose(0, 2, 1)  # unit (b, j) inputs, vec order
    cols = Oracle.for_spec(spec).score(E, float(t))  # (dH, d, H): column (b, j) of J*
    return cols.reshape(H, d, d, H).transpose(2, 3, 1, 0)


def independent_jacobian(spec: GPSpec, t: float) -> np.ndarray:
    """Jacobian of the Γ = I model (independent frames), ``−(α²Σ + σ²I)⁻¹`` on the diagonal
    blocks: ``(d, H, d, H)``."""
    d, H = spec.d, spec.H
    a2, s2 = float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))
    P = -np.linalg.inv(a2 * spec.Sigma + s2 * np.eye(d))
    J = np.zeros((d, H, d, H))
    for i in range(H):
        J[:, i, :, i] = P
    return J


def block_norms(J: np.ndarray) -> np.ndarray:
    """Frobenius norms of the ``d × d`` blocks: ``(..., d, H, d, H) -> (..., H, H)``."""
    return np.sqrt(np.einsum("...aibj,...aibj->...ij", J, J))


def gap_profile_of(norms: np.ndarray) -> np.ndarray:
    """Mean block norm per gap ``m = |i − j|``: ``(..., H, H) -> (..., H)``."""
    H = norms.shape[-1]
    G = np.abs(np.subtract.outer(np.arange(H), np.arange(H))).ravel()
    count = np.bincount(G, minlength=H).astype(np.float64)
    flat = norms.reshape(-1, H * H)
    out = np.stack([np.bincount(G, weights=row, minlength=H) / count for row in flat])
    return out.reshape(*norms.shape[:-2], H)


def _diag_blocks(J: np.ndarray) -> np.ndarray:
    """Same-frame blocks ``(H, d, d)`` of one Jacobian ``(d, H, d, H)``."""
    idx = np.arange(J.shape[-1])
    return J[:, idx, :, idx]  # advanced indices first: (H, d_a, d_b)


def same_frame_cosine(J: np.ndarray, Jstar: np.ndarray) -> float:
    """Frobenius cosine of the stacked same-frame blocks of ``J`` and ``J*`` (``(d,H,d,H)``)."""
    a, b = _diag_blocks(J), _diag_blocks(Jstar)
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return 0.0 if den == 0 else float(np.sum(a * b) / den)


def _haar(d: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` Haar-random orthogonal ``d × d`` matrices (QR of Gaussians, sign-fixed)."""
    G = rng.standard_normal((n, d, d))
    Q, R = np.linalg.qr(G)
    return Q * np.sign(np.diagonal(R, axis1=1, axis2=2))[:, None, :]


def rotation_null_p(J: np.ndarray, Jstar: np.ndarray, n: int = N_ROT, seed: int = 0
                    ) -> dict[str, float]:
    """The spatial test: ``cos`` of the same-frame blocks with the exact ones against the
    Haar-rotation null ``cos(B, Q B* Qᵀ)`` (module docstring).  ``null_spread`` (max − min of
    the null) is 0 when the exact blocks are multiples of ``I`` (isotropic ``Σ``): then every
    rotation keeps them and the test cannot decide."""
    a, b = _diag_blocks(J), _diag_blocks(Jstar)  # (H, d, d)
    obs = same_frame_cosine(J, Jstar)
    Q = _haar(b.shape[-1], n, np.random.default_rng([seed, 0x51A7]))
    rot = np.einsum("nab,hbc,ndc->nhad", Q, b, Q)  # Q B*_h Qᵀ for every frame and rotation
    na = float(np.linalg.norm(a))
    den = na * np.linalg.norm(rot.reshape(n, -1), axis=1)
    null = np.where(den > 0, np.einsum("had,nhad->n", a, rot) / np.where(den > 0, den, 1), 0.0)
    p = float((1 + np.sum(null >= obs - 1e-12)) / (1 + n))
    return {"cos": obs, "p_value": p, "n_rot": int(n), "null_median": float(np.median(null)),
            "null_q99": float(np.quantile(null, 0.99)),
            "null_spread": float(null.max() - null.min())}


def temporal_explained(J: np.ndarray, Jstar: np.ndarray) -> np.ndarray:
    """``τ = 1 − ‖J_off − J*_off‖/‖J*_off‖`` per base point (``J`` ``(n, d, H, d, H)``); the
    off-frame blocks are ``i ≠ j``.  ``nan`` when ``J*`` has no off-frame part (Γ = I)."""
    H = Jstar.shape[-1]
    off = ~np.eye(H, dtype=bool)[None, :, None, :]  # (1, H, 1, H) over (a, i, b, j)
    ref = float(np.linalg.norm(np.where(off, Jstar, 0.0)))
    if ref == 0:
        return np.full(J.shape[0], np.nan)
    diff = np.where(off[None], J - Jstar[None], 0.0).reshape(J.shape[0], -1)
    return 1.0 - np.linalg.norm(diff, axis=1) / ref


def probe_times(spec: GPSpec, ts=None) -> list[float]:
    """The default times of the probe: ``t0``, ``0.01``, ``0.1``, ``1`` (those inside
    ``[t0, T]``), each checked against the spec's schedule."""
    if ts is None:
        t0, T = spec.schedule.t0, spec.schedule.T
        ts = [t0] + [t for t in (0.01, 0.1, 1.0) if t0 * (1 + 1e-9) < t <= T]
    out = []
    for t in ts:
        spec.schedule.check_time(float(t), "--t")
        out.append(float(t))
    return out


def base_points(spec: GPSpec, t: float, n: int, seed: int, i: int) -> np.ndarray:
    """The ``n`` base points ``X ~ N(0, A_t)`` of the ``i``-th time of a probe with ``seed``
    (so that anyone can recompute the probe, e.g. by finite differences)."""
    return Oracle.for_spec(spec).sample(n, seed=np.random.default_rng([seed, 7919, i]), t=t)


def one_sided_lower(x: np.ndarray, alpha: float = ALPHA) -> float:
    """Student-t one-sided ``1 − alpha`` lower confidence bound of the mean of ``x`` (finite
    entries; NaN with fewer than two)."""
    x = x[np.isfinite(x)]
    if x.size < 2:
        return float("nan")
    return float(x.mean() - t_quantile(1 - alpha, x.size - 1) * x.std(ddof=1) / math.sqrt(x.size))


def _exact_probe(f, spec: GPSpec, t: float, X: np.ndarray, scales, seed: int) -> dict[str, Any]:
    from ditgp.models.probes import score_jacobian

    J = score_jacobian(f, X, t)  # (n, d, H, d, H)
    Js = exact_jacobian(spec, t)
    Ji = independent_jacobian(spec, t)
    ref = float(np.linalg.norm(Js))
    rel = np.linalg.norm((J - Js[None]).reshape(J.shape[0], -1), axis=1) / ref
    prof = gap_profile_of(block_norms(J))  # (n, H)
    Jbar = J.mean(axis=0)
    tau = temporal_explained(J, Js)
    cos_each = np.array([same_frame_cosine(j, Js) for j in J])
    nbar = float(np.linalg.norm(Jbar))
    spread = np.linalg.norm((J - Jbar[None]).reshape(J.shape[0], -1), axis=1) / nbar
    change = {}
    nJ = np.linalg.norm(J.reshape(J.shape[0], -1), axis=1)
    for c in scales:
        Jc = score_jacobian(f, c * X, t)
        change[f"{c:g}"] = float(np.mean(np.linalg.norm((Jc - J).reshape(J.shape[0], -1), axis=1)
                                         / nJ))
    return {
        "method": "exact (reverse-mode Jacobian, torch.func)",
        "rel_error": float(rel.mean()), "rel_error_spread": float(rel.std(ddof=1)),
        "rel_error_each": rel.tolist(),
        "gap_profile": prof.mean(axis=0).tolist(), "gap_profile_spread": prof.std(axis=0, ddof=1).tolist(),
        "exact_gap_profile": gap_profile_of(block_norms(Js)).tolist(),
        "independent_gap_profile": gap_profile_of(block_norms(Ji)).tolist(),
        "temporal_explained": _nan_mean(tau), "temporal_explained_spread": _nan_std(tau),
        "temporal_explained_lower": one_sided_lower(tau),
        "same_frame_cos": float(cos_each.mean()), "same_frame_cos_spread": float(cos_each.std(ddof=1)),
        "spatial_null": rotation_null_p(Jbar, Js, seed=seed),
        "nonlinearity": {"spread": float(spread.mean()), "scale_change": change},
    }


def _nan_mean(x: np.ndarray) -> float:
    return float(np.mean(x)) if np.all(np.isfinite(x)) else float("nan")


def _nan_std(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1)) if np.all(np.isfinite(x)) and x.size > 1 else float("nan")


def _sketch_probe(f, spec: GPSpec, t: float, X: np.ndarray, frames_n: int, seed: int
                  ) -> dict[str, Any]:
    """Frame-sampled estimates (module docstring): the rows of ``S`` random query frames."""
    from ditgp.models.probes import score_jacobian_rows

    d, H = spec.d, spec.H
    S = min(frames_n, H)
    frames = np.sort(np.random.default_rng([seed, 0xF4A3]).choice(H, size=S, replace=False))
    C = score_jacobian_rows(f, X, t, frames)  # (n, d, S, d, H)
    # exact rows: J* = −A_t⁻¹ is symmetric, so its rows are the oracle's scores of unit inputs
    E = np.eye(d * H).reshape(d * H, H, d).transpose(0, 2, 1)
    E = E.reshape(H, d, d, H)[frames].reshape(S * d, d, H)  # unit inputs (a, frames[s])
    Cs = Oracle.for_spec(spec).score(E, float(t)).reshape(S, d, d, H).transpose(1, 0, 2, 3)
    fpc = math.sqrt(max(0.0, (H - S) / max(H - 1, 1)))  # finite-population correction
    # per sampled frame: squared error and squared exact norm of its row block
    err2 = np.sum((C - Cs[None]) ** 2, axis=(1, 3, 4))  # (n, S)
    ref2 = np.sum(Cs ** 2, axis=(0, 2, 3))  # (S,)
    tot_ref = H * ref2.mean()
    rel = np.sqrt(H * err2.mean(axis=1) / tot_ref)  # (n,)
    se_rel = (H * err2.std(axis=1, ddof=1) / math.sqrt(S) * fpc) / (2 * rel * tot_ref) \
        if S > 1 else np.full_like(rel, np.nan)
    norms = np.sqrt(np.einsum("nasbj,nasbj->nsj", C, C))  # (n, S, H) block norms, query frames
    norms_s = np.sqrt(np.einsum("asbj,asbj->sj", Cs, Cs))
    gaps = np.abs(frames[:, None] - np.arange(H)[None, :])  # (S, H)
    cnt = np.bincount(gaps.ravel(), minlength=H).astype(np.float64)
    with np.errstate(invalid="ignore"):
        prof = np.stack([np.bincount(gaps.ravel(), weights=nm.ravel(), minlength=H) / cnt
                         for nm in norms])
        prof_s = np.bincount(gaps.ravel(), weights=norms_s.ravel(), minlength=H) / cnt
    diag = np.stack([C[:, :, s, :, i] for s, i in enumerate(frames)], axis=1)  # (n, S, d, d)
    diag_s = np.stack([Cs[:, s, :, i] for s, i in enumerate(frames)])  # (S, d, d)
    cos_each = np.einsum("nsab,sab->n", diag, diag_s) / (
        np.linalg.norm(diag.reshape(diag.shape[0], -1), axis=1) * np.linalg.norm(diag_s))
    return {
        "method": f"frame-sampled ({S} of {H} query frames, reverse mode); SEs from the "
                  "between-frame spread",
        "frames": frames.tolist(),
        "rel_error": float(rel.mean()), "rel_error_spread": float(rel.std(ddof=1)),
        "rel_error_se": float(np.nanmean(se_rel)), "rel_error_each": rel.tolist(),
        "gap_profile": np.nan_to_num(prof.mean(axis=0), nan=0.0).tolist(),
        "gap_profile_spread": np.nan_to_num(prof.std(axis=0, ddof=1), nan=0.0).tolist(),
        "exact_gap_profile": np.nan_to_num(prof_s, nan=0.0).tolist(),
        "gap_counts": cnt.tolist(),
        "same_frame_cos": float(cos_each.mean()), "same_frame_cos_spread": float(cos_each.std(ddof=1)),
    }


def operator_probe(net: Any, spec: GPSpec | None = None, ts=None, *, n_base: int = N_BASE,
                   seed: int = 0, scales=SCALES, method: str = "auto",
                   frames: int = SKETCH_FRAMES) -> dict[str, Any]:
    """The operator probe of ``net`` (anything :func:`ditgp.models.probes.score_callable`
    accepts, or ``"exact"`` with ``spec``) at times ``ts`` (default :func:`probe_times`).

    Returns ``{"spec", "t": [...], "n_base", "seed", "jacobian": {key: [per t]}, "per_t":
    [...]}``: ``jacobian`` holds ``rel_error``, ``rel_error_spread``, ``gap_profile``,
    ``exact_gap_profile``, ``same_frame_cos`` (and the rest of the module docstring) as lists
    over ``t``; ``per_t`` the full records.  ``method``: ``auto`` (exact up to
    :data:`EXACT_MAX_DH`), ``exact`` or ``sketch``."""
    from ditgp.models.probes import score_callable

    f, spec_net = score_callable(net, spec)
    spec = spec or spec_net
    require(isinstance(spec, GPSpec), "spec", spec, "the GP spec the network serves")
    require(isinstance(n_base, int) and n_base >= 2, "n_base", n_base, "an integer ≥ 2")
    require(method in PROBE_METHODS, "method", method, "auto, exact or sketch")
    times = probe_times(spec, ts)
    dH = spec.d * spec.H
    use = ("exact" if dH <= EXACT_MAX_DH else "sketch") if method == "auto" else method
    per_t = []
    for i, t in enumerate(times):
        X = base_points(spec, t, n_base, seed, i)
        rec = (_exact_probe(f, spec, t, X, scales, seed) if use == "exact"
               else _sketch_probe(f, spec, t, X, frames, seed))
        rec["t"] = t
        per_t.append(rec)
    keys = ("rel_error", "rel_error_spread", "gap_profile", "gap_profile_spread",
            "exact_gap_profile", "same_frame_cos", "same_frame_cos_spread",
            "temporal_explained", "temporal_explained_lower")
    jac = {"t": times, **{k: [r.get(k) for r in per_t] for k in keys}}
    return {"spec": spec.to_dict(), "spec_text": spec.describe(), "t": times, "n_base": n_base,
            "seed": seed, "method": use, "alpha": ALPHA, "jacobian": jac, "per_t": per_t}


def network_times(manifest: dict[str, Any] | None) -> tuple[float, ...] | None:
    """The only times a fixed-``t`` construction serves (its ``t``), else ``None`` (a gated
    construction or a trained network serves ``[t0, T]``)."""
    con = (manifest or {}).get("construction") or {}
    if con.get("time_conditioning") == "fixed" and con.get("t") is not None:
        return (float(con["t"]),)
    return None


# -- report -------------------------------------------------------------------------------------


def _fmt(x: Any, digits: int = 3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    return f"{x:.{digits}g}"


def probe_markdown(doc: dict[str, Any], name: str = "network") -> list[str]:
    """Markdown lines of one probe: a table per ``t`` and the gap profiles beside the exact."""
    j = doc["jacobian"]
    lines = [f"Operator probe of the {name} ({doc['method']} Jacobian; {doc['n_base']} base points "
             f"X ~ N(0, A_t) per t, seed {doc['seed']}): ‖J − J*‖/‖J*‖ (mean ± spread over base "
             "points), block norms at gaps 1 and 2 against the exact operator −A_t⁻¹, the "
             "temporal part explained beyond the Γ = I model (τ; 0 for independent frames, with "
             f"its one-sided {1 - doc['alpha']:.0%} lower bound over base points) and the "
             "same-frame (spatial) cosine with its Haar-rotation p-value.", "",
             "| t | rel. error | gap 0 (exact) | gap 1 (exact) | gap 2 (exact) | τ temporal "
             "(lower) | same-frame cos (p) |", "|---|---|---|---|---|---|---|"]
    for i, t in enumerate(j["t"]):
        g, e = j["gap_profile"][i], j["exact_gap_profile"][i]
        pt = doc["per_t"][i]
        sp = pt.get("spatial_null", {})
        gaps = " | ".join(f"{_fmt(g[m])} ({_fmt(e[m])})" if m < len(g) else "—" for m in range(3))
        lines.append(f"| {t:.3g} | {_fmt(j['rel_error'][i])} ± {_fmt(j['rel_error_spread'][i], 2)} | "
                     f"{gaps} | {_fmt(j['temporal_explained'][i])} "
                     f"({_fmt(j['temporal_explained_lower'][i])}) | "
                     f"{_fmt(j['same_frame_cos'][i], 4)} ({_fmt(sp.get('p_value'))}) |")
    nl = [(r["t"], r.get("nonlinearity")) for r in doc["per_t"] if r.get("nonlinearity")]
    if nl:
        lines += ["", "Nonlinearity (0 for a linear network): spread of J over base points; "
                  "change ‖J(cX) − J(X)‖/‖J(X)‖ with the input's scale c.", "",
                  "| t | spread | " + " | ".join(f"c = {c}" for c in nl[0][1]["scale_change"]) + " |",
                  "|---|---|" + "---|" * len(nl[0][1]["scale_change"])]
        for t, v in nl:
            lines.append(f"| {t:.3g} | {_fmt(v['spread'])} | "
                         + " | ".join(_fmt(x) for x in v["scale_change"].values()) + " |")
    return lines


def plot_gap_profiles(path, probes: dict[str, dict[str, Any]]) -> str:
    """One panel per ``t``: the Jacobian's mean block norm vs gap of each probed network
    (``probes``: name → :func:`operator_probe` document, same times) beside the exact operator
    and the Γ = I model (0 beyond gap 0, drawn at gap 0 only)."""
    from pathlib import Path

    from ditgp.models.plotting import pyplot, save_png

    plt = pyplot()
    first = next(iter(probes.values()))
    ts = first["t"]
    fig, axes = plt.subplots(1, len(ts), figsize=(3.6 * len(ts), 3.4), squeeze=False)
    for i, (ax, t) in enumerate(zip(axes[0], ts, strict=True)):
        ex = np.asarray(first["jacobian"]["exact_gap_profile"][i])
        m = np.arange(ex.size)
        ax.semilogy(m, np.maximum(ex, 1e-12), "k-", lw=2, label="exact −A_t⁻¹")
        for (name, doc), mk in zip(probes.items(), ("o--", "s:", "^-.", "x--"), strict=False):
            g = np.asarray(doc["jacobian"]["gap_profile"][i])
            sd = np.asarray(doc["jacobian"]["gap_profile_spread"][i])
            ax.errorbar(m, np.maximum(g, 1e-12), yerr=sd, fmt=mk, ms=3, capsize=2, label=name)
        ind = first["per_t"][i].get("independent_gap_profile")
        if ind is not None:
            ax.semilogy([0], [ind[0]], "r*", ms=9, label="Γ = I model (0 beyond gap 0)")
        ax.set_title(f"t = {t:.3g}")
        ax.set_xlabel("gap |i − j| (frames)")
        if i == 0:
            ax.set_ylabel("mean Frobenius norm of the d×d block of J")
        ax.set_ylim(bottom=max(1e-6, 1e-4 * float(ex.max())))
    axes[0][0].legend(fontsize=7)
    fig.suptitle("Jacobian ∂ŝ/∂X by gap: network vs exact operator (bars: spread over base points)",
                 fontsize=9)
    out = Path(path)
    save_png(fig, out, dpi=100, stamp=True)
    return out.name


def write_probe(out, doc: dict[str, Any], name: str = "network") -> dict[str, Any]:
    """``probe.json``, ``probe.md`` and ``gap_profile.png`` into the folder ``out``."""
    import json
    from pathlib import Path

    from .report import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    png = plot_gap_profiles(out / "gap_profile.png", {name: doc})
    lines = [f"# Operator probe — {doc['spec_text']}", ""] + probe_markdown(doc, name) + \
        ["", f"![gap profiles]({png})", ""]
    atomic_write_text(out / "probe.md", "\n".join(lines))
    atomic_write_text(out / "probe.json", json.dumps(jsonable(doc, nonfinite="string"), indent=2) + "\n")
    return doc

