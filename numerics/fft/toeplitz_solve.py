"""Batched preconditioned conjugate gradients for ``(a_r Γ + s_r I) y_r = b_r`` with a
**certified** error (docs/theory.md §2: ``A_t`` in ``Σ``'s eigenbasis is ``d`` Toeplitz systems).

Each row ``r`` of the batch is one symmetric positive definite Toeplitz system
``T_r = a_r Γ + s_r I`` (``a_r = α_t² μ_i ≥ 0``, ``s_r = σ_t² > 0``).  Products with ``Γ``
use :class:`~ditgp.numerics.fft.toeplitz_operator.ToeplitzOperator` (FFT, ``O(H log H)``); the
preconditioner is T. Chan's optimal circulant ``a_r C + s_r I`` (positive definite for every
positive definite ``Γ``, see :mod:`ditgp.numerics.fft.circulant`).

**Certificate.**  For SPD ``T`` and any ``ŷ``, ``y* - ŷ = T⁻¹ r`` with ``r = b - Tŷ``, so

    ‖ŷ - y*‖₂ ≤ ‖r‖₂ / λ_min(T) ≤ ‖r‖₂ / λ_lo,      λ_lo = a·ℓ_Γ + s ≤ λ_min(T)

where ``ℓ_Γ ≥ 0`` is a rigorous lower bound on ``λ_min(Γ)`` for every ``H``
(:func:`ditgp.theory.spectral.eigenvalue_bounds`; ``0`` — hence ``λ_lo = s`` — when the
kernel has no better bound, which is still rigorous because every catalogue kernel is
certified positive semi-definite).  The residual is recomputed from scratch at the end (not
the recursively updated one) and its own floating-point error is added as the stated model
``ROUNDING_FACTOR · log₂N · u · (‖T‖‖ŷ‖ + ‖b‖)`` (FFT products are normwise stable with error
``O(u log N)``).  The bound exceeds the true error by at most ``κ̄ = λ̄/λ_lo`` with
``λ̄ ≥ λ_max(T)`` (because ``‖r‖ ≤ λ_max‖e‖``), plus the rounding term.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import scipy.fft

from .circulant import PRECONDITIONERS
from .toeplitz_operator import FFT_WORKERS, ToeplitzOperator

__all__ = ["CGResult", "pcg", "ToeplitzShiftSolver", "ROUNDING_FACTOR", "DEFAULT_MAXITER",
           "STALL_WINDOW"]

#: Constant of the rounding model of a recomputed FFT residual (see module docstring).
ROUNDING_FACTOR = 8.0
#: Default iteration cap of :func:`pcg`.
DEFAULT_MAXITER = 2000
#: CG stops (uncertified) when the residual has not halved over this many iterations.
STALL_WINDOW = 20


@dataclass
class CGResult:
    """Solution and certificate of a batch of systems (rows ``r``).

    ``y`` ``(R, H)``; ``error_bound`` ``(R,)``: ``‖ŷ_r - y*_r‖₂ ≤ error_bound[r]`` (true
    residual plus rounding, over ``λ_lo``); ``residual`` ``(R,)`` recomputed ``‖b - Tŷ‖``;
    ``iterations`` ``(R,)``; ``met`` — every row reached its target.
    """

    y: np.ndarray
    error_bound: np.ndarray
    residual: np.ndarray
    iterations: np.ndarray
    lam_lo: np.ndarray
    met: bool


def _rownorm(V: np.ndarray) -> np.ndarray:
    return np.sqrt(np.einsum("ij,ij->i", V, V))


def pcg(apply_T: Callable[[np.ndarray, np.ndarray], np.ndarray],
        apply_M: Callable[[np.ndarray, np.ndarray], np.ndarray],
        B: np.ndarray, target: Callable[[np.ndarray, np.ndarray], np.ndarray],
        y0: np.ndarray | None = None, maxiter: int = DEFAULT_MAXITER
        ) -> tuple[np.ndarray, np.ndarray]:
    """Preconditioned CG on the rows of ``B`` ``(R, H)``, each row its own SPD system.

    ``apply_T(V, idx)`` and ``apply_M(V, idx)`` act on the rows ``idx`` (``V`` is
    ``(len(idx), H)``); a row stops when its recursive residual norm is at most
    ``target(Y[idx], idx)`` or it stalls.  Only active rows are transformed.  Returns ``(Y,
    iterations)``; the caller recomputes residuals for the certificate.
    """
    B = np.asarray(B, dtype=np.float64)
    R = B.shape[0]
    Y = np.zeros_like(B) if y0 is None else np.array(y0, dtype=np.float64)
    idx = np.arange(R)
    Rr = B - apply_T(Y, idx) if y0 is not None else B.copy()
    its = np.zeros(R, dtype=np.int64)
    rn = _rownorm(Rr)
    keep = rn > target(Y, idx)
    idx, Rr = idx[keep], Rr[keep]
    if idx.size == 0:
        return Y, its
    Z = apply_M(Rr, idx)
    P = Z.copy()
    rz = np.einsum("ij,ij->i", Rr, Z)
    best = rn[keep].copy()
    since = np.zeros(idx.size, dtype=np.int64)
    for _ in range(maxiter):
        Q = apply_T(P, idx)
        alpha = rz / np.einsum("ij,ij->i", P, Q)
        Yi = Y[idx] + alpha[:, None] * P
        Y[idx] = Yi
        Rr -= alpha[:, None] * Q
        its[idx] += 1
        rn = _rownorm(Rr)
        improved = rn < 0.5 * best
        best = np.where(improved, rn, best)
        since = np.where(improved, 0, since + 1)
        go = (rn > target(Yi, idx)) & (since < STALL_WINDOW)
        if not np.any(go):
            break
        idx, Rr, P, rz, best, since = idx[go], Rr[go], P[go], rz[go], best[go], since[go]
        Z = apply_M(Rr, idx)
        rz_new = np.einsum("ij,ij->i", Rr, Z)
        P = Z + (rz_new / rz)[:, None] * P
        rz = rz_new
    return Y, its


class ToeplitzShiftSolver:
    """Solver for the rows ``(a_r Γ + s_r I) y_r = b_r`` with one FFT operator for ``Γ``.

    ``g``: first column of ``Γ`` (``(H,)``); ``lam_lower``: a rigorous lower bound
    ``ℓ_Γ ≥ 0`` on ``λ_min(Γ)`` (every ``H``); ``lam_upper``: an upper bound on
    ``λ_max(Γ)`` (only for the stated looseness factor); ``preconditioner``: ``"chan"``
    (default, always SPD), ``"strang"`` or ``"none"``.
    """

    def __init__(self, g: np.ndarray, lam_lower: float, lam_upper: float = math.inf,
                 preconditioner: str = "chan"):
        if not (lam_lower >= 0 and math.isfinite(lam_lower)):
            raise ValueError(f"lam_lower={lam_lower!r}: expected a finite number ≥ 0")
        if preconditioner not in (*PRECONDITIONERS, "none"):
            raise ValueError(f"preconditioner={preconditioner!r}: expected chan, strang or none")
        self.op = ToeplitzOperator(g)
        self.H = self.op.H
        self.lam_lower = float(lam_lower)
        self.lam_upper = float(lam_upper)
        self.preconditioner = preconditioner
        if preconditioner == "none":
            self._pc = None
        else:
            ev = PRECONDITIONERS[preconditioner](self.op.g)
            self._pc = np.ascontiguousarray(ev[: self.H // 2 + 1])  # rfft half (ev symmetric)

    def apply(self, Y: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        """``(a_r Γ + s_r I) y_r`` for every row (``a``, ``s`` shape ``(R,)``)."""
        out = self.op.matmul(Y)
        out *= a[:, None]
        out += s[:, None] * Y
        return out

    def _precondition(self, Rr: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        if self._pc is None:
            return Rr.copy()
        den = a[:, None] * self._pc[None, :] + s[:, None]
        if np.any(den <= 0):  # Strang's can be indefinite: refuse rather than diverge
            raise ValueError("Strang's circulant preconditioner is not positive definite for "
                             "this kernel; use preconditioner='chan'")
        f = scipy.fft.rfft(Rr, axis=-1, workers=FFT_WORKERS)
        f /= den
        return scipy.fft.irfft(f, n=self.H, axis=-1, workers=FFT_WORKERS)

    def lam_lo(self, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Rigorous lower bounds ``a_r ℓ_Γ + s_r`` on ``λ_min(T_r)``."""
        return a * self.lam_lower + s

    def rounding(self, Y: np.ndarray, B: np.ndarray, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        """Model of the floating-point error of a recomputed residual, per row."""
        u = np.finfo(np.float64).eps
        norm_T = a * self.op.norm_bound() + s
        return ROUNDING_FACTOR * math.log2(max(self.op.n_fft, 2)) * u * (
            norm_T * _rownorm(Y) + _rownorm(B))

    def solve(self, B: np.ndarray, a, s, rtol: float = 1e-10, atol: float = 0.0,
              y0: np.ndarray | None = None, maxiter: int = DEFAULT_MAXITER) -> CGResult:
        """Solve every row to a certified error ``≤ max(rtol·‖ŷ_r‖, atol)``.

        ``B`` ``(R, H)``; ``a``, ``s``, ``atol`` scalars or ``(R,)``.  Two rounds at most: a second
        CG restart from ``ŷ`` handles rows whose recursive residual drifted from the true one.
        """
        B = np.ascontiguousarray(B, dtype=np.float64)
        if B.ndim != 2 or B.shape[1] != self.H:
            raise ValueError(f"B has shape {B.shape}: expected (R, {self.H})")
        R = B.shape[0]
        a = np.broadcast_to(np.asarray(a, dtype=np.float64), (R,)).copy()
        s = np.broadcast_to(np.asarray(s, dtype=np.float64), (R,)).copy()
        if np.any(a < 0) or np.any(s < 0):
            raise ValueError("expected a ≥ 0 and s ≥ 0 (T = aΓ + sI)")
        lo = self.lam_lo(a, s)
        if np.any(lo <= 0):
            raise ValueError("T = aΓ + sI has no positive lower bound on λ_min (s = 0 and no "
                             "positive bound on λ_min(Γ))")
        atol = np.broadcast_to(np.asarray(atol, dtype=np.float64), (R,))
        # Stop CG a little below the target so the recomputed residual (plus rounding) meets it.
        safety = 0.25

        def target(Yi, idx):
            return safety * lo[idx] * np.maximum(rtol * _rownorm(Yi), atol[idx])

        def apply_T(V, idx):
            return self.apply(V, a[idx], s[idx])

        def apply_M(V, idx):
            return self._precondition(V, a[idx], s[idx])

        its = np.zeros(R, dtype=np.int64)
        Y = y0
        if Y is not None:  # a good initial guess (e.g. Gohberg–Semencul) may certify at once
            Y = np.array(Y, dtype=np.float64)
            res = _rownorm(B - self.apply(Y, a, s))
            bound = (res + self.rounding(Y, B, a, s)) / lo
            ok = bound <= np.maximum(rtol * _rownorm(Y), atol)
            if np.all(ok):
                return CGResult(y=Y, error_bound=bound, residual=res, iterations=its, lam_lo=lo,
                                met=True)
        for _ in range(2):
            Y, k = pcg(apply_T, apply_M, B, target, y0=Y, maxiter=maxiter)
            its += k
            res = _rownorm(B - self.apply(Y, a, s))
            bound = (res + self.rounding(Y, B, a, s)) / lo
            ok = bound <= np.maximum(rtol * _rownorm(Y), atol)
            if np.all(ok):
                break
        return CGResult(y=Y, error_bound=bound, residual=res, iterations=its, lam_lo=lo,
                        met=bool(np.all(ok)))

    def looseness(self, a: np.ndarray, s: np.ndarray) -> np.ndarray:
        """``(a λ̄ + s)/(a ℓ_Γ + s)``: the bound is at most this factor above the CG error
        (before rounding)."""
        return (a * self.lam_upper + s) / self.lam_lo(a, s)
