"""Batched Lanczos on a symmetric operator given only by products (no matrix formed).

Two uses: the **extreme eigenvalues** of ``Γ`` at large ``H`` (Ritz values with the
residual bound ``|λ - θ| ≤ β_k |s_k|`` for each Ritz pair, so an eigenvalue of ``Γ`` lies in
``[θ - ρ, θ + ρ]``), and **stochastic Lanczos quadrature** ``zᵀ f(M) z ≈ ‖z‖² Σ_j τ_j² f(θ_j)``
(Golub–Meurant; Ubaru–Chen–Saad 2017) for ``log det`` by Hutchinson's estimator.

No reorthogonalisation: rows are independent, memory stays ``O(rows · H)``; loss of
orthogonality produces duplicate copies of converged Ritz values, which neither moves the
extreme Ritz values nor the quadrature (Paige; Knizhnerman).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.linalg

__all__ = ["lanczos", "ritz_extremes", "quadrature", "Extremes"]


def lanczos(apply: Callable[[np.ndarray], np.ndarray], V0: np.ndarray, steps: int
            ) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` Lanczos steps from each row of ``V0`` ``(R, H)``.

    Returns ``alpha`` ``(R, k)`` and ``beta`` ``(R, k)`` (``beta[:, -1]`` is the residual
    coefficient ``β_k``); ``k ≤ steps`` stops early when every row breaks down.
    """
    V = np.asarray(V0, dtype=np.float64)
    V = V / np.linalg.norm(V, axis=1, keepdims=True)
    V_prev = np.zeros_like(V)
    b_prev = np.zeros(V.shape[0])
    alphas, betas = [], []
    for _ in range(int(steps)):
        W = apply(V)
        a = np.einsum("ij,ij->i", W, V)
        W -= a[:, None] * V + b_prev[:, None] * V_prev
        b = np.linalg.norm(W, axis=1)
        alphas.append(a)
        betas.append(b)
        if np.all(b <= 1e-14 * np.abs(a).max()):
            break
        V_prev, V = V, W / np.where(b > 0, b, 1.0)[:, None]
        b_prev = b
    return np.stack(alphas, axis=1), np.stack(betas, axis=1)


@dataclass(frozen=True)
class Extremes:
    """Ritz estimates of ``λ_min, λ_max`` with residual radii: some eigenvalue lies within
    ``radius`` of each estimate (and the Ritz values lie inside ``[λ_min, λ_max]``)."""

    lam_min: float
    lam_max: float
    radius_min: float
    radius_max: float
    steps: int


def ritz_extremes(alpha: np.ndarray, beta: np.ndarray) -> Extremes:
    """Extreme Ritz values of one row (``alpha``, ``beta`` of shape ``(k,)``)."""
    k = alpha.size
    theta, S = scipy.linalg.eigh_tridiagonal(alpha, beta[:-1] if k > 1 else np.zeros(0))
    rad = np.abs(beta[-1] * S[-1, :])
    return Extremes(float(theta[0]), float(theta[-1]), float(rad[0]), float(rad[-1]), k)


def quadrature(alpha: np.ndarray, beta: np.ndarray, f: Callable[[np.ndarray], np.ndarray]
               ) -> np.ndarray:
    """Gauss quadrature ``Σ_j τ_j² f(θ_j)`` of ``e₁ᵀ f(T_k) e₁`` per row."""
    out = np.empty(alpha.shape[0])
    for r in range(alpha.shape[0]):
        k = alpha.shape[1]
        theta, S = scipy.linalg.eigh_tridiagonal(alpha[r], beta[r, :-1] if k > 1 else np.zeros(0))
        out[r] = float(np.sum(S[0, :] ** 2 * f(theta)))
    return out
