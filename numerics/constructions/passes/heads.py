"""Pass 3, plan → heads: the attention realisation of ``v ↦ ΣΓ_w v`` (docs/theory.md §8;
:mod:`ditgp.numerics.constructions.realise`)."""

from __future__ import annotations

import numpy as np
from ditgp.theory.spec import GPSpec

from ..realise import Head, compact_heads, paper_heads, softmax_heads
from .decisions import Choices, IterationPlan


def plan_to_heads(spec: GPSpec, choices: Choices, plan: IterationPlan) -> list[Head]:
    gamma = np.asarray(spec.Gamma[:, 0])
    C = 2 * spec.H
    if choices.attention == "paper":
        return paper_heads(gamma, plan.window, choices.pos_radius, C)
    if choices.attention == "compact":
        return compact_heads(gamma, plan.window, choices.pos_radius, C)
    return softmax_heads(gamma, plan.window, spec.H)
