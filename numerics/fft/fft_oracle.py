"""The exact score at long ``H`` in ``O(dH log H)`` per sequence, with a certified error
(docs/theory.md §2, exploiting that ``Γ`` is Toeplitz).

``A_t = α_t²(Γ⊗Σ) + σ_t²I``; in ``Σ``'s eigenbasis (``Σ = U_Σ diag(μ) U_Σᵀ``, ``d × d``) it
splits into ``d`` Toeplitz systems ``T_i = α_t² μ_i Γ + σ_t² I``.  :class:`FFTOracle` mirrors
:class:`~ditgp.numerics.oracle.Oracle` (``score``, ``solve``, ``sample``, ``bayes_floor``,
``log_density``) without ever forming ``Γ``:

* solves by preconditioned CG (:mod:`ditgp.numerics.fft.toeplitz_solve`), stopped on the
  certificate ``‖v̂ - v*‖ ≤ ‖r‖/λ_lo`` with ``λ_lo`` from
  :func:`ditgp.theory.spectral.eigenvalue_bounds` (rigorous for every ``H``);
  :meth:`FFTOracle.solve_certified` returns the bound per sequence;
* samples by circulant embedding (:mod:`ditgp.numerics.fft.circulant_embedding`);
* the Bayes floor **exactly** from one column of each ``T_i⁻¹`` (Gohberg–Semencul trace),
  with a rigorous error bound from the CG certificate;
* ``log p`` with the quadratic form exact (certified solve) and ``log det A_t`` by
  stochastic Lanczos quadrature on the circulant-preconditioned operator, **with its
  standard error** (:meth:`FFTOracle.log_density_with_error`).

Memory is ``O(dH)`` per sequence (:func:`fft_memory_bytes`); no ``H × H`` array is formed.
"""

from __future__ import annotations

import math
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.fft
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec
from ditgp.theory.spectral import eigenvalue_bounds

from ..speccache import SpecCache
from .circulant import chan_eigenvalues
from .circulant_embedding import CirculantEmbedding, block_normals
from .gohberg_semencul import trace_inverse
from .lanczos import Extremes, lanczos, quadrature, ritz_extremes
from .split_toeplitz import AmmarGaderInverse, SplitToeplitz
from .toeplitz_operator import CHUNK_ELEMENTS, FFT_WORKERS
from .toeplitz_solve import ROUNDING_FACTOR, ToeplitzShiftSolver

__all__ = ["FFTOracle", "LongSolve", "FloorEstimate", "LogDensityEstimate", "fft_memory_bytes",
           "eig_memory_bytes", "lanczos_spectrum", "DEFAULT_RTOL", "SLQ_PROBES", "SLQ_STEPS", "LANCZOS_STEPS"]

#: Default certified relative error of :meth:`FFTOracle.score` (per sequence).
DEFAULT_RTOL = 1e-10
#: Hutchinson probes per channel and Lanczos steps per probe for ``log det``.
SLQ_PROBES = 16
SLQ_STEPS = 40
#: Lanczos steps for the extreme eigenvalues of ``Γ``.
LANCZOS_STEPS = 300
#: Rows solved together (bounds the working set to ``ROW_CHUNK_ELEMENTS`` floats per array).
ROW_CHUNK_ELEMENTS = 1 << 24
#: Complex elements per chunk of the direct solve (pairs × d × H ≈ 16 MiB: cache-sized
#: chunks are 3-5× faster than whole-batch transforms on the project machine).
PAIR_CHUNK_ELEMENTS = 1 << 20
#: Certified relative accuracy of the Ammar–Gader generators ``x_i = T_i⁻¹e₁``.
GENERATOR_RTOL = 1e-14
#: Threads of the direct solve (the project machine has 2 cores).
SOLVE_THREADS = max(1, min(4, os.cpu_count() or 1))
_CACHE: SpecCache[FFTOracle] = SpecCache(8)


