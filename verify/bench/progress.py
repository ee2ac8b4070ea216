"""The progress bar the benchmarks share (tqdm on stderr, shown only on a terminal)."""

from __future__ import annotations

import sys
from collections.abc import Iterable

__all__ = ["progress_bar"]


def progress_bar(items: Iterable, desc: str, progress: bool):
    """``items`` as a list, wrapped in a tqdm bar titled ``desc`` when ``progress`` is true and
    stderr is a terminal."""
    items = list(items)
    if not progress:
        return items
    from tqdm import tqdm

    return tqdm(items, desc=desc, file=sys.stderr, disable=not sys.stderr.isatty())
