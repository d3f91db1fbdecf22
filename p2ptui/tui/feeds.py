"""The TUI's doors into the engines (every backend of engine/backends.py): each engine behind its own asyncio
Runner, polled from the meter timer.

The simulator's Runner is paced by the app's clock × a speed factor, so the same code runs in real time
(time.monotonic) and frozen on a virtual clock (tests, screenshots): every poll brings the simulator up to the
clock's time and reads its state there. Real copies run in the Runner's worker threads; a poll reads its newest
progress sample. Events come from an events-only subscription, drained at each poll.

Nothing here computes a rate, a route or a gate decision: samples, events, results and plans all come from the
engine, and whatever goes wrong there (an engine bug included) arrives as an event, never as an exception in the
caller's tick.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine.backends import Capability, Engine, backend
from ..engine.resources import LinkInfo, ResourceCatalog
from ..engine.runner import Runner
from ..engine.samples import Sample, TransferEvent
from ..engine.transfer import TransferResult, TransferSpec
from ..fabric.model import Fabric
from ..p2p.gate import GateDecision


@dataclass
class FeedUpdate:
    sample: Sample | None
    events: list[TransferEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failures of the engine itself, not of one transfer


class Feed:
    """One engine and its Runner, as the transfers panel polls them."""

    def __init__(self, name: str, runner: Runner) -> None:
        self.name = name
        self.runner = runner
        self._events = runner.subscribe(samples=False)
        self._told_broken = False

    @property
    def engine(self) -> Engine:
        return self.runner.engine

    @property
    def catalog(self) -> ResourceCatalog:
        return self.engine.catalog

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.runner.results

    def link_above(self, dev) -> LinkInfo | None:
        info, _ = self.engine.catalog.link_above(dev)
        return info

    def gate(self, spec: TransferSpec, expert: bool) -> GateDecision | None:
        """The gate's word on this copy, from the engine's own plan (None: to or from host memory, nothing to gate).
        InputError for a copy the engine would refuse outright."""
        return self.engine.plan(spec, expert).gate

    async def start(self, spec: TransferSpec, expert: bool) -> TransferResult:
        return await self.runner.start(spec, expert)  # the gate's word at the moment this transfer is accepted

    async def cancel(self, tid: int) -> None:
        await self.runner.cancel(tid)

    def unplug(self, device: str) -> None:
        """Hot-unplug ``device`` now (simulator fault injection): transfers using it fail."""
        self.runner.unplug(device)

    def poll(self) -> FeedUpdate:
        sample = self.runner.sample() if self.runner.results else None
        events = [item for item in self._events.drain() if isinstance(item, TransferEvent)]
        problems = []
        if self.runner.broken and not self._told_broken:  # said once, even when no transfer was left to fail
            self._told_broken = True
            problems.append(f"{self.runner.broken}; the simulator is stopped")
        return FeedUpdate(sample, events, problems)

    async def close(self) -> None:
        await self.runner.close()


def make_feed(
    name: str, fabric: Fabric, clock: Callable[[], float], speed: float = 1.0, interval: float = 0.25
) -> Feed:
    """Engine ``name`` on ``fabric``: one on its own virtual clock paced at ``speed`` virtual seconds per ``clock``
    second; one moving real bytes polled every ``interval`` seconds."""
    entry = backend(name)
    if entry.can(Capability.TAKES_EVENTS):
        if not speed > 0:
            raise ValueError(f"simulation speed must be positive, not {speed}")
        return Feed(name, Runner(entry.make(fabric), speed=speed, clock=clock))
    return Feed(name, Runner(entry.make(fabric), tick=interval))
