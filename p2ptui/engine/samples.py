"""What subscribers receive: samples of progress and utilisation, and transfer events; bounded histories of both."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .transfer import TransferState


@dataclass(frozen=True, slots=True)
class TransferSample:
    id: int
    label: str
    state: TransferState
    bytes_done: int
    size: int
    rate: float  # bytes/s now (sim: the current fluid rate; real: over the last sample interval)
    average: float  # bytes/s since the transfer started


@dataclass(frozen=True, slots=True)
class Sample:
    time: float  # engine clock: virtual seconds for the simulator, wall seconds since the run began for real copies
    transfers: tuple[TransferSample, ...]
    utilisation: dict[str, float]  # resource key -> share of its capacity in use (simulator only)


@dataclass(frozen=True, slots=True)
class TransferEvent:
    """A transfer changed state; errors (refusals, failures) arrive this way, never as exceptions."""

    time: float
    id: int
    label: str
    state: TransferState
    message: str = ""

    @property
    def is_error(self) -> bool:
        return self.state in (TransferState.FAILED, TransferState.REFUSED)


class Ring:
    """A fixed-capacity ring of float rows (time plus values): the newest ``capacity`` rows are kept."""

    def __init__(self, capacity: int, width: int):
        if capacity < 1:
            raise ValueError("a ring needs room for at least one row")
        self._data = np.zeros((capacity, width))
        self._next = 0
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def capacity(self) -> int:
        return self._data.shape[0]

    def append(self, *row: float) -> None:
        self._data[self._next] = row
        self._next = (self._next + 1) % self.capacity
        self._count = min(self._count + 1, self.capacity)

    def rows(self) -> np.ndarray:
        """Oldest first, a copy."""
        if self._count < self.capacity:
            return self._data[: self._count].copy()
        return np.concatenate((self._data[self._next :], self._data[: self._next]))

    def last(self) -> np.ndarray | None:
        if not self._count:
            return None
        return self._data[(self._next - 1) % self.capacity].copy()


class History:
    """Per-transfer (time, bytes done, rate) and per-resource (time, utilisation) rings, each ``depth`` deep."""

    def __init__(self, depth: int = 600):
        self.depth = depth
        self.transfers: dict[int, Ring] = {}
        self.resources: dict[str, Ring] = {}

    def record(self, sample: Sample) -> None:
        for t in sample.transfers:
            ring = self.transfers.get(t.id)
            if ring is None:
                ring = self.transfers[t.id] = Ring(self.depth, 3)
            ring.append(sample.time, t.bytes_done, t.rate)
        for key, value in sample.utilisation.items():
            ring = self.resources.get(key)
            if ring is None:
                ring = self.resources[key] = Ring(self.depth, 2)
            ring.append(sample.time, value)
