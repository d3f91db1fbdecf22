"""Real memory copies: buffers prepared in slices that a cancel interrupts, a Runner that closes without blocking
the event loop, and the engine's guard against copies RAM cannot hold (MemAvailable from a meminfo file)."""

import asyncio
import hashlib
import itertools
import os
import threading
from types import SimpleNamespace

import numpy as np
import pytest
from engine_fabrics import switch_fabric
from own_time import OwnTime

from p2ptui.engine import real, real_memory
from p2ptui.engine.real import RealEngine
from p2ptui.engine.real_files import CopyCancelled, Progress
from p2ptui.engine.real_memory import available_memory, digest, make_source
from p2ptui.engine.runner import Runner
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError

MiB, GiB = 1 << 20, 1 << 30
BIG = 4 * GiB  # seeded data for it takes 4-10 s to make on the 2-core development machine


def meminfo(tmp_path, available: int, name: str = "meminfo"):
    path = tmp_path / name
    path.write_text(
        f"MemTotal:       {64 * GiB // 1024} kB\nMemFree:        1000 kB\n"
        f"MemAvailable:   {available // 1024} kB\nBuffers:        0 kB\n"
    )
    return path


def counts_nothing_against_ram(engine: RealEngine, available: int) -> bool:
    """True when the engine would take the largest memory copy ``available`` bytes of MemAvailable can hold: no
    copy it admitted still counts bytes it has yet to allocate."""
    largest = (available - real_memory.HEADROOM) // 2
    return engine.memory_problem(largest) is None and engine.memory_problem(largest + 1) is not None


# -- preparing the buffers -------------------------------------------------------------------------------------------
def test_seeded_source_is_the_same_whatever_the_slice_and_touches_nothing_twice(monkeypatch):
    whole = make_source(MiB + 13, seed=4)
    monkeypatch.setattr(real_memory, "PREPARE_CHUNK", 64 << 10)
    progress = Progress()
    sliced = make_source(MiB + 13, seed=4, progress=progress)
    assert np.array_equal(whole, sliced) and progress.prepared == MiB + 13
    assert not np.array_equal(sliced, make_source(MiB + 13, seed=5))
    pattern = make_source(3 * MiB + 5, seed=None)
    assert (pattern[::4096] == 1).all()  # every page written, so none reads as the shared zero page


def test_digest_in_slices_is_blake2b_of_the_whole_and_stops_on_cancel(monkeypatch):
    monkeypatch.setattr(real_memory, "PREPARE_CHUNK", 64 << 10)
    buf = make_source(MiB + 7, seed=1)
    assert digest(buf) == hashlib.blake2b(buf.tobytes()).hexdigest()
    stop = threading.Event()
    stop.set()
    with pytest.raises(CopyCancelled):
        digest(buf, stop)
    with pytest.raises(CopyCancelled):
        make_source(MiB, seed=1, cancel=stop)


def test_a_cancelled_seeded_source_leaves_no_new_file_and_keeps_an_old_one(tmp_path, monkeypatch):
    # --check writes its source through a temporary file renamed over it: cancelled mid-way, nothing changes.
    write = real.write_random

    def cancelled_while_writing(fd, path, size, seed, cancel):
        cancel.set()
        return write(fd, path, size, seed, cancel)

    monkeypatch.setattr(real, "write_random", cancelled_while_writing)
    (tmp_path / "old").write_bytes(b"kept")
    for name, flags in (("new", {}), ("old", {"expert": True, "yes": True})):
        spec = TransferSpec(
            "ep1", "ep2", MiB, check=True, src_file=str(tmp_path / name), dst_file=str(tmp_path / f"{name}.copy")
        )
        job = RealEngine(switch_fabric(), **flags).prepare(spec)
        job.run()
        assert job.result.state is TransferState.CANCELLED
    assert sorted(os.listdir(tmp_path)) == ["old"] and (tmp_path / "old").read_bytes() == b"kept"


async def _preparing(runner: Runner, tid: int) -> None:
    """Until the copy is filling its source (bounded only to stop a hung test)."""
    job = runner.job(tid)
    for _ in range(2000):
        if job.progress.prepared > 0:
            return
        await asyncio.sleep(0.005)
    raise AssertionError("the copy never started preparing")


