"""One least-recently-used cache of per-spec objects (the eigen oracle, the FFT oracle), keyed
on the spec's JSON and safe to share between threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Generic, TypeVar

from ditgp.theory.spec import GPSpec

T = TypeVar("T")


class SpecCache(Generic[T]):
    """At most ``size`` objects, the least recently used dropped first.  ``make`` runs outside
    the lock (it may be expensive); two threads racing on one spec both build, one result is kept."""

    def __init__(self, size: int):
        self.size = size
        self._items: OrderedDict[str, T] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, spec: GPSpec, make: Callable[[GPSpec], T]) -> T:
        key = spec.to_json(indent=None)
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        made = make(spec)
        with self._lock:
            self._items[key] = made
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return made

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
