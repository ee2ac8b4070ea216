"""The inverse of a symmetric positive definite Toeplitz matrix from one column
(Gohberg–Semencul), used for ``tr T⁻¹`` (the Bayes floor) and fast repeated solves.

With ``x = T⁻¹e₁`` (``x₀ > 0``) and ``y = (0, x_{H-1}, …, x₁)``,

    T⁻¹ = (1/x₀) [ L(x) L(x)ᵀ - L(y) L(y)ᵀ ]

where ``L(v)`` is the lower-triangular Toeplitz matrix with first column ``v``.  Hence

* ``tr T⁻¹ = (1/x₀) Σ_j (H - j)(x_j² - y_j²)`` — exact, ``O(H)`` from ``x``;
* ``T⁻¹b`` costs four triangular Toeplitz products (``O(H log H)`` by FFT).

:func:`trace_inverse` also returns a rigorous bound on the error caused by an error
``‖x̂ - x‖₂ ≤ δ`` in the column (the CG certificate), plus a rounding model of the sum.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .toeplitz_operator import FFT_WORKERS

__all__ = ["trace_inverse", "GSInverse"]


def _y(x: np.ndarray) -> np.ndarray:
    y = np.zeros_like(x)
    y[..., 1:] = x[..., :0:-1]
    return y


def trace_inverse(x: np.ndarray, delta: np.ndarray | float = 0.0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """``tr T⁻¹`` for each row ``x`` of ``(..., H)`` (``x = T⁻¹e₁``) and an error bound.

    With ``S = Σ_j (H-j)(x_j² - y_j²)`` and ``Σ_j |x̂_j² - x_j²| ≤ δ(2‖x̂‖ + δ)``:
    ``|Ŝ - S| ≤ E_S = 2Hδ(2‖x̂‖ + δ)`` and ``|x̂₀ - x₀| ≤ δ``, so
    ``|Ŝ/x̂₀ - S/x₀| ≤ E_S/x̂₀ + (|Ŝ| + E_S)δ / (x̂₀(x̂₀ - δ))`` (requires ``δ < x̂₀``;
    ``inf`` otherwise), plus ``H·u·Σ(H-j)(x_j² + y_j²)/x̂₀`` for the rounding of the sum.
    """
    x = np.asarray(x, dtype=np.float64)
    H = x.shape[-1]
    w = (H - np.arange(H)).astype(np.float64)
    y = _y(x)
    S = np.sum(w * (x * x - y * y), axis=-1)
    x0 = x[..., 0]
    tr = S / x0
    delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), x0.shape)
    nx = np.linalg.norm(x, axis=-1)
    E_S = 2.0 * H * delta * (2.0 * nx + delta)
    u = np.finfo(np.float64).eps
    rounding = H * u * np.sum(w * (x * x + y * y), axis=-1) / x0
    with np.errstate(divide="ignore", invalid="ignore"):
        err = E_S / x0 + (np.abs(S) + E_S) * delta / (x0 * (x0 - delta)) + rounding
    err = np.where(delta < x0, err, np.inf)
    return tr, err


class GSInverse:
    """``b ↦ T⁻¹b`` by the Gohberg–Semencul formula, for rows of generators ``x`` ``(R, H)``."""

    def __init__(self, x: np.ndarray):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self.H = H = x.shape[-1]
        self.n_fft = scipy.fft.next_fast_len(2 * H - 1, real=True)
        self.x0 = x[:, 0].copy()
        self.fx = scipy.fft.rfft(x, n=self.n_fft, axis=-1)
        self.fy = scipy.fft.rfft(_y(x), n=self.n_fft, axis=-1)

    def apply(self, B: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """``T_{rows[k]}⁻¹ B[k]`` for each row ``k`` of ``B`` ``(K, H)``."""
        n, H = self.n_fft, self.H
        fb = scipy.fft.rfft(B, n=n, axis=-1, workers=FFT_WORKERS)
        fx, fy = self.fx[rows], self.fy[rows]
        u1 = scipy.fft.irfft(np.conj(fx) * fb, n=n, axis=-1, workers=FFT_WORKERS)[:, :H]
        u2 = scipy.fft.irfft(np.conj(fy) * fb, n=n, axis=-1, workers=FFT_WORKERS)[:, :H]
        del fb
        f = fx * scipy.fft.rfft(u1, n=n, axis=-1, workers=FFT_WORKERS)
        f -= fy * scipy.fft.rfft(u2, n=n, axis=-1, workers=FFT_WORKERS)
        out = scipy.fft.irfft(f, n=n, axis=-1, workers=FFT_WORKERS)[:, :H]
        return out / self.x0[rows, None]
