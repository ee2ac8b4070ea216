"""Spectral bounds of composite kernels (sums, products, positive scalings, mixed decay
classes) against dense eigenvalues — including composites whose ``γ(0) ≠ 1``.

Regression: the completely-monotone route computed ``f(π)`` as
``2Σ(-1)^m γ(m) - 1`` instead of ``… - γ(0)``, so ``2·laplace(ℓ=4)`` got the lower bound
1.249 against a true ``λ_min = 0.249``, and through the Schur rule the correlation kernel
``(2·laplace(4))·(0.5·power-law(4, 2))`` got 0.624 against 0.348.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from ditgp.theory import iterations as it
from ditgp.theory.derive import derive
from ditgp.theory.kernels import kernel
from ditgp.theory.kernels._rigorous import cm_symbol_min
from ditgp.theory.spec import GPSpec, Spatial
from ditgp.theory.spectral import eigenvalue_bounds

EPS = float(np.finfo(np.float64).eps)
#: Rounding slack of float64 eigvalsh, in ulps of ‖Γ‖₂ (backward-stable eigensolver).
EIG_SLACK_ULPS = 16
SIZES = (2, 64, 400)
#: Szegő: for summable kernels λ_min(Γ_H) → min f, so at H = 400 a rigorous lower bound of
#: these (fast-decaying) composites is within this relative distance of λ_min(Γ_400).
TIGHT_RTOL = 0.01


def _lap(ell):
    return kernel("laplace", ell=ell)


def _pl(ell, nu):
    return kernel("power-law", ell=ell, nu=nu)


COMPOSITES = {
    # γ(0) = 2: the original failure (complete monotonicity with γ(0) ≠ 1)
    "2*laplace": lambda: 2 * _lap(4.0),
    # a valid correlation kernel (γ(0) = 1) reached through a product of scaled kernels
    "2lap*0.5pl": lambda: (2 * _lap(4.0)) * (0.5 * _pl(4.0, 2.0)),
    "3*power-law": lambda: 3 * _pl(1.0, 1.5),
    "0.2*power-law": lambda: 0.2 * _pl(4.0, 2.0),
    # mixed decay classes: exponential + logarithmic (not summable)
    "lap+2log": lambda: 0.5 * _lap(2.0) + 2 * kernel("logarithmic", ell=1.0, nu=1.0),
    "se+m32 (not CM)": lambda: 1.5 * kernel("squared-exponential", ell=1.0)
    + 0.7 * kernel("matern32", ell=2.0),
    "4*(lap*rq)": lambda: 4 * (_lap(6.0) * kernel("rational-quadratic")),
    # exponential × polynomial (non-summable factor), scaled below 1
    "0.25*(lap*pl0.5)": lambda: 0.25 * (_lap(2.0) * _pl(2.0, 0.5)),
    "2dc*3stretched": lambda: (2 * kernel("damped-cosine", ell=4.0, omega=0.5))
    * (3 * kernel("stretched-exponential", ell=3.0, nu=0.5)),
    "pl+pl (summable + not)": lambda: 0.3 * _pl(4.0, 0.5) + 0.2 * _pl(1.0, 3.0),
}


@functools.cache
def _eig(name: str, H: int) -> np.ndarray:
    return np.linalg.eigvalsh(COMPOSITES[name]().matrix(H))


@pytest.mark.parametrize("name", list(COMPOSITES))
def test_composite_bounds_contain_dense_eigenvalues(name):
    k = COMPOSITES[name]()
    uniform = eigenvalue_bounds(k)
    for H in SIZES:
        lam = _eig(name, H)
        slack = EIG_SLACK_ULPS * EPS * max(abs(lam[-1]), 1.0)
        b = eigenvalue_bounds(k, H)
        assert 0 < b.lower <= lam[0] + slack, (H, b.lower, lam[0], b.method_lower)
        assert uniform.lower <= lam[0] + slack, (H, uniform.lower, lam[0])
        assert lam[-1] <= b.upper + slack, (H, b.upper, lam[-1], b.method_upper)


@pytest.mark.parametrize("name", [n for n in COMPOSITES if COMPOSITES[n]().summable])
def test_composite_lower_bound_is_tight(name):
    """A bound of 0 (or half the truth) would pass containment; Szegő says it converges."""
    lam = _eig(name, 400)[0]
    lower = eigenvalue_bounds(COMPOSITES[name]()).lower
    assert lower >= (1 - TIGHT_RTOL) * lam, (lower, lam)


def test_scaled_laplace_closed_form():
    """``2·laplace(4)``: every eigenvalue ≥ 2(1-ρ)/(1+ρ), ρ = e^{-1/4} (the symbol's min)."""
    rho = math.exp(-0.25)
    b = eigenvalue_bounds(2 * _lap(4.0))
    assert b.lower == pytest.approx(2 * (1 - rho) / (1 + rho), rel=1e-9)
    assert b.lower < 0.2488 < 1.0  # the buggy route gave 1.249


@pytest.mark.parametrize("mass, r", [(1.0, 0.5), (2.0, 0.5), (0.3, 0.9), (7.5, 0.1)])
def test_cm_symbol_min_of_a_scaled_geometric(mass, r):
    """``γ(m) = c·r^m`` has ``min f = f(π) = c(1-r)/(1+r)`` for every mass ``c``."""
    import mpmath as mp

    low, up = cm_symbol_min(lambda m: mp.mpf(mass) * mp.mpf(r) ** m)
    exact = mass * (1 - r) / (1 + r)
    assert low <= exact <= up
    assert up - low <= 1e-9 * exact


def test_derive_kappa_and_steps_cover_the_exact_system():
    """``derive`` on a composite spec: ``κ_t`` and ``K`` are at least their exact values
    (from dense eigenvalues of Γ and Σ), and not far above (the bounds are tight here)."""
    k = COMPOSITES["2lap*0.5pl"]()
    spec = GPSpec(k, H=48, d=3, spatial=Spatial("ar", rho=0.3))
    lam = np.linalg.eigvalsh(spec.Gamma)
    mu = np.linalg.eigvalsh(spec.Sigma)
    for t in (0.05, 0.5):
        d = derive(spec, t=t, eps=1e-6).to_dict()
        a2, s2 = d["process"]["alpha2"], d["process"]["sigma2"]
        a_min, a_max = a2 * lam[0] * mu[0] + s2, a2 * lam[-1] * mu[-1] + s2
        exact_kappa = a_max / a_min
        assert exact_kappa <= d["kappa_t"] <= 1.05 * exact_kappa, (t, d["kappa_t"], exact_kappa)
        exact_k = it.gd_steps(a_min, a_max, 1e-6)
        assert exact_k <= d["gd"]["steps"] <= math.ceil(1.05 * exact_k)
        assert it.chebyshev_steps(a_min, a_max, 1e-6) <= d["chebyshev"]["steps"]


def test_certified_symbol_min_covers_a_minimum_between_grid_points():
    """``f(ω) = 1 + 0.9 cos 2ω`` has ``min f = 0.1`` at ``π/2``, between the grid points
    ``0, π/3, 2π/3, π`` (grid minimum 0.55): the curvature term ``L₂h²/8`` with
    ``L₂ = 2Σm²|γ(m)| = 3.6`` must bring the certified lower bound below 0.1 (a curvature
    without the ``m²`` — found surviving by mutation testing — gives 0.43)."""
    from ditgp.theory.kernels._rigorous import certified_symbol_min

    sm = certified_symbol_min(np.array([0.0, 0.45]), 0.0, points=4)
    assert sm.lower <= 0.1 <= sm.upper
    assert sm.lower == pytest.approx(0.55 - 3.6 * (math.pi / 3) ** 2 / 8, abs=1e-12)
