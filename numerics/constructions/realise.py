"""Attention realisations of the temporal product ``v ↦ Σ Γ_w v`` (docs/theory.md §8).

Each realisation returns a list of :class:`Head` descriptions; :func:`ditgp.numerics.construct`
writes them into the attention weights by channel name.  Every head reads the iterate
channel ``v`` and writes into the scratch channel ``u``; its value/output matrix is
``coef · Σ``, so the attention layer adds ``u_h = Σ Σ_j γ_w(|h-j|) v_j`` exactly.

Scores.  With the circle embedding ``e_h = r(cos 2πh/C, sin 2πh/C)``, ``C ≥ 2H``, the query
``(e_h, 1)`` and key ``(e_j, -a)`` give the ReLU score ``⟨e_h, e_j⟩ - a = s_m - a`` with
``s_m = r² cos(2πm/C)``, strictly decreasing in the gap ``m = |h-j| < C/2``; the bias ``a``
comes from the constant channel.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = ["Head", "gap_scores", "paper_heads", "compact_heads", "softmax_heads", "check_frames"]


@dataclass(frozen=True)
class Head:
    """One attention head: ReLU bias ``a`` (score ``s - a``) and value coefficient ``coef``
    (value ``coef·Σ``); softmax heads carry instead a per-gap bias/mask and a per-position
    sink bias (``coef`` is then the normaliser ``±N``)."""

    coef: float
    bias: float = 0.0
    rel_bias: np.ndarray | None = None  # (H,) softmax, per gap
    rel_mask: np.ndarray | None = None  # (H,) bool, per gap
    sink_bias: np.ndarray | None = None  # (H,) per query position


def gap_scores(H: int, r: float, C: int) -> np.ndarray:
    """``s_m = r² cos(2πm/C)`` for ``m = 0..H`` (one past the last gap), shape ``(H+1,)``."""
    m = np.arange(H + 1, dtype=np.float64)
    return r * r * np.cos(2 * math.pi * m / C)


def paper_heads(gamma: np.ndarray, w: int, r: float, C: int) -> list[Head]:
    """The paper's realisation: four ReLU heads per gap ``m = 0..w`` (``M = 4(w+1)``).

    Derivation.  For gap ``m`` let ``lo = s_{m+1} < s_m < hi = s_{m-1}`` (``hi = 2s_0 - s_1``
    for ``m = 0``) and put ``a = lo + (s_m-lo)/3``, ``b = lo + 2(s_m-lo)/3``,
    ``c = s_m + (hi-s_m)/3``, ``e = s_m + 2(hi-s_m)/3``.  The trapezoid

        T_m(s) = [ReLU(s-a) - ReLU(s-b)]/(b-a) - [ReLU(s-c) - ReLU(s-e)]/(e-c)

    is 1 on ``[b, c] ∋ s_m``, and 0 for ``s ≤ a`` (so at every ``s_{m'}``, ``m' > m``) and for
    ``s ≥ e`` (every ``s_{m'}``, ``m' < m``): exactly ``1{|h-j| = m}`` on the lattice scores.
    Value ``γ(m)Σ`` per group gives ``Σ_j γ_w(|h-j|) Σ v_j``.
    """
    s = gap_scores(len(gamma), r, C)
    heads: list[Head] = []
    for m in range(w + 1):
        lo = s[m + 1]
        hi = s[m - 1] if m > 0 else 2 * s[0] - s[1]
        a, b = lo + (s[m] - lo) / 3, lo + 2 * (s[m] - lo) / 3
        c, e = s[m] + (hi - s[m]) / 3, s[m] + 2 * (hi - s[m]) / 3
        g = float(gamma[m])
        heads += [Head(g / (b - a), a), Head(-g / (b - a), b),
                  Head(-g / (e - c), c), Head(g / (e - c), e)]
    return heads


def compact_heads(gamma: np.ndarray, w: int, r: float, C: int) -> list[Head]:
    """Compact realisation: ``w+1`` ReLU heads with value ``Σ`` (times a slope coefficient).

    Derivation.  Put knots at the midpoints ``k_j = (s_j + s_{j+1})/2``, ``j = 0..w``, and seek
    ``φ(s) = Σ_j c_j ReLU(s - k_j)`` with ``φ(s_m) = γ(m)`` for ``m ≤ w``; for ``m > w`` every
    ``s_m < k_w`` so ``φ(s_m) = 0`` exactly (the truncation).  Since ``s_m - k_j > 0`` iff
    ``j ≥ m``, the conditions ``Σ_{j≥m} c_j (s_m - k_j) = γ(m)`` are triangular and solved from
    ``m = w`` down to ``0``.  ``φ`` is a piecewise-linear interpolant through
    ``(s_m, γ(m))``; heads with ``c_j = 0`` are dropped (so ``M ≤ w + 1``).  Knots sit half-way
    between lattice scores, so rounding of the score never crosses a kink.
    """
    s = gap_scores(len(gamma), r, C)
    knots = 0.5 * (s[: w + 1] + s[1: w + 2])
    c = np.zeros(w + 1)
    for m in range(w, -1, -1):
        partial = sum(c[j] * (s[m] - knots[j]) for j in range(m + 1, w + 1))
        c[m] = (float(gamma[m]) - partial) / (s[m] - knots[m])
    return [Head(float(c[j]), float(knots[j])) for j in range(w + 1) if c[j] != 0.0]


def softmax_heads(gamma: np.ndarray, w: int, H: int) -> list[Head]:
    """Softmax realisation: relative-position bias ``log|γ(m)|``, sink token, value ``±NΣ``.

    Derivation.  For the group of gaps with ``γ(m) > 0`` (and ``m ≤ w``) the bias
    ``b(h, j) = log γ(|h-j|)`` (other gaps masked) gives un-normalised weights ``γ(|h-j|)``;
    row ``h`` sums to ``ρ_h``.  A sink token with zero value and per-position bias
    ``β_h = log(N - ρ_h)``, ``N = max_h ρ_h + 1``, makes every row's normaliser exactly ``N``,
    so the head outputs ``Σ_j γ(|h-j|) v_j / N``; value ``NΣ`` restores ``ΣΓ_w^+ v``.  Kernels
    with negative values (e.g. the damped cosine) get a second group on ``-γ`` with value
    ``-NΣ``: ``Γ_w = Γ_w^+ - Γ_w^-``.  Exact for every positive-definite ``γ``.
    """
    heads: list[Head] = []
    gaps = np.arange(H)
    for sign in (1.0, -1.0):
        part = np.where((gaps <= w) & (sign * gamma[:H] > 0), sign * gamma[:H], 0.0)
        if not np.any(part > 0):
            continue
        mask = part > 0
        bias = np.where(mask, np.log(np.where(mask, part, 1.0)), 0.0)
        idx = np.abs(np.subtract.outer(gaps, gaps))
        rho = part[idx].sum(axis=1)  # (H,) row sums
        N = float(rho.max()) + 1.0
        heads.append(Head(sign * N, 0.0, bias, mask, np.log(N - rho)))
    return heads


def check_frames(config, X) -> None:
    """Refuse inputs a constructed network cannot serve: more than ``H`` frames for any
    network, and ``H' ≠ H`` frames for a softmax construction (its sink bias ``β_h`` makes
    the row normaliser exactly ``N`` only for rows of length ``H``; on ``H' < H`` frames the
    rows near the end lose keys and the output is wrong by up to ~10%).  ReLU realisations
    serve every ``H' ≤ H``: they depend on gaps only, and ``Γ_{H'}`` is a principal
    submatrix of ``Γ_H`` (Cauchy interlacing keeps the spectral interval and the tail)."""
    from ditgp.theory.errors import SpecError

    frames = int(np.shape(X)[-1]) if np.ndim(X) >= 1 else 0
    if frames > config.H:
        raise SpecError("X", tuple(np.shape(X)), f"at most H={config.H} frames (last axis)")
    if config.sink and frames != config.H:
        raise SpecError("X", tuple(np.shape(X)),
                        f"exactly H={config.H} frames: a softmax construction's sink bias is "
                        "computed for rows of length H (use a relu realisation, paper or "
                        "compact, for shorter sequences)")

