"""File → file copies with O_DIRECT: N lanes (``threads``), each owning a contiguous 1/N slice of the file and two
chunk-sized slots of the buffer. A lane is a reader and a writer thread handing the slots to each other: the reader
fills one slot with chunk k+1 while the writer writes chunk k from the other, so one read and one write are in flight
per lane (queue depth 1 each way, both system calls releasing the GIL) - the same bytes as p2pmem-test's loop (read
a chunk, then write it), with the two directions overlapped. A buffer with one slot per lane (a P2P pool too small
for two) gives exactly that loop: the reader waits for the writer to hand the slot back.

The buffer is host memory or a provider's P2P memory (p2pmem.py). O_DIRECT needs the buffer, offsets and lengths
aligned to the logical block size; 4 KiB covers 512-B and 4Kn devices, so chunks must be multiples of 4 KiB and a
tail that is not is copied with buffered I/O. Where the filesystem refuses O_DIRECT the copy says so and runs
buffered, with the final fsync inside the timed region either way.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from ..fabric.units import human_size
from .limits import REAL_CHUNK_ALIGN
from .p2pmem import CopyBuffer

ALIGN = REAL_CHUNK_ALIGN  # O_DIRECT: whole 4 KiB blocks (512-B and 4Kn devices)
_FULL = {errno.ENOSPC: "disk full", errno.EDQUOT: "disk quota exceeded"}
_DIGEST = "blake2b"


class CopyCancelled(Exception):
    pass


class CopyFailed(Exception):
    pass


def io_failed(exc: OSError, doing: str, path: str, offset: int | None = None, written: int | None = None) -> CopyFailed:
    """An I/O error in the user's terms: what failed, on which file, where ("Input/output error reading /data/a at
    byte 1048576") - the system call's own error names no file. A full disk or quota says how far the copy got
    ("disk full after 24 KiB writing /data/b"), given ``written``."""
    at = f" at byte {offset}" if offset is not None else ""
    full = _FULL.get(exc.errno or 0)
    if full is not None and written is not None:
        error = CopyFailed(f"{full} after {human_size(written)} {doing} {path}")
    else:
        error = CopyFailed(f"{exc.strerror or exc} {doing} {path}{at}")
    error.__cause__ = exc
    return error


@dataclass
class Progress:
    """Bytes done per thread (per lane for file copies: its writer counts what it wrote); each updates only its own
    entry, readers sum them."""

    per_thread: list[int] = field(default_factory=list)
    dst_opened: bool = False  # the copy opened a block device for writing: a failure leaves it partly overwritten
    prepared: int = 0  # bytes of source data or buffers made ready before the copy (memory copies)

    def reset(self, threads: int) -> None:
        self.per_thread = [0] * threads

    @property
    def total(self) -> int:
        return sum(self.per_thread)


@dataclass
class CopyOutcome:
    nbytes: int
    seconds: float
    verified: bool | None = None
    notes: list[str] = field(default_factory=list)


def write_random(fd: int, path: str, size: int, seed: int, cancel: threading.Event | None = None) -> str:
    """Fill the open file ``fd`` (the temporary file that will become ``path``, or the block device ``path``) with
    ``size`` bytes from a seeded generator (p2pmem-test --check) and return their digest. CopyCancelled when
    ``cancel`` is set between two blocks; the caller removes what was written."""
    rng = np.random.default_rng(seed)
    digest = hashlib.new(_DIGEST)
    done = 0
    while done < size:
        if cancel is not None and cancel.is_set():
            raise CopyCancelled()
        block = rng.bytes(min(8 << 20, size - done))
        digest.update(block)
        try:
            put = os.pwrite(fd, block, done)
        except OSError as exc:
            raise io_failed(exc, "writing the --check source", path, done, written=done) from exc
        if put != len(block):
            raise CopyFailed(f"disk full after {human_size(done + put)} writing the --check source {path}")
        done += len(block)
    try:
        os.fsync(fd)
    except OSError as exc:
        raise io_failed(exc, "flushing the --check source", path, written=done) from exc
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the copy must read the device, not the page cache
    return digest.hexdigest()


def file_digest(path: str, size: int, cancel: threading.Event | None = None) -> str:
    digest = hashlib.new(_DIGEST)
    with open(path, "rb", buffering=0) as f:
        left = size
        while left > 0:
            if cancel is not None and cancel.is_set():
                raise CopyCancelled()
            block = f.read(min(8 << 20, left))
            if not block:
                break
            digest.update(block)
            left -= len(block)
    return digest.hexdigest()


def first_difference(a: str, b: str, size: int) -> int | None:
    with open(a, "rb") as fa, open(b, "rb") as fb:
        offset = 0
        while offset < size:
            x, y = fa.read(1 << 20), fb.read(1 << 20)
            if x != y:
                n = min(len(x), len(y))
                diff = next((i for i in range(n) if x[i] != y[i]), n)
                return offset + diff
            if not x:
                return None
            offset += len(x)
    return None


def _open(path: str, flags: int, direct: bool) -> tuple[int, bool]:
    """Open with O_DIRECT when asked; (fd, direct actually used). EINVAL at open = the filesystem refuses it."""
    if direct:
        try:
            return os.open(path, flags | os.O_DIRECT | os.O_CLOEXEC), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return os.open(path, flags | os.O_CLOEXEC), False


def _set_direct(fd: int, on: bool) -> bool:
    """Turn O_DIRECT on or off for an open file (Linux allows it through F_SETFL); False where the filesystem
    refuses it (EINVAL)."""
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    wanted = flags | os.O_DIRECT if on else flags & ~os.O_DIRECT
    try:
        fcntl.fcntl(fd, fcntl.F_SETFL, wanted)
    except OSError as exc:
        if exc.errno != errno.EINVAL:
            raise
        return False
    return True


def _same_as_checked(fd: int, path: str, checked: os.stat_result | None, what: str) -> None:
    """The file opened is the one examined before the copy (not one swapped in since): by identity."""
    st = os.fstat(fd)
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISBLK(st.st_mode)):
        raise CopyFailed(f"{what} {path} is no longer a regular file or a block device")
    if checked is None:
        return
    if stat.S_ISBLK(st.st_mode) and stat.S_ISBLK(checked.st_mode):
        same = st.st_rdev == checked.st_rdev
    else:
        same = (st.st_dev, st.st_ino) == (checked.st_dev, checked.st_ino)
    if not same:
        raise CopyFailed(f"{what} {path} was replaced by another file after it was checked: nothing copied")


def copy_file(
    src: str,
    dst: str,
    size: int,
    buffer: CopyBuffer,
    *,
    dst_fd: int | None = None,
    src_checked: os.stat_result | None = None,
    dst_checked: os.stat_result | None = None,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    direct: bool = True,
    clock: Callable[[], float] = time.perf_counter,
) -> CopyOutcome:
    """Copy the first ``size`` bytes of ``src`` through ``buffer`` into ``dst_fd`` - the temporary file that will
    become ``dst`` (the name errors use) - or, without it, into the block device ``dst`` itself. ``src_checked`` and
    ``dst_checked`` are the stats the checks saw: a file swapped in since is refused. The caller cleans up."""
    cancel = cancel or threading.Event()
    progress = progress or Progress()
    chunk, threads = buffer.chunk, buffer.threads
    if chunk % ALIGN:
        raise CopyFailed(f"chunk {chunk} B is not a multiple of {ALIGN} B, which O_DIRECT needs")
    notes: list[str] = []
    opened: list[int] = []
    try:
        # O_NONBLOCK: a FIFO put in the source's place must not hang the open (the identity check then refuses it).
        src_fd, src_direct = _open(src, os.O_RDONLY | os.O_NONBLOCK, direct)
        opened.append(src_fd)
        _same_as_checked(src_fd, src, src_checked, "source")
        if dst_fd is None:
            dst_fd, dst_direct = _open(dst, os.O_WRONLY, direct)
            opened.append(dst_fd)
            _same_as_checked(dst_fd, dst, dst_checked, "destination")
            progress.dst_opened = True  # a block device: what is written cannot be taken back
        else:
            dst_direct = direct and _set_direct(dst_fd, True)
        for path, used in ((src, src_direct), (dst, dst_direct)):
            if direct and not used:
                notes.append(
                    f"the filesystem of {path} refuses O_DIRECT: buffered I/O (through the page cache) "
                    "instead, with fsync inside the timing"
                )
        aligned = size - size % ALIGN
        progress.reset(threads)
        errors: list[BaseException] = []
        start = clock()
        _run_lanes(_Lanes((src, src_fd), (dst, dst_fd), buffer, aligned, cancel, progress, errors))
        if errors:
            raise errors[0]
        if cancel.is_set():
            raise CopyCancelled()
        if aligned < size:
            _copy_tail((src, src_fd), (dst, dst_fd), aligned, size - aligned, progress)
            progress.per_thread[0] += size - aligned
        try:
            os.fsync(dst_fd)
        except OSError as exc:
            raise io_failed(exc, "flushing", dst, written=progress.total) from exc
        seconds = clock() - start
    finally:
        for fd in opened:
            os.close(fd)
    return CopyOutcome(size, seconds, None, notes)


@dataclass
class _Lanes:
    """What every lane of one copy shares; ``fail`` records the first error and stops every lane."""

    src: tuple[str, int]
    dst: tuple[str, int]
    buffer: CopyBuffer
    aligned: int
    cancel: threading.Event
    progress: Progress
    errors: list[BaseException]

    def fail(self, exc: BaseException) -> None:
        self.errors.append(exc)  # list.append is atomic: the first error stays first
        self.cancel.set()


def _run_lanes(lanes: _Lanes) -> None:
    """Start a reader and a writer thread per lane and join every thread started, however the copy ends: a thread
    that cannot be started, or an interrupt in the joining thread, fails the copy like an I/O error."""
    threads, depth, n_chunks = lanes.buffer.threads, lanes.buffer.depth, -(-lanes.aligned // lanes.buffer.chunk)
    started: list[threading.Thread] = []
    try:
        for i in range(threads):
            chunks = range(i * n_chunks // threads, (i + 1) * n_chunks // threads)
            free: queue.SimpleQueue[int] = queue.SimpleQueue()  # slots the reader may fill
            filled: queue.SimpleQueue[tuple[int, int, int] | None] = queue.SimpleQueue()  # (slot, offset, length)
            for slot in range(depth):
                free.put(slot)
            reader = threading.Thread(
                target=_reader, args=(lanes, i, chunks, free, filled), name=f"p2ptui-read-{i}", daemon=True
            )
            writer = threading.Thread(
                target=_writer, args=(lanes, i, free, filled), name=f"p2ptui-write-{i}", daemon=True
            )
            reader.start()
            started.append(reader)
            try:
                writer.start()
            except BaseException:
                lanes.cancel.set()
                for slot in range(depth):  # a reader without its writer: it finds the copy stopped and returns
                    free.put(slot)
                raise
            started.append(writer)
        for t in started:
            t.join()
    except BaseException as exc:  # noqa: BLE001 - "can't start new thread", or an interrupt while joining
        lanes.fail(exc)  # the copy's error, re-raised by copy_file; every lane stops at its next chunk
        for t in started:
            t.join()


def _reader(
    lanes: _Lanes,
    index: int,
    chunks: range,
    free: queue.SimpleQueue[int],
    filled: queue.SimpleQueue[tuple[int, int, int] | None],
) -> None:
    """Read the lane's chunks in order, each into a slot the writer has handed back, and pass it on. Always ends
    the writer's input with None, so the writer never waits for a chunk that will not come."""
    slots = lanes.buffer.slots(index)
    chunk, (path, fd) = lanes.buffer.chunk, lanes.src
    try:
        for c in chunks:
            slot = free.get()  # every slot out: wait for the writer to hand one back after its write
            if lanes.cancel.is_set():
                return
            offset = c * chunk
            length = min(chunk, lanes.aligned - offset)
            with slots[slot][:length] as view:
                try:
                    got = os.preadv(fd, [view], offset)
                except OSError as exc:
                    raise io_failed(exc, "reading", path, offset) from exc
            if got != length:
                raise CopyFailed(
                    f"short read: {got} of {length} B at offset {offset} of {path} (did the source shrink during "
                    "the copy?)"
                )
            filled.put((slot, offset, length))
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which re-raises it
        lanes.fail(exc)
    finally:
        filled.put(None)


