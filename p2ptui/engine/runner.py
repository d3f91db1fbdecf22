"""The asyncio face of both engines: start and cancel transfers, subscribe to samples and events, step and sample.

The simulator runs as fast as possible (``speed=None``: virtual time jumps from event to event and from sample to
sample) or paced at ``speed`` × the runner's clock (``clock``, seconds; time.monotonic unless given - a virtual
clock makes a paced run reproducible). A paced simulator is kept up with its clock by a background driver and,
synchronously, by every request and by ``step()``/``sample()``, so a caller polling from a timer sees exactly the
state at the clock's time; ``step(until)`` also drives an unpaced one by hand. Real copies run in worker threads;
their progress is polled every ``tick`` (or the finest subscriber interval) on the clock.

Subscribers get Sample objects at their own interval and TransferEvent objects as they happen; a slow subscriber
loses its oldest samples, never an event. Errors - a refused pool, a provider unplugged, an I/O error, even a bug
in a backend - arrive as events; the caller's tasks never see them raised.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .real import RealEngine, RealJob
from .samples import History, Sample, TransferEvent, TransferSample
from .sim import Simulation
from .subscription import Item, Subscription
from .transfer import TransferResult, TransferSpec, TransferState

__all__ = ["Item", "Runner", "Subscription"]

# How long close() waits for cancelled real copies to end. Each checks its cancel flag between chunks (copy,
# preparation, digest), so this only matters for a thread stuck in the kernel (a hung device).
CLOSE_GRACE = 5.0


class Runner:
    def __init__(self, engine: Simulation | RealEngine, *, speed: float | None = None,
                 clock: Callable[[], float] | None = None, history: int = 600, tick: float = 0.1):  # fmt: skip
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        if clock is not None and speed is None and isinstance(engine, Simulation):
            raise ValueError("a clock paces the simulator: give a speed too (1.0 = the clock's pace)")
        self.engine = engine
        self.speed = speed
        self.clock = clock or time.monotonic
        self.tick = tick  # real engine: clock seconds between progress polls when no subscriber asks for more
        self.history = History(history)
        self._subs: list[Subscription] = []
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None  # set whenever a transfer changes state
        self._driver: asyncio.Task | None = None
        self._t0: float | None = None  # clock reading when the run began (virtual time 0)
        self._jobs: dict[int, RealJob] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._launched: set[int] = set()  # real jobs past their start time (handed to a worker thread)
        self._last: dict[int, tuple[float, int]] = {}
        self._latest: Sample | None = None
        self._executor: ThreadPoolExecutor | None = None
        self.broken = ""  # the simulator raised: it is not stepped again, and this says why

    @property
    def is_sim(self) -> bool:
        return isinstance(self.engine, Simulation)

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.engine.results

    def job(self, tid: int) -> RealJob:
        """Real engine: the copy behind transfer ``tid`` (its progress, preparation included)."""
        return self._jobs[tid]

    def now(self) -> float:
        """Engine clock: virtual seconds (simulator) or clock seconds since the first transfer (real)."""
        if self.is_sim:
            return self.engine.now
        return 0.0 if self._t0 is None else self.clock() - self._t0

    # -- API ----------------------------------------------------------------------------------------------------
    def subscribe(self, interval: float = 0.1, maxsize: int = 1000, samples: bool = True) -> Subscription:
        """Samples every ``interval`` engine seconds and every event; ``samples=False`` for events only."""
        sub = Subscription(interval, maxsize, samples)
        sub.next_due = self.now()
        self._subs.append(sub)
        self._poke()
        return sub

    async def start(self, spec: TransferSpec) -> TransferResult:
        """Accept a transfer (InputError for one that can never run); refusals later arrive as events."""
        self._ensure_driver()
        if self.is_sim:
            self._catch_up()
            result = self.engine.add(spec)
            if self.broken:
                self._fail_all(self.broken)
            else:
                self._advance_now()  # a copy due now starts now, not at the driver's next stop
        else:
            job = self.engine.prepare(spec, clock=self.now)
            self._jobs[job.id] = job
            self._tasks[job.id] = asyncio.get_running_loop().create_task(self._run_job(job))
            result = job.result
        self._poke()
        return result

    async def cancel(self, tid: int) -> None:
        if self.is_sim:
            self._catch_up()
            self.engine.cancel(tid)
            self._advance_now()
            self._poke()
            return
        self._jobs[tid].cancel()  # a running copy stops within one chunk, then its task reports it
        if tid not in self._launched:
            self._tasks[tid].cancel()  # still waiting for its start time

    def unplug(self, device: str, at: float | None = None) -> None:
        """Simulator only: hot-unplug ``device`` at virtual time ``at`` (default: now)."""
        self._inject(self._sim_only("hot-unplug injection").unplug, device, at)

    def unpublish(self, device: str, at: float | None = None) -> None:
        self._inject(self._sim_only("unpublish injection").unpublish, device, at)

    def step(self, until: float | None = None) -> None:
        """Simulator only: run it up to virtual time ``until`` now, publishing the samples due and the events on the
        way. Without ``until`` a paced runner goes to where its clock says it should be (before the first transfer:
        nowhere). An error inside the simulator fails every unfinished transfer, as events."""
        sim = self._sim_only("stepping")
        if until is None:
            if self.speed is None:
                raise ValueError("an unpaced runner has no clock to step to: give until")
            if self._t0 is None:
                return
            until = self._clock_target()
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
        """Every transfer as it stands now: the simulator's state (caught up with the clock when paced), or the real
        copies' states and bytes with the rates of the newest progress poll (measured over ``tick``)."""
        if not self.is_sim:
            return self._real_sample(measure=False)
        self._catch_up()
        if not self.broken:
            try:
                return self.engine.sample()
            except Exception as exc:  # noqa: BLE001
                self._break(exc)
        return self._latest or Sample(self.now(), (), {})

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
        """Cancel every transfer and stop. Real copies are told to stop and awaited - without blocking the event loop:
        they end within one chunk of copying, filling or hashing, and report it as their final event."""
        for job in self._jobs.values():
            job.cancel()
        for tid, task in self._tasks.items():
            if tid not in self._launched:
                task.cancel()
        pending = [task for task in self._tasks.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE)
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except (asyncio.CancelledError, Exception):
                pass
        for sub in self._subs:
            sub.close()
        if self._executor is not None:
            # The jobs have ended (or are stuck past the grace period): nothing to wait for on the loop's thread.
            self._executor.shutdown(wait=False, cancel_futures=True)

    # -- driving ------------------------------------------------------------------------------------------------
    def _ensure_driver(self) -> None:
        if self._driver is None:
            loop = asyncio.get_running_loop()
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._t0 = self.clock()
            self._driver = loop.create_task(self._drive_sim() if self.is_sim else self._drive_real())

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _sim_only(self, what: str) -> Simulation:
        if not self.is_sim:
            raise ValueError(f"{what} is for the simulator only")
        return self.engine

    def _clock_target(self) -> float:
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
        sim: Simulation = self.engine
        events = sim.advance(t)
        if sim.idle:
            self._publish_sample(sim.sample(), final=True)
        elif t >= self._next_tick():
            self._publish_sample(sim.sample())
        self._publish_events(events)

    async def _drive_sim(self) -> None:
        sim: Simulation = self.engine
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
                if self.speed is not None:
                    # Only ever to a stop the clock has reached: the same stops step() makes, whoever gets there first.
                    delay = (t - self._clock_target()) / self.speed
                    if delay > 0:
                        await self._sleep_or_wake(delay)
                        continue
                self._stop_at(t)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend bug must not crash the caller
            self._break(exc)

    async def _drive_real(self) -> None:
        try:
            while True:
                running = [r for r in self.results.values() if not r.state.finished]
                self._wake.clear()
                if not running:
                    self._publish_sample(self._real_sample(), final=True)
                    self._changed.set()
                    await self._wake.wait()
                    continue
                interval = min([s.interval for s in self._subs if s.wants_samples] + [self.tick])
                await self._sleep_or_wake(interval)
                # Every tick when no subscriber sets a grid: sample() and the history stay fresh regardless.
                if self.now() >= self._next_tick() or not any(s.wants_samples for s in self._subs):
                    self._publish_sample(self._real_sample())
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001
            self._fail_all(f"internal error in the real engine: {exc!r}")

    async def _sleep_or_wake(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when woken early. (asyncio.wait_for on 3.11 can swallow a cancellation
        that races with the inner wait finishing, which would leave close() waiting forever.)"""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            done, _ = await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        return bool(done)

    async def _run_job(self, job: RealJob) -> None:
        result = job.result
        try:
            await asyncio.sleep(max(0.0, result.spec.start - self.now()))
        except asyncio.CancelledError:
            result.state, result.error = TransferState.CANCELLED, "cancelled before it started"
            result.started_at = result.ended_at = self.now()
            self._publish_events([TransferEvent(self.now(), result.id, result.spec.label, result.state, result.error)])
            self._poke()
            return
        self._launched.add(job.id)
        self._publish_events([TransferEvent(self.now(), result.id, result.spec.label, TransferState.RUNNING)])
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=64, thread_name_prefix="p2ptui-job")
        try:
            await asyncio.shield(asyncio.get_running_loop().run_in_executor(self._executor, job.run))
        except asyncio.CancelledError:
            job.cancel()
            raise
        finally:
            self._publish_events([TransferEvent(self.now(), result.id, result.spec.label, result.state,
                                                result.error or "")])  # fmt: skip
            self._poke()

    # -- publishing ---------------------------------------------------------------------------------------------
    def _next_tick(self) -> float:
        return min((s.next_due for s in self._subs if s.wants_samples), default=math.inf)

    def _publish_events(self, events: list[TransferEvent]) -> None:
        if events and self._changed is not None:
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

    def _real_sample(self, measure: bool = True) -> Sample:
        """Progress of every real copy; ``measure``: rates over the time since the last poll, which becomes this one
        (the driver's polls), else the rates that poll measured (a reader's look in between)."""
        now = self.now()
        polled = {} if measure or self._latest is None else {t.id: t.rate for t in self._latest.transfers}
        rows = []
        for tid, result in self.results.items():
            job = self._jobs.get(tid)
            running = result.state is TransferState.RUNNING and job is not None
            done = job.progress.total if running and job.progress.per_thread else result.bytes_done
            if measure:
                t_prev, b_prev = self._last.get(tid, (result.started_at or now, 0))
                rate = (done - b_prev) / (now - t_prev) if running and now > t_prev else 0.0
                self._last[tid] = (now, done)
            else:
                rate = polled.get(tid, 0.0) if running else 0.0
            seconds = result.seconds if not running else now - (result.started_at or now)
            average = done / seconds if seconds else 0.0
            rows.append(TransferSample(tid, result.spec.label, result.state, done, result.spec.size, rate, average))
        return Sample(now, tuple(rows), {})

    def _break(self, exc: Exception) -> None:
        self.broken = f"internal error in the simulator: {exc!r}"
        self._fail_all(self.broken)

    def _fail_all(self, message: str) -> None:
        events = []
        for result in self.results.values():
            if not result.state.finished:
                result.state, result.error = TransferState.FAILED, message
                events.append(TransferEvent(self.now(), result.id, result.spec.label, result.state, message))
        self._publish_events(events)
        if self._changed is not None:
            self._changed.set()
