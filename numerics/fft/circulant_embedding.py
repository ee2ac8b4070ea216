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

**Only the first ``H`` outputs are needed**, so the length-``N`` FFT is split into two of
length ``M = N/2`` (decimation in time): ``Y[j] = E[j mod M] + e^{-2πij/N} O[j mod M]`` with
``E``, ``O`` the FFTs of the even- and odd-indexed entries — cache-sized transforms, about
3× faster than one of length ``N`` at ``H = 65,536`` on the project machine.

**Law of a draw (same seed → same draw).**  ``P = ⌈rows/2⌉`` complex rows, in blocks of
``SAMPLE_BLOCK`` rows (the last block shorter); ``children = rng.spawn(n_blocks)``
(:meth:`numpy.random.Generator.spawn`, independent streams, so blocks are drawn on
``SAMPLE_THREADS`` threads with a result independent of the thread count); block ``b`` draws
``W = children[b].standard_normal((q_b, N, 2))`` and ``ξ_p = W[p, :, 0] + i W[p, :, 1]``.
Row ``2p`` of the result is ``Re Y_p[:H]``, row ``2p+1`` is ``Im Y_p[:H]``; the first
``rows`` rows are returned.  (Up to 2026-11-27 the law was one ``rng.standard_normal((2, P,
N))``; draws made before then differ.)
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import scipy.fft

__all__ = ["EmbeddingError", "embedding_eigenvalues", "CirculantEmbedding", "EMBED_TOL_FACTOR",
           "MAX_PAD_FACTOR", "SAMPLE_BLOCK", "SAMPLE_THREADS", "spawn_children", "block_normals"]

#: Multiple of ``u·log₂N·Σ|c|`` below zero still read as a rounding-level zero eigenvalue.
EMBED_TOL_FACTOR = 8.0
#: The embedding size is doubled at most up to this multiple of the minimal ``2(H-1)``.
MAX_PAD_FACTOR = 8
#: Complex rows (two draws each) per independent random stream (part of the law of a draw).
SAMPLE_BLOCK = 8
#: Threads drawing blocks (the result does not depend on it).
SAMPLE_THREADS = max(1, min(4, os.cpu_count() or 1))


def spawn_children(rng: np.random.Generator, k: int) -> list[np.random.Generator]:
    """``rng.spawn(k)``: ``k`` independent child generators (a clear error when ``rng``'s bit
    generator cannot spawn)."""
    try:
        return rng.spawn(int(k))
    except TypeError as exc:
        raise ValueError("seed: a numpy Generator whose bit generator was seeded through a "
                         "SeedSequence (numpy.random.default_rng(...)) is needed to spawn "
                         f"independent streams ({exc})") from None


def _map(fn, items, threads: int) -> list:
    if threads > 1 and len(items) > 1:
        with ThreadPoolExecutor(min(threads, len(items))) as pool:
            return list(pool.map(fn, items))
    return [fn(i) for i in items]


def block_normals(rng: np.random.Generator, rows: int, cols: int, block: int = 16
                  ) -> np.ndarray:
    """``(rows, cols)`` standard normals: rows ``[b·block, (b+1)·block)`` are
    ``children[b].standard_normal((rows_b, cols))`` with ``children = rng.spawn(n_blocks)``
    (drawn on ``SAMPLE_THREADS`` threads; the result does not depend on their number)."""
    out = np.empty((int(rows), int(cols)))
    starts = list(range(0, int(rows), block))
    kids = spawn_children(rng, len(starts))

    def fill(b):
        i = starts[b]
        kids[b].standard_normal(out=out[i:i + block])

    _map(fill, list(range(len(starts))), SAMPLE_THREADS)
    return out


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
        rows = int(rows)
        P = (rows + 1) // 2
        N, H = self.N, self.H
        M = N // 2
        out = np.empty((2 * P, H))
        starts = list(range(0, P, SAMPLE_BLOCK))
        kids = spawn_children(rng, len(starts))
        sq_even, sq_odd = self.sqrt_lam[0::2], self.sqrt_lam[1::2]
        twiddle = np.exp(-2j * np.pi * np.arange(M) / N)
        head = min(H, M)

        def block(b):
            q0 = starts[b]
            q1 = min(P, q0 + SAMPLE_BLOCK)
            W = kids[b].standard_normal((q1 - q0, N, 2))
            xi = W.view(np.complex128)[..., 0]  # (q, N): ξ = W[..., 0] + i W[..., 1]
            E = scipy.fft.fft(xi[:, 0::2] * sq_even, axis=-1, workers=1, overwrite_x=True)
            O = scipy.fft.fft(xi[:, 1::2] * sq_odd, axis=-1, workers=1, overwrite_x=True)
            del W, xi
            last = E[:, 0] - O[:, 0] if H > M else None  # N = 2(H-1): output j = M
            Y = O[:, :head]
            Y *= twiddle[:head]
            Y += E[:, :head]
            out[2 * q0:2 * q1:2, :head] = Y.real
            out[2 * q0 + 1:2 * q1:2, :head] = Y.imag
            if last is not None:
                out[2 * q0:2 * q1:2, M] = last.real
                out[2 * q0 + 1:2 * q1:2, M] = last.imag

        _map(block, list(range(len(starts))), SAMPLE_THREADS)
        return out[:rows]
