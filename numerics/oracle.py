"""The exact score oracle (docs/theory.md §2): every comparison in ditgp is made against it.

Shapes: a batch of sequences is ``X`` of shape ``(n, d, H)`` (``X[i]`` is ``X ∈ R^{d×H}``,
column ``h`` = frame ``h``); times ``t`` are a scalar or shape ``(n,)``.

With ``Γ = U_Γ diag(λ) U_Γᵀ`` and ``Σ = U_Σ diag(μ) U_Σᵀ`` (computed once per spec and
cached), ``A_t = α_t²(Γ⊗Σ) + σ_t²I`` is diagonal in the Kronecker eigenbasis and

    s(X, t) = -U_Σ [ (U_Σᵀ X U_Γ) ⊘ (α_t² μ λᵀ + σ_t²) ] U_Γᵀ

at cost ``O(d²H + dH²)`` per sequence.  Sampling uses eigen square roots
``X = U_Σ diag(√μ) Z diag(√λ₊) U_Γᵀ`` (``λ₊ = max(λ, 0)``), never a Cholesky factor of
``Γ``: smooth kernels make ``Γ`` numerically singular (docs/theory.md §4, "Smooth kernels are
nearly singular").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from ditgp.numerics.speccache import SpecCache
from ditgp.theory.choices import ORACLE_METHODS
from ditgp.theory.errors import SpecError
from ditgp.theory.iterations import a_t_extremes
from ditgp.theory.process import bayes_floor as _theory_bayes_floor
from ditgp.theory.spec import GPSpec

__all__ = ["Oracle", "exact_score", "dense_score", "dense_covariance", "vec", "unvec",
           "oracle_for", "select_method", "METHODS", "AUTO_SWITCH_H"]

#: ``method`` values of :func:`exact_score` / :func:`oracle_for`.
METHODS = ORACLE_METHODS
#: ``method="auto"`` uses the FFT path (:mod:`ditgp.numerics.fft.fft_oracle`) from this ``H`` on.
#: Measured by ``ditgp bench long`` (batch 64, d=8, Laplace and power law, shared 2-core CPU;
#: docs/long-sequences.md): the eig path's cold start (``O(H³)`` eigh) costs 18–33× an FFT
#: solve at H=1024 and 66–149× at H=4096; at H=1024 its cached solves take 0.8–1.1× the
#: time of the FFT path's cached ones, and 2.7–4.2× longer at H=4096.
AUTO_SWITCH_H = 1024

_CACHE: SpecCache[Oracle] = SpecCache(16)


def vec(X: np.ndarray) -> np.ndarray:
    """``vec`` stacking columns: ``(n, d, H) -> (n, dH)`` (index ``h·d + i``)."""
    X = np.asarray(X)
    return np.swapaxes(X, -1, -2).reshape(*X.shape[:-2], -1)


def unvec(v: np.ndarray, d: int, H: int) -> np.ndarray:
    """Inverse of :func:`vec`: ``(n, dH) -> (n, d, H)``."""
    v = np.asarray(v)
    return np.swapaxes(v.reshape(*v.shape[:-1], H, d), -1, -2)


def _sandwich(L, X, R):
    """``L @ X[i] @ R`` for every ``i`` of ``X`` ``(n, d, H)`` as two large GEMMs
    (numpy or torch); ``L`` ``(d, d)``, ``R`` ``(H, H)``."""
    n, d, H = X.shape
    Y = (X.reshape(n * d, H) @ R).reshape(n, d, H)  # temporal side: one (nd × H)·(H × H) GEMM
    Z = L @ Y.swapaxes(0, 1).reshape(d, n * H)  # spatial side: one (d × d)·(d × nH) GEMM
    return Z.reshape(d, n, H).swapaxes(0, 1)  # (n, d, H)


def _is_torch(x: Any) -> bool:
    try:
        import torch
    except ImportError:  # pragma: no cover
        return False
    return isinstance(x, torch.Tensor)


class Oracle:
    """Exact Gaussian quantities of one :class:`~ditgp.theory.spec.GPSpec` (float64).

    Build with :meth:`for_spec` (cached by the spec's JSON) rather than the constructor.

    Attributes: ``lam`` (``(H,)`` ascending eigenvalues of ``Γ``), ``U_Gamma`` (``(H, H)``),
    ``mu`` (``(d,)``), ``U_Sigma`` (``(d, d)``), ``gamma`` (``(H,)`` first column of ``Γ``).
    """

    def __init__(self, spec: GPSpec):
        if not isinstance(spec, GPSpec):
            raise SpecError("spec", spec, "a GPSpec")
        self.spec = spec
        self.H, self.d = spec.H, spec.d
        lam, U_G = np.linalg.eigh(spec.Gamma)
        mu, U_S = np.linalg.eigh(spec.Sigma)
        self.lam, self.U_Gamma, self.mu, self.U_Sigma = lam, U_G, mu, U_S
        self.gamma = np.array(spec.Gamma[:, 0])
        for a in (self.lam, self.U_Gamma, self.mu, self.U_Sigma, self.gamma):
            a.setflags(write=False)
        self._torch: dict[tuple[str, str], tuple] = {}

    # -- cache ------------------------------------------------------------------------
    @classmethod
    def for_spec(cls, spec: GPSpec) -> Oracle:
        """The cached oracle of ``spec`` (keyed on its JSON; at most 16 kept, LRU)."""
        return _CACHE.get(spec, cls)

    @staticmethod
    def clear_cache() -> None:
        _CACHE.clear()

    # -- spectra ----------------------------------------------------------------------
    @property
    def kappa_gamma(self) -> float:
        """``κ(Γ) = λ_max/λ_min`` (``inf`` when ``λ_min ≤ 0`` numerically): reported honestly."""
        return math.inf if self.lam[0] <= 0 else float(self.lam[-1] / self.lam[0])

    def eigenvalues(self, t) -> np.ndarray:
        """Eigenvalues of ``A_t`` as ``(..., d, H)``: ``α_t² μ λᵀ + σ_t²`` (``t`` scalar or
        ``(n,)``)."""
        a2, s2 = self._coeffs(t)
        return a2[..., None, None] * np.multiply.outer(self.mu, self.lam) + s2[..., None, None]

    def a_extremes(self, t) -> tuple[float, float]:
        """``(a_min, a_max)`` of ``A_t`` at a scalar ``t`` (exact finite-``H`` spectrum, by
        :func:`ditgp.theory.iterations.a_t_extremes` on the cached eigenvalues)."""
        a2, s2 = self._coeffs(float(t))
        lo, hi = a_t_extremes(self.lam[0], self.lam[-1], self.mu[0], self.mu[-1],
                              float(np.squeeze(a2)), float(np.squeeze(s2)))
        return float(lo), float(hi)

    def kappa(self, t) -> float:
        """``κ_t`` of ``A_t`` for the finite system."""
        lo, hi = self.a_extremes(t)
        return hi / lo

    def _coeffs(self, t) -> tuple[np.ndarray, np.ndarray]:
        sched = self.spec.schedule
        return sched.alpha2(t), sched.sigma2(t)

    # -- sampling ----------------------------------------------------------------------
    def sample(self, n: int, seed: int | np.random.Generator | None = 0, t=None) -> np.ndarray:
        """``n`` exact draws, shape ``(n, d, H)``: ``X ~ N(0, Γ⊗Σ)`` (``t=None``) or of the
        forward marginal ``X_t ~ N(0, A_t)`` at time(s) ``t`` (scalar or ``(n,)``)."""
        if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1:
            raise SpecError("n", n, "an integer ≥ 1")
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        Z = rng.standard_normal((int(n), self.d, self.H))  # (n, d, H)
        if t is None:
            scale = np.sqrt(np.multiply.outer(np.maximum(self.mu, 0.0), np.maximum(self.lam, 0.0)))
        else:
            scale = np.sqrt(self.eigenvalues(np.broadcast_to(np.asarray(t, float), (int(n),))))
        return self.U_Sigma @ (Z * scale) @ self.U_Gamma.T  # (n, d, H)

    # -- score ------------------------------------------------------------------------
    def _mats(self, like):
        import torch

        key = (str(like.dtype), str(like.device))
        if key not in self._torch:
            self._torch[key] = tuple(
                torch.tensor(np.array(a), dtype=like.dtype, device=like.device)
                for a in (self.U_Sigma, self.U_Gamma)
            )
        return self._torch[key]

    def _check_X(self, X) -> None:
        """``X`` must be a real, finite numpy array or torch tensor of shape ``(n, d, H)``."""
        torch_in = _is_torch(X)
        if not (isinstance(X, np.ndarray) or torch_in):
            raise SpecError("X", type(X).__name__,
                            f"a numpy array or torch tensor of shape (n, {self.d}, {self.H})")
        if X.ndim != 3 or tuple(X.shape[1:]) != (self.d, self.H):
            raise SpecError("X", tuple(X.shape), f"shape (n, d, H) = (n, {self.d}, {self.H})")
        if torch_in:
            real = X.is_floating_point()
            finite = bool(X.isfinite().all()) if real else True
        else:
            real = X.dtype.kind in "fiu"
            finite = bool(np.all(np.isfinite(X))) if real else True
        if not real:
            raise SpecError("X", str(X.dtype), "a real (float) array; complex or other dtypes "
                            "are not scores' inputs")
        if not finite:
            raise SpecError("X", "non-finite entries", "finite values (no NaN or inf)")

    def score(self, X, t):
        """Exact score ``s(X, t) = -A_t⁻¹ vec X`` in matrix form, shape ``(n, d, H)``.

        ``X``: ``(n, d, H)`` numpy array or torch tensor (returned as the same type, dtype
        and device; float64 recommended). ``t``: scalar or ``(n,)`` per-sample times.
        """
        self._check_X(X)
        n = X.shape[0]
        if _is_torch(t):
            t = t.detach().cpu().numpy()
        self.spec.schedule.check_time(t)
        t_arr = np.broadcast_to(np.asarray(t, dtype=np.float64), (n,)) if np.ndim(t) else t
        den = self.eigenvalues(t_arr)  # (n, d, H) or (d, H)
        if _is_torch(X):
            import torch

            U_S, U_G = self._mats(X)
            den_t = torch.as_tensor(den, dtype=X.dtype, device=X.device)
            Y = _sandwich(U_S.T, X, U_G)  # (n, d, H) coordinates in the eigenbasis
            return -_sandwich(U_S, Y / den_t, U_G.T)
        X = np.asarray(X, dtype=np.float64)
        Y = _sandwich(self.U_Sigma.T, X, self.U_Gamma)  # (n, d, H) coordinates in the eigenbasis
        return -_sandwich(self.U_Sigma, Y / den, self.U_Gamma.T)

    def solve(self, X, t):
        """``A_t⁻¹ vec X`` in matrix form (``= -score``), shape ``(n, d, H)``."""
        return -self.score(X, t)

    def bayes_floor(self, t) -> np.ndarray:
        """Bayes floor of the ε-prediction loss at each ``t`` (out of ``dH``), docs/theory.md §2."""
        t_arr = np.atleast_1d(np.asarray(t, dtype=np.float64))
        sched = self.spec.schedule
        out = np.array([
            _theory_bayes_floor(self.lam, self.mu, float(sched.alpha2(ti)), float(sched.sigma2(ti)))
            for ti in t_arr
        ])
        return out if np.ndim(t) else out[0]

    def log_density(self, X, t=None) -> np.ndarray:
        """``log p(X)`` per sequence, shape ``(n,)``: data law ``N(0, Γ⊗Σ)`` (``t=None``,
        requires ``Γ`` numerically PD) or the forward marginal ``N(0, A_t)``."""
        X = np.asarray(X, dtype=np.float64)
        self._check_X(X)
        n = X.shape[0]
        if t is None:
            ev = np.multiply.outer(self.mu, self.lam)
            if ev.min() <= 0:
                raise SpecError("t", None, "a diffusion time: Γ⊗Σ is numerically singular")
            ev = np.broadcast_to(ev, (n, self.d, self.H))
        else:
            ev = np.broadcast_to(self.eigenvalues(np.broadcast_to(np.asarray(t, float), (n,))),
                                 (n, self.d, self.H))
        Y = self.U_Sigma.T @ X @ self.U_Gamma
        quad = np.sum(Y * Y / ev, axis=(1, 2))
        logdet = np.sum(np.log(ev), axis=(1, 2))
        return -0.5 * (quad + logdet + self.d * self.H * math.log(2 * math.pi))


def select_method(spec: GPSpec, method: str = "auto") -> str:
    """``"eig"`` or ``"fft"`` for ``spec``: ``method`` itself unless ``"auto"``, which picks
    the eigen oracle for ``H < AUTO_SWITCH_H`` and the FFT path otherwise."""
    if method not in METHODS:
        raise SpecError("method", method, "one of " + ", ".join(METHODS))
    if method != "auto":
        return method
    return "eig" if spec.H < AUTO_SWITCH_H else "fft"


def oracle_for(spec: GPSpec, method: str = "auto"):
    """The cached oracle of ``spec`` for ``method`` (:class:`Oracle` or
    :class:`~ditgp.numerics.fft.fft_oracle.FFTOracle`; both have ``score``, ``solve``,
    ``sample``, ``bayes_floor``, ``log_density``)."""
    if select_method(spec, method) == "eig":
        return Oracle.for_spec(spec)
    from .fft.fft_oracle import FFTOracle

    return FFTOracle.for_spec(spec)


def exact_score(spec: GPSpec, X, t, method: str = "auto"):
    """``s(X, t)`` for ``X`` of shape ``(n, d, H)`` (numpy or torch) and ``t`` scalar or ``(n,)``.

    ``method``: ``"eig"`` (cached eigendecompositions), ``"fft"`` (Toeplitz CG, certified
    relative error ``1e-10`` per sequence) or ``"auto"`` (:func:`select_method`).

    >>> import numpy as np, ditgp
    >>> spec = ditgp.GPSpec(ditgp.kernel("laplace", ell=2.0), H=4, d=2)
    >>> X = np.ones((1, 2, 4))
    >>> exact_score(spec, X, 0.5).shape
    (1, 2, 4)
    """
    if not isinstance(spec, GPSpec):
        raise SpecError("spec", spec, "a GPSpec")
    return oracle_for(spec, method).score(X, t)


def dense_covariance(spec: GPSpec, t) -> np.ndarray:
    """Dense ``A_t = α²(Γ⊗Σ) + σ²I`` (``dH × dH``) — a test oracle for small sizes only."""
    a2 = float(spec.schedule.alpha2(t))
    s2 = float(spec.schedule.sigma2(t))
    kron = np.kron(np.asarray(spec.Gamma), np.asarray(spec.Sigma))
    return a2 * kron + s2 * np.eye(spec.d * spec.H)


def dense_score(spec: GPSpec, X: np.ndarray, t: float) -> np.ndarray:
    """Score by a dense Cholesky solve of ``A_t`` (test oracle; ``O(d³H³)``), ``(n, d, H)``."""
    import scipy.linalg

    X = np.asarray(X, dtype=np.float64)
    A = dense_covariance(spec, t)
    c = scipy.linalg.cho_factor(A)
    sol = scipy.linalg.cho_solve(c, vec(X).T).T  # (n, dH)
    return -unvec(sol, spec.d, spec.H)
