"""``ditgp.numerics``: the exact score oracle and transformers with constructed weights.

Public API (re-exported explicitly):

* :func:`exact_score`, :class:`Oracle`, :func:`dense_score` (test oracle), :func:`toeplitz_matmul`
* long sequences: :class:`FFTOracle`, :func:`oracle_for` (``method`` auto/eig/fft)
* reference iterations :func:`gd_iterates`, :func:`chebyshev_iterates`
* the architecture family :class:`ArchConfig`, :class:`Transformer`, :class:`ChannelLayout`,
  :func:`preset`, ``PRESETS``
* :func:`construct` → :class:`Construction`; weight bundles :func:`load_bundle`,
  :class:`Bundle`, :class:`BundleError`, :func:`validate_bundle` → :class:`BundleCheck`

Importing this package imports torch.
"""

from __future__ import annotations

from .bundle import Bundle, BundleCheck, BundleError, load_bundle, validate_bundle
from .constructions.architecture import PRESETS, ArchConfig, ForwardTrace, Transformer, preset
from .constructions.construct import Choices, Construction, IterationPlan, construct
from .constructions.layout import ChannelLayout
from .fft.fft_oracle import FFTOracle
from .fft.toeplitz import toeplitz_matmul
from .iterations import chebyshev_iterates, gd_iterates
from .oracle import Oracle, dense_score, exact_score, oracle_for

__all__ = [
    "ArchConfig",
    "Bundle",
    "BundleCheck",
    "BundleError",
    "ChannelLayout",
    "Choices",
    "Construction",
    "FFTOracle",
    "ForwardTrace",
    "IterationPlan",
    "Oracle",
    "PRESETS",
    "Transformer",
    "chebyshev_iterates",
    "construct",
    "dense_score",
    "exact_score",
    "gd_iterates",
    "load_bundle",
    "oracle_for",
    "preset",
    "toeplitz_matmul",
    "validate_bundle",
]
