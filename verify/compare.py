"""Comparisons between score functions, networks and samples (float64, numpy).

Plain functions, reused for constructed networks now and trained models later.  Shapes:
a batch of sequences is ``(n, d, H)``; a stack of iterates or layer outputs is
``(L, n, d, H)``; attention patterns are ``(heads, H, H)`` (or ``(H, H)``), row ``h`` the
query frame and column ``j`` the key frame.

The :class:`ScoreFunction` protocol is one interface for everything that maps
``(X, t) -> score``: the exact oracle (:func:`oracle`), a reference iteration
(:func:`reference_iteration`), a constructed network or a weight bundle
(:func:`network_score`), a trained model (anything callable the same way).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

__all__ = [
    "ScoreFunction",
    "oracle",
    "reference_iteration",
    "network_score",
    "gp_draws",
    "noised",
    "relative_l2",
    "relative_error_per_time",
    "DenoisingLoss",
    "denoising_loss",
    "layer_distances",
    "layer_iteration_map",
    "gap_profile",
    "AttentionComparison",
    "attention_vs_kernel",
    "value_alignment",
    "gaussian_kl",
    "gaussian_w2",
    "SampleComparison",
    "compare_samples",
    "lag_autocorrelation",
]


@runtime_checkable
class ScoreFunction(Protocol):
    """Anything with ``__call__(X, t) -> score``: ``X`` ``(n, d, H)`` float64, ``t`` a float
    in ``[t0, T]``; returns ``(n, d, H)``."""

    def __call__(self, X: np.ndarray, t: float) -> np.ndarray: ...


# -- adapters ---------------------------------------------
@dataclass(frozen=True)
class _Oracle:
    spec: GPSpec

    def __call__(self, X: np.ndarray, t: float) -> np.ndarray:
        from ditgp.numerics.oracle import exact_score

        return np.asarray(exact_score(self.spec, np.asarray(X, dtype=np.float64), t))


def oracle(spec: GPSpec) -> ScoreFunction:
    """The exact score of ``spec`` (:func:`ditgp.numerics.exact_score`)."""
    return _Oracle(spec)


@dataclass(frozen=True)
class _Iteration:
    spec: GPSpec
    algorithm: str
    K: int
    window: int | None
    eta: float | None

    def iterates(self, X: np.ndarray, t: float) -> np.ndarray:
        from ditgp.numerics import iterations as nit

        if self.algorithm == "gd":
            return nit.gd_iterates(self.spec, X, t, self.K, self.window, eta=self.eta)
        return nit.chebyshev_iterates(self.spec, X, t, self.K, self.window)

    def __call__(self, X: np.ndarray, t: float) -> np.ndarray:
        return -self.iterates(X, t)[-1]  # iterate K approximates A_t⁻¹x = -score


def reference_iteration(spec: GPSpec, algorithm: str = "gd", K: int = 10,
                        window: int | None = None, eta: float | None = None) -> ScoreFunction:
    """The score as ``-v_K`` of the reference GD/Chebyshev iteration (docs/theory.md §3); its
    ``iterates(X, t)`` returns every iterate ``(K+1, n, d, H)``."""
    if algorithm not in ("gd", "chebyshev"):
        raise SpecError("algorithm", algorithm, "gd or chebyshev")
    if isinstance(K, bool) or not isinstance(K, int) or K < 0:
        raise SpecError("K", K, "an integer ≥ 0")
    return _Iteration(spec, algorithm, K, window, eta)


@dataclass(frozen=True)
class _Network:
    net: Any
    sign: float

    def __call__(self, X: np.ndarray, t: float) -> np.ndarray:
        import torch

        Xt = torch.as_tensor(np.asarray(X, dtype=np.float64))
        with torch.no_grad():
            try:
                out = self.net(Xt, t)
            except TypeError:
                out = self.net(Xt)
        if isinstance(out, tuple | list):
            out = out[0]
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        return self.sign * np.asarray(out, dtype=np.float64)


def network_score(net: Any, *, outputs: str = "score") -> ScoreFunction:
    """Adapter for a network (constructed, loaded from a bundle, or trained) called as
    ``net(X, t)`` (or ``net(X)`` for a fixed-``t`` network) on a float64 tensor.

    ``outputs``: ``"score"`` if the network returns the score, ``"solution"`` if it returns
    ``A_t⁻¹x`` (the unrolled iterate, ``= -score``)."""
    if outputs not in ("score", "solution"):
        raise SpecError("outputs", outputs, "score or solution")
    return _Network(net, 1.0 if outputs == "score" else -1.0)


# -- draws ---------------------------------------------
def gp_draws(spec: GPSpec, n: int, seed: int = 0) -> np.ndarray:
    """``n`` exact draws ``X ~ N(0, Γ⊗Σ)``, ``(n, d, H)`` (eigen square roots, never Cholesky)."""
    from ditgp.numerics.oracle import Oracle

    return Oracle.for_spec(spec).sample(n, seed)


def noised(spec: GPSpec, X0: np.ndarray, t: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(X_t, Z)`` with ``X_t = α_t X_0 + σ_t Z`` (docs/theory.md §2), ``Z`` standard normal."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal(X0.shape)
    a = math.sqrt(float(spec.schedule.alpha2(t)))
    s = math.sqrt(float(spec.schedule.sigma2(t)))
    return a * X0 + s * Z, Z


# -- score errors ---------------------------------------------
def relative_l2(a: np.ndarray, b: np.ndarray) -> float:
    """``‖a - b‖ / ‖b‖`` over the whole batch (Frobenius); ``0`` when both vanish."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    num = float(np.linalg.norm(a - b))
    den = float(np.linalg.norm(b))
    if den == 0.0:
        return 0.0 if num == 0.0 else math.inf
    return num / den


