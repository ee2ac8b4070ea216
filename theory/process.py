"""Forward process, the Gaussian score and the Bayes floor of the denoising loss (docs/theory.md §2).

Symbolic expressions (module constants) and their numeric forms through the bridge:

* ``α_t² = exp(-t)``, ``σ_t² = 1 - exp(-t)``;
* ``A_t = α_t² (Γ ⊗ Σ) + σ_t² I``, the marginal covariance of ``vec X_t``;
* the score ``s(X, t) = -A_t⁻¹ vec X``, in eigen form
  ``-U_Σ [ (U_Σᵀ X U_Γ) ⊘ (α_t² μ λᵀ + σ_t²) ] U_Γᵀ``;
* the Bayes floor of the ε-prediction loss
  ``floor(t) = Σ_{i,j} α_t² λ_i μ_j / (α_t² λ_i μ_j + σ_t²)`` (out of ``dH``).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from ditgp.theory.bridge import to_numeric

__all__ = [
    "t",
    "ALPHA",
    "ALPHA2",
    "SIGMA2",
    "A_EIGEN",
    "SCORE_EIGEN",
    "FLOOR_TERM",
    "score_matrix_form",
    "score_eigen_form",
    "bayes_floor",
    "bayes_floor_expr",
    "eigen_denominator",
]

t = sp.Symbol("t", positive=True)
lam = sp.Symbol("lambda", positive=True)  # eigenvalue of Γ
mu = sp.Symbol("mu", positive=True)  # eigenvalue of Σ
alpha2_s = sp.Symbol("alpha2", positive=True)
sigma2_s = sp.Symbol("sigma2", positive=True)
xhat = sp.Symbol("xhat", real=True)  # a coordinate of U_Σᵀ X U_Γ

#: ``α_t = exp(-t/2)``
ALPHA = sp.exp(-t / 2)
#: ``α_t² = exp(-t)``
ALPHA2 = sp.exp(-t)
#: ``σ_t² = 1 - exp(-t)``
SIGMA2 = 1 - sp.exp(-t)
#: eigenvalue of ``A_t`` for the eigenpair ``(λ, μ)``
A_EIGEN = alpha2_s * lam * mu + sigma2_s
#: one coordinate of the score in the joint eigenbasis
SCORE_EIGEN = -xhat / A_EIGEN
#: one term of the Bayes floor of the ε-prediction loss
FLOOR_TERM = alpha2_s * lam * mu / A_EIGEN

_floor_numeric = to_numeric(FLOOR_TERM, [alpha2_s, sigma2_s, lam, mu])
_denominator_numeric = to_numeric(A_EIGEN, [alpha2_s, sigma2_s, lam, mu])


def score_matrix_form() -> sp.Expr:
    """``s = -vec⁻¹((α_t² Γ⊗Σ + σ_t² I)⁻¹ vec X)`` as a sympy matrix expression."""
    n = sp.Symbol("n", integer=True, positive=True)
    Gam = sp.MatrixSymbol("Gamma", n, n)
    Sig = sp.MatrixSymbol("Sigma", n, n)
    vecX = sp.MatrixSymbol("vecX", n * n, 1)
    A = ALPHA2 * sp.kronecker_product(Gam, Sig) + SIGMA2 * sp.Identity(n * n)
    return -sp.Inverse(A) * vecX


def score_eigen_form() -> str:
    """The eigen form of the score, as text (elementwise ⊘ has no sympy matrix symbol)."""
    return "s(X, t) = -U_Σ [ (U_Σᵀ X U_Γ) ⊘ (α_t² μ λᵀ + σ_t²) ] U_Γᵀ"


def bayes_floor_expr() -> sp.Expr:
    """Per-eigenpair Bayes-floor term with ``α_t², σ_t²`` written in ``t``."""
    return FLOOR_TERM.subs({alpha2_s: ALPHA2, sigma2_s: SIGMA2})


def eigen_denominator(lam_values, mu_values, alpha2, sigma2) -> np.ndarray:
    """``α² μ λᵀ + σ²`` as a ``(d, H)`` array (eigenvalues of ``A_t``, float64)."""
    lam_values = np.asarray(lam_values, dtype=np.float64)
    mu_values = np.asarray(mu_values, dtype=np.float64)
    return _denominator_numeric(alpha2, sigma2, lam_values[None, :], mu_values[:, None])


def bayes_floor(lam_values, mu_values, alpha2, sigma2) -> float:
    """Bayes floor of ``E‖ε_θ(X_t, t) - Z‖²``: ``Σ_{i,j} α²λ_iμ_j/(α²λ_iμ_j + σ²)``.

    ``lam_values`` are the eigenvalues of ``Γ``, ``mu_values`` those of ``Σ``; the floor is
    out of ``dH`` (the loss of predicting zero).
    """
    lam_values = np.asarray(lam_values, dtype=np.float64)
    mu_values = np.asarray(mu_values, dtype=np.float64)
    terms = _floor_numeric(alpha2, sigma2, lam_values[None, :], mu_values[:, None])
    return float(np.sum(terms))
