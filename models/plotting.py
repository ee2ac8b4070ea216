"""The one place figures are made and written: matplotlib on the Agg backend (no display
needed) and PNGs written atomically, so a killed process never leaves half a figure.

The training report, the verification reports and the experiments all plot through
:func:`pyplot` and :func:`save_png`.
"""

from __future__ import annotations

import io
from pathlib import Path

from ditgp.numerics.atomic import atomic_write_bytes

__all__ = ["pyplot", "save_png"]


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend (imported on first use: plotting is optional
    work and matplotlib is slow to import)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def save_png(fig, path: Path, *, dpi: int = 110, tight: bool = True, stamp: bool = False) -> str:
    """Write ``fig`` to ``path`` as a PNG atomically, close it, and return the file name.

    ``tight`` crops to the drawn area (``bbox_inches="tight"``); ``stamp`` keeps matplotlib's
    ``Software`` text chunk (its version), which the experiments drop so that their figures
    are the same bytes on any matplotlib that draws the same pixels.
    """
    buf = io.BytesIO()
    kw: dict = {"format": "png", "dpi": dpi}
    if tight:
        kw["bbox_inches"] = "tight"
    if not stamp:
        kw["metadata"] = {"Software": None}
    fig.savefig(buf, **kw)
    atomic_write_bytes(Path(path), buf.getvalue())
    pyplot().close(fig)
    return Path(path).name
