"""What a Runner's subscribers hold: a bounded queue of samples and events, read with ``async for`` or drained from a
timer. A slow reader loses its oldest samples, never an event."""

from __future__ import annotations

import asyncio
from collections import deque

from .samples import Sample, TransferEvent

Item = Sample | TransferEvent


class Subscription:
    """An async iterator of samples and events; ends when the runner closes or ``close()`` is called.

    ``samples=False`` subscribes to events only: the runner then sets no sample grid for it (``interval`` unused).
    """

    def __init__(self, interval: float, maxsize: int, samples: bool = True):
        if not interval > 0:
            raise ValueError(f"sample interval must be positive, not {interval}")
        if samples and maxsize < 1:
            raise ValueError(f"a sample subscription must hold at least one sample, not {maxsize}")
        self.interval = interval
        self.samples = samples
        self.next_due = 0.0
        self.dropped = 0  # samples thrown away because the subscriber fell behind
        self._items: deque[Item] = deque()
        self._samples = 0
        self._max = maxsize
        self._ready = asyncio.Event()
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def wants_samples(self) -> bool:
        return self.samples and not self._closed

    def push(self, item: Item) -> None:
        if self._closed:
            return
        if isinstance(item, Sample):
            if not self.samples:
                return
            if self._samples >= self._max:
                oldest = next(i for i in self._items if isinstance(i, Sample))
                self._items.remove(oldest)
                self._samples -= 1
                self.dropped += 1
            self._samples += 1
        self._items.append(item)
        self._ready.set()

    def drain(self) -> list[Item]:
        """Everything queued now, oldest first, without waiting: for a reader polled from a timer."""
        items = list(self._items)
        self._items.clear()
        self._samples = 0
        return items

    def close(self) -> None:
        self._closed = True
        self._ready.set()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Item:
        while not self._items:
            if self._closed:
                raise StopAsyncIteration
            self._ready.clear()
            await self._ready.wait()
        item = self._items.popleft()
        if isinstance(item, Sample):
            self._samples -= 1
        return item
