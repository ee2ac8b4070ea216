"""Every list of named choices, in one place that imports nothing heavy.

The command line imports this module to build its ``--help`` and ``choices=`` (it cannot
import ``ditgp.numerics`` or ``ditgp.models``, which import torch), and the layers that act on
a choice validate against the same tuples, so the two never drift apart
(``tests/cli/test_commands_choices.py`` walks the parser and checks).
"""

from __future__ import annotations

__all__ = [
    "ATTENTION_REALISATIONS", "ALGORITHMS", "TIME_CONDITIONINGS", "COEFFICIENTS",
    "ORACLE_METHODS", "ARCHS", "POS_EMBS", "NETWORK_ATTENTIONS", "DTYPES", "T_SAMPLINGS",
    "LOSSES", "SAMPLERS", "GRIDS", "PRIORS", "PROBE_METHODS", "REPRODUCE_PRESETS",
    "REPRODUCE_DTYPES", "EXECUTORS", "EXPERIMENTS", "BENCHMARKS",
]

# -- constructions (ditgp.numerics.construct) ---------------------------------------------------
#: how the attention realises ``v ↦ ΣΓ_w v``: the paper's four ReLU heads per gap, compact
#: ReLU heads, softmax with a sink
ATTENTION_REALISATIONS = ("paper", "compact", "softmax")
#: the unrolled iteration
ALGORITHMS = ("gd", "chebyshev")
#: one ``t``; all ``t`` with exact gates; all ``t`` with the ReLU multiplication module
TIME_CONDITIONINGS = ("fixed", "gated", "multiply")
#: iteration coefficients planned for one ``t`` or for all of ``[t0, T]``
COEFFICIENTS = ("t", "all-t")

# -- the exact oracle (ditgp.numerics.oracle) -------------------------------------------------
ORACLE_METHODS = ("auto", "eig", "fft")

# -- trainable networks and training (ditgp.models) -------------------------------------------
ARCHS = ("dit", "theory")
POS_EMBS = ("sinusoidal", "learned", "circle")
#: the DiT's attention (not a construction's realisation)
NETWORK_ATTENTIONS = ("softmax", "relu")
DTYPES = ("float32", "bf16", "float64")
T_SAMPLINGS = ("uniform", "log-uniform")
#: training objectives: ``eps`` — ε-prediction MSE (DiT's), which weights the score error at
#: time t by σ_t²; ``score`` — score-space denoising score matching, the theory's objective
#: (weight 1/σ_t² relative to ``eps``, normalised to mean 1 under the t-law, see
#: :func:`ditgp.models.train.loss_weights`)
LOSSES = ("eps", "score")
SAMPLERS = ("sde", "ode")
GRIDS = ("uniform", "log")
PRIORS = ("exact", "standard")

# -- verification (ditgp.verify) --------------------------------------------------------------
PROBE_METHODS = ("auto", "exact", "sketch")
REPRODUCE_PRESETS = ("toy", "cpu", "gpu")
#: training precision of an experiment (float64 is not offered there)
REPRODUCE_DTYPES = ("float32", "bf16")
EXECUTORS = ("local", "ray")
#: the experiments of ``ditgp reproduce`` (each a module of ``ditgp.verify.reproduce``)
EXPERIMENTS = ("attention", "decay", "video", "length")
BENCHMARKS = ("oracle", "depth", "device", "train", "stream", "long")
