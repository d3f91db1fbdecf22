"""The asyncio face of the engines: start and cancel transfers, subscribe to samples and events, step and sample.

``Runner(engine, ...)`` gives the runner of the engine's kind (its backend says which: backends.py): a simulator
on a virtual clock (runner_sim.py) or copies in worker threads (runner_real.py). This base holds what every kind
shares: subscriptions, the sample history, publishing, waiting and closing.

Subscribers get Sample objects at their own interval and TransferEvent objects as they happen; a slow subscriber
loses its oldest samples, never an event. Errors - a refused pool, a provider unplugged, an I/O error, even a bug
in a backend - arrive as events; the caller's tasks never see them raised.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from typing import Any

from .backends import Capability, Engine, backend_of
from .samples import History, Sample, TransferEvent
from .subscription import Item, Subscription
from .transfer import TransferResult, TransferSpec, TransferState

__all__ = ["Item", "Runner", "Subscription"]


class Runner:
    def __new__(cls, engine: Engine, **options: Any) -> Runner:
        if cls is Runner:  # Runner(engine) means the runner of the engine's kind
            cls = backend_of(engine).runner()
        return super().__new__(cls)

    def __init__(
        self,
        engine: Engine,
        *,
        speed: float | None = None,
        clock: Callable[[], float] | None = None,
        history: int = 600,
        tick: float = 0.1,
    ):
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.engine = engine
        self.speed = speed
        self.clock = clock or time.monotonic
        self.tick = tick  # clock seconds between progress polls when no subscriber asks for more (copies in threads)
        self.history = History(history)
        self._subs: list[Subscription] = []
        # Made here, bound to the event loop that first waits on them (the driver's): asyncio.Event needs no loop yet.
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()  # set whenever a transfer changes state
        self._driver: asyncio.Task | None = None
        self._t0: float | None = None  # clock reading when the run began
        self._latest: Sample | None = None
        self.broken = ""  # the engine raised: it is not driven again, and this says why

    @property
    def capabilities(self) -> frozenset[Capability]:
        return backend_of(self.engine).capabilities

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.engine.results

    def now(self) -> float:
        """Engine clock: clock seconds since the first transfer (a simulator: its virtual seconds)."""
        return 0.0 if self._t0 is None else self.clock() - self._t0

    # -- API ----------------------------------------------------------------------------------------------------
    def subscribe(self, interval: float = 0.1, maxsize: int = 1000, samples: bool = True) -> Subscription:
        """Samples every ``interval`` engine seconds and every event; ``samples=False`` for events only."""
        sub = Subscription(interval, maxsize, samples)
        sub.next_due = self.now()
        self._subs.append(sub)
        self._poke()
        return sub

    async def start(self, spec: TransferSpec, expert: bool | None = None) -> TransferResult:
        """Accept a transfer (InputError for one that can never run); refusals later arrive as events. ``expert``:
        the gate's word for this transfer (default: the engine's own setting)."""
        raise NotImplementedError

    async def cancel(self, tid: int) -> None:
        raise NotImplementedError

    def sample(self) -> Sample:
        """Every transfer as it stands now."""
        raise NotImplementedError

    def unplug(self, device: str, at: float | None = None) -> None:
        """Hot-unplug ``device`` at engine time ``at`` (default: now): for engines that take events."""
        raise ValueError(self._no_events("hot-unplug injection"))

    def unpublish(self, device: str, at: float | None = None) -> None:
        raise ValueError(self._no_events("unpublish injection"))

    def step(self, until: float | None = None) -> None:
        """Run the engine's own clock up to ``until``: for engines that take events (a simulator)."""
        raise ValueError(self._no_events("stepping"))

    def _no_events(self, what: str) -> str:
        return f"{what} is for the simulator only: engine {self.engine.name!r} takes no events"

    async def wait(self, tid: int | None = None) -> list[TransferResult]:
        """Until ``tid`` (or every transfer) has finished; their results."""
        self._ensure_driver()
        while True:
            wanted = [self.results[tid]] if tid is not None else list(self.results.values())
            if all(r.state.finished for r in wanted):
                return wanted
            self._changed.clear()
            await self._changed.wait()

    async def close(self) -> None:
        """Cancel every transfer and stop."""
        await self._stop_transfers()
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except (asyncio.CancelledError, Exception):
                pass
        for sub in self._subs:
            sub.close()
        self._after_close()

    async def _stop_transfers(self) -> None:
        """close(): end what is running, before the driver stops."""

    def _after_close(self) -> None:
        """close(): release what the kind holds (threads), after the driver stopped."""

    # -- driving ------------------------------------------------------------------------------------------------
    def _ensure_driver(self) -> None:
        if self._driver is None:
            loop = asyncio.get_running_loop()
            self._t0 = self.clock()
            self._driver = loop.create_task(self._drive())

    async def _drive(self) -> None:
        """The kind's background loop: moves its transfers on and publishes samples."""
        raise NotImplementedError

    def _poke(self) -> None:
        self._wake.set()

    async def _sleep_or_wake(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken early. (asyncio.wait_for on 3.11 can swallow a cancellation
        that races with the inner wait finishing, which would leave close() waiting forever.)"""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        return bool(done)

    # -- publishing ---------------------------------------------------------------------------------------------
    def _next_tick(self) -> float:
        return min((s.next_due for s in self._subs if s.wants_samples), default=math.inf)

    def _publish_events(self, events: list[TransferEvent]) -> None:
        if events:
            self._changed.set()
        for event in events:
            for sub in self._subs:
                sub.push(event)

    def _publish_sample(self, sample: Sample, final: bool = False) -> None:
        self._latest = sample
        self.history.record(sample)
        for sub in self._subs:
            if sub.wants_samples and (final or sample.time >= sub.next_due):
                sub.push(sample)
                sub.next_due = (math.floor(sample.time / sub.interval + 1e-9) + 1) * sub.interval

    def _fail_all(self, message: str) -> None:
        events = []
        for result in self.results.values():
            if not result.state.finished:
                result.state, result.error = TransferState.FAILED, message
                events.append(TransferEvent(self.now(), result.id, result.spec.label, result.state, message))
        self._publish_events(events)
        self._changed.set()
