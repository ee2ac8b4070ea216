"""Plain JSON values from the library's results, with one stated policy for non-finite floats.

JSON has no NaN or infinity.  :func:`jsonable` converts mappings (keys as strings), lists and
tuples, numpy arrays and scalars and paths to plain values and writes a non-finite float as
the caller's ``nonfinite`` policy says:

* ``"string"``: NaN as ``null``, ``±inf`` as ``"inf"``/``"-inf"`` (bundles, checkpoints,
  comparisons, experiment records: a reader can tell an infinite bound from a missing value);
* ``"null"``: every non-finite float as ``null`` (claim details in a verification report).
"""

from __future__ import annotations

import math
from pathlib import PurePath
from typing import Any, Literal

import numpy as np

__all__ = ["jsonable", "NONFINITE"]

#: the policies :func:`jsonable` knows
NONFINITE = ("string", "null")


def jsonable(o: Any, *, nonfinite: Literal["string", "null"]) -> Any:
    """``o`` as plain JSON values; non-finite floats (also inside arrays) by ``nonfinite``."""
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, not {nonfinite!r}")
    return _convert(o, nonfinite == "string")


def _convert(o: Any, strings: bool) -> Any:
    if isinstance(o, dict):
        return {str(k): _convert(v, strings) for k, v in o.items()}
    if isinstance(o, list | tuple):
        return [_convert(v, strings) for v in o]
    if isinstance(o, np.ndarray):
        return _convert(o.tolist(), strings)
    if isinstance(o, np.generic):
        return _convert(o.item(), strings)
    if isinstance(o, float) and not math.isfinite(o):
        if strings and not math.isnan(o):
            return "inf" if o > 0 else "-inf"
        return None
    if isinstance(o, PurePath):
        return str(o)
    return o
