"""The registry of theory claims, each a property test with a margin.

One module per subject: :mod:`.iterations` (claims 1-3), :mod:`.spectra` (4, 5, 8, 10),
:mod:`.fft` (14-18, the long-sequence FFT path),
:mod:`.constructions` (6, 7, 12, 13), :mod:`.statistics` (9, 11); :mod:`.base` holds the shared
values, :mod:`.registry` collects every subject's claims in one place and :mod:`.runner`
runs one under hypothesis.

A :class:`Claim` has an id, a one-line statement and its LaTeX, a source (``paper`` — a
result of Fu et al. 2025 as docs/theory.md states it — or ``derived`` — a result this toolkit
derives or adds, e.g. the Chebyshev construction), a hypothesis strategy for its inputs and
a check that computes both sides numerically for one drawn input and returns an
:class:`Outcome` whose ``margin`` is ``≥ 0`` when the claim holds (relative to its bound,
so 1 means "all the room in the world" and 0 "exactly at the bound").  Tolerances come from
:mod:`ditgp.verify.tolerances`.

:func:`run_claim` runs a claim under hypothesis with a budget (``max_examples``), a fixed
seed, no deadline and no example database, searches for the worst case with
``hypothesis.target`` on the margin, and returns the worst margin found and, on failure,
the shrunk counterexample (whose spec is JSON that ``ditgp derive --spec`` accepts).

Checks accept keyword *overrides* that replace one ingredient (a step size, a bound, a
builder); tests use them to show that a wrong construction or a wrong bound is caught.
"""

from __future__ import annotations

from ditgp.verify.claims.base import (
    Claim,
    ClaimResult,
    ClaimViolation,
    KernelSize,
    KernelWindow,
    Outcome,
    TimedDraw,
)
from ditgp.verify.claims.constructions import (
    THEOREM1_SAMPLES,
    THEOREM1_TIMES,
    check_attention,
    check_construction_layers,
    check_construction_resources,
    check_theorem1,
)
from ditgp.verify.claims.iterations import MAX_STEPS, check_chebyshev, check_fixed_point, check_gd
from ditgp.verify.claims.registry import REGISTRY, SUBJECTS, claim, claim_ids, select
from ditgp.verify.claims.runner import run_claim
from ditgp.verify.claims.spectra import (
    TIGHTNESS_H,
    WINDOW_DELTAS,
    WINDOW_LOG_H,
    check_conditioning,
    check_spectral,
    check_truncation,
    check_window,
    independent_tail,
)
from ditgp.verify.claims.statistics import FLOOR_SAMPLES, check_bayes_floor, check_score_density

__all__ = [
    "Outcome",
    "Claim",
    "ClaimResult",
    "ClaimViolation",
    "REGISTRY",
    "SUBJECTS",
    "claim",
    "claim_ids",
    "select",
    "run_claim",
    "TimedDraw",
    "KernelSize",
    "KernelWindow",
    "MAX_STEPS",
    "WINDOW_DELTAS",
    "WINDOW_LOG_H",
    "FLOOR_SAMPLES",
    "check_fixed_point",
    "check_gd",
    "check_chebyshev",
    "check_spectral",
    "check_truncation",
    "check_construction_layers",
    "check_construction_resources",
    "check_attention",
    "check_window",
    "check_bayes_floor",
    "check_conditioning",
    "check_score_density",
    "check_theorem1",
    "THEOREM1_TIMES",
    "THEOREM1_SAMPLES",
    "TIGHTNESS_H",
    "independent_tail",
]
