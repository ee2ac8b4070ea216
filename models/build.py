"""Build a trainable network from a :class:`~ditgp.models.config.ModelConfig` and a spec."""

from __future__ import annotations

import torch
from ditgp.theory.errors import SpecError
from ditgp.theory.spec import GPSpec

from .config import ModelConfig

__all__ = ["build_model", "count_parameters"]


def build_model(cfg: ModelConfig, spec: GPSpec, *, init_from: str | None = None
                ) -> torch.nn.Module:
    """The network ``cfg`` describes, for sequences of ``spec`` (``d`` and ``H``).

    ``model(x (B, d, H), t (B,)) -> ε̂ (B, d, H)``; ``model.score(x, t)``; ``model.probe(x, t)``.
    Random initialisation draws from torch's global generator (seed it first).  ``init_from``
    (``arch="theory"`` only) loads the architecture and weights of a construction bundle.
    Raises :class:`SpecError` naming ``--H`` if ``spec.H`` exceeds ``cfg.max_H``.
    """
    if not isinstance(cfg, ModelConfig):
        raise SpecError("cfg", cfg, "a ModelConfig")
    if not isinstance(spec, GPSpec):
        raise SpecError("spec", spec, "a GPSpec")
    cfg.check_H(spec.H)
    if cfg.arch == "dit":
        if init_from is not None:
            raise SpecError("--init-from", init_from,
                            "no bundle for --model dit (construction bundles initialise "
                            "--model theory)")
        from .dit import DiT

        return DiT(cfg, spec)
    from .theory_net import TheoryNet, from_bundle, theory_arch

    if init_from is not None:
        return from_bundle(init_from, spec)
    net = TheoryNet(theory_arch(cfg, spec), cfg)
    net.initialize_weights()
    return net


def count_parameters(model: torch.nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters (trainable ones by default)."""
    return int(sum(p.numel() for p in model.parameters()
                   if p.requires_grad or not trainable_only))
