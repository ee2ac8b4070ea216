"""Reference iterations (docs/theory.md §3) on the matrix form, returning every iterate.

The operator is ``A(V) = α²ΣVΓ_w + σ²V`` on ``V`` of shape ``(n, d, H)``; ``Γ_w`` is ``Γ``
with gaps beyond the window ``w`` zeroed (``w=None``: no truncation).  Step sizes and
Chebyshev coefficients come from :mod:`ditgp.theory.iterations`, applied to the exact
spectrum ends of the (possibly truncated) finite system.

* GD:        ``V_{k+1} = V_k - η(A V_k - X)``,  ``V_0 = 0``.
* Chebyshev: ``V_{k+1} = V_k + (ω_{k+1}/θ) R_k + (ω_{k+1}-1)(V_k - V_{k-1})``,
  ``R_k = X - A V_k``, ``V_{-1} = V_0 = 0``.

Results are arrays of shape ``(K+1, n, d, H)``: index ``k`` is iterate ``k``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from ditgp.theory import iterations as theory_it
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from .fft.toeplitz import dense_toeplitz, toeplitz_first_column, toeplitz_matmul

__all__ = [
    "TruncatedSystem",
    "spectrum_ends",
    "gd_iterates",
    "chebyshev_iterates",
    "run_gd",
    "run_chebyshev",
]

#: Above this ``H`` the Toeplitz product uses the FFT instead of a dense matmul.
FFT_MIN_H = 128


def spectrum_ends(lam_min, lam_max, mu_min, mu_max, alpha2, sigma2) -> tuple[float, float]:
    """``(a_min, a_max)`` of ``α²(Γ_w⊗Σ) + σ²I`` by
    :func:`ditgp.theory.iterations.a_t_extremes` (which also covers a truncated ``Γ_w``
    with a slightly negative ``λ_min``); refused if ``A_w`` is not positive definite."""
    lo, hi = (float(v) for v in
              theory_it.a_t_extremes(lam_min, lam_max, mu_min, mu_max, alpha2, sigma2))
    if lo <= 0:
        raise SpecError("window", None, f"a window keeping A_t positive definite (a_min={lo:.3g})")
    return lo, hi


@dataclass(frozen=True)
class TruncatedSystem:
    """``A_w(t) = α_t²(Γ_w⊗Σ) + σ_t²I`` of a spec: first column ``g`` of ``Γ_w`` and the
    exact eigenvalues of ``Γ_w`` (``lam_w``, ascending) and ``Σ`` (``mu``)."""

    spec: GPSpec
    window: int
    g: np.ndarray
    lam_w: np.ndarray
    mu: np.ndarray

    @classmethod
    def of(cls, spec: GPSpec, window: int | None = None) -> TruncatedSystem:
        w = spec.H - 1 if window is None else int(window)
        if w < 0:
            raise SpecError("window", window, "an integer ≥ 0")
        w = min(w, spec.H - 1)
        g = toeplitz_first_column(spec.Gamma[:, 0], w)
        lam_w = np.linalg.eigvalsh(dense_toeplitz(g))
        mu = np.linalg.eigvalsh(spec.Sigma)
        return cls(spec, w, g, lam_w, mu)

    def coeffs(self, t: float) -> tuple[float, float]:
        return float(self.spec.schedule.alpha2(t)), float(self.spec.schedule.sigma2(t))

    def extremes(self, t: float) -> tuple[float, float]:
        a2, s2 = self.coeffs(t)
        return spectrum_ends(self.lam_w[0], self.lam_w[-1], self.mu[0], self.mu[-1], a2, s2)

    def extremes_all_t(self) -> tuple[float, float]:
        """Spectrum ends over all ``t ∈ [t0, T]``: ``A_t`` is affine in ``α_t²``, so its
        eigenvalues are extreme at the end points."""
        s = self.spec.schedule
        lo0, hi0 = self.extremes(s.t0)
        lo1, hi1 = self.extremes(s.T)
        return min(lo0, lo1), max(hi0, hi1)

    def apply(self, V, t):
        """``A_w(t) V`` for ``V`` ``(n, d, H)``; ``t`` scalar (numpy float64 path)."""
        a2, s2 = self.coeffs(t)
        return a2 * (self.spec.Sigma @ self.gamma_matmul(V)) + s2 * V

    def gamma_matmul(self, V):
        """``V Γ_w`` for ``V`` ``(..., H)``."""
        if self.spec.H >= FFT_MIN_H:
            return toeplitz_matmul(V, self.g)
        return V @ dense_toeplitz(self.g)


def _prepare(spec: GPSpec, X, t, window):
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 3 or X.shape[1:] != (spec.d, spec.H):
        raise SpecError("X", X.shape, f"shape (n, {spec.d}, {spec.H})")
    spec.schedule.check_time(t)
    return X, TruncatedSystem.of(spec, window)


def run_gd(system: TruncatedSystem, X: np.ndarray, t: float, K: int, eta: float | None = None,
           ) -> np.ndarray:
    """GD iterates ``(K+1, n, d, H)`` on ``system`` (``η`` default: theory's optimal step)."""
    if eta is None:
        eta = float(theory_it.gd_step_size(*system.extremes(t)))
    out = np.zeros((K + 1, *X.shape))
    V = out[0]
    for k in range(K):
        V = V - eta * (system.apply(V, t) - X)
        out[k + 1] = V
    return out


def run_chebyshev(system: TruncatedSystem, X: np.ndarray, t: float, K: int,
                  interval: tuple[float, float] | None = None) -> np.ndarray:
    """Chebyshev iterates ``(K+1, n, d, H)``; ``interval`` = spectrum ends used for the
    coefficients (default: the exact ends of ``A_w(t)``)."""
    plan = theory_it.chebyshev_plan(*(interval or system.extremes(t)), K)
    out = np.zeros((K + 1, *X.shape))
    V_prev = V = out[0]
    for k in range(K):
        om = float(plan.omega[k])
        R = X - system.apply(V, t)
        V_next = V + (om / plan.theta) * R + (om - 1.0) * (V - V_prev)
        V_prev, V = V, V_next
        out[k + 1] = V
    return out


def gd_iterates(spec: GPSpec, X, t: float, K: int, window: int | None = None,
                eta: float | None = None) -> np.ndarray:
    """All GD iterates for ``A_w(t)v = vec X``: ``(K+1, n, d, H)``; ``X`` is ``(n, d, H)``."""
    X, system = _prepare(spec, X, t, window)
    return run_gd(system, X, t, K, eta)


def chebyshev_iterates(spec: GPSpec, X, t: float, K: int, window: int | None = None,
                       interval: tuple[float, float] | None = None) -> np.ndarray:
    """All Chebyshev iterates for ``A_w(t)v = vec X``: ``(K+1, n, d, H)``."""
    X, system = _prepare(spec, X, t, window)
    return run_chebyshev(system, X, t, K, interval)
