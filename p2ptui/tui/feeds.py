"""The TUI's doors into the two engines, one interface for both: start, cancel, ask the gate, poll the latest state.

* SimFeed steps the simulator (p2ptui.engine.sim) from the app's clock × a speed factor, so the same code runs paced
  in real time (time.monotonic) and frozen on a virtual clock (tests, screenshots) - the engine's Runner paces only
  against the event loop's wall clock, which a snapshot cannot freeze.
* RealFeed runs real copies through the engine's asyncio Runner and keeps the newest sample it publishes.

Neither computes a rate or a route: samples, events, results and gate decisions all come from the engine, and
whatever goes wrong there arrives as an event or a problem string, never as an exception in the caller's tick.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from ..fabric.model import Fabric
from ..p2p.gate import GateDecision
from ..engine.real import RealEngine
from ..engine.resources import LinkInfo, ResourceCatalog
from ..engine.runner import Runner, Subscription
from ..engine.samples import Sample, TransferEvent
from ..engine.sim import Simulation
from ..engine.transfer import TransferResult, TransferSpec


@dataclass
class FeedUpdate:
    sample: Sample | None
    events: list[TransferEvent] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # failures of the engine itself, not of one transfer


class SimFeed:
    name = "sim"

    def __init__(self, fabric: Fabric, clock: Callable[[], float], speed: float = 1.0) -> None:
        if not speed > 0:
            raise ValueError(f"simulation speed must be positive, not {speed}")
        self.sim = Simulation(fabric)
        self.clock = clock
        self.speed = speed  # virtual seconds per clock second
        self._origin: float | None = None  # clock reading at virtual time 0 (the first request)
        self._events: list[TransferEvent] = []
        self.broken = ""  # set when the simulator raised: it is not stepped again

    @property
    def catalog(self) -> ResourceCatalog:
        return self.sim.catalog

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.sim.results

    def link_above(self, dev) -> LinkInfo | None:
        info, _ = self.sim.catalog.link_above(dev)
        return info

    def gate(self, spec: TransferSpec, expert: bool) -> GateDecision | None:
        """What the gate says about this copy on the simulator (None: to or from host memory, nothing to gate).
        The same call Simulation.add makes; InputError for a copy that can never run."""
        return self.sim.planner.plan(spec, expert).gate

    async def start(self, spec: TransferSpec, expert: bool) -> TransferResult:
        self._catch_up()
        if self._origin is None:
            self._origin = self.clock()
        self.sim.expert = expert  # the gate's word at the moment this transfer is accepted
        result = self.sim.add(spec)
        self._events += self.sim.advance(self.sim.now)  # a copy due now starts now, not at the next clock move
        return result

    async def cancel(self, tid: int) -> None:
        self._catch_up()
        self.sim.cancel(tid)
        self._events += self.sim.advance(self.sim.now)

    def unplug(self, device: str) -> None:
        """Hot-unplug ``device`` now (simulator fault injection): transfers using it fail."""
        self._catch_up()
        self.sim.unplug(device)
        self._events += self.sim.advance(self.sim.now)

    def poll(self) -> FeedUpdate:
        problems = self._catch_up()
        if not self.sim.results:
            return FeedUpdate(None, self._take(), problems)
        try:
            sample = self.sim.sample()
        except Exception as exc:  # noqa: BLE001 - an engine bug must not take the app down
            return FeedUpdate(None, self._take(), problems + [self._break(exc)])
        return FeedUpdate(sample, self._take(), problems)

    async def close(self) -> None:
        """Nothing runs in the background: the simulator moves only when polled."""

    def _catch_up(self) -> list[str]:
        if self._origin is None or self.broken:
            return []
        target = (self.clock() - self._origin) * self.speed
        if target <= self.sim.now:
            return []
        try:
            self._events += self.sim.advance(target)
        except Exception as exc:  # noqa: BLE001
            return [self._break(exc)]
        return []

    def _break(self, exc: Exception) -> str:
        self.broken = f"internal error in the simulator, transfers stopped: {exc!r}"
        return self.broken

    def _take(self) -> list[TransferEvent]:
        events, self._events = self._events, []
        return events


class RealFeed:
    """Real copies on this machine (memory → memory from the TUI), through the engine's Runner."""

    name = "real"

    def __init__(self, fabric: Fabric, interval: float) -> None:
        self.engine = RealEngine(fabric)
        self.runner = Runner(self.engine)
        self.interval = interval  # wall seconds between samples
        self._sub: Subscription | None = None
        self._consumer: asyncio.Task | None = None
        self._latest: Sample | None = None
        self._events: list[TransferEvent] = []
        self._problems: list[str] = []

    @property
    def catalog(self) -> ResourceCatalog:
        return self.engine.catalog

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.engine.results

    def link_above(self, dev) -> LinkInfo | None:
        info, _ = self.engine.catalog.link_above(dev)
        return info

    def gate(self, spec: TransferSpec, expert: bool) -> GateDecision | None:
        """The call RealEngine.prepare makes: real, and only file copies stage in P2P memory."""
        return self.engine.planner.plan(spec, expert, real=True, uses_pool=spec.src_file is not None).gate

    async def start(self, spec: TransferSpec, expert: bool) -> TransferResult:
        if self._sub is None:
            self._sub = self.runner.subscribe(self.interval)
            self._consumer = asyncio.get_running_loop().create_task(self._consume(self._sub))
        self.engine.expert = expert
        return await self.runner.start(spec)

    async def cancel(self, tid: int) -> None:
        await self.runner.cancel(tid)

    def poll(self) -> FeedUpdate:
        events, self._events = self._events, []
        problems, self._problems = self._problems, []
        return FeedUpdate(self._latest, events, problems)

    async def close(self) -> None:
        await self.runner.close()
        if self._consumer is not None:
            self._consumer.cancel()

    async def _consume(self, sub: Subscription) -> None:
        try:
            async for item in sub:
                if isinstance(item, Sample):
                    self._latest = item
                else:
                    self._events.append(item)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._problems.append(f"lost the real engine's progress reports: {exc!r}")
