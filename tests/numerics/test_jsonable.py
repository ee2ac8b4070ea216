"""One JSON conversion, two stated policies for non-finite floats."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from ditgp.numerics.jsonable import jsonable

VALUE = {1: (np.float64(2.5), np.int64(3)), "a": np.array([1.0, np.inf, -np.inf, np.nan]),
         "p": Path("x/y"), "f": [math.inf, -math.inf, math.nan, 0.5], "s": "inf", "n": None,
         "g": np.float32(-np.inf)}


def test_string_policy_keeps_infinities_apart_from_missing_values():
    out = jsonable(VALUE, nonfinite="string")
    assert out == {"1": [2.5, 3], "a": [1.0, "inf", "-inf", None], "p": "x/y",
                   "f": ["inf", "-inf", None, 0.5], "s": "inf", "n": None, "g": "-inf"}
    json.dumps(out, allow_nan=False)


def test_null_policy_writes_every_non_finite_float_as_null():
    out = jsonable(VALUE, nonfinite="null")
    assert out == {"1": [2.5, 3], "a": [1.0, None, None, None], "p": "x/y",
                   "f": [None, None, None, 0.5], "s": "inf", "n": None, "g": None}
    json.dumps(out, allow_nan=False)


def test_the_policy_is_required_and_checked():
    with pytest.raises(TypeError):
        jsonable(1.0)  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="nonfinite"):
        jsonable(1.0, nonfinite="zero")  # type: ignore[arg-type]


def test_callers_keep_their_policy():
    """The bundle manifest and checkpoints write ``"inf"``; claim details write ``null``."""
    import inspect

    from ditgp.models import checkpoint
    from ditgp.numerics import bundle
    from ditgp.verify.claims import runner

    assert 'nonfinite="string"' in inspect.getsource(bundle)
    assert 'nonfinite="string"' in inspect.getsource(checkpoint)
    assert 'nonfinite="null"' in inspect.getsource(runner)