async def _max_gap_while(awaitable) -> tuple[OwnTime, float]:
    """The time ``awaitable`` took, and the longest the event loop went without running a 5 ms ticker meanwhile.
    Its own time and CPU time (own_time.py), not wall time: under load the wall time of a close was mostly threads
    waiting for a CPU (1.1-1.7 s against 0.03-0.2 s quiet) while its own work stayed the same."""
    loop = asyncio.get_running_loop()
    stamps = [loop.time()]

    async def ticker():
        while True:
            await asyncio.sleep(0.005)
            stamps.append(loop.time())

    tick = loop.create_task(ticker())
    await asyncio.sleep(0)
    clock = OwnTime()
    await awaitable
    clock.stop()
    stamps.append(loop.time())
    tick.cancel()
    return clock, max(b - a for a, b in itertools.pairwise(stamps))


def test_closing_while_a_4_gib_copy_prepares_is_prompt_and_never_blocks_the_loop(tmp_path):
    engine = RealEngine(switch_fabric(), meminfo=meminfo(tmp_path, 64 * GiB))

    async def main():
        runner = Runner(engine)
        events = runner.subscribe(samples=False)
        t = await runner.start(TransferSpec("ep1", "ep2", BIG, check=True, seed=3))
        await _preparing(runner, t.id)
        took, gap = await _max_gap_while(runner.close())
        return t, runner.job(t.id), took, gap, events.drain()

    t, job, took, gap, events = asyncio.run(main())
    assert t.state is TransferState.CANCELLED
    assert 0 < job.progress.prepared < BIG and job.progress.per_thread == []  # stopped mid-preparation
    assert took.own < 1.0 and took.cpu < 1.0, f"close() took {took}"
    assert gap < 0.5, f"the event loop stalled {gap:.2f} s during close()"
    assert [e.state for e in events] == [TransferState.RUNNING, TransferState.CANCELLED]  # the final event came
    assert job.memory_to_come() == 0 and counts_nothing_against_ram(engine, 64 * GiB)


def test_cancelling_one_copy_while_it_prepares_is_prompt(tmp_path):
    engine = RealEngine(switch_fabric(), meminfo=meminfo(tmp_path, 64 * GiB))

    async def main():
        runner = Runner(engine)
        t = await runner.start(TransferSpec("ep1", "ep2", BIG, check=True, seed=4))
        await _preparing(runner, t.id)
        took, gap = await _max_gap_while(asyncio.gather(runner.cancel(t.id), runner.wait(t.id)))
        await runner.close()
        return t, runner.job(t.id), took, gap

    t, job, took, gap = asyncio.run(main())
    assert t.state is TransferState.CANCELLED and t.error == "cancelled"
    assert 0 < job.progress.prepared < BIG and job.progress.per_thread == []
    assert took.own < 1.0 and took.cpu < 1.0 and gap < 0.5, f"cancelling took {took}, the loop stalled {gap:.2f} s"


# -- how much RAM a copy may take ------------------------------------------------------------------------------------
def test_available_memory_reads_memavailable(tmp_path):
    assert available_memory(meminfo(tmp_path, 3 * GiB)) == 3 * GiB
    (tmp_path / "old").write_text("MemTotal: 1000 kB\nMemFree: 10 kB\n")
    assert available_memory(tmp_path / "old") is None  # kernels before 3.14: no estimate, no guard
    assert available_memory(tmp_path / "missing") is None
    assert available_memory() > 0  # this machine's /proc/meminfo


def test_a_memory_copy_ram_cannot_hold_is_refused_before_anything_is_allocated(tmp_path):
    engine = RealEngine(switch_fabric(), meminfo=meminfo(tmp_path, 8 * GiB))
    with pytest.raises(InputError) as exc:
        engine.prepare(TransferSpec("ep1", "ep2", 4 * GiB))
    [diagnostic] = exc.value.diagnostics
    assert diagnostic.message == (
        "a real memory copy of 4 GiB needs 8 GiB of RAM (source and destination buffers) "
        "plus 512 MiB headroom; this machine has 8 GiB available (MemAvailable)"
    )
    assert "copy files" in diagnostic.hint and not engine.results
    assert engine.plan(TransferSpec("ep1", "ep2", 3 * GiB)).gate.permitted  # 6.5 GiB fits


