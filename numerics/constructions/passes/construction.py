"""The :class:`Construction`: a built network with its plan, resources and manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from ditgp.theory.spec import GPSpec

from ...iterations import TruncatedSystem, run_chebyshev, run_gd
from ...oracle import Oracle
from ..architecture import ArchConfig, Transformer, network_score
from ..layout import ChannelLayout
from ..realise import Head, check_frames
from .decisions import Choices, IterationPlan, MultiplyInfo
from .multiply_plan import multiply_abs_bound


@dataclass
class Construction:
    """A constructed network: ``module`` (a :class:`Transformer`), its plan, resources, manifest.

    ``score(X, t)`` evaluates the network on ``X`` ``(n, d, H)`` (numpy in → numpy out);
    ``blocks_per_iteration`` blocks realise one iteration, so the residual after block
    ``k·blocks_per_iteration`` holds iterate ``k``.
    """

    spec: GPSpec
    choices: Choices
    t: float
    plan: IterationPlan
    config: ArchConfig
    module: Transformer
    heads: list[Head]
    blocks_per_iteration: int
    ffn_units: list[dict[str, list[int]]]
    multiply: MultiplyInfo | None = None
    resources: dict[str, Any] = field(default_factory=dict)
    measured: dict[str, Any] = field(default_factory=dict)

    @property
    def layout(self) -> ChannelLayout:
        return self.config.layout

    @property
    def error_bound(self) -> float:
        eb = self.plan.error_bound
        return eb + (self.multiply.rel_bound if self.multiply else 0.0)

    def score(self, X, t: Any = None):
        """Network output for ``X`` ``(n, d, H)`` at ``t`` (default: the construction's ``t``)."""
        t = self.t if t is None else t
        self.spec.schedule.check_time(t)
        from ...bundle import check_served_time, served_times

        check_served_time(t, served_times(self.choices.to_dict() | {"t": self.t}, self.spec),
                          "construction")
        check_frames(self.config, X)
        return network_score(self.module, X, t)

    def reference_iterates(self, X: np.ndarray, t: float | None = None) -> np.ndarray:
        """Iterates ``(K+1, n, d, H)`` of the reference iteration this network realises."""
        t = self.t if t is None else t
        system = TruncatedSystem.of(self.spec, self.plan.window)
        X = np.asarray(X, dtype=np.float64)
        if self.plan.algorithm == "gd":
            return run_gd(system, X, t, self.plan.K, self.plan.eta)
        return run_chebyshev(system, X, t, self.plan.K, self.plan.interval)

    def error_bound_for(self, X: np.ndarray, t: float | None = None) -> np.ndarray:
        """Per-sequence relative error bound ``(n,)`` at ``t`` (multiplication part from the
        exact spectrum of ``A_t``; ``inf`` outside the data ball)."""
        t = self.t if t is None else t
        X = np.asarray(X, dtype=np.float64)
        base = np.full(X.shape[0], self.plan.error_bound)
        if self.multiply is None:
            return base
        s_norm = np.linalg.norm(Oracle.for_spec(self.spec).score(X, t), axis=(1, 2))
        abs_t = multiply_abs_bound(self.spec, self.plan, self.multiply, t)
        out = base + abs_t / s_norm
        out[np.linalg.norm(X, axis=(1, 2)) > self.multiply.R_x] = np.inf
        return out

    @property
    def manifest(self) -> dict[str, Any]:
        from ...bundle import build_manifest

        return build_manifest(self)

    def save(self, directory: str | Path) -> Path:
        from ...bundle import save_bundle

        return save_bundle(self, directory)
