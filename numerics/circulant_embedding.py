"""Exact sampling of ``N(0, Γ)`` rows by circulant embedding (Dietrich–Newsam; Wood–Chan).

``Γ`` (``H × H``, ``Γ_hj = γ(|h-j|)``) is the leading block of the symmetric circulant ``C``
of even size ``N ≥ 2(H-1)`` with first column ``c_k = γ(min(k, N-k))`` (the kernel itself
extends the embedding when ``N > 2(H-1)``: Wood–Chan padding).  If the eigenvalues
``λ = FFT(c)`` are non-negative, ``C = F diag(λ) Fᴴ/N`` is a covariance and, with
``ξ = W₁ + iW₂`` (``W₁, W₂`` independent standard normal vectors of length ``N``),

    Y = FFT(√(λ/N) ⊙ ξ)

has ``Re Y`` and ``Im Y`` independent ``N(0, C)``; their first ``H`` entries are independent
exact ``N(0, Γ)`` draws.  Convex decreasing kernels (Pólya: Laplace, power law, logarithmic)
always embed non-negatively at the minimal size; others may need padding.

**Non-negativity check.**  Computed eigenvalues carry an FFT rounding error of at most about
``u·log₂N·Σ|c_k|``; eigenvalues above ``-EMBED_TOL_FACTOR·u·log₂N·Σ|c_k|`` are taken as
non-negative (clipped to 0, an error within rounding); a more negative one means the
embedding is not a covariance: the size is doubled up to ``MAX_PAD_FACTOR·2(H-1)``, after
which :class:`EmbeddingError` says so (the caller falls back to the eigen sampler where
``H`` allows).

**Law of a draw (same seed → same draw).**  ``rng = numpy.random.default_rng(seed)``;
``W = rng.standard_normal((2, P, N))`` with ``P = ⌈rows/2⌉``; row ``2p`` of the result is
``Re Y_p[:H]``, row ``2p+1`` is ``Im Y_p[:H]``; the first ``rows`` rows are returned.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import scipy.fft

from .toeplitz_operator import FFT_WORKERS

__all__ = ["EmbeddingError", "embedding_eigenvalues", "CirculantEmbedding", "EMBED_TOL_FACTOR",
           "MAX_PAD_FACTOR"]

#: Multiple of ``u·log₂N·Σ|c|`` below zero still read as a rounding-level zero eigenvalue.
EMBED_TOL_FACTOR = 8.0
#: The embedding size is doubled at most up to this multiple of the minimal ``2(H-1)``.
MAX_PAD_FACTOR = 8


class EmbeddingError(ValueError):
    """The circulant embedding has negative eigenvalues beyond rounding at every size tried."""


def embedding_eigenvalues(gamma: Callable[[np.ndarray], np.ndarray], H: int, N: int
                          ) -> tuple[np.ndarray, float]:
    """Eigenvalues of the size-``N`` embedding (``N`` even, ``≥ 2(H-1)``) and the rounding
    tolerance on their sign."""
    k = np.arange(N // 2 + 1)
    half = np.asarray(gamma(k.astype(np.float64)), dtype=np.float64)
    c = np.concatenate([half, half[1:-1][::-1]]) if N > 2 else half[:N]
    lam = scipy.fft.rfft(c).real  # c symmetric: real spectrum, rfft half suffices
    tol = EMBED_TOL_FACTOR * np.finfo(np.float64).eps * math.log2(max(N, 2)) * float(
        np.sum(np.abs(c)))
    return lam, tol


class CirculantEmbedding:
    """Exact sampler of rows ``~ N(0, Γ_H)`` for the kernel ``gamma`` (vectorised ``γ(m)``)."""

    def __init__(self, gamma: Callable[[np.ndarray], np.ndarray], H: int):
        self.H = int(H)
        N = max(2, scipy.fft.next_fast_len(max(2 * (self.H - 1), 2), real=True))
        N += N % 2
        limit = MAX_PAD_FACTOR * max(2 * (self.H - 1), 2)
        while True:
            lam, tol = embedding_eigenvalues(gamma, self.H, N)
            if lam.min() >= -tol:
                break
            if 2 * N > limit:
                raise EmbeddingError(
                    f"circulant embedding of H={self.H} has a negative eigenvalue "
                    f"{lam.min():.3g} < -{tol:.3g} at every size up to N={N} "
                    f"({MAX_PAD_FACTOR}×2(H-1)): the kernel does not embed; use the eigen "
                    f"sampler (method='eig') for this H")
            N *= 2
        self.N = N
        self.min_eigenvalue = float(lam.min())
        self.tolerance = tol
        lam_full = np.concatenate([lam, lam[1:-1][::-1]])  # full DFT order, length N
        self.sqrt_lam = np.sqrt(np.maximum(lam_full, 0.0) / N)

    def memory_bytes(self, rows: int) -> int:
        """Peak working memory of :meth:`sample` for ``rows`` rows (bytes, estimate)."""
        P = (rows + 1) // 2
        return int(8 * 2 * P * self.N * 2 + 8 * rows * self.H)

    def sample(self, rows: int, rng: np.random.Generator) -> np.ndarray:
        """``(rows, H)`` independent exact draws (the law in the module docstring)."""
        P = (int(rows) + 1) // 2
        W = rng.standard_normal((2, P, self.N))
        xi = W[0] + 1j * W[1]
        del W
        xi *= self.sqrt_lam
        Y = scipy.fft.fft(xi, axis=-1, workers=FFT_WORKERS, overwrite_x=True)[:, :self.H]
        out = np.empty((2 * P, self.H))
        out[0::2] = Y.real
        out[1::2] = Y.imag
        return out[:rows]
