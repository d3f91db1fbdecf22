"""The runner of a simulator: virtual time, as fast as possible or paced by a clock.

The simulator runs as fast as possible (``speed=None``: virtual time jumps from event to event and from sample to
sample) or paced at ``speed`` × the runner's clock (``clock``, seconds; time.monotonic unless given - a virtual
clock makes a paced run reproducible). A paced simulator is kept up with its clock by a background driver and,
synchronously, by every request and by ``step()``/``sample()``, so a caller polling from a timer sees exactly the
state at the clock's time; ``step(until)`` also drives an unpaced one by hand. A bug inside the simulator fails
every unfinished transfer, as events, and stops it.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any

from .runner import Runner
from .samples import Sample
from .sim import Simulation
from .transfer import TransferResult, TransferSpec


class SimRunner(Runner):
    engine: Simulation

    def __init__(
        self,
        engine: Simulation,
        *,
        speed: float | None = None,
        clock: Callable[[], float] | None = None,
        **options: Any,
    ):
        if clock is not None and speed is None:
            raise ValueError("a clock paces the simulator: give a speed too (1.0 = the clock's pace)")
        super().__init__(engine, speed=speed, clock=clock, **options)

    def now(self) -> float:
        """Virtual seconds."""
        return self.engine.now

    async def start(self, spec: TransferSpec, expert: bool | None = None) -> TransferResult:
        self._ensure_driver()
        self._catch_up()
        result = self.engine.add(spec, expert=expert)
        if self.broken:
            self._fail_all(self.broken)
        else:
            self._advance_now()  # a copy due now starts now, not at the driver's next stop
        self._poke()
        return result

    async def cancel(self, tid: int) -> None:
        self._catch_up()
        self.engine.cancel(tid)
        self._advance_now()
        self._poke()

    def unplug(self, device: str, at: float | None = None) -> None:
        """Hot-unplug ``device`` at virtual time ``at`` (default: now)."""
        self._inject(self.engine.unplug, device, at)

    def unpublish(self, device: str, at: float | None = None) -> None:
        self._inject(self.engine.unpublish, device, at)

    def step(self, until: float | None = None) -> None:
        """Simulator only: run it up to virtual time ``until`` now, publishing the samples due and the events on the
        way. Without ``until`` a paced runner goes to where its clock says it should be (before the first transfer:
        nowhere). An error inside the simulator fails every unfinished transfer, as events."""
        sim = self.engine
        if until is None:
            if self.speed is None:
                raise ValueError("an unpaced runner has no clock to step to: give until")
            until = self._clock_target()
            if until is None:  # no transfer yet: the clock has not started
                return
        try:
            while not self.broken:
                if sim.idle:
                    sim.advance(until)  # the clock moves on; the final sample went out when it became idle
                    break
                t = min(sim.next_event_time(), self._next_tick(), until)
                self._stop_at(t)
                if t >= until:
                    break
        except Exception as exc:  # noqa: BLE001 - a backend bug must not crash the caller
            self._break(exc)

    def sample(self) -> Sample:
        """The simulator's state (caught up with the clock when paced)."""
        self._catch_up()
        if not self.broken:
            try:
                return self.engine.sample()
            except Exception as exc:  # noqa: BLE001
                self._break(exc)
        return self._latest or Sample(self.now(), (), {})

    def _clock_target(self) -> float | None:
        """The virtual time a paced runner's clock has reached; None unpaced or before the first transfer."""
        if self.speed is None or self._t0 is None:
            return None
        return (self.clock() - self._t0) * self.speed

    def _catch_up(self) -> None:
        """Paced simulation: bring the virtual clock up to the runner's clock before changing or showing anything."""
        if self.speed is not None and self._t0 is not None:
            self.step()

    def _advance_now(self) -> None:
        """Let what is due at the current virtual time (a start, a cancel, a fault) happen at once."""
        if self.broken:
            return
        try:
            self._publish_events(self.engine.advance(self.engine.now))
        except Exception as exc:  # noqa: BLE001
            self._break(exc)

    def _inject(self, fault: Callable[[str, float | None], None], device: str, at: float | None) -> None:
        self._catch_up()
        fault(device, at)
        self._advance_now()
        self._poke()

    def _stop_at(self, t: float) -> None:
        """Advance the simulator to ``t`` (an event or a sample due) and publish what happened there."""
        sim = self.engine
        events = sim.advance(t)
        if sim.idle:
            self._publish_sample(sim.sample(), final=True)
        elif t >= self._next_tick():
            self._publish_sample(sim.sample())
        self._publish_events(events)

    async def _drive(self) -> None:
        sim = self.engine
        try:
            while not self.broken:
                self._wake.clear()
                if sim.idle:
                    self._publish_sample(sim.sample(), final=True)
                    self._changed.set()
                    await self._wake.wait()
                    continue
                t = min(sim.next_event_time(), self._next_tick())
                if math.isinf(t):  # nothing will ever happen by itself (no rate, no sample due): wait for a request
                    await self._wake.wait()
                    continue
                target = self._clock_target()
                if self.speed is not None and target is not None:
                    # Only ever to a stop the clock has reached: the same stops step() makes, whoever gets there first.
                    delay = (t - target) / self.speed
                    if delay > 0:
                        await self._sleep_or_wake(delay)
                        continue
                self._stop_at(t)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend bug must not crash the caller
            self._break(exc)

    def _break(self, exc: Exception) -> None:
        self.broken = f"internal error in the simulator: {exc!r}"
        self._fail_all(self.broken)