def relative_error_per_time(f: ScoreFunction, ref: ScoreFunction, spec: GPSpec,
                            ts: Sequence[float], n: int = 32, seed: int = 0) -> np.ndarray:
    """Relative L2 error of ``f`` against ``ref`` at each ``t`` of a grid, on the same GP draws
    ``X_t = α_t X_0 + σ_t Z`` (one ``X_0`` batch for all ``t``)."""
    X0 = gp_draws(spec, n, seed)
    out = []
    for i, t in enumerate(ts):
        Xt, _ = noised(spec, X0, t, seed + 1 + i)
        out.append(relative_l2(f(Xt, t), ref(Xt, t)))
    return np.asarray(out)


@dataclass(frozen=True)
class DenoisingLoss:
    """Monte Carlo ε-prediction loss at ``t``, its Bayes floor (docs/theory.md §2) and the excess."""

    t: float
    loss: float
    stderr: float
    floor: float
    n: int

    @property
    def excess(self) -> float:
        return self.loss - self.floor

    def to_dict(self) -> dict[str, float]:
        return {"t": self.t, "loss": self.loss, "stderr": self.stderr, "floor": self.floor,
                "excess": self.excess, "n": self.n}


def denoising_loss(f: ScoreFunction, spec: GPSpec, t: float, n: int = 256,
                   seed: int = 0) -> DenoisingLoss:
    """``E‖ε_θ(X_t, t) - Z‖²`` with ``ε_θ = -σ_t f`` on ``n`` fresh draws, with its standard
    error, the exact Bayes floor ``Σ α²λμ/(α²λμ + σ²)`` and (property) the excess."""
    from ditgp.numerics.oracle import Oracle

    X0 = gp_draws(spec, n, seed)
    Xt, Z = noised(spec, X0, t, seed + 1)
    s = math.sqrt(float(spec.schedule.sigma2(t)))
    eps_hat = -s * f(Xt, t)
    per = np.sum((eps_hat - Z) ** 2, axis=(1, 2))  # (n,)
    floor = Oracle.for_spec(spec).bayes_floor(t)  # cached eigenvalues, theory's formula
    se = float(per.std(ddof=1) / math.sqrt(n)) if n > 1 else math.inf
    return DenoisingLoss(float(t), float(per.mean()), se, float(floor), int(n))


# -- layers and iterates ---------------------------------------------
def layer_distances(layers: np.ndarray | Sequence[np.ndarray],
                    iterates: np.ndarray | Sequence[np.ndarray]) -> np.ndarray:
    """``D[l, k] = ‖layer_l - iterate_k‖ / ‖iterate_K‖`` (relative to the last iterate, so the
    zeroth iterate ``v_0 = 0`` is handled), shape ``(L, K+1)``."""
    Ls = np.asarray(layers, dtype=np.float64)
    Is = np.asarray(iterates, dtype=np.float64)
    if Ls.shape[1:] != Is.shape[1:]:
        raise SpecError("layers", Ls.shape, f"the shape of one iterate, (L, {Is.shape[1:]})")
    scale = float(np.linalg.norm(Is[-1])) or 1.0
    flat_l = Ls.reshape(len(Ls), -1)
    flat_i = Is.reshape(len(Is), -1)
    return np.linalg.norm(flat_l[:, None, :] - flat_i[None, :, :], axis=-1) / scale


