"""The asyncio face of both engines: start and cancel transfers, subscribe to samples and events.

The simulator runs as fast as possible (``speed=None``: virtual time jumps from event to event and from sample to
sample) or paced against the wall clock at ``speed`` × real time. Real copies run in worker threads; their progress
is sampled on the wall clock. Subscribers get Sample objects at their own interval and TransferEvent objects as
they happen; a slow subscriber loses its oldest samples, never an event. Errors - a refused pool, a provider
unplugged, an I/O error, even a bug in a backend - arrive as events; the caller's tasks never see them raised.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from .real import RealEngine, RealJob
from .samples import History, Sample, TransferEvent, TransferSample
from .sim import Simulation
from .transfer import TransferResult, TransferSpec, TransferState

Item = Sample | TransferEvent


class Subscription:
    """An async iterator of samples and events; ends when the runner closes or ``close()`` is called."""

    def __init__(self, interval: float, maxsize: int):
        if not interval > 0:
            raise ValueError(f"sample interval must be positive, not {interval}")
        self.interval = interval
        self.next_due = 0.0
        self.dropped = 0  # samples thrown away because the subscriber fell behind
        self._items: deque[Item] = deque()
        self._samples = 0
        self._max = maxsize
        self._ready = asyncio.Event()
        self._closed = False

    def push(self, item: Item) -> None:
        if self._closed:
            return
        if isinstance(item, Sample):
            if self._samples >= self._max:
                oldest = next(i for i in self._items if isinstance(i, Sample))
                self._items.remove(oldest)
                self._samples -= 1
                self.dropped += 1
            self._samples += 1
        self._items.append(item)
        self._ready.set()

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


class Runner:
    def __init__(self, engine: Simulation | RealEngine, *, speed: float | None = None, history: int = 600,
                 tick: float = 0.1):  # fmt: skip
        if speed is not None and not speed > 0:
            raise ValueError(f"speed must be positive, not {speed}")
        self.engine = engine
        self.speed = speed
        self.tick = tick  # real engine: wall seconds between progress polls when nobody subscribes
        self.history = History(history)
        self._subs: list[Subscription] = []
        self._wake: asyncio.Event | None = None
        self._changed: asyncio.Event | None = None  # set whenever a transfer changes state
        self._driver: asyncio.Task | None = None
        self._t0: float | None = None
        self._jobs: dict[int, RealJob] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._last: dict[int, tuple[float, int]] = {}
        self._executor: ThreadPoolExecutor | None = None

    @property
    def is_sim(self) -> bool:
        return isinstance(self.engine, Simulation)

    @property
    def results(self) -> dict[int, TransferResult]:
        return self.engine.results

    def now(self) -> float:
        """Engine clock: virtual seconds (simulator) or wall seconds since the first transfer (real)."""
        if self.is_sim:
            return self.engine.now
        return 0.0 if self._t0 is None else time.monotonic() - self._t0

    # -- API ----------------------------------------------------------------------------------------------------
    def subscribe(self, interval: float = 0.1, maxsize: int = 1000) -> Subscription:
        sub = Subscription(interval, maxsize)
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
            self._publish_events(self.engine.advance(self.engine.now))
            self._poke()
            return
        job = self._jobs[tid]
        job.cancel()
        if job.result.state is TransferState.PENDING:
            self._tasks[tid].cancel()

    def unplug(self, device: str, at: float | None = None) -> None:
        """Simulator only: hot-unplug ``device`` at virtual time ``at``."""
        self._sim_only("hot-unplug injection").unplug(device, at)
        self._poke()

    def unpublish(self, device: str, at: float | None = None) -> None:
        self._sim_only("unpublish injection").unpublish(device, at)
        self._poke()

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
        for task in list(self._tasks.values()):
            task.cancel()
        for job in self._jobs.values():
            job.cancel()
        if self._driver is not None:
            self._driver.cancel()
            try:
                await self._driver
            except (asyncio.CancelledError, Exception):
                pass
        for sub in self._subs:
            sub.close()
        if self._executor is not None:
            self._executor.shutdown(wait=True)

    # -- driving ------------------------------------------------------------------------------------------------
    def _ensure_driver(self) -> None:
        if self._driver is None:
            loop = asyncio.get_running_loop()
            self._wake, self._changed = asyncio.Event(), asyncio.Event()
            self._t0 = time.monotonic()
            self._loop_t0 = loop.time()
            self._driver = loop.create_task(self._drive_sim() if self.is_sim else self._drive_real())

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()

    def _sim_only(self, what: str) -> Simulation:
        if not self.is_sim:
            raise ValueError(f"{what} is for the simulator only")
        return self.engine

    def _catch_up(self) -> None:
        """Paced simulation: bring the virtual clock up to the wall clock before changing anything."""
        if self.speed is not None and self._driver is not None:
            target = (asyncio.get_running_loop().time() - self._loop_t0) * self.speed
            if target > self.engine.now:
                self._publish_events(self.engine.advance(target))

    async def _drive_sim(self) -> None:
        sim: Simulation = self.engine
        loop = asyncio.get_running_loop()
        try:
            while True:
                self._wake.clear()
                if sim.idle:
                    self._publish_sample(sim.sample(), final=True)
                    self._changed.set()
                    await self._wake.wait()
                    continue
                t = min(sim.next_event_time(), self._next_tick())
                if self.speed is not None and math.isfinite(t):
                    delay = self._loop_t0 + t / self.speed - loop.time()
                    if delay > 0 and await self._sleep_or_wake(delay):
                        continue  # something changed: recompute the next stop
                events = sim.advance(t)
                if sim.idle:
                    self._publish_sample(sim.sample(), final=True)
                elif t >= self._next_tick():
                    self._publish_sample(sim.sample())
                self._publish_events(events)
                await asyncio.sleep(0)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - a backend bug must not crash the caller
            self._fail_all(f"internal error in the simulator: {exc!r}")

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
                interval = min([s.interval for s in self._subs] + [self.tick])
                await self._sleep_or_wake(interval)
                if self.now() >= self._next_tick():
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
        return min((s.next_due for s in self._subs if not s._closed), default=math.inf)

    def _publish_events(self, events: list[TransferEvent]) -> None:
        if events and self._changed is not None:
            self._changed.set()
        for event in events:
            for sub in self._subs:
                sub.push(event)

    def _publish_sample(self, sample: Sample, final: bool = False) -> None:
        self.history.record(sample)
        for sub in self._subs:
            if final or sample.time >= sub.next_due:
                sub.push(sample)
                sub.next_due = (math.floor(sample.time / sub.interval + 1e-9) + 1) * sub.interval

    def _real_sample(self) -> Sample:
        now = self.now()
        rows = []
        for tid, result in self.results.items():
            job = self._jobs.get(tid)
            running = result.state is TransferState.RUNNING and job is not None
            done = job.progress.total if running and job.progress.per_thread else result.bytes_done
            t_prev, b_prev = self._last.get(tid, (result.started_at or now, 0))
            rate = (done - b_prev) / (now - t_prev) if running and now > t_prev else 0.0
            self._last[tid] = (now, done)
            seconds = result.seconds if not running else now - (result.started_at or now)
            average = done / seconds if seconds else 0.0
            rows.append(TransferSample(tid, result.spec.label, result.state, done, result.spec.size, rate, average))
        return Sample(now, tuple(rows), {})

    def _fail_all(self, message: str) -> None:
        events = []
        for result in self.results.values():
            if not result.state.finished:
                result.state, result.error = TransferState.FAILED, message
                events.append(TransferEvent(self.now(), result.id, result.spec.label, result.state, message))
        self._publish_events(events)
        if self._changed is not None:
            self._changed.set()