def _writer(
    lanes: _Lanes, index: int, free: queue.SimpleQueue[int], filled: queue.SimpleQueue[tuple[int, int, int] | None]
) -> None:
    """Write each chunk the reader passes, then hand its slot back. Once the copy is cancelled or failed it writes
    nothing more but still hands slots back until the reader's None, so the reader never waits for a slot."""
    slots = lanes.buffer.slots(index)
    (path, fd), progress = lanes.dst, lanes.progress
    while (item := filled.get()) is not None:
        slot, offset, length = item
        try:
            if not lanes.cancel.is_set():
                with slots[slot][:length] as view:
                    try:
                        put = os.pwritev(fd, [view], offset)
                    except OSError as exc:
                        raise io_failed(exc, "writing", path, offset, written=progress.total) from exc
                if put != length:
                    # A regular file takes less than asked only when its filesystem runs out of room.
                    raise CopyFailed(
                        f"disk full after {human_size(progress.total + put)} writing {path} (the filesystem took "
                        f"{put} of {length} B at byte {offset})"
                    )
                progress.per_thread[index] += length
        except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which re-raises it
            lanes.fail(exc)
        finally:
            free.put(slot)


def _copy_tail(src: tuple[str, int], dst: tuple[str, int], offset: int, length: int, progress: Progress) -> None:
    """The last bytes that are not a whole 4 KiB block: O_DIRECT cannot move them, buffered I/O on the same files can
    (F_SETFL turns O_DIRECT off for them)."""
    for _, fd in (src, dst):
        _set_direct(fd, False)
    try:
        data = os.pread(src[1], length, offset)
    except OSError as exc:
        raise io_failed(exc, "reading", src[0], offset) from exc
    if len(data) != length:
        raise CopyFailed(f"short read: {len(data)} of {length} B at offset {offset} of {src[0]}")
    try:
        put = os.pwrite(dst[1], data, offset)
    except OSError as exc:
        raise io_failed(exc, "writing", dst[0], offset, written=progress.total) from exc
    if put != length:
        raise CopyFailed(f"disk full after {human_size(progress.total + put)} writing {dst[0]}")