def fft_memory_bytes(n: int, d: int, H: int) -> int:
    """Peak memory (bytes, estimate) of :meth:`FFTOracle.score` on ``(n, d, H)``.

    Four full ``n·d·H`` float64 arrays (input, its eigenbasis copy, the solution rows, the
    output), plus the working set of one chunk of at most ``ROW_CHUNK_ELEMENTS/H`` rows:
    CG's seven real arrays and the Gohberg–Semencul products' complex spectra of length
    ``≈ H`` (about sixteen real arrays' worth in all), plus FFT buffers and ``O(dH)``
    symbols.  Linear in ``n·d·H``: never ``H²``.
    """
    rows = n * d
    chunk_rows = max(1, min(rows, ROW_CHUNK_ELEMENTS // max(H, 1)))
    return int(8 * (4 * rows * H + 16 * chunk_rows * H + 4 * CHUNK_ELEMENTS + 8 * d * H))


def eig_memory_bytes(d: int, H: int) -> int:
    """Peak memory (bytes, estimate) of the eigen oracle's setup: ``Γ``, ``U_Γ`` and LAPACK
    workspace ≈ four ``H × H`` float64 arrays (plus ``O(d²)``)."""
    return int(8 * (4 * H * H + 4 * d * d))


@dataclass(frozen=True)
class LongSolve:
    """``V`` ``(n, d, H)`` with ``‖V̂_k - V*_k‖_F ≤ error_bound[k]`` and
    ``rel_error_bound[k] = error_bound/(‖V̂_k‖ - error_bound)`` (``≥`` the true relative
    error); ``iterations`` per row ``(n, d)``; ``met`` — every sequence reached ``rtol``."""

    V: np.ndarray
    error_bound: np.ndarray
    rel_error_bound: np.ndarray
    iterations: np.ndarray
    met: bool
    rtol: float


@dataclass(frozen=True)
class ShiftInverse:
    """Everything the direct solve needs at one time ``t``: the Ammar–Gader inverse of each
    ``T_i = a_i Γ + s_i I`` (generators ``x`` ``(d, H)``), the split spectra ``c_T``, ``s_T``
    ``(d, H)`` of ``T_i`` for the residual, ``lam_lo`` (rigorous ``≤ λ_min(T_i)``) and
    ``norm_T`` (``≥ ‖T_i‖₂``)."""

    inverse: AmmarGaderInverse
    x: np.ndarray
    a: np.ndarray
    s: np.ndarray
    c_T: np.ndarray
    s_T: np.ndarray
    lam_lo: np.ndarray
    norm_T: np.ndarray


@dataclass(frozen=True)
class FloorEstimate:
    """Bayes floor ``value`` with ``|value - exact| ≤ error_bound`` (rigorous, see
    :func:`~ditgp.numerics.fft.gohberg_semencul.trace_inverse`)."""

    value: float
    error_bound: float


@dataclass(frozen=True)
class LogDensityEstimate:
    """``log p`` per sequence: ``value`` ``(n,)``, the quadratic part's certified error bound
    ``quad_error_bound`` ``(n,)`` and the log-determinant's Monte-Carlo ``stderr`` (one
    number: the same estimate enters every sequence)."""

    value: np.ndarray
    quad_error_bound: np.ndarray
    stderr: float


def _is_torch(x: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, torch.Tensor)


class FFTOracle:
    """Exact Gaussian quantities of one :class:`GPSpec` through FFTs (float64, no ``Γ``).

    Build with :meth:`for_spec` (cached).  Attributes: ``gamma`` (``(H,)`` first column),
    ``mu``, ``U_Sigma``, ``bounds`` (theory's rigorous ``EigenvalueBounds`` for this ``H``).
    """

    method = "fft"

    def __init__(self, spec: GPSpec):
        if not isinstance(spec, GPSpec):
            raise SpecError("spec", spec, "a GPSpec")
        self.spec = spec
        self.H, self.d = spec.H, spec.d
        self.gamma = np.asarray(spec.kernel.gamma(np.arange(self.H)), dtype=np.float64)
        self.mu, self.U_Sigma = np.linalg.eigh(spec.Sigma)
        self.bounds = eigenvalue_bounds(spec.kernel, self.H)
        self.solver = ToeplitzShiftSolver(self.gamma, self.bounds.lower, self.bounds.upper)
        self.split = SplitToeplitz(self.gamma)
        self._embedding: CirculantEmbedding | None = None
        self._gs: OrderedDict[float, ShiftInverse] = OrderedDict()
        self._lock = threading.Lock()

    @classmethod
    def for_spec(cls, spec: GPSpec) -> FFTOracle:
        """The cached FFT oracle of ``spec`` (keyed on its JSON; at most 8 kept, LRU)."""
        return _CACHE.get(spec, cls)

    @staticmethod
    def clear_cache() -> None:
        _CACHE.clear()

    # -- helpers ------------------------------------------------------------------------
    def _check_X(self, X) -> None:
        if X.ndim != 3 or tuple(X.shape[1:]) != (self.d, self.H):
            raise SpecError("X", tuple(X.shape), f"shape (n, d, H) = (n, {self.d}, {self.H})")

    def _times(self, t, n: int) -> tuple[np.ndarray, np.ndarray]:
        sched = self.spec.schedule
        t_arr = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,))
        return np.asarray(sched.alpha2(t_arr)), np.asarray(sched.sigma2(t_arr))

    # -- solve ----------------------------------------------------------------------------
    def inverse_generator(self, t: float) -> ShiftInverse:
        """Every ``T_i⁻¹`` at the scalar time ``t`` in Ammar–Gader form (one certified CG
        solve of the ``d`` systems ``T_i x_i = e₁``, to ``GENERATOR_RTOL``; cached for 8
        times), with the split spectra of ``T_i`` for the certifying residual.  The first call
        at a ``t`` is the cold one."""
        key = float(t)
        with self._lock:
            hit = self._gs.get(key)
            if hit is not None:
                self._gs.move_to_end(key)
                return hit
        a2, s2 = self._times(key, 1)
        a, s = a2[0] * self.mu, np.full(self.d, s2[0])
        x, _ = self._first_columns(a, s, GENERATOR_RTOL)
        cT, sT = self.split.shifted_spectra(a, s)
        made = ShiftInverse(inverse=AmmarGaderInverse(x), x=x, a=a, s=s, c_T=cT, s_T=sT,
                            lam_lo=self.solver.lam_lo(a, s),
                            norm_T=a * self.split.norm_bound + s)
        with self._lock:
            self._gs[key] = made
            while len(self._gs) > 8:
                self._gs.popitem(last=False)
        return made

    def solve_certified(self, X, t, rtol: float = DEFAULT_RTOL, use_generator: bool = True
                        ) -> LongSolve:
        """``A_t⁻¹ vec X`` (matrix form ``(n, d, H)``) to a certified relative error ``rtol``
        per sequence.  ``t`` scalar or ``(n,)``.

        With a scalar ``t`` and ``use_generator`` (the default): the direct fast inverse of
        :meth:`inverse_generator` (Ammar–Gader, length-``H`` FFTs, sequences packed in pairs
        as complex rows), certified per row by one recomputed residual; rows whose bound
        misses the target are refined by preconditioned CG from there (still certified).
        Otherwise: preconditioned CG from 0 on every row."""
        X = np.asarray(X, dtype=np.float64)
        self._check_X(X)
        if not (isinstance(rtol, int | float) and 0 < rtol < 1):
            raise SpecError("rtol", rtol, "a relative error in (0, 1)")
        n, d, H = X.shape
        a2, s2 = self._times(t, n)
        a_max = a2 * self.mu[-1] * self.bounds.upper + s2  # ≥ λ_max(A_t) per sequence
        # ‖v_k‖ ≥ ‖x_k‖/λ_max(A_t): an absolute floor per row that keeps the sum of squared
        # row bounds below rtol²‖v_k‖² even for rows with tiny solutions.
        atol_seq = rtol * np.linalg.norm(X, axis=(1, 2)) / (a_max * math.sqrt(d))
        if use_generator and np.ndim(t) == 0:
            V, bound, its, met = self._solve_direct(X, float(t), rtol, atol_seq)
        else:
            V, bound, its, met = self._solve_cg(X, a2, s2, rtol, atol_seq)
        vnorm = np.linalg.norm(V, axis=(1, 2))
        # basis change U_Σ (orthogonal up to rounding): add 2·d·u·‖V‖ for its rounding
        err = np.sqrt(np.sum(bound ** 2, axis=1)) + 2 * d * np.finfo(float).eps * vnorm
        with np.errstate(divide="ignore", invalid="ignore"):
            rel = np.where(vnorm > err, err / (vnorm - err), np.where(vnorm == 0, 0.0, np.inf))
        met = bool(met and np.all(rel <= rtol * (1 + 1e-9) + 4 * d * np.finfo(float).eps))
        return LongSolve(V=V, error_bound=err, rel_error_bound=rel, iterations=its,
                         met=met, rtol=float(rtol))

    def _solve_cg(self, X, a2, s2, rtol, atol_seq):
        """Preconditioned CG from 0 on every row (per-sequence times allowed)."""
        n, d, H = X.shape
        Y = np.matmul(self.U_Sigma.T, X)  # U_Σᵀ X, (n, d, H)
        a = (a2[:, None] * self.mu[None, :]).reshape(-1)  # (n·d,)
        s = np.repeat(s2, d)
        atol = np.repeat(atol_seq, d)
        B = Y.reshape(n * d, H)
        out = np.empty_like(B)
        bound = np.empty(n * d)
        its = np.empty(n * d, dtype=np.int64)
        met = True
        step = max(d, (ROW_CHUNK_ELEMENTS // H) // d * d)
        for i in range(0, n * d, step):
            sl = slice(i, min(i + step, n * d))
            res = self.solver.solve(B[sl], a[sl], s[sl], rtol=rtol, atol=atol[sl])
            out[sl], bound[sl], its[sl] = res.y, res.error_bound, res.iterations
            met &= res.met
        V = np.matmul(self.U_Sigma, out.reshape(n, d, H))
        return V, bound.reshape(n, d), its.reshape(n, d), met

    def _solve_direct(self, X, t, rtol, atol_seq):
        """The direct inverse on packed pairs of sequences, certified row by row; CG refines
        the sequences it does not certify.  Chunks of pairs run on ``SOLVE_THREADS`` threads
        (FFTs, ufuncs and BLAS release the GIL), each chunk's FFTs single-threaded."""
        n, d, H = X.shape
        inv = self.inverse_generator(t)
        V = np.empty_like(X)
        bound = np.empty((n, d))
        its = np.zeros((n, d), dtype=np.int64)
        P = (n + 1) // 2
        step = max(1, PAIR_CHUNK_ELEMENTS // (d * H))  # pairs per chunk (cache-sized)
        chunks = [(p0, min(P, p0 + step)) for p0 in range(0, P, step)]
        threads = min(SOLVE_THREADS, len(chunks))
        workers = 1 if threads > 1 else FFT_WORKERS

        def run(chunk):
            return self._direct_chunk(X, inv, chunk[0], chunk[1], V, bound, rtol, atol_seq,
                                      workers)

        if threads > 1:
            from threadpoolctl import threadpool_limits

            # our threads already fill the cores: BLAS threads on top only spin (measured:
            # the basis change costs twice the CPU with OpenBLAS's own threads)
            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(threads) as pool:
                missed = list(pool.map(run, chunks))
        else:
            missed = [run(c) for c in chunks]
        seqs = np.array(sorted(k for m in missed for k in m), dtype=np.int64)
        met = True
        if seqs.size:  # refine the uncertified sequences by CG from the direct solution
            B = np.matmul(self.U_Sigma.T, X[seqs]).reshape(-1, H)
            y0 = np.matmul(self.U_Sigma.T, V[seqs]).reshape(-1, H)
            res = self.solver.solve(B, np.tile(inv.a, seqs.size), np.tile(inv.s, seqs.size),
                                    rtol=rtol, atol=np.repeat(atol_seq[seqs], d), y0=y0)
            V[seqs] = np.matmul(self.U_Sigma, res.y.reshape(-1, d, H))
            bound[seqs] = res.error_bound.reshape(-1, d)
            its[seqs] = res.iterations.reshape(-1, d)
            met = res.met
        return V, bound, its, met

    def _residual(self, Z, W, inv: ShiftInverse, workers: int) -> np.ndarray:
        """``Z - T W`` recomputed from ``W`` (the split product: four length-``H`` FFTs)."""
        R = self.split.apply_spectra(W, inv.c_T, inv.s_T, workers=workers)
        np.subtract(Z, R, out=R)
        return R

    def _direct_chunk(self, X, inv: ShiftInverse, p0: int, p1: int, V, bound, rtol, atol_seq,
                      workers: int) -> list[int]:
        """Pairs ``p0 ≤ p < p1`` (sequences ``2p``, ``2p+1`` as the real and imaginary part of
        one complex row): solve, certify, write ``V`` and ``bound``; return the sequences whose
        bound misses the target."""
        n, d, H = X.shape
        r0, r1 = 2 * p0, min(n, 2 * p1)
        m, p = r1 - r0, p1 - p0
        u = np.finfo(np.float64).eps
        Xc = np.zeros((p, d, H), dtype=np.complex128)
        Xc.real = X[r0:r1:2]
        Xc.imag[: m // 2] = X[r0 + 1:r1:2]  # odd n: the last pair's second vector is 0
        # U_Σᵀ on the packed rows (U real: act on the interleaved real view)
        Z = np.matmul(self.U_Sigma.T, Xc.view(np.float64).reshape(p, d, 2 * H)).view(
            np.complex128)
        W = inv.inverse.apply(Z, workers=workers)
        R = self._residual(Z, W, inv, workers)

        def sq(A):  # squared norms of the real and imaginary parts: (p, d, 2)
            v = A.view(np.float64).reshape(p, d, H, 2)
            return np.einsum("pdhk,pdhk->pdk", v, v)

        def rows(q):  # (p, d, 2) → real rows (m, d): row 2p is the real part, 2p+1 imaginary
            return q.transpose(0, 2, 1).reshape(2 * p, d)[:m]

        r2, w2, z2 = sq(R), sq(W), sq(Z)
        rn, yn = np.sqrt(rows(r2)), np.sqrt(rows(w2))
        # the FFT rounding of a packed pair mixes its two vectors: the rounding term uses
        # the pair's (complex) norms for both
        pair_y = np.repeat(np.sqrt(w2.sum(axis=2)), 2, axis=0)[:m]
        pair_b = np.repeat(np.sqrt(z2.sum(axis=2)), 2, axis=0)[:m]
        rounding = ROUNDING_FACTOR * math.log2(max(2 * H, 2)) * u * (
            inv.norm_T * pair_y + pair_b)
        bnd = (rn + rounding) / inv.lam_lo
        bound[r0:r1] = bnd
        Vc = np.matmul(self.U_Sigma, W.view(np.float64).reshape(p, d, 2 * H)).view(
            np.complex128)
        V[r0:r1:2] = Vc.real
        V[r0 + 1:r1:2] = Vc.imag[: m // 2]
        miss = np.any(bnd > np.maximum(rtol * yn, atol_seq[r0:r1, None]), axis=1)
        return [r0 + int(k) for k in np.flatnonzero(miss)]

    def score(self, X, t, rtol: float = DEFAULT_RTOL):
        """Exact score ``-A_t⁻¹ vec X`` (``(n, d, H)``; numpy or torch in, same type out) to a
        certified relative error ``rtol`` (per sequence); raises if it cannot be certified."""
        if _is_torch(t):
            t = t.detach().cpu().numpy()
        if _is_torch(X):
            import torch

            self._check_X(X)
            S = self.score(X.detach().cpu().double().numpy(), t, rtol)
            return torch.as_tensor(S, dtype=X.dtype, device=X.device)
        res = self.solve_certified(X, t, rtol)
        if not res.met:
            worst = float(np.max(res.rel_error_bound))
            raise SpecError("rtol", rtol, f"a relative error the FFT path can certify for this "
                            f"spec (reached {worst:.3g}; rounding floor ≈ u·κ̄); use a larger "
                            f"rtol or method='eig'")
        return -res.V

    def solve(self, X, t, rtol: float = DEFAULT_RTOL):
        """``A_t⁻¹ vec X`` in matrix form (``= -score``)."""
        return -self.score(X, t, rtol)

    # -- sampling ---------------------------------------------------------------------------
    @property
    def embedding(self) -> CirculantEmbedding:
        """The circulant embedding of ``Γ`` (built on first use; may raise
        :class:`~ditgp.numerics.fft.circulant_embedding.EmbeddingError`)."""
        with self._lock:
            if self._embedding is None:
                self._embedding = CirculantEmbedding(self.spec.kernel.gamma, self.H)
            return self._embedding

    def sample(self, n: int, seed: int | np.random.Generator | None = 0, t=None) -> np.ndarray:
        """``n`` exact draws ``(n, d, H)`` of ``N(0, Γ⊗Σ)`` (``t=None``) or of ``N(0, A_t)``.

        Law: ``rng = default_rng(seed)``; ``Z = embedding.sample(n·d, rng)`` reshaped to
        ``(n, d, H)`` (see :mod:`~ditgp.numerics.fft.circulant_embedding`: blocks of independent
        streams spawned from ``rng``); ``X = U_Σ diag(√μ) Z``; with ``t``: ``X_t = α_t X +
        σ_t W``, ``W = block_normals(rng, n·d, H)`` (rows in blocks of 16, each block from
        its own child of a second ``rng.spawn``), reshaped to ``(n, d, H)``.
        """
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SpecError("n", n, "an integer ≥ 1")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        n = int(n)
        try:
            Z = self.embedding.sample(n * self.d, rng).reshape(n, self.d, self.H)
            W = None if t is None else block_normals(rng, n * self.d, self.H).reshape(
                n, self.d, self.H)
        except ValueError as exc:
            if "seed" not in str(exc):
                raise
            raise SpecError("seed", seed, str(exc)) from None
        M = self.U_Sigma * np.sqrt(self.mu)
        X = np.empty_like(Z)
        ra = None if t is None else np.sqrt(self._times(t, n)[0])
        rs = None if t is None else np.sqrt(self._times(t, n)[1])
        step = max(1, PAIR_CHUNK_ELEMENTS // (self.d * self.H))

        def mix(i):  # X = U_Σ diag(√μ) Z (and α_t X + σ_t W) on sequences [i, i + step)
            sl = slice(i, min(n, i + step))
            np.matmul(M, Z[sl], out=X[sl])
            if ra is not None:
                X[sl] *= ra[sl, None, None]
                W[sl] *= rs[sl, None, None]
                X[sl] += W[sl]

        starts = list(range(0, n, step))
        if len(starts) > 1 and SOLVE_THREADS > 1:
            from threadpoolctl import threadpool_limits

            with threadpool_limits(1, user_api="blas"), ThreadPoolExecutor(SOLVE_THREADS) as pool:
                list(pool.map(mix, starts))
        else:
            for i in starts:
                mix(i)
        return X

    # -- floor ------------------------------------------------------------------------------
    def _first_columns(self, a: np.ndarray, s: np.ndarray, rtol: float):
        E = np.zeros((a.size, self.H))
        E[:, 0] = 1.0
        res = self.solver.solve(E, a, s, rtol=rtol)
        return res.y, res.error_bound

    def bayes_floor_with_error(self, t, rtol: float = 1e-13) -> FloorEstimate:
        """Bayes floor at a scalar ``t`` with a rigorous error bound.

        ``floor = Σ_i Σ_h α²μ_iλ_h/(α²μ_iλ_h + σ²) = Σ_i (H - σ² tr T_i⁻¹)``, each trace
        exact from ``x_i = T_i⁻¹e₁`` by Gohberg–Semencul; the CG certificate on ``x_i``
        bounds the error.
        """
        a2, s2 = self._times(t, 1)
        a = a2[0] * self.mu
        s = np.full(self.d, s2[0])
        x, delta = self._first_columns(a, s, rtol)
        tr, err = trace_inverse(x, delta)
        value = float(np.sum(self.H - s * tr))
        return FloorEstimate(value, float(np.sum(s * err)))

    def bayes_floor(self, t) -> np.ndarray | float:
        """Bayes floor of the ε-prediction loss at each ``t`` (out of ``dH``)."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        out = np.array([self.bayes_floor_with_error(float(ti)).value for ti in t_arr])
        return out if np.ndim(t) else float(out[0])

    # -- log-density --------------------------------------------------------------------------
    def logdet_terms(self, a: np.ndarray, s: np.ndarray, probes: int = SLQ_PROBES,
                     steps: int = SLQ_STEPS, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """``log det(a_i Γ + s_i I)`` per row and its standard error.

        ``= log det P_i + tr log(P_i^{-1/2} T_i P_i^{-1/2})`` with ``P_i`` T. Chan's circulant
        (exact ``Σ log`` of its eigenvalues); the trace by Hutchinson with Rademacher probes
        and Lanczos quadrature (``steps``), standard error = sample std / √probes.
        """
        H = self.H
        chan = chan_eigenvalues(self.gamma)
        P = a[:, None] * chan[None, :] + s[:, None]  # (R, H) DFT order
        if np.any(P <= 0):
            raise SpecError("t", None, "a diffusion time: the preconditioner is singular")
        logdet_P = np.sum(np.log(P), axis=1)
        inv_sqrt = (1.0 / np.sqrt(P))[:, : H // 2 + 1]
        R = a.size
        rows = np.repeat(np.arange(R), probes)
        aa, ss, isq = a[rows], s[rows], inv_sqrt[rows]

        def half(V):
            return scipy.fft.irfft(scipy.fft.rfft(V, axis=-1, workers=FFT_WORKERS) * isq, n=H,
                                   axis=-1, workers=FFT_WORKERS)

        def op(V):
            return half(self.solver.apply(half(V), aa, ss))

        rng = np.random.default_rng(seed)
        Zp = rng.choice(np.array([-1.0, 1.0]), size=(rows.size, H))
        alpha, beta = lanczos(op, Zp, min(steps, H))
        est = H * quadrature(alpha, beta, np.log).reshape(R, probes)
        mean = est.mean(axis=1)
        se = est.std(axis=1, ddof=1) / math.sqrt(probes) if probes > 1 else np.full(R, np.inf)
        return logdet_P + mean, se

    def log_density_with_error(self, X, t=None, rtol: float = DEFAULT_RTOL,
                               probes: int = SLQ_PROBES, seed: int = 0) -> LogDensityEstimate:
        """``log p(X)`` per sequence with the quadratic form's certified error and the
        log-determinant's standard error (``t=None``: the data law, needs ``λ_lo(Γ) > 0``)."""
        X = np.asarray(X, dtype=np.float64)
        self._check_X(X)
        n = X.shape[0]
        if t is None:
            if self.bounds.lower <= 0:
                raise SpecError("t", None, "a diffusion time: no positive lower bound on "
                                "λ_min(Γ) is known for this kernel")
            a, s = self.mu.copy(), np.zeros(self.d)
            Y = np.einsum("ji,njh->nih", self.U_Sigma, X).reshape(n * self.d, self.H)
            res = self.solver.solve(Y, np.tile(a, n), np.zeros(n * self.d), rtol=rtol)
            quad = np.einsum("rh,rh->r", Y, res.y).reshape(n, self.d).sum(axis=1)
            qerr = (np.linalg.norm(Y, axis=1) * res.error_bound).reshape(n, self.d).sum(axis=1)
        else:
            if np.ndim(t):
                raise SpecError("t", t, "a scalar time for log_density on the FFT path")
            a2, s2 = self._times(t, 1)
            a, s = a2[0] * self.mu, np.full(self.d, s2[0])
            res = self.solve_certified(X, t, rtol)
            quad = np.einsum("ndh,ndh->n", X, res.V)
            qerr = np.linalg.norm(X, axis=(1, 2)) * res.error_bound
        logdet, se = self.logdet_terms(a, s, probes=probes, seed=seed)
        value = -0.5 * (quad + float(np.sum(logdet)) + self.d * self.H * math.log(2 * math.pi))
        return LogDensityEstimate(value, 0.5 * qerr, 0.5 * float(np.sqrt(np.sum(se ** 2))))

    def log_density(self, X, t=None) -> np.ndarray:
        """``log p(X)`` per sequence ``(n,)`` (see :meth:`log_density_with_error`)."""
        return self.log_density_with_error(X, t).value

    # -- spectrum -------------------------------------------------------------------------------
    def extremes(self, steps: int = LANCZOS_STEPS, seed: int = 0) -> Extremes:
        """Ritz estimates of ``λ_min(Γ), λ_max(Γ)`` by Lanczos on the FFT operator."""
        v0 = np.random.default_rng(seed).standard_normal((1, self.H))
        alpha, beta = lanczos(self.solver.op.matmul, v0, min(steps, self.H))
        return ritz_extremes(alpha[0], beta[0])


def lanczos_spectrum(spec: GPSpec, t: float) -> dict[str, Any]:
    """:data:`ditgp.theory.derive.SpectrumProvider` without ``Γ``: extreme Ritz values of
    ``Γ`` by Lanczos on the FFT operator (each within its residual radius of an eigenvalue,
    and inside ``[λ_min, λ_max]``) and the Bayes floor by Gohberg–Semencul traces with a
    rigorous error bound.  Memory ``O(H·steps)`` at most; never ``H²``."""
    oracle = FFTOracle.for_spec(spec)
    ex = oracle.extremes()
    floor = oracle.bayes_floor_with_error(t)
    return {"lambda_min": ex.lam_min, "lambda_max": ex.lam_max, "radius_min": ex.radius_min,
            "radius_max": ex.radius_max,
            "method": f"Lanczos on the FFT operator ({ex.steps} steps; Ritz values, residual radii)",
            "bayes_floor": floor.value, "bayes_floor_error_bound": floor.error_bound,
            "bayes_floor_method": "Gohberg–Semencul trace of T_i⁻¹ from one certified CG column"}
