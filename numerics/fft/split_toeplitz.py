"""Toeplitz products and Toeplitz inverses with FFTs of length ``H`` (not ``2H``), on pairs
of real vectors packed as one complex vector.

**Circulant + skew-circulant split.**  Every ``H × H`` Toeplitz matrix is ``T = C + S`` with
``C`` circulant and ``S`` skew-circulant.  For the symmetric ``Γ`` with first column ``g``:
``c_0 = s_0 = g_0/2`` and, for ``k ≥ 1``, ``c_k = (g_k + g_{H-k})/2``,
``s_k = (g_k - g_{H-k})/2``.  ``C = F⁻¹ diag(ĉ) F`` with ``ĉ = F c``, and
``S = D̄ F⁻¹ diag(ŝ) F D`` with ``D = diag(ω^j)``, ``ω = e^{iπ/H}``, ``ŝ = F(D s)``
(``D S D̄`` is the circulant with first column ``D s``).  Both are real symmetric here, so
``ĉ`` and ``ŝ`` are real and ``‖Γ‖₂ ≤ max|ĉ| + max|ŝ|``.  A product costs four complex FFTs
of length ``H``.

**Ammar–Gader form of Gohberg–Semencul.**  With ``x = T⁻¹e₁`` (``x₀ > 0``) for an SPD
Toeplitz ``T`` and ``C = C(x)``, ``S = S(x)`` the circulant and skew-circulant with first
column ``x``,

    T⁻¹ = (C Sᵀ + Cᵀ S) / (2 x₀).

(From ``T⁻¹ = (L(x)L(x)ᵀ - L(y)L(y)ᵀ)/x₀`` with ``L(x) = (C + S)/2`` and
``L(y) = (Cᵀ - Sᵀ)/2``; circulants commute among themselves, skew-circulants too, and the
result is symmetric.)  Applying it costs six complex FFTs of length ``H``:
``w = F(D z)``; ``S z = D̄F⁻¹(ŝ w)``, ``Sᵀz = D̄F⁻¹(ŝ* w)``; ``T⁻¹z = F⁻¹(ĉ F(Sᵀz) +
ĉ* F(S z))/(2x₀)``.

**Packing.**  All these operators are real, so ``M(b₁ + i b₂) = M b₁ + i M b₂``: one complex
row carries two real vectors of the same channel.  Length-``H`` complex FFTs stay in cache
where length-``2H`` real ones do not (measured on the project machine: 256 complex rows of
``H = 65,536`` in 0.09 s, against 0.3 s for the 512 equivalent real ``2H`` transforms).
"""

from __future__ import annotations

import numpy as np
import scipy.fft

from .toeplitz_operator import FFT_WORKERS

__all__ = ["skew_phase", "split_first_columns", "SplitToeplitz", "AmmarGaderInverse"]


def skew_phase(H: int) -> np.ndarray:
    """``D = ω^j`` (``j < H``, ``ω = e^{iπ/H}``) as a complex array ``(H,)``."""
    return np.exp(1j * np.pi * np.arange(H) / H)


