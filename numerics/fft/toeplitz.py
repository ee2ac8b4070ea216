"""Symmetric Toeplitz products ``V ↦ VΓ`` in ``O(dH log H)`` by circulant embedding (FFT).

``Γ_hj = g[|h - j|]`` (first column ``g``, length ``H``) embeds in a circulant of size
``N ≥ 2H - 1`` with first column ``c = [g_0, …, g_{H-1}, 0, …, 0, g_{H-1}, …, g_1]``; the
product of the circulant with the zero-padded rows of ``V`` is a circular convolution,
computed by real FFTs, and its first ``H`` entries are ``VΓ``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["toeplitz_first_column", "toeplitz_matmul", "dense_toeplitz"]


def toeplitz_first_column(gamma: np.ndarray, window: int | None = None) -> np.ndarray:
    """``g`` with entries beyond gap ``window`` zeroed (``Γ_w``); ``gamma`` shape ``(H,)``."""
    g = np.array(gamma, dtype=np.float64)
    if window is not None:
        g[window + 1:] = 0.0
    return g


def dense_toeplitz(g: np.ndarray) -> np.ndarray:
    """The dense ``H × H`` symmetric Toeplitz matrix with first column ``g`` (test oracle)."""
    H = len(g)
    idx = np.abs(np.subtract.outer(np.arange(H), np.arange(H)))
    return np.asarray(g)[idx]


def _circulant_symbol(g: np.ndarray, n_fft: int) -> np.ndarray:
    H = len(g)
    c = np.zeros(n_fft)
    c[:H] = g
    if H > 1:
        c[n_fft - H + 1:] = g[:0:-1]
    return scipy.fft.rfft(c)


def toeplitz_matmul(V, g: np.ndarray):
    """``V Γ`` for ``V`` of shape ``(..., H)`` (numpy or torch) and ``Γ`` symmetric Toeplitz.

    ``g``: first column of ``Γ``, shape ``(H,)``.  Returns the same type and shape as ``V``.
    Cost ``O(n H log H)`` for ``n`` rows.
    """
    g = np.asarray(g, dtype=np.float64)
    H = g.shape[0]
    if V.shape[-1] != H:
        raise ValueError(f"V has {V.shape[-1]} columns, Γ is {H}×{H}")
    n_fft = scipy.fft.next_fast_len(2 * H - 1, real=True)
    symbol = _circulant_symbol(g, n_fft)  # (n_fft//2+1,)
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency
        torch = None
    if torch is not None and isinstance(V, torch.Tensor):
        sym = torch.as_tensor(symbol, device=V.device)
        if V.dtype == torch.float32:
            sym = sym.to(torch.complex64)
        out = torch.fft.irfft(torch.fft.rfft(V, n=n_fft) * sym, n=n_fft)
        return out[..., :H]
    V = np.asarray(V)
    out = scipy.fft.irfft(scipy.fft.rfft(V, n=n_fft, axis=-1) * symbol, n=n_fft, axis=-1)
    return out[..., :H].astype(V.dtype if V.dtype in (np.float32, np.float64) else np.float64)
