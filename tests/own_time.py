"""The time a stretch of this process took that is its own, for tests that promise something is prompt.

On a loaded machine (a test run beside other jobs on two cores) the wall time of a short stretch is mostly time this
process's threads spent runnable but waiting for a CPU that other processes held: that says nothing about the code
under test, and it is what made 1-second budgets miss at 1.1-1.7 s while the same close took 0.03-0.2 s on a quiet
machine. Linux counts that wait per thread (run_delay: the second field of /proc/self/task/TID/schedstat, in
nanoseconds). ``OwnTime.own`` is the wall time less every thread's wait: on a quiet machine it is the wall time;
under load it can only come out lower (two threads waiting side by side are both subtracted), so load never makes a
test fail, while a sleep, a blocking wait or extra work of the code under test still counts in full. ``cpu`` is the
CPU time of the whole process (all threads, those that ended too), which load does not change either: extra work
shows there even when heavy load has made ``own`` lenient. Where the kernel keeps no such count (no
CONFIG_SCHED_INFO, not Linux), nothing is subtracted: ``own`` is plain wall time.
"""

from __future__ import annotations

import os
import threading
import time

TASKS = "/proc/self/task"
SAMPLE_EVERY = 0.005  # seconds: a thread that ends within the stretch loses at most this much of its wait


def run_delays(skip: int | None = None) -> dict[int, int]:
    """Nanoseconds each thread of this process has waited for a CPU so far, by thread id (``skip``: one left out)."""
    delays: dict[int, int] = {}
    try:
        tids = [int(name) for name in os.listdir(TASKS)]
    except OSError:
        return delays
    for tid in tids:
        if tid == skip:
            continue
        try:
            with open(f"{TASKS}/{tid}/schedstat") as f:
                delays[tid] = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue  # the thread ended meanwhile, or the kernel keeps no such count
    return delays


class OwnTime:
    """Started on creation; ``stop()`` sets ``wall``, ``waited`` (all threads' waits for a CPU), ``own`` (the two's
    difference) and ``cpu``, and returns ``own``. A sampling thread adds up the waits every SAMPLE_EVERY seconds, so a
    thread that ends before ``stop()`` (a worker released when its job is done) keeps the wait it had; the sampler's
    own wait is left out."""

    def __init__(self) -> None:
        self.waited = 0.0
        self.done = threading.Event()
        self.sampler = threading.Thread(target=self.sample, daemon=True, name="own-time sampler")
        self.readings = run_delays()
        self.started = time.perf_counter()
        self.cpu_started = time.process_time()
        self.sampler.start()

    def sample(self) -> None:
        me = threading.get_native_id()
        while not self.done.wait(SAMPLE_EVERY):
            self.take(run_delays(skip=me))

    def take(self, readings: dict[int, int]) -> None:
        for tid, ns in readings.items():
            before = self.readings.get(tid)
            # A thread not seen before is new; one reading lower than before is a new thread with a reused id.
            self.waited += (ns if before is None or ns < before else ns - before) / 1e9
        self.readings.update(readings)

    def stop(self) -> float:
        self.wall = time.perf_counter() - self.started
        self.cpu = time.process_time() - self.cpu_started
        self.done.set()
        self.sampler.join()
        self.take(run_delays(skip=self.sampler.native_id))
        self.own = self.wall - self.waited
        return self.own

    def __str__(self) -> str:
        return (
            f"{self.own:.2f} s of its own ({self.wall:.2f} s wall less {self.waited:.2f} s waiting for a CPU), "
            f"{self.cpu:.2f} s of CPU"
        )
