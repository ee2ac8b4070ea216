"""Distribution metrics of generated sequences against the truth (docs/theory.md §2).

Samples ``X`` ``(n, d, H)`` are compared with the Gaussian they should follow at the matching
time: the data law ``N(0, Γ⊗Σ)`` (``t=None``) or the forward marginal ``N(0, A_t)`` (a sampler
stopped at ``t0`` outputs draws of ``A_{t0} = α²Γ⊗Σ + σ²I``).  Both are stationary in time:
``Cov(x_{h+m}, x_h) = C(m)`` with ``C(m) = α²γ(m)Σ + σ²δ_{m0}I`` (``α=1, σ=0`` for the data
law).

* :func:`autocorrelation` — per-lag ``ρ̂(m) = tr Ĉ(m) / tr Ĉ(0)`` (a ratio of means over the
  ``n`` independent sequences) against ``ρ(m) = tr C(m)/tr C(0)`` (``= γ(m)`` for the data
  law).  Standard error by the delta method on the ratio, ``SE² = Var(N_i - ρ̂D_i)/(n D̄²)``;
  the ratio's bias is ``O(1/n)``, a factor ``√n`` below the SE, and is neglected (stated).
* :func:`spatial_covariance` — ``Σ̂ = mean_{i,h} x_h x_hᵀ`` against ``C(0)``, relative
  Frobenius error, with its **noise floor** ``√(E‖Σ̂ - C(0)‖²_F)/‖C(0)‖_F`` estimated from the
  per-sequence spread (the expected error of exact samples: the finite-sample bias of the
  norm).
* :func:`gaussian_fit` — KL(``N(0,Ĉ)`` ‖ truth) and W2 between the fitted Gaussian and the
  truth.  Fits: ``full`` (``Ĉ = XᵀX/n``, needs ``n > dH``; the KL bias under exact sampling
  is known exactly, ``E KL = -½[Σ_{i=1}^{p} ψ((n-i+1)/2) + p log(2/n)]``), ``stationary``
  (block-Toeplitz from the unbiased, symmetrised lag covariances ``Ĉ(m)``: ``H d²``
  parameters, the exact structure of both targets) and ``kronecker`` (``Γ̂⊗Σ̂`` from ``ρ̂``
  and ``Σ̂``: the structure of the data law, misspecified at ``t > 0`` by the ``σ²I`` term).
  Every fit reports the metric's **null distribution** (``null_reps`` data sets of the same
  size drawn exactly from the truth): its mean is the finite-sample bias, its standard
  deviation the standard error, and ``excess = metric - bias`` is what the samples add.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ditgp.numerics.oracle import Oracle
from ditgp.theory.errors import SpecError, require
from ditgp.theory.spec import GPSpec

__all__ = ["FITS", "NULL_REPS", "FULL_FIT_RATIO", "lag_covariances", "target_lag_covariances",
           "autocorrelation", "spatial_covariance", "fitted_covariance", "target_covariance",
           "gaussian_kl", "gaussian_w2", "gaussian_fit", "full_kl_bias", "distribution_report",
           "write_sample_report"]

FITS = ("auto", "full", "stationary", "kronecker")
#: exact data sets drawn for each null distribution (bias and SE of a metric)
NULL_REPS = 20
#: ``auto`` uses the full covariance when ``n ≥ FULL_FIT_RATIO · dH`` (its KL bias ≈ p²/(4n)
#: is then ≤ dH/40), else the stationary fit
FULL_FIT_RATIO = 10


def _check_samples(X, spec: GPSpec) -> np.ndarray:
    X = np.asarray(X)
    require(X.ndim == 3 and X.shape[1:] == (spec.d, spec.H) and X.shape[0] >= 2, "samples",
            tuple(X.shape), f"an array of shape (n ≥ 2, d, H) = (n, {spec.d}, {spec.H})")
    X = X.astype(np.float64)
    require(bool(np.all(np.isfinite(X))), "samples", "non-finite values", "finite values")
    return X


def _coeffs(spec: GPSpec, t: float | None) -> tuple[float, float]:
    if t is None:
        return 1.0, 0.0
    return float(spec.schedule.alpha2(t)), float(spec.schedule.sigma2(t))


def target_lag_covariances(spec: GPSpec, t: float | None = None) -> np.ndarray:
    """``C(m)`` for ``m = 0..H-1`` as ``(H, d, d)``: ``α²γ(m)Σ + σ²δ_{m0}I``."""
    a2, s2 = _coeffs(spec, t)
    gamma = np.asarray(spec.Gamma[:, 0])
    C = a2 * gamma[:, None, None] * np.asarray(spec.Sigma)[None]
    C[0] += s2 * np.eye(spec.d)
    return C


def _per_sequence_lags(X: np.ndarray, max_lag: int) -> np.ndarray:
    """``(n, max_lag+1, d, d)``: per sequence, ``mean_h x_{h+m} x_hᵀ`` (unbiased in ``h``)."""
    n, d, H = X.shape
    out = np.empty((n, max_lag + 1, d, d))
    for m in range(max_lag + 1):
        out[:, m] = np.einsum("nih,njh->nij", X[:, :, m:], X[:, :, :H - m]) / (H - m)
    return out


def lag_covariances(X: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Unbiased lag covariances ``Ĉ(m) = mean_{i,h} x_{h+m} x_hᵀ`` as ``(max_lag+1, d, d)``."""
    X = np.asarray(X, dtype=np.float64)
    L = X.shape[2] - 1 if max_lag is None else max_lag
    return _per_sequence_lags(X, L).mean(axis=0)


