"""Unrolled iterations whose last iterate is the score (docs/theory.md §3).

``v* = A_t⁻¹ x`` minimises ``½ vᵀA_t v - vᵀx``.  For a symmetric positive definite
``A`` with spectrum in ``[a, b]`` (``a = a_min``, ``b = a_max``):

**Gradient descent** from ``v_0 = 0``: ``v_{k+1} = v_k - η(A v_k - x)``.
Per eigenvalue ``a_i`` of ``A`` the error factor is ``(1 - η a_i)^k``; the closed form is
``v_K = (I - (I - ηA)^K) A⁻¹ x``.  With ``η = 2/(a + b)`` the contraction is
``ρ = (κ - 1)/(κ + 1)``, ``κ = b/a``, and relative error ``ε`` needs
``K = ⌈ln(1/ε)/ln(1/ρ)⌉`` steps.

**Chebyshev semi-iteration** (accelerated; not in the paper): with ``θ = (b + a)/2``,
``δ = (b - a)/2``, ``σ = θ/δ`` and ``τ_k = T_k(σ)`` (Chebyshev polynomials), the error
polynomial is ``P_k(λ) = T_k((θ - λ)/δ)/τ_k``.  The three-term recurrence
``T_{k+1} = 2zT_k - T_{k-1}`` gives, with residual ``r_k = x - A v_k``,

    v_1     = v_0 + r_0/θ
    v_{k+1} = v_k + (ω_{k+1}/θ) r_k + (ω_{k+1} - 1)(v_k - v_{k-1}),
    ω_{k+1} = 2σ τ_k/τ_{k+1},  ω_1 = 1,

(and ``ω_{k+1} - 1 = τ_{k-1}/τ_{k+1}``).  The relative error after ``k`` steps is at most
``1/T_k(σ) ≤ 2c^k``, ``c = (√κ - 1)/(√κ + 1)``; relative error ``ε`` needs
``K = ⌈arccosh(1/ε)/arccosh(σ)⌉ ≤ ⌈(√κ/2) ln(2/ε)⌉`` steps.

Every step is linear in the iterates, so one transformer block realises one step
(docs/theory.md §8).  Symbolic forms are module constants; numeric functions go through the
bridge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import sympy as sp
from ditgp.theory.bridge import to_numeric
from ditgp.theory.errors import SpecError, require

__all__ = [
    "a_min_s",
    "a_max_s",
    "eta_s",
    "k_s",
    "eps_s",
    "a_s",
    "KAPPA",
    "GD_STEP",
    "GD_RATE",
    "GD_STEPS",
    "GD_ERROR_FACTOR",
    "GD_ITERATE_FACTOR",
    "CHEB_SIGMA",
    "CHEB_RATE",
    "CHEB_ERROR_BOUND",
    "CHEB_STEPS",
    "CHEB_STEPS_APPROX",
    "GD_STEPS_APPROX",
    "ChebyshevPlan",
    "a_t_extremes",
    "gd_step_size",
    "gd_rate",
    "gd_steps",
    "gd_error_bound",
    "chebyshev_plan",
    "chebyshev_steps",
    "chebyshev_error_bound",
    "chebyshev_omega",
]

a_min_s = sp.Symbol("a_min", positive=True)
a_max_s = sp.Symbol("a_max", positive=True)
eta_s = sp.Symbol("eta", positive=True)
k_s = sp.Symbol("k", integer=True, nonnegative=True)
eps_s = sp.Symbol("epsilon", positive=True)
a_s = sp.Symbol("a", positive=True)  # one eigenvalue of A_t

#: condition number ``κ_t = a_max / a_min``
KAPPA = a_max_s / a_min_s
#: optimal GD step ``η = 2/(a_min + a_max)``
GD_STEP = 2 / (a_min_s + a_max_s)
#: GD contraction ``ρ = (κ - 1)/(κ + 1)``
GD_RATE = (a_max_s - a_min_s) / (a_max_s + a_min_s)
#: GD steps for relative error ε (before the ceiling)
GD_STEPS = sp.log(1 / eps_s) / sp.log(1 / GD_RATE)
#: the familiar approximation ``(κ/2) ln(1/ε)``
GD_STEPS_APPROX = KAPPA / 2 * sp.log(1 / eps_s)
#: GD error factor of iterate k on eigenvalue a: ``(1 - ηa)^k``
GD_ERROR_FACTOR = (1 - eta_s * a_s) ** k_s
#: GD iterate k on eigenvalue a, as a multiple of ``x``: ``(1 - (1 - ηa)^k)/a``
GD_ITERATE_FACTOR = (1 - (1 - eta_s * a_s) ** k_s) / a_s
#: Chebyshev ``σ = (a_max + a_min)/(a_max - a_min)``
CHEB_SIGMA = (a_max_s + a_min_s) / (a_max_s - a_min_s)
#: Chebyshev asymptotic rate ``c = (√κ - 1)/(√κ + 1)``
CHEB_RATE = (sp.sqrt(KAPPA) - 1) / (sp.sqrt(KAPPA) + 1)
#: Chebyshev relative error bound after k steps, ``1/T_k(σ)``
CHEB_ERROR_BOUND = 1 / sp.cosh(k_s * sp.acosh(CHEB_SIGMA))
#: Chebyshev steps for relative error ε (before the ceiling)
CHEB_STEPS = sp.acosh(1 / eps_s) / sp.acosh(CHEB_SIGMA)
#: the familiar approximation ``(√κ/2) ln(2/ε)``
CHEB_STEPS_APPROX = sp.sqrt(KAPPA) / 2 * sp.log(2 / eps_s)

_gd_step = to_numeric(GD_STEP, [a_min_s, a_max_s])
_gd_rate = to_numeric(GD_RATE, [a_min_s, a_max_s])


def _check_spectrum(a_min, a_max) -> tuple[np.ndarray, np.ndarray]:
    a_min = np.asarray(a_min, dtype=np.float64)
    a_max = np.asarray(a_max, dtype=np.float64)
    if np.any(~np.isfinite(a_min)) or np.any(a_min <= 0):
        raise SpecError("a_min", a_min if a_min.ndim else float(a_min), "a finite number > 0")
    if np.any(~np.isfinite(a_max)) or np.any(a_max < a_min):
        raise SpecError("a_max", a_max if a_max.ndim else float(a_max), "a finite number ≥ a_min")
    return a_min, a_max


def _check_eps(eps: float) -> float:
    require(isinstance(eps, int | float) and 0 < eps < 1, "eps", eps, "a relative error in (0, 1)")
    return float(eps)


def a_t_extremes(lam_min, lam_max, mu_min, mu_max, alpha2, sigma2):
    """Spectrum ends of ``A_t = α²(Γ⊗Σ) + σ²I`` from those of ``Γ`` and ``Σ`` (``Σ`` SPD).

    The eigenvalues of ``Γ⊗Σ`` are the products ``λ_i μ_j``; with ``μ > 0`` the extreme
    products are ``λ_min μ_min`` (or ``λ_min μ_max`` when ``λ_min < 0``, e.g. a truncated
    ``Γ_w`` that lost definiteness) and ``λ_max μ_max``.  Returns ``(a_min, a_max)``; a
    non-positive ``a_min`` says ``A_t`` is not positive definite.
    """
    lam_min = np.asarray(lam_min, dtype=np.float64)
    mu_low = np.where(lam_min >= 0, np.asarray(mu_min), np.asarray(mu_max))
    a_min = np.asarray(alpha2) * lam_min * mu_low + np.asarray(sigma2)
    a_max = np.asarray(alpha2) * np.asarray(lam_max) * np.asarray(mu_max) + np.asarray(sigma2)
    return a_min, a_max


def gd_step_size(a_min, a_max):
    """Optimal constant step ``η = 2/(a_min + a_max)``."""
    return _gd_step(*_check_spectrum(a_min, a_max))


def gd_rate(a_min, a_max):
    """Contraction ``ρ = (κ - 1)/(κ + 1)`` of GD with the optimal step."""
    return _gd_rate(*_check_spectrum(a_min, a_max))


def gd_error_bound(a_min, a_max, k: int):
    """Relative error bound ``ρ^k`` after ``k`` GD steps from ``v_0 = 0``."""
    return gd_rate(a_min, a_max) ** k


def gd_steps(a_min: float, a_max: float, eps: float) -> int:
    """Smallest ``K`` with ``ρ^K ≤ ε`` (at least 1)."""
    eps = _check_eps(eps)
    rho = float(gd_rate(a_min, a_max))
    if rho <= 0.0:
        return 1
    k = max(1, math.ceil(math.log(eps) / math.log(rho)))
    while rho**k > eps:  # guard against rounding in the ratio of logs
        k += 1
    return k


def _sigma(a_min: float, a_max: float) -> float:
    a_min, a_max = (float(v) for v in _check_spectrum(a_min, a_max))
    if a_max == a_min:
        return math.inf
    return (a_max + a_min) / (a_max - a_min)


def chebyshev_error_bound(a_min: float, a_max: float, k: int) -> float:
    """Relative error bound ``1/T_k(σ)`` after ``k`` Chebyshev steps (``k = 0`` gives 1)."""
    sigma = _sigma(a_min, a_max)
    if k == 0:
        return 1.0
    if math.isinf(sigma):
        return 0.0
    x = k * math.acosh(sigma)
    return 0.0 if x > 700 else 1.0 / math.cosh(x)


def chebyshev_steps(a_min: float, a_max: float, eps: float) -> int:
    """Smallest ``K`` with ``1/T_K(σ) ≤ ε`` (at least 1)."""
    eps = _check_eps(eps)
    sigma = _sigma(a_min, a_max)
    if math.isinf(sigma):
        return 1
    k = max(1, math.ceil(math.acosh(1.0 / eps) / math.acosh(sigma)))
    while chebyshev_error_bound(a_min, a_max, k) > eps:
        k += 1
    return k


def chebyshev_omega(a_min: float, a_max: float, K: int) -> np.ndarray:
    """``ω_1..ω_K`` of the three-term recurrence (``ω_1 = 1``), computed through the
    ratios ``r_k = τ_{k-1}/τ_k`` (``r_{k+1} = 1/(2σ - r_k)``, ``ω_{k+1} = 2σ r_{k+1}``), which
    never overflow."""
    require(isinstance(K, int) and K >= 0, "K", K, "an integer ≥ 0")
    sigma = _sigma(a_min, a_max)
    omega = np.ones(K)
    if math.isinf(sigma):
        return omega  # A = θI: one step is exact and later steps keep it
    r = 1.0 / sigma  # r_1 = τ_0/τ_1
    for k in range(1, K):
        r = 1.0 / (2.0 * sigma - r)
        omega[k] = 2.0 * sigma * r
    return omega


@dataclass(frozen=True)
class ChebyshevPlan:
    """Coefficients of ``K`` Chebyshev steps on a spectrum ``[a_min, a_max]``.

    ``omega[k-1] = ω_k``; ``bounds[k]`` is the relative error bound after ``k`` steps.
    """

    a_min: float
    a_max: float
    theta: float
    omega: np.ndarray
    bounds: np.ndarray

    @property
    def steps(self) -> int:
        return len(self.omega)


def chebyshev_plan(a_min: float, a_max: float, K: int) -> ChebyshevPlan:
    """All coefficients of ``K`` Chebyshev steps (see the module docstring)."""
    a_min_f, a_max_f = (float(v) for v in _check_spectrum(a_min, a_max))
    omega = chebyshev_omega(a_min_f, a_max_f, K)
    bounds = np.array([chebyshev_error_bound(a_min_f, a_max_f, k) for k in range(K + 1)])
    return ChebyshevPlan(a_min_f, a_max_f, 0.5 * (a_min_f + a_max_f), omega, bounds)