def layer_iteration_map(distances: np.ndarray) -> np.ndarray:
    """Which iterate each layer is closest to: ``argmin_k D[l, k]`` per layer ``l``."""
    return np.argmin(np.asarray(distances), axis=1)


# -- attention and values ---------------------------------------------
def gap_profile(pattern: np.ndarray) -> np.ndarray:
    """Mean of an ``(H, H)`` pattern over each gap ``m = |h - j|``: shape ``(H,)``."""
    P = np.asarray(pattern, dtype=np.float64)
    H = P.shape[-1]
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    return np.array([P[gaps == m].mean() for m in range(H)])


def _decay_rate(profile: np.ndarray, window: int) -> float:
    """Least-squares rate ``c`` of ``profile(m) ≈ C exp(-c m)`` on the positive entries."""
    m = np.arange(min(window + 1, len(profile)))
    p = profile[m]
    keep = p > 0
    if keep.sum() < 2:
        return math.nan
    slope = np.polyfit(m[keep].astype(float), np.log(p[keep]), 1)[0]
    return float(-slope)


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.linalg.norm(a) * np.linalg.norm(b))
    return float(a @ b / den) if den > 0 else math.nan


@dataclass(frozen=True)
class AttentionComparison:
    """Attention patterns against ``γ(|h-j|)`` on gaps ``0..window``: per-head and
    head-averaged correlation of the gap profile with ``γ``, fitted exponential decay rates
    (``c`` of ``C e^{-cm}``) of each profile and of ``γ``, and the largest |entry| beyond the
    window."""

    per_head_corr: np.ndarray
    per_head_decay: np.ndarray
    mean_corr: float
    mean_decay: float
    kernel_decay: float
    outside_window: float
    window: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "per_head_corr": self.per_head_corr.tolist(),
            "per_head_decay": self.per_head_decay.tolist(),
            "mean_corr": self.mean_corr,
            "mean_decay": self.mean_decay,
            "kernel_decay": self.kernel_decay,
            "outside_window": self.outside_window,
            "window": self.window,
        }


def attention_vs_kernel(patterns: np.ndarray, gamma: np.ndarray,
                        window: int | None = None) -> AttentionComparison:
    """Compare attention ``patterns`` ``(heads, H, H)`` (or ``(H, H)``) with ``γ`` (``(H,)``,
    ``γ[m] = γ(m)``) on gaps ``m ≤ window`` (default all)."""
    P = np.asarray(patterns, dtype=np.float64)
    if P.ndim == 2:
        P = P[None]
    H = P.shape[-1]
    g = np.asarray(gamma, dtype=np.float64)[:H]
    w = H - 1 if window is None else min(int(window), H - 1)
    profiles = np.array([gap_profile(p) for p in P])  # (heads, H)
    mean_profile = gap_profile(P.mean(axis=0))
    sl = slice(0, w + 1)
    gaps = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    outside = float(np.max(np.abs(P.mean(axis=0)[gaps > w]))) if w < H - 1 else 0.0
    return AttentionComparison(
        per_head_corr=np.array([_corr(p[sl], g[sl]) for p in profiles]),
        per_head_decay=np.array([_decay_rate(p, w) for p in profiles]),
        mean_corr=_corr(mean_profile[sl], g[sl]),
        mean_decay=_decay_rate(mean_profile, w),
        kernel_decay=_decay_rate(g, w),
        outside_window=outside,
        window=w,
    )


def value_alignment(W: np.ndarray, Sigma: np.ndarray) -> tuple[float, float]:
    """Alignment of a value/output matrix ``W`` with ``Σ`` up to scale: the cosine
    ``⟨W, Σ⟩_F / (‖W‖_F ‖Σ‖_F)`` (1 = proportional) and the best scale ``⟨W, Σ⟩_F/‖Σ‖_F²``."""
    W = np.asarray(W, dtype=np.float64)
    S = np.asarray(Sigma, dtype=np.float64)
    if W.shape != S.shape:
        raise SpecError("W", W.shape, f"shape {S.shape} (that of Σ)")
    inner = float(np.sum(W * S))
    nw, ns = float(np.linalg.norm(W)), float(np.linalg.norm(S))
    cos = inner / (nw * ns) if nw > 0 and ns > 0 else 0.0
    return cos, inner / (ns * ns)


