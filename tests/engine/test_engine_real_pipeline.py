"""The real engine's file copy lanes: each a reader and a writer thread passing two buffer slots back and forth (the
read of chunk k+1 overlaps the write of chunk k), or one slot (read, then write) where a P2P pool cannot hold two.
Byte-exact results, per-lane progress, cancels and I/O errors that stop both sides and join every thread."""

import ctypes
import errno
import json
import mmap
import os
import threading

import pytest
from copy_argv import copy_argv
from engine_fabrics import switch_fabric
from job_watch import run_watching

from p2ptui.cli.main import main
from p2ptui.engine.p2pmem import HUGE_PAGE, HostBuffer
from p2ptui.engine.real import RealEngine
from p2ptui.engine.real_files import CopyCancelled, CopyFailed, Progress, copy_file, write_random
from p2ptui.engine.transfer import TransferSpec, TransferState

KiB, MiB = 1 << 10, 1 << 20


def _source(tmp_path, size: int, seed: int = 7) -> str:
    path = str(tmp_path / "src")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        write_random(fd, path, size, seed)
    finally:
        os.close(fd)
    return path


def _copy(src: str, dst: str, size: int, buffer: HostBuffer, **kw) -> Progress:
    """copy_file into a new ``dst`` (opened here, as RealJob opens its temporary file); the progress it kept."""
    progress = kw.pop("progress", Progress())
    fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        copy_file(src, dst, size, buffer, dst_fd=fd, progress=progress, **kw)
    finally:
        os.close(fd)
    return progress


def _lane_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith(("p2ptui-read-", "p2ptui-write-"))]