def test_file_copies_are_not_held_to_ram(tmp_path, monkeypatch):
    # File copies stream through chunk × threads bytes: no RAM limit (the disk's free space is real_inputs' business,
    # faked here so that a 64 GiB copy fits whatever this machine's disk holds).
    engine = RealEngine(switch_fabric(), meminfo=meminfo(tmp_path, 8 * GiB))
    src = tmp_path / "a"
    with open(src, "wb") as f:
        f.truncate(64 * GiB)  # sparse: takes no space
    monkeypatch.setattr(os, "statvfs", lambda path: SimpleNamespace(f_bavail=1 << 40, f_frsize=4096, f_flag=0))
    assert engine.memory_problem(64 * GiB) is not None  # as a memory copy it would be refused ...
    with pytest.raises(InputError, match="needs 128 GiB of RAM"):
        engine.plan(TransferSpec("ep1", "ep2", 64 * GiB))
    spec = TransferSpec("ep1", "ep2", 64 * GiB, src_file=str(src), dst_file=str(tmp_path / "b"))
    plan = engine.plan(spec)  # ... as a file copy it is accepted
    assert plan.chosen is not None
    job = engine.prepare(spec)
    assert job.buffer_kind == "system memory"
    assert job.disk_needs == {os.stat(tmp_path).st_dev: 64 * GiB}  # but the whole copy against the disk
    assert counts_nothing_against_ram(engine, 8 * GiB) and not (tmp_path / "b").exists()  # nor anything written


def test_copies_running_count_with_what_they_have_yet_to_allocate(tmp_path, monkeypatch):
    engine = RealEngine(switch_fabric(), meminfo=meminfo(tmp_path, 560 * MiB))  # 512 MiB headroom + 48 MiB
    first = engine.prepare(TransferSpec("ep1", "ep2", 16 * MiB, check=True))
    second = engine.prepare(TransferSpec("ep1", "ep2", 16 * MiB, start=1.0))  # accepted: a plan may run them apart
    filling, release = threading.Event(), threading.Event()
    make = real.make_source

    def held_make_source(size, seed, **kw):  # the first copy stays in its preparation until released
        filling.set()
        assert release.wait(10)
        return make(size, seed, **kw)

    monkeypatch.setattr(real, "make_source", held_make_source)
    worker = threading.Thread(target=first.run)
    worker.start()
    assert filling.wait(10)
    assert first.memory_to_come() == 32 * MiB  # both buffers, none allocated yet
    with pytest.raises(InputError, match="32 MiB of it still to be taken by copies already running"):
        engine.plan(TransferSpec("ep1", "ep2", 16 * MiB))
    second.run()  # its turn came while the first still runs: refused there, nothing allocated
    assert second.result.state is TransferState.REFUSED and "already running" in second.result.error
    assert second.progress.prepared == 0
    release.set()
    worker.join(10)
    assert first.result.state is TransferState.DONE and first.result.verified
    assert first.memory_to_come() == 0 and counts_nothing_against_ram(engine, 560 * MiB)
    engine.plan(TransferSpec("ep1", "ep2", 16 * MiB))  # the first one's buffers are gone: room again


def test_memory_gone_by_the_time_a_copy_starts_refuses_it_there(tmp_path):
    info = meminfo(tmp_path, 8 * GiB)
    engine = RealEngine(switch_fabric(), meminfo=info)
    job = engine.prepare(TransferSpec("ep1", "ep2", GiB, check=True))
    meminfo(tmp_path, GiB)  # something else took the memory meanwhile
    job.run()
    r = job.result
    assert r.state is TransferState.REFUSED and "needs 2 GiB of RAM" in r.error and "1 GiB available" in r.error
    assert job.progress.prepared == 0 and r.bytes_done == 0  # refused before allocating
