"""Trainable diffusion transformers on GP data (``ditgp.models``).

Public API (re-exported explicitly; importing this package imports torch):

* configuration: :class:`ModelConfig`, :class:`Preset`, ``PRESETS``, :func:`preset`
* networks: :func:`build_model` (``arch="dit"`` → :class:`DiT`, ``arch="theory"`` →
  :class:`TheoryNet`), :func:`count_parameters`
* data: :class:`GPStream`, :func:`make_train_set`, :func:`save_train_set`,
  :func:`load_train_set`, :func:`noised`, :func:`bayes_floor`,
  :func:`independent_frames_score`
* export: :func:`export_bundle`, :func:`load_network`
"""

from __future__ import annotations

from .build import build_model, count_parameters
from .config import PRESETS, ModelConfig, Preset, preset
from .data import (
    GPStream,
    bayes_floor,
    independent_frames_score,
    load_train_set,
    make_train_set,
    noised,
    save_train_set,
)
from .dit import DiT
from .theory_net import TheoryNet

__all__ = [
    "DiT",
    "GPStream",
    "ModelConfig",
    "PRESETS",
    "Preset",
    "TheoryNet",
    "bayes_floor",
    "build_model",
    "count_parameters",
    "independent_frames_score",
    "load_train_set",
    "make_train_set",
    "noised",
    "preset",
    "save_train_set",
]
