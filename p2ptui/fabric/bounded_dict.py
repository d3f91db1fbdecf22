"""A dict that holds at most a fixed number of entries and forgets the one stored longest ago first.

The engine's verdict and leg caches and the TUI's type-ahead memory each need one. The standard library gives the
parts, not the whole: collections.OrderedDict keeps insertion order and drops its first entry with
popitem(last=False); functools.lru_cache wraps a function and evicts the least recently *used*, while these are
filled by hand and must evict by insertion order. It lives in fabric/, the bottom layer, so that engine/ and tui/
can both use it.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TypeVar

K = TypeVar("K")
V = TypeVar("V")


class BoundedDict(OrderedDict[K, V]):
    """At most ``limit`` entries: storing a new key when full forgets the entry stored longest ago.

    Insertion order, not recency: reading an entry does not move it, and storing a key it holds replaces the value
    in place (as a dict does). The callers chose their sizes for how long an entry lives (see engine/verdicts.py);
    a hit that kept an entry alive longer would change that."""

    def __init__(self, limit: int) -> None:
        if limit < 1:
            raise ValueError(f"a bounded dict holds at least 1 entry, not {limit}")
        super().__init__()
        self.limit = limit

    def __setitem__(self, key: K, value: V) -> None:
        OrderedDict.__setitem__(self, key, value)  # not super(): a simulator stores per new pair, and it costs 0.2 µs
        if len(self) > self.limit:  # only a new key grows it, and by one
            self.popitem(last=False)  # O(1); a dict's next(iter(d)) walks the holes its deletions left at the front