def autocorrelation(X, spec: GPSpec, t: float | None = None, max_lag: int | None = None
                    ) -> dict[str, Any]:
    """Per-lag autocorrelation ``ρ̂(m)`` with standard errors against ``ρ(m)`` (see module)."""
    X = _check_samples(X, spec)
    n = X.shape[0]
    L = spec.H - 1 if max_lag is None else min(int(max_lag), spec.H - 1)
    per = _per_sequence_lags(X, L)
    Nm = np.trace(per, axis1=2, axis2=3)  # (n, L+1): tr of per-sequence lag covariance
    D = Nm[:, 0]
    Dbar = float(D.mean())
    rho = Nm.mean(axis=0) / Dbar
    resid = Nm - rho[None, :] * D[:, None]
    se = np.sqrt(resid.var(axis=0, ddof=1) / n) / Dbar
    C = target_lag_covariances(spec, t)[:L + 1]
    target = np.trace(C, axis1=1, axis2=2) / np.trace(C[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, (rho - target) / se, 0.0)
    return {"lags": list(range(L + 1)), "estimate": rho.tolist(), "se": se.tolist(),
            "target": target.tolist(), "z": z.tolist(),
            "max_abs_error": float(np.max(np.abs(rho - target)[1:])) if L else 0.0,
            "max_abs_z": float(np.max(np.abs(z[1:]))) if L else 0.0, "n": n,
            "note": "ratio-of-means estimator; SE by the delta method; bias O(1/n) neglected"}


def spatial_covariance(X, spec: GPSpec, t: float | None = None) -> dict[str, Any]:
    """``Σ̂`` vs ``C(0)``: relative Frobenius error and its noise floor (see module)."""
    X = _check_samples(X, spec)
    n = X.shape[0]
    S_i = np.einsum("nih,njh->nij", X, X) / spec.H  # (n, d, d)
    S = S_i.mean(axis=0)
    C0 = target_lag_covariances(spec, t)[0]
    norm = float(np.linalg.norm(C0))
    rel = float(np.linalg.norm(S - C0)) / norm
    floor = float(np.sqrt(S_i.var(axis=0, ddof=1).sum() / n)) / norm
    return {"estimate": S.tolist(), "target": C0.tolist(), "rel_error": rel,
            "noise_floor": floor, "excess": rel - floor, "n": n}


# -- Gaussian fits -------------------------------------------------------------------------


def target_covariance(spec: GPSpec, t: float | None = None) -> np.ndarray:
    """Dense truth ``(dH, dH)`` in ``vec`` order: ``Γ⊗Σ`` or ``A_t``."""
    a2, s2 = _coeffs(spec, t)
    return a2 * np.kron(np.asarray(spec.Gamma), np.asarray(spec.Sigma)) + s2 * np.eye(spec.d * spec.H)


def _block_toeplitz(C: np.ndarray) -> np.ndarray:
    """``(H, d, d)`` lag blocks → ``(dH, dH)``: block ``(h, j)`` = ``C(h-j)`` (``C(-m) = C(m)ᵀ``)."""
    H, d, _ = C.shape
    out = np.empty((H * d, H * d))
    for h in range(H):
        for j in range(H):
            blk = C[h - j] if h >= j else C[j - h].T
            out[h * d:(h + 1) * d, j * d:(j + 1) * d] = blk
    return out


def _vec(X: np.ndarray) -> np.ndarray:
    return np.swapaxes(X, 1, 2).reshape(X.shape[0], -1)  # (n, dH), index h·d + i


def fitted_covariance(X, spec: GPSpec, fit: str = "auto") -> tuple[np.ndarray, str]:
    """``(Ĉ (dH, dH), fit used)``; a clear error if the fit is not positive definite."""
    X = _check_samples(X, spec)
    require(fit in FITS, "fit", fit, "one of " + ", ".join(FITS))
    n, p = X.shape[0], spec.d * spec.H
    if fit == "auto":
        fit = "full" if n >= FULL_FIT_RATIO * p else "stationary"
    if fit == "full":
        require(n > p, "fit", "full", f"n > dH = {p} samples for a full covariance (have {n}); "
                                      "use the stationary or kronecker fit")
        V = _vec(X)
        C = V.T @ V / n
    elif fit == "stationary":
        lags = lag_covariances(X)
        lags = 0.5 * (lags + np.swapaxes(lags, 1, 2))  # time-reversible truth: C(m) = C(m)ᵀ
        C = _block_toeplitz(lags)
    else:
        lags = lag_covariances(X)
        S = lags[0]
        rho = np.trace(lags, axis1=1, axis2=2) / np.trace(S)
        idx = np.abs(np.subtract.outer(np.arange(spec.H), np.arange(spec.H)))
        C = np.kron(rho[idx], 0.5 * (S + S.T))
    C = 0.5 * (C + C.T)
    lo = float(np.linalg.eigvalsh(C)[0])
    if lo <= 0:
        raise SpecError("samples", f"n={n}", f"enough samples for a positive definite {fit} fit "
                                             f"(smallest eigenvalue {lo:.3g}); draw more")
    return C, fit


def gaussian_kl(C_fit: np.ndarray, C_true: np.ndarray) -> float:
    """``KL(N(0, C_fit) ‖ N(0, C_true)) = ½[tr(C_true⁻¹C_fit) - p - log det(C_true⁻¹C_fit)]``."""
    L = np.linalg.cholesky(C_true)
    Linv = np.linalg.solve(L, np.eye(L.shape[0]))
    M = Linv @ C_fit @ Linv.T
    ev = np.linalg.eigvalsh(0.5 * (M + M.T))
    return float(0.5 * np.sum(ev - 1.0 - np.log(ev)))


def _sqrtm_psd(C: np.ndarray) -> np.ndarray:
    ev, U = np.linalg.eigh(0.5 * (C + C.T))
    return (U * np.sqrt(np.maximum(ev, 0.0))) @ U.T


def gaussian_w2(C1: np.ndarray, C2: np.ndarray) -> float:
    """``W2(N(0,C1), N(0,C2))``: ``W2² = tr C1 + tr C2 - 2 tr (C2^{½} C1 C2^{½})^{½}``."""
    R = _sqrtm_psd(C2)
    ev = np.linalg.eigvalsh(R @ C1 @ R)
    w2sq = np.trace(C1) + np.trace(C2) - 2 * np.sum(np.sqrt(np.maximum(ev, 0.0)))
    return float(math.sqrt(max(w2sq, 0.0)))


def full_kl_bias(n: int, p: int) -> float:
    """Exact ``E KL(N(0,Ĉ) ‖ N(0,C))`` for ``Ĉ = XᵀX/n`` of ``n`` exact draws in dimension
    ``p`` (``nĈ ~ Wishart(C, n)``): ``-½[Σ_{i=1}^{p} ψ((n-i+1)/2) + p log(2/n)]``."""
    from scipy.special import digamma

    require(n > p, "n", n, f"more samples than the dimension p={p}")
    i = np.arange(1, p + 1)
    return float(-0.5 * (np.sum(digamma((n - i + 1) / 2.0)) + p * math.log(2.0 / n)))


def _metrics(X, spec, t, fit) -> tuple[float, float, str]:
    C, used = fitted_covariance(X, spec, fit)
    truth = target_covariance(spec, t)
    return gaussian_kl(C, truth), gaussian_w2(C, truth), used


def gaussian_fit(X, spec: GPSpec, t: float | None = None, fit: str = "auto",
                 null_reps: int = NULL_REPS, seed: int = 0) -> dict[str, Any]:
    """KL and W2 of the fitted Gaussian vs the truth, with the null's bias and SE (module)."""
    X = _check_samples(X, spec)
    n = X.shape[0]
    kl, w2, used = _metrics(X, spec, t, fit)
    oracle = Oracle.for_spec(spec)
    null_kl, null_w2 = [], []
    for r in range(int(null_reps)):
        Y = oracle.sample(n, seed=np.random.default_rng([seed, r, 7919]), t=t)
        k, w, _ = _metrics(Y, spec, t, used)
        null_kl.append(k)
        null_w2.append(w)
    scale = math.sqrt(float(np.trace(target_covariance(spec, t))))
    out = {"fit": used, "n": n, "kl": kl, "w2": w2, "w2_relative": w2 / scale,
           "null_reps": int(null_reps)}
    if null_reps >= 2:
        out.update(kl_bias=float(np.mean(null_kl)), kl_se=float(np.std(null_kl, ddof=1)),
                   w2_bias=float(np.mean(null_w2)), w2_se=float(np.std(null_w2, ddof=1)))
        out["kl_excess"] = kl - out["kl_bias"]
        out["w2_excess"] = w2 - out["w2_bias"]
    if used == "full":
        out["kl_bias_exact"] = full_kl_bias(n, spec.d * spec.H)
    return out


def distribution_report(X, spec: GPSpec, t: float | None = None, fit: str = "auto",
                        null_reps: int = NULL_REPS, seed: int = 0) -> dict[str, Any]:
    """All three metrics in one JSON-able dict."""
    return {"t": t, "autocorrelation": autocorrelation(X, spec, t),
            "spatial": spatial_covariance(X, spec, t),
            "gaussian": gaussian_fit(X, spec, t, fit, null_reps, seed)}


# -- report --------------------------------------------------------------------------------


def _plot_autocorrelation(path, reports: dict[str, dict[str, Any]]) -> None:
    from ditgp.models.plotting import pyplot, save_png

    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    first = next(iter(reports.values()))["autocorrelation"]
    ax.plot(first["lags"], first["target"], "k-", lw=2, label="truth ρ(m)")
    for (name, rep), mk in zip(reports.items(), ("o", "s", "^"), strict=False):
        ac = rep["autocorrelation"]
        ax.errorbar(ac["lags"], ac["estimate"], yerr=2 * np.asarray(ac["se"]), fmt=mk,
                    ms=4, capsize=2, label=f"{name} (±2 SE)")
    ax.set_xlabel("lag m (frames)")
    ax.set_ylabel("autocorrelation ρ(m) (dimensionless)")
    ax.set_title("per-lag temporal autocorrelation of samples")
    ax.legend(fontsize=8)
    save_png(fig, path, dpi=100, stamp=True)


def _plot_spatial(path, rep: dict[str, Any]) -> None:
    from ditgp.models.plotting import pyplot, save_png

    plt = pyplot()
    S, C = np.asarray(rep["spatial"]["estimate"]), np.asarray(rep["spatial"]["target"])
    fig, axes = plt.subplots(1, 3, figsize=(10, 3.2))
    lim = float(np.max(np.abs(C)))
    for ax, M, title in zip(axes, (S, C, S - C), ("sample Σ̂", "truth C(0)", "difference"),
                            strict=True):
        im = ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(title)
        ax.set_xlabel("coordinate j")
        ax.set_ylabel("coordinate i")
        fig.colorbar(im, ax=ax, fraction=0.046, label="covariance (data units²)")
    save_png(fig, path, dpi=100, stamp=True)


def write_sample_report(out, reports: dict[str, dict[str, Any]], meta: dict[str, Any]
                        ) -> dict[str, Any]:
    """``out/report.md``, ``out/report.json``, ``autocorrelation.png``, ``spatial.png``.

    ``reports`` maps a name (``"samples"``, ``"exact-score sampler"``) to
    :func:`distribution_report` output; the first is the subject.  When an exact-score
    baseline is present, ``excess`` holds subject − baseline for each metric."""
    import json
    from pathlib import Path

    from .report import atomic_write_text

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    names = list(reports)
    subject = reports[names[0]]
    doc: dict[str, Any] = {"meta": meta, "reports": reports}
    if len(names) > 1:
        base = reports[names[1]]
        doc["excess"] = {
            "autocorr_max_abs_error": subject["autocorrelation"]["max_abs_error"]
            - base["autocorrelation"]["max_abs_error"],
            "spatial_rel_error": subject["spatial"]["rel_error"] - base["spatial"]["rel_error"],
            "kl": subject["gaussian"]["kl"] - base["gaussian"]["kl"],
            "w2": subject["gaussian"]["w2"] - base["gaussian"]["w2"],
        }
    _plot_autocorrelation(out / "autocorrelation.png", reports)
    _plot_spatial(out / "spatial.png", subject)
    lines = ["# Sample report", "", *(f"* {k}: {v}" for k, v in meta.items()), "",
             "| samples | max abs ρ error (lag ≥ 1) | max abs z | Σ rel. error (noise floor) | "
             "fit | KL (null bias ± SE) | W2 (null bias ± SE) |",
             "|---|---|---|---|---|---|---|"]
    for name, r in reports.items():
        ac, sp, g = r["autocorrelation"], r["spatial"], r["gaussian"]
        kl_null = (f" ({g['kl_bias']:.3g} ± {g['kl_se']:.2g})" if "kl_bias" in g else "")
        w2_null = (f" ({g['w2_bias']:.3g} ± {g['w2_se']:.2g})" if "w2_bias" in g else "")
        lines.append(f"| {name} | {ac['max_abs_error']:.3g} | {ac['max_abs_z']:.2f} | "
                     f"{sp['rel_error']:.3g} ({sp['noise_floor']:.2g}) | {g['fit']} | "
                     f"{g['kl']:.3g}{kl_null} | {g['w2']:.3g}{w2_null} |")
    if "excess" in doc:
        e = doc["excess"]
        lines += ["", "Excess over the exact-score sampler (same prior draws, noise, grid):",
                  f"KL {e['kl']:+.3g}, W2 {e['w2']:+.3g}, Σ relative error "
                  f"{e['spatial_rel_error']:+.3g}, max ρ error {e['autocorr_max_abs_error']:+.3g}."]
    lines += ["", "Targets: the marginal at the sampler's end time t (α_t²Γ⊗Σ + σ_t²I). "
              "The null columns are the mean and standard deviation of each metric over data "
              "sets of the same size drawn exactly from the target (its finite-sample bias and "
              "standard error); ρ̂ standard errors by the delta method.",
              "", "![autocorrelation](autocorrelation.png)", "", "![spatial](spatial.png)", ""]
    atomic_write_text(out / "report.md", "\n".join(lines))
    atomic_write_text(out / "report.json", json.dumps(doc, indent=2, default=float) + "\n")
    return doc
