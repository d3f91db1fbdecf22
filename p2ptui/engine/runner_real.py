"""The runner of real copies: each transfer's job runs in a worker thread; progress is polled every ``tick`` (or
the finest subscriber interval) on the clock, and rates are measured between polls."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from .real import RealEngine, RealJob
from .runner import Runner
from .samples import Sample, TransferEvent, TransferSample
from .transfer import TransferResult, TransferSpec, TransferState

# How long close() waits for cancelled real copies to end. Each checks its cancel flag between chunks (copy,
# preparation, digest), so this only matters for a thread stuck in the kernel (a hung device).
CLOSE_GRACE = 5.0


class RealRunner(Runner):
    engine: RealEngine

    def __init__(self, engine: RealEngine, **options: Any):
        super().__init__(engine, **options)
        self._jobs: dict[int, RealJob] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._launched: set[int] = set()  # jobs past their start time (handed to a worker thread)
        self._last: dict[int, tuple[float, int]] = {}
        self._executor: ThreadPoolExecutor | None = None

    def job(self, tid: int) -> RealJob:
        """The copy behind transfer ``tid`` (its progress, preparation included)."""
        return self._jobs[tid]

    async def start(self, spec: TransferSpec, expert: bool | None = None) -> TransferResult:
        self._ensure_driver()
        job = self.engine.prepare(spec, clock=self.now, expert=expert)
        self._jobs[job.id] = job
        self._tasks[job.id] = asyncio.get_running_loop().create_task(self._run_job(job))
        self._poke()
        return job.result

    async def cancel(self, tid: int) -> None:
        self._jobs[tid].cancel()  # a running copy stops within one chunk, then its task reports it
        if tid not in self._launched:
            self._tasks[tid].cancel()  # still waiting for its start time

    def sample(self) -> Sample:
        """The copies' states and bytes with the rates of the newest progress poll (measured over ``tick``)."""
        return self._real_sample(measure=False)

    async def _stop_transfers(self) -> None:
        """Tell every copy to stop and await them - without blocking the event loop: they end within one chunk of
        copying, filling or hashing, and report it as their final event."""
        for job in self._jobs.values():
            job.cancel()
        for tid, task in self._tasks.items():
            if tid not in self._launched:
                task.cancel()
        pending = [task for task in self._tasks.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=CLOSE_GRACE)

    def _after_close(self) -> None:
        if self._executor is not None:
            # The jobs have ended (or are stuck past the grace period): nothing to wait for on the loop's thread.
            self._executor.shutdown(wait=False, cancel_futures=True)

    async def _drive(self) -> None:
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
            self._publish_events(
                [TransferEvent(self.now(), result.id, result.spec.label, result.state, result.error or "")]
            )
            self._poke()

    def _real_sample(self, measure: bool = True) -> Sample:
        """Progress of every real copy; ``measure``: rates over the time since the last poll, which becomes this one
        (the driver's polls), else the rates that poll measured (a reader's look in between)."""
        now = self.now()
        polled = {} if measure or self._latest is None else {t.id: t.rate for t in self._latest.transfers}
        rows = []
        for tid, result in self.results.items():
            job = self._jobs.get(tid) if result.state is TransferState.RUNNING else None
            running = job is not None
            done = job.progress.total if job is not None and job.progress.per_thread else result.bytes_done
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
