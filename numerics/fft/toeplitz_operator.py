"""A symmetric Toeplitz matrix ``Γ`` as an FFT operator: ``V ↦ VΓ`` without forming ``Γ``.

``Γ_hj = g[|h - j|]`` (first column ``g``, length ``H``) is the leading ``H × H`` block of
the symmetric circulant of size ``N ≥ 2H - 1`` with first column
``c = [g_0, …, g_{H-1}, 0, …, 0, g_{H-1}, …, g_1]``; its eigenvalues are ``rfft(c)`` (real,
because ``c`` is symmetric), computed once.  A product with ``k`` rows costs one real FFT
pair of length ``N``: ``O(k N log N)`` time and ``O(k N)`` memory per chunk of rows.

The same machinery as :func:`ditgp.numerics.fft.toeplitz.toeplitz_matmul`, but the symbol is
kept (an operator, not a one-off product) and rows are processed in chunks so that the
working memory stays ``O(chunk · H)`` whatever the batch.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["ToeplitzOperator", "FFT_WORKERS", "CHUNK_ELEMENTS"]

#: Threads given to scipy.fft (the machine's cores; FFTs of many rows parallelise well).
FFT_WORKERS = -1
#: Rows are transformed in chunks of at most this many float64 elements (≈ 64 MiB).
CHUNK_ELEMENTS = 1 << 23


class ToeplitzOperator:
    """``V ↦ VΓ`` for the symmetric Toeplitz ``Γ`` with first column ``g`` (float64).

    Attributes: ``H``, ``g`` (``(H,)``), ``n_fft`` (embedding size ``N``), ``symbol``
    (``(N//2 + 1,)`` real eigenvalues of the embedding circulant).
    """

    def __init__(self, g: np.ndarray):
        g = np.array(g, dtype=np.float64).reshape(-1)
        if g.size < 1 or not np.all(np.isfinite(g)):
            raise ValueError("g must be a non-empty finite first column")
        self.g = g
        self.H = H = g.size
        self.n_fft = scipy.fft.next_fast_len(max(2 * H - 1, 1), real=True)
        c = np.zeros(self.n_fft)
        c[:H] = g
        if H > 1:
            c[self.n_fft - H + 1:] = g[:0:-1]
        self.symbol = np.ascontiguousarray(scipy.fft.rfft(c).real)
        self.g.setflags(write=False)
        self.symbol.setflags(write=False)

    def chunk_rows(self) -> int:
        """Rows per FFT chunk (``≥ 1``)."""
        return max(1, CHUNK_ELEMENTS // self.n_fft)

    def matmul(self, V: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """``V Γ`` for ``V`` of shape ``(..., H)`` (float64); ``out`` may be given."""
        V = np.asarray(V, dtype=np.float64)
        if V.shape[-1] != self.H:
            raise ValueError(f"V has {V.shape[-1]} columns, Γ is {self.H}×{self.H}")
        flat = V.reshape(-1, self.H)
        res = np.empty_like(flat) if out is None else out.reshape(-1, self.H)
        step = self.chunk_rows()
        for i in range(0, flat.shape[0], step):
            f = scipy.fft.rfft(flat[i:i + step], n=self.n_fft, axis=-1, workers=FFT_WORKERS)
            f *= self.symbol
            res[i:i + step] = scipy.fft.irfft(f, n=self.n_fft, axis=-1,
                                              workers=FFT_WORKERS)[:, :self.H]
        return res.reshape(V.shape)

    def norm_bound(self) -> float:
        """``max |rfft(c)|``: an upper bound on ``‖Γ‖₂`` (the circulant's norm bounds its
        principal block's)."""
        return float(np.max(np.abs(self.symbol)))
