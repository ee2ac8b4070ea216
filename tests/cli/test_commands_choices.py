"""Every ``choices=`` of the command line is a list of :mod:`ditgp.theory.choices`, and the
layers that act on a choice validate against the same list (no copy can drift)."""

from __future__ import annotations

import argparse

from ditgp.theory import choices as C

from ditgp.cli import build_parser

#: (command, option) → the list its choices must be
EXPECTED = {
    ("construct", "attention"): C.ATTENTION_REALISATIONS,
    ("construct", "algorithm"): C.ALGORITHMS,
    ("construct", "time_conditioning"): C.TIME_CONDITIONINGS,
    ("derive", "method"): C.ORACLE_METHODS,
    ("score", "method"): C.ORACLE_METHODS,
    ("probe", "method"): C.PROBE_METHODS,
    ("sample", "sampler"): C.SAMPLERS,
    ("sample", "grid"): C.GRIDS,
    ("sample", "prior"): C.PRIORS,
    ("train", "model"): C.ARCHS,
    ("train", "pos_emb"): C.POS_EMBS,
    ("train", "attention"): C.NETWORK_ATTENTIONS,
    ("train", "t_sampling"): C.T_SAMPLINGS,
    ("train", "loss"): C.LOSSES,
    ("train", "dtype"): C.DTYPES,
    ("reproduce", "experiment"): (*C.EXPERIMENTS, "all"),
    ("reproduce", "preset"): C.REPRODUCE_PRESETS,
    ("reproduce", "dtype"): C.REPRODUCE_DTYPES,
    ("reproduce", "executor"): C.EXECUTORS,
    ("bench", "which"): C.BENCHMARKS,
}


def _parser_choices() -> dict[tuple[str, str], tuple]:
    found = {}
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, sub in action.choices.items():
                for a in sub._actions:
                    if a.choices is not None:
                        found[(command, a.dest)] = tuple(a.choices)
        else:
            assert action.choices is None, action.dest
    return found


def test_every_cli_choice_list_is_the_shared_one():
    found = _parser_choices()
    assert set(found) == set(EXPECTED), set(found) ^ set(EXPECTED)
    for key, values in found.items():
        assert values == tuple(EXPECTED[key]), key


def test_the_layers_validate_against_the_same_lists():
    from ditgp.models import config, sampling, train
    from ditgp.numerics import oracle
    from ditgp.numerics.constructions.passes import decisions as construction
    from ditgp.verify import strategies
    from ditgp.verify.reproduce import EXPERIMENTS, ORDER, base, executor, experiment

    assert construction.ATTENTION_REALISATIONS is C.ATTENTION_REALISATIONS
    assert construction.ALGORITHMS is C.ALGORITHMS
    assert construction.TIME_CONDITIONINGS is C.TIME_CONDITIONINGS
    assert construction.COEFFICIENTS is C.COEFFICIENTS
    assert strategies.ATTENTION_REALISATIONS is C.ATTENTION_REALISATIONS
    assert strategies.ALGORITHMS is C.ALGORITHMS
    assert strategies.TIME_CONDITIONINGS is C.TIME_CONDITIONINGS
    assert oracle.METHODS is C.ORACLE_METHODS
    assert config.ARCHS is C.ARCHS and config.POS_EMBS is C.POS_EMBS
    assert config.NETWORK_ATTENTIONS is C.NETWORK_ATTENTIONS
    assert train.DTYPES is C.DTYPES and train.T_SAMPLINGS is C.T_SAMPLINGS
    assert train.LOSSES is C.LOSSES
    assert sampling.SAMPLERS is C.SAMPLERS and sampling.GRIDS is C.GRIDS
    assert sampling.PRIORS is C.PRIORS
    assert base.PRESETS is C.REPRODUCE_PRESETS and executor.EXECUTORS is C.EXECUTORS
    assert ORDER is C.EXPERIMENTS
    experiment("attention")  # loads every experiment
    assert set(C.EXPERIMENTS) <= set(EXPERIMENTS)  # (tests may register more)


def test_the_network_and_construction_attention_sets_have_different_names():
    assert C.NETWORK_ATTENTIONS != C.ATTENTION_REALISATIONS
    assert not hasattr(C, "ATTENTIONS")


def test_the_choices_module_imports_nothing_heavy():
    import subprocess
    import sys

    code = ("import sys, ditgp.theory.choices\n"
            "print(sorted(m for m in ('torch', 'numpy', 'sympy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