@pytest.mark.parametrize(
    ("size", "chunk", "lanes", "depth"),
    [
        (4 * MiB, MiB, 1, 2),  # whole chunks, one lane
        (4 * MiB + 4 * KiB, MiB, 1, 2),  # a last chunk shorter than the others
        (3 * MiB + 123, 64 * KiB, 1, 2),  # an unaligned tail (buffered I/O after the lanes)
        (5 * MiB + 4097, 64 * KiB, 3, 2),  # N lanes, uneven slices, a tail
        (2 * MiB + 5, 4 * KiB, 4, 2),  # the least chunk
        (3 * MiB + 123, 256 * KiB, 3, 1),  # one slot per lane: read, then write
        (12 * KiB, MiB, 3, 2),  # one chunk for three lanes: two of them have nothing to copy
    ],
)
def test_byte_exact_with_progress_per_lane(tmp_path, size, chunk, lanes, depth):
    src, dst = _source(tmp_path, size), str(tmp_path / "dst")
    with HostBuffer(chunk, lanes, depth) as buffer:
        progress = _copy(src, dst, size, buffer)
    with open(src, "rb") as a, open(dst, "rb") as b:
        assert a.read() == b.read()
    aligned = size - size % 4096
    n_chunks = -(-aligned // chunk)
    expected = []
    for i in range(lanes):  # lane i owns chunks [i·n/N, (i+1)·n/N); lane 0 also counts the tail
        first, end = i * n_chunks // lanes * chunk, min((i + 1) * n_chunks // lanes * chunk, aligned)
        expected.append(max(0, end - first) + (size - aligned if i == 0 else 0))
    assert progress.per_thread == expected and progress.total == size
    assert _lane_threads() == []


def _recording(monkeypatch, log: list[tuple[str, int]], on_write=None, on_read=None):
    """Wrap os.preadv/os.pwritev to log ("read"/"wrote", offset) when each call returns; ``on_read(offset)`` runs
    after a read, ``on_write(offset)`` inside a write before it returns."""
    real_read, real_write, lock = os.preadv, os.pwritev, threading.Lock()

    def preadv(fd, buffers, offset):
        n = real_read(fd, buffers, offset)
        with lock:
            log.append(("read", offset))
        if on_read is not None:
            on_read(offset)
        return n

    def pwritev(fd, buffers, offset):
        if on_write is not None:
            on_write(offset)
        n = real_write(fd, buffers, offset)
        with lock:
            log.append(("wrote", offset))
        return n

    monkeypatch.setattr(os, "preadv", preadv)
    monkeypatch.setattr(os, "pwritev", pwritev)


def test_two_slots_read_the_next_chunk_while_a_write_is_in_flight(tmp_path, monkeypatch):
    src, dst = _source(tmp_path, 4 * MiB), str(tmp_path / "dst")
    log: list[tuple[str, int]] = []
    read_ahead = threading.Event()

    def on_read(offset):
        if offset == MiB:
            read_ahead.set()

    def on_write(offset):
        if offset == 0:  # the first write does not return before the reader has read chunk 1 into the other slot
            # (the timeout only turns a pipeline that never reads ahead into a failure instead of a hang)
            assert read_ahead.wait(10), "the reader did not read ahead while a write was in flight"

    _recording(monkeypatch, log, on_write, on_read)
    with HostBuffer(MiB, 1, 2) as buffer:
        _copy(src, dst, 4 * MiB, buffer)
    assert log.index(("read", MiB)) < log.index(("wrote", 0))
    # Still one of each direction at a time: chunk k+2 is read only after chunk k is written (its slot came back).
    for k in range(2):
        assert log.index(("wrote", k * MiB)) < log.index(("read", (k + 2) * MiB))
    with open(src, "rb") as a, open(dst, "rb") as b:
        assert a.read() == b.read()


def test_one_slot_alternates_read_and_write(tmp_path, monkeypatch):
    src, dst = _source(tmp_path, 4 * MiB), str(tmp_path / "dst")
    log: list[tuple[str, int]] = []
    _recording(monkeypatch, log)
    with HostBuffer(MiB, 1, 1) as buffer:
        _copy(src, dst, 4 * MiB, buffer)
    assert log == [(what, k * MiB) for k in range(4) for what in ("read", "wrote")]


def test_cancel_mid_copy_stops_both_sides_and_joins_every_thread(tmp_path, monkeypatch):
    size, lanes = 8 * MiB, 2
    src, dst = _source(tmp_path, size), str(tmp_path / "dst")
    cancel = threading.Event()
    real_write = os.pwritev
    writes = []

    def pwritev(fd, buffers, offset):
        writes.append(offset)
        cancel.set()  # the user cancels while the first write (of any lane) is in flight
        return real_write(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", pwritev)
    with HostBuffer(MiB, lanes, 2) as buffer, pytest.raises(CopyCancelled):
        _copy(src, dst, size, buffer, cancel=cancel)
    assert _lane_threads() == []
    # Each lane may have had one write under way when the cancel came; none starts after it.
    assert 1 <= len(writes) <= lanes


def test_a_cancelled_engine_copy_leaves_no_destination(tmp_path, monkeypatch):
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    job = RealEngine(switch_fabric()).prepare(
        TransferSpec("ep1", "ep2", 6 * MiB + 77, chunk=MiB, threads=3, check=True, src_file=src, dst_file=dst)
    )
    real_write = os.pwritev

    def pwritev(fd, buffers, offset):
        job.cancel()  # the first write of any lane cancels the copy
        return real_write(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", pwritev)
    job.run()
    r = job.result
    assert r.state is TransferState.CANCELLED and 0 < r.bytes_done < 6 * MiB
    assert not os.path.exists(dst) and sorted(os.listdir(tmp_path)) == ["src"]
    assert _lane_threads() == []


def _failing(monkeypatch, name: str, at: int, code: int) -> None:
    real = getattr(os, name)

    def call(fd, buffers, offset):
        if offset == at:
            raise OSError(code, os.strerror(code))
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, name, call)


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_read_error_surfaces_with_its_message(tmp_path, monkeypatch, lanes):
    src, dst = _source(tmp_path, 6 * MiB), str(tmp_path / "dst")
    _failing(monkeypatch, "preadv", 2 * MiB, errno.EIO)
    with HostBuffer(MiB, lanes, 2) as buffer, pytest.raises(CopyFailed) as failed:
        _copy(src, dst, 6 * MiB, buffer)
    assert str(failed.value) == f"Input/output error reading {src} at byte {2 * MiB}"
    assert _lane_threads() == []


@pytest.mark.parametrize("lanes", [1, 3])
def test_a_write_error_surfaces_with_its_message(tmp_path, monkeypatch, lanes):
    src, dst = _source(tmp_path, 6 * MiB), str(tmp_path / "dst")
    _failing(monkeypatch, "pwritev", 3 * MiB, errno.ENOSPC)
    with (
        HostBuffer(MiB, lanes, 2) as buffer,
        pytest.raises(CopyFailed, match=rf"^disk full after \S+ \S+ writing {dst}$"),
    ):
        _copy(src, dst, 6 * MiB, buffer)
    assert _lane_threads() == []


def test_short_read_and_short_write_are_named(tmp_path, monkeypatch):
    src = _source(tmp_path, 4 * MiB)
    real_read = os.preadv
    monkeypatch.setattr(
        os, "preadv", lambda fd, bufs, off: real_read(fd, bufs, off) // 2 if off == MiB else real_read(fd, bufs, off)
    )
    with (
        HostBuffer(MiB, 1, 2) as buffer,
        pytest.raises(CopyFailed, match=rf"^short read: {MiB // 2} of {MiB} B at offset {MiB} of "),
    ):
        _copy(src, str(tmp_path / "a"), 4 * MiB, buffer)
    monkeypatch.undo()
    real_write = os.pwritev
    monkeypatch.setattr(os, "pwritev", lambda fd, bufs, off: 4096 if off == 2 * MiB else real_write(fd, bufs, off))
    with HostBuffer(MiB, 1, 2) as buffer, pytest.raises(CopyFailed, match=r"took 4096 of 1048576 B at byte 2097152\)$"):
        _copy(src, str(tmp_path / "b"), 4 * MiB, buffer)
    assert _lane_threads() == []


def test_a_thread_that_cannot_start_fails_the_copy_and_the_started_ones_end(tmp_path, monkeypatch):
    src, dst = _source(tmp_path, 6 * MiB), str(tmp_path / "dst")
    real_start, calls = threading.Thread.start, []

    def start(thread):
        calls.append(thread.name)
        if thread.name == "p2ptui-write-1":  # lane 0 runs, lane 1's reader runs without its writer
            raise RuntimeError("can't start new thread")
        real_start(thread)

    monkeypatch.setattr(threading.Thread, "start", start)
    with HostBuffer(MiB, 3, 2) as buffer, pytest.raises(RuntimeError, match="can't start new thread"):
        _copy(src, dst, 6 * MiB, buffer)
    assert calls == ["p2ptui-read-0", "p2ptui-write-0", "p2ptui-read-1", "p2ptui-write-1"]
    assert _lane_threads() == []


def _standin(tmp_path, size: int) -> str:
    path = tmp_path / "allocate"
    path.write_bytes(b"\0" * size)
    return str(path)


def _staged(engine: RealEngine, tmp_path, threads: int = 2, serial: bool = False):
    spec = TransferSpec(
        "ep2",
        "ep2",
        5 * MiB + 300,
        via="ep1",
        chunk=MiB,
        threads=threads,
        serial=serial,
        check=True,
        src_file=str(tmp_path / "src"),
        dst_file=str(tmp_path / "dst"),
    )
    job = engine.prepare(spec)
    held = run_watching(job, lambda: engine.pools.available("ep1"))
    return job.result, set(held)


def test_p2p_staging_takes_two_slots_per_thread_when_the_pool_has_them(tmp_path):
    engine = RealEngine(switch_fabric(), p2pmem_files={"ep1": _standin(tmp_path, 4 * MiB)})
    r, held = _staged(engine, tmp_path)
    assert r.state is TransferState.DONE and r.verified is True
    assert held == {(1 << 30) - 4 * MiB} and engine.pools.available("ep1") == 1 << 30
    assert any("4194304 B of ep1's P2P memory" in n and "two chunks per thread" in n for n in r.notes)


def test_a_mapping_too_small_for_two_slots_falls_back_to_one(tmp_path):
    # The stand-in holds chunk × threads (what the checks require) but not twice that: the second mapping fails.
    engine = RealEngine(switch_fabric(), p2pmem_files={"ep1": _standin(tmp_path, 2 * MiB)})
    r, held = _staged(engine, tmp_path)
    assert r.state is TransferState.DONE and r.verified is True
    assert held == {(1 << 30) - 2 * MiB} and engine.pools.available("ep1") == 1 << 30
    [note] = [n for n in r.notes if "P2P memory" in n]
    assert "2097152 B of ep1's P2P memory" in note and "one chunk per thread" in note
    assert note.endswith("each thread reads a chunk, then writes it")


def test_a_pool_too_small_for_two_slots_falls_back_to_one(tmp_path):
    fabric = switch_fabric()
    engine = RealEngine(fabric, p2pmem_files={"ep1": _standin(tmp_path, 4 * MiB)})
    provider = fabric.find("ep1")
    engine.pools.take(999, provider, (1 << 30) - 3 * MiB, "another copy")  # 3 MiB left: one slot each, not two
    r, held = _staged(engine, tmp_path)
    assert r.state is TransferState.DONE and r.verified is True
    assert held == {MiB} and engine.pools.available("ep1") == 3 * MiB
    assert any("one chunk per thread (its pool had 3 MiB available" in n for n in r.notes)


def test_serial_staging_takes_one_slot_per_thread_and_says_why(tmp_path):
    engine = RealEngine(switch_fabric(), p2pmem_files={"ep1": _standin(tmp_path, 4 * MiB)})
    r, held = _staged(engine, tmp_path, serial=True)
    assert r.state is TransferState.DONE and r.verified is True
    assert held == {(1 << 30) - 2 * MiB} and engine.pools.available("ep1") == 1 << 30
    assert any("2097152 B of ep1's P2P memory" in n and "one chunk per thread (serial, as asked)" in n for n in r.notes)


def test_a_serial_host_copy_maps_one_slot_per_thread(tmp_path, monkeypatch):
    mapped, real_mmap = [], mmap.mmap

    def record(fileno, length, *args, **kw):
        mapped.append(length)
        return real_mmap(fileno, length, *args, **kw)

    monkeypatch.setattr(mmap, "mmap", record)
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    spec = TransferSpec(
        "ep1", "ep2", 3 * MiB + 7, chunk=MiB, threads=2, serial=True, check=True, src_file=src, dst_file=dst
    )
    job = RealEngine(switch_fabric()).prepare(spec)
    job.run()
    r = job.result
    assert r.state is TransferState.DONE and r.verified is True
    assert 2 * MiB + HUGE_PAGE in mapped and 4 * MiB + HUGE_PAGE not in mapped
    assert any(
        n.startswith("buffer: 2097152 B of system memory, one chunk per thread (serial, as asked)") for n in r.notes
    )


def test_the_copy_command_pipelines_n_lanes(tmp_path, capsys):
    src, dst = tmp_path / "src", tmp_path / "dst"
    argv = copy_argv(
        "nvmeof-target",
        src="nvme0",
        dst="nvme1",
        engine="real",
        size="3MiB",
        chunk="64KiB",
        threads=3,
        src_file=src,
        dst_file=dst,
        check=True,
        json=True,
    )
    assert main(argv) == 0
    [result] = json.loads(capsys.readouterr().out)["transfers"]
    assert result["state"] == "done" and result["verified"] is True
    assert dst.read_bytes() == src.read_bytes()


def test_an_interrupt_while_joining_stops_every_lane_and_still_joins_them(tmp_path, monkeypatch):
    src, dst = _source(tmp_path, 6 * MiB), str(tmp_path / "dst")
    real_join, joins = threading.Thread.join, []

    def join(thread, timeout=None):
        joins.append(thread.name)
        if len(joins) == 1:
            raise KeyboardInterrupt  # Ctrl-C in the thread running the copy, while it waits for the lanes
        real_join(thread, timeout)

    monkeypatch.setattr(threading.Thread, "join", join)
    cancel = threading.Event()
    with HostBuffer(MiB, 2, 2) as buffer, pytest.raises(KeyboardInterrupt):
        _copy(src, dst, 6 * MiB, buffer, cancel=cancel)
    monkeypatch.undo()
    assert cancel.is_set() and _lane_threads() == []
    assert joins.count("p2ptui-read-0") == 2 and joins.count("p2ptui-write-1") == 1


def test_host_memory_that_cannot_map_two_slots_falls_back_to_one(tmp_path, monkeypatch):
    real_mmap = mmap.mmap

    def short_of_memory(fileno, length, *args, **kw):
        if fileno == -1 and length > 2 * MiB + HUGE_PAGE:  # room for chunk × threads, not twice that
            raise OSError(errno.ENOMEM, os.strerror(errno.ENOMEM))
        return real_mmap(fileno, length, *args, **kw)

    monkeypatch.setattr(mmap, "mmap", short_of_memory)
    src, dst = str(tmp_path / "src"), str(tmp_path / "dst")
    spec = TransferSpec("ep1", "ep2", 5 * MiB + 9, chunk=MiB, threads=2, check=True, src_file=src, dst_file=dst)
    job = RealEngine(switch_fabric()).prepare(spec)
    job.run()
    r = job.result
    assert r.state is TransferState.DONE and r.verified is True
    assert any(n.startswith("buffer: 2097152 B of system memory, one chunk per thread") for n in r.notes)


@pytest.mark.parametrize(("chunk", "lanes", "depth"), [(MiB, 1, 2), (64 * KiB, 3, 2), (4 * KiB, 2, 1)])
def test_host_buffer_slots_are_distinct_and_start_on_a_huge_page(chunk, lanes, depth):
    with HostBuffer(chunk, lanes, depth) as buffer:
        views = [view for lane in range(lanes) for view in buffer.slots(lane)]
        starts = [ctypes.addressof(ctypes.c_char.from_buffer(view)) for view in views]
        assert buffer.size == chunk * lanes * depth and [len(v) for v in views] == [chunk] * lanes * depth
        # One huge page boundary under the first slot (a 1 MiB chunk in one physically contiguous page), and the
        # slots side by side without overlap.
        assert starts[0] % HUGE_PAGE == 0 and starts == [starts[0] + i * chunk for i in range(lanes * depth)]