# -- samples ---------------------------------------------
def _sym_sqrt(P: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh(0.5 * (P + P.T))
    return (U * np.sqrt(np.maximum(w, 0.0))) @ U.T


def gaussian_kl(P: np.ndarray, Q: np.ndarray) -> float:
    """``KL(N(0, P) ‖ N(0, Q)) = ½(tr(Q⁻¹P) - n + ln det Q - ln det P)`` (``inf`` if a
    covariance is singular)."""
    P = np.asarray(P, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    n = P.shape[0]
    sp_, ldp = np.linalg.slogdet(P)
    sq, ldq = np.linalg.slogdet(Q)
    if sp_ <= 0 or sq <= 0:
        return math.inf
    tr = float(np.trace(np.linalg.solve(Q, P)))
    return 0.5 * (tr - n + ldq - ldp)


def gaussian_w2(P: np.ndarray, Q: np.ndarray) -> float:
    """2-Wasserstein distance between ``N(0, P)`` and ``N(0, Q)``:
    ``(tr P + tr Q - 2 tr (P^{1/2} Q P^{1/2})^{1/2})^{1/2}``."""
    P = np.asarray(P, dtype=np.float64)
    Q = np.asarray(Q, dtype=np.float64)
    rP = _sym_sqrt(P)
    cross = _sym_sqrt(rP @ Q @ rP)
    return math.sqrt(max(float(np.trace(P) + np.trace(Q) - 2 * np.trace(cross)), 0.0))


@dataclass(frozen=True)
class SampleComparison:
    """Samples against ``N(0, Γ⊗Σ)``: Gaussian KL both ways and W2 to the fitted Gaussian,
    per-lag autocorrelation of the samples and ``γ`` on the same lags."""

    kl_true_fitted: float
    kl_fitted_true: float
    w2: float
    autocorr: np.ndarray
    gamma: np.ndarray
    n: int

    def to_dict(self) -> dict[str, Any]:
        return {"kl_true_fitted": self.kl_true_fitted, "kl_fitted_true": self.kl_fitted_true,
                "w2": self.w2, "autocorr": self.autocorr.tolist(), "gamma": self.gamma.tolist(),
                "n": self.n}


def lag_autocorrelation(samples: np.ndarray, max_lag: int | None = None) -> np.ndarray:
    """Per-lag autocorrelation ``ρ̂(m) = mean x_h·x_{h+m} / mean x_h·x_h`` of ``(n, d, H)``
    samples; under ``Cov(x_h, x_j) = γ(|h-j|)Σ`` it estimates ``γ(m)``."""
    X = np.asarray(samples, dtype=np.float64)
    H = X.shape[-1]
    max_lag = H - 1 if max_lag is None else min(int(max_lag), H - 1)
    c0 = float(np.mean(np.sum(X * X, axis=1)))
    return np.array([float(np.mean(np.sum(X[..., : H - m] * X[..., m:], axis=1))) / c0
                     for m in range(max_lag + 1)])


def compare_samples(samples: np.ndarray, spec: GPSpec, max_lag: int | None = None,
                    ) -> SampleComparison:
    """Compare ``(n, d, H)`` samples with ``N(0, Γ⊗Σ)`` (closed-form Gaussian distances to the
    zero-mean Gaussian with the samples' second moment; ``vec`` stacks columns)."""
    X = np.asarray(samples, dtype=np.float64)
    n = X.shape[0]
    V = np.swapaxes(X, -1, -2).reshape(n, -1)  # (n, dH) column-stacked vec
    fitted = V.T @ V / n
    true = np.kron(np.asarray(spec.Gamma), np.asarray(spec.Sigma))
    ac = lag_autocorrelation(X, max_lag)
    return SampleComparison(
        kl_true_fitted=gaussian_kl(true, fitted),
        kl_fitted_true=gaussian_kl(fitted, true),
        w2=gaussian_w2(true, fitted),
        autocorr=ac,
        gamma=spec.kernel.gamma(np.arange(len(ac))),
        n=n,
    )


