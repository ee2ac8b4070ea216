"""Named layouts of vector spaces: the residual stream and the feed-forward hidden units.

Weights are built by naming where each channel goes (tracr style): a :class:`ChannelLayout`
maps names to contiguous index ranges, and :meth:`ChannelLayout.block` returns the
``(rows, cols)`` slices of a weight matrix for a pair of names.  The layout is stored in
every bundle manifest, so a bundle is self-describing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["ChannelLayout"]


@dataclass(frozen=True)
class ChannelLayout:
    """Ordered ``(name, size)`` pairs; channel ``name`` occupies ``[start, start + size)``.

    >>> lay = ChannelLayout((("x", 2), ("v", 2), ("const", 1)))
    >>> lay.width, lay.range("v"), lay.index("const")
    (5, (2, 4), 4)
    """

    channels: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        chans = tuple((str(n), int(s)) for n, s in self.channels)
        names = [n for n, _ in chans]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate channel names in {names}")
        for n, s in chans:
            if s < 0:
                raise ValueError(f"channel {n!r} has size {s} < 0")
        object.__setattr__(self, "channels", chans)

    @property
    def width(self) -> int:
        return sum(s for _, s in self.channels)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.channels)

    def __contains__(self, name: str) -> bool:
        return name in self.names

    def range(self, name: str) -> tuple[int, int]:
        start = 0
        for n, s in self.channels:
            if n == name:
                return start, start + s
            start += s
        raise KeyError(f"no channel {name!r} in layout {self.names}")

    def slice(self, name: str) -> slice:
        return slice(*self.range(name))

    def size(self, name: str) -> int:
        lo, hi = self.range(name)
        return hi - lo

    def index(self, name: str, i: int = 0) -> int:
        lo, hi = self.range(name)
        if not 0 <= i < hi - lo:
            raise IndexError(f"channel {name!r} has {hi - lo} entries, asked for {i}")
        return lo + i

    def to_dict(self) -> dict[str, Any]:
        out = {}
        for n in self.names:
            lo, hi = self.range(n)
            out[n] = [lo, hi]
        return {"width": self.width, "channels": out}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ChannelLayout:
        items = sorted(data["channels"].items(), key=lambda kv: kv[1][0])
        pos = 0
        chans = []
        for name, (lo, hi) in items:
            if lo != pos or hi < lo:
                raise ValueError(f"channel {name!r} range [{lo}, {hi}) is not contiguous")
            chans.append((name, hi - lo))
            pos = hi
        if pos != data.get("width", pos):
            raise ValueError(f"layout width {data['width']} ≠ sum of channel sizes {pos}")
        return cls(tuple(chans))
