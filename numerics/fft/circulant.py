"""Circulant approximations of a symmetric Toeplitz matrix: preconditioners for CG.

For ``Γ`` with first column ``g`` (length ``H``) two classical circulants ``C`` of size
``H`` are diagonalised by the DFT, so ``C⁻¹r`` costs one FFT pair:

* **T. Chan's optimal** preconditioner (Chan 1988) minimises ``‖C - Γ‖_F`` over circulants:
  ``c_k = ((H - k) g_k + k g_{H-k}) / H``.  Its eigenvalues are the Rayleigh quotients
  ``f_jᴴ Γ f_j`` at the Fourier vectors, so they lie in ``[λ_min(Γ), λ_max(Γ)]``: **it is
  positive definite whenever Γ is**, for every kernel, summable or not.
* **Strang's** preconditioner copies the central diagonals:
  ``c_k = g_k`` for ``k ≤ H/2``, ``g_{H-k}`` otherwise.  Its eigenvalues are a truncated
  symbol ``Σ_{|k|<H/2} g_k e^{ikω}``, which can be negative for slowly decaying or
  oscillating kernels — so it is provided for comparison, not used by default.

For kernels in the Wiener class (``Σ|g_k| < ∞``) both give ``C⁻¹Γ = I + (small) + (low
rank)``, so preconditioned CG converges in a number of steps bounded independently of
``H`` (R. Chan & Strang 1989; T. Chan 1988).  ``ditgp`` uses T. Chan's because positive
definiteness is guaranteed.  For ``T = aΓ + sI`` the preconditioner is ``aC + sI``: same
eigenvectors, eigenvalues ``a·ĉ + s``.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

__all__ = ["chan_eigenvalues", "strang_eigenvalues", "PRECONDITIONERS"]


def chan_eigenvalues(g: np.ndarray) -> np.ndarray:
    """Eigenvalues (DFT order, length ``H``) of T. Chan's optimal circulant for ``Γ(g)``."""
    g = np.asarray(g, dtype=np.float64)
    H = g.size
    k = np.arange(H)
    c = (H - k) * g
    c[1:] += k[1:] * g[:0:-1]  # k·g_{H-k} for k = 1..H-1
    c /= H
    return scipy.fft.fft(c).real


def strang_eigenvalues(g: np.ndarray) -> np.ndarray:
    """Eigenvalues (DFT order, length ``H``) of Strang's circulant for ``Γ(g)``."""
    g = np.asarray(g, dtype=np.float64)
    H = g.size
    k = np.arange(H)
    c = np.where(k <= H // 2, g, g[(H - k) % H])
    return scipy.fft.fft(c).real


#: Name → eigenvalue function, for the solver's ``preconditioner`` argument.
PRECONDITIONERS = {"chan": chan_eigenvalues, "strang": strang_eigenvalues}
