"""A clock that moves only when told to: tests, snapshots and the demo's screenshots run meters on it."""

from __future__ import annotations


class VirtualClock:
    """Callable like time.monotonic; ``advance`` moves it. Seconds are whatever the caller says they are."""

    def __init__(self, start: float = 0.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> float:
        if seconds < 0:
            raise ValueError(f"a clock does not run backwards ({seconds} s)")
        self.now += seconds
        return self.now
