"""Named numerical tolerances of ``ditgp.numerics``, per dtype, in one place.

Where a tolerance can be derived from the theory (contraction ``ρ^K``, truncation tail,
multiplication-module error) the construction reports that bound instead; the constants
here only cover floating-point rounding of operations that are exact in real arithmetic.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ROUNDING", "LAYER_MATCH", "ORACLE_MATCH", "EPS_FLOOR_SAFETY", "eig_floor", "eps_floor",
           "FFT_EIG_MATCH", "MC_SIGMAS", "SLQ_FALSE_ALARM", "slq_sigmas", "FFT_EIG_KAPPA_FACTOR",
           "fft_eig_tolerance"]

#: Relative rounding budget of one exact-in-reals pipeline (oracle vs dense solve, FFT vs dense).
ORACLE_MATCH = {"float64": 1e-10, "float32": 1e-4}

#: Relative agreement of a constructed block's residual with the reference iterate.
LAYER_MATCH = {"float64": 1e-12, "float32": 1e-4}

#: Unit roundoff per dtype.
ROUNDING = {"float64": float(np.finfo(np.float64).eps), "float32": float(np.finfo(np.float32).eps)}


def eig_floor(values: np.ndarray) -> float:
    """Eigenvalues of a PSD matrix below this are rounding noise (``H·eps·max|λ|``)."""
    values = np.asarray(values, dtype=np.float64)
    return float(values.size * ROUNDING["float64"] * max(float(np.max(np.abs(values))), 1.0))


#: Safety factor of the float64 accuracy floor: a backward-stable solve of ``A_t v = x`` has
#: relative forward error up to ``κ_t·u`` (u the unit roundoff) times a modest constant, and
#: every block of an unrolled iteration re-rounds its residual; 16 covers that constant
#: (the same allowance verify's ``ROUNDING_SAFETY`` uses).
EPS_FLOOR_SAFETY = 16.0


def eps_floor(kappa: float) -> float:
    """Smallest relative error a float64 construction may promise: ``16·κ_t·u``."""
    return float(EPS_FLOOR_SAFETY * kappa * ROUNDING["float64"])


#: Long-sequence (FFT) path: FFT solve vs eigen oracle (relative, per sequence) —
#: both are exact in reals; each carries rounding ``≈ u·κ_t·log H``.
FFT_EIG_MATCH = 1e-12
#: ...or this multiple of ``u·κ_t`` where that is larger: the eigen path's own rounding grows
#: with ``κ_t`` (nearly singular kernels at small ``t``, docs/theory.md §4), so no path can be
#: compared below it.
FFT_EIG_KAPPA_FACTOR = 16.0


def fft_eig_tolerance(kappa_t: float) -> float:
    """Relative agreement expected between the FFT and eigen paths at condition ``κ_t``."""
    return max(FFT_EIG_MATCH, FFT_EIG_KAPPA_FACTOR * ROUNDING["float64"] * float(kappa_t))


#: Monte-Carlo checks of the FFT path (SLQ log det, sample covariance) pass within this many
#: standard errors.
MC_SIGMAS = 4.0

#: Per-check false-alarm probability of the ``slq-logdet`` claim.  Its hypothesis run tries at
#: most ~1000 inputs (the probe seed is part of the input, and the targeted phase hunts for the
#: largest deviation in standard errors), so by Bonferroni the run raises a false alarm with
#: probability ≤ 1e-3.  (At a fixed 4 SE the targeted search found a 4.5 SE draw — a t-tail
#: event of probability ~5e-4 — whenever it ran long enough.)
SLQ_FALSE_ALARM = 1e-6


def slq_sigmas(probes: int) -> float:
    """Standard errors the SLQ log-det may deviate by: the two-sided Student-t quantile at
    :data:`SLQ_FALSE_ALARM` with ``probes - 1`` degrees of freedom (the standard error is
    estimated from ``probes`` Hutchinson probes; a sum over rows has at least that many degrees
    of freedom, so this is conservative).  ``slq_sigmas(16) ≈ 7.90``."""
    from scipy.stats import t as student_t

    if probes < 2:
        return math.inf
    return float(student_t.ppf(1.0 - SLQ_FALSE_ALARM / 2.0, probes - 1))