def split_first_columns(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First columns ``(c, s)`` of the circulant and skew-circulant with ``C + S = Γ(g)``."""
    g = np.asarray(g, dtype=np.float64)
    H = g.size
    c = np.empty(H)
    s = np.empty(H)
    c[0] = s[0] = g[0] / 2
    c[1:] = (g[1:] + g[:0:-1]) / 2
    s[1:] = (g[1:] - g[:0:-1]) / 2
    return c, s


class SplitToeplitz:
    """``Z ↦ (a Γ + s I) Z`` for symmetric Toeplitz ``Γ(g)`` by the split, ``Z`` complex or real
    of shape ``(..., H)`` (FFTs of length ``H``).

    Attributes: ``H``, ``c_hat`` and ``s_hat`` (real ``(H,)`` spectra of ``C`` and ``S``),
    ``D`` (``(H,)`` phases), ``norm_bound = max|ĉ| + max|ŝ| ≥ ‖Γ‖₂``.
    """

    def __init__(self, g: np.ndarray):
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        if g.size < 1 or not np.all(np.isfinite(g)):
            raise ValueError("g must be a non-empty finite first column")
        self.H = H = g.size
        self.D = skew_phase(H)
        c, s = split_first_columns(g)
        # C and S are real symmetric: their spectra are real (imaginary parts are rounding)
        self.c_hat = np.ascontiguousarray(scipy.fft.fft(c).real)
        self.s_hat = np.ascontiguousarray(scipy.fft.fft(self.D * s).real)
        self.norm_bound = float(np.max(np.abs(self.c_hat)) + np.max(np.abs(self.s_hat)))

    def shifted_spectra(self, a: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Spectra ``(a ĉ + s/2, a ŝ + s/2)`` of the two parts of ``aΓ + sI`` per row of ``a``,
        ``s`` (shapes ``(R,)`` → ``(R, H)``): the identity splits as ``I/2 + I/2``."""
        a = np.asarray(a, dtype=np.float64)[..., None]
        s = np.asarray(s, dtype=np.float64)[..., None]
        return a * self.c_hat + s / 2, a * self.s_hat + s / 2

    def apply_spectra(self, Z: np.ndarray, cT: np.ndarray, sT: np.ndarray,
                      workers: int = FFT_WORKERS) -> np.ndarray:
        """``T Z`` for ``T`` given by its split spectra ``cT``, ``sT`` (broadcast against
        ``Z``'s leading axes): ``F⁻¹(cT F Z) + D̄ F⁻¹(sT F(D Z))``.  Returns a complex array."""
        f = scipy.fft.fft(Z, axis=-1, workers=workers)
        f *= cT
        out = scipy.fft.ifft(f, axis=-1, workers=workers, overwrite_x=True)
        f = scipy.fft.fft(Z * self.D, axis=-1, workers=workers, overwrite_x=True)
        f *= sT
        g = scipy.fft.ifft(f, axis=-1, workers=workers, overwrite_x=True)
        g *= self.D.conj()
        out += g
        return out

    def apply(self, Z: np.ndarray, a, s) -> np.ndarray:
        """``(a Γ + s I) Z`` (complex result; ``a``, ``s`` broadcast against ``Z[..., 0]``)."""
        cT, sT = self.shifted_spectra(a, s)
        return self.apply_spectra(Z, cT, sT)


class AmmarGaderInverse:
    """``z ↦ T_r⁻¹ z`` for rows ``r`` of generators ``x_r = T_r⁻¹e₁`` ``(R, H)`` (real), by
    ``T⁻¹ = (C(x)S(x)ᵀ + C(x)ᵀS(x))/(2x₀)``; six complex FFTs of length ``H`` per row.

    Attributes: ``H``, ``x0`` ``(R,)``, ``c_hat`` ``(R, H)`` (``F x/(2x₀)``), ``s_hat``
    ``(R, H)`` (``F(D x)``), ``D``.
    """

    def __init__(self, x: np.ndarray):
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        self.H = H = x.shape[-1]
        self.x0 = x[:, 0].copy()
        if np.any(self.x0 <= 0):
            raise ValueError("x = T⁻¹e₁ must have x₀ > 0 (T symmetric positive definite)")
        self.D = skew_phase(H)
        self.c_hat = scipy.fft.fft(x, axis=-1) / (2 * self.x0[:, None])
        self.s_hat = scipy.fft.fft(x * self.D, axis=-1)
        self._c_conj = self.c_hat.conj()
        self._s_conj = self.s_hat.conj()

    def apply(self, Z: np.ndarray, workers: int = FFT_WORKERS) -> np.ndarray:
        """``T_r⁻¹`` applied along the last axis of ``Z`` ``(..., R, H)`` (row ``r`` of the
        second-to-last axis uses generator ``r``).  Returns a complex array."""
        w = scipy.fft.fft(Z * self.D, axis=-1, workers=workers, overwrite_x=True)
        u = w * self._s_conj  # F D (Sᵀ z)
        w *= self.s_hat  # F D (S z)
        u = scipy.fft.ifft(u, axis=-1, workers=workers, overwrite_x=True)
        w = scipy.fft.ifft(w, axis=-1, workers=workers, overwrite_x=True)
        u *= self.D.conj()  # Sᵀ z
        w *= self.D.conj()  # S z
        u = scipy.fft.fft(u, axis=-1, workers=workers, overwrite_x=True)
        w = scipy.fft.fft(w, axis=-1, workers=workers, overwrite_x=True)
        u *= self.c_hat
        w *= self._c_conj
        u += w
        return scipy.fft.ifft(u, axis=-1, workers=workers, overwrite_x=True)
