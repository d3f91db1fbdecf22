"""File → file copies with O_DIRECT, p2pmem-test's way: N threads, each owning one chunk-sized slot of the buffer
and a contiguous 1/N slice of the file, reading a chunk then writing it (QD1 per thread).

The buffer is host memory or a provider's P2P memory (p2pmem.py). O_DIRECT needs the buffer, offsets and lengths
aligned to the logical block size; 4 KiB covers 512-B and 4Kn devices, so chunks must be multiples of 4 KiB and a
tail that is not is copied with buffered I/O. Where the filesystem refuses O_DIRECT the copy says so and runs
buffered, with the final fsync inside the timed region either way.
"""

from __future__ import annotations

import errno
import hashlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .limits import REAL_CHUNK_ALIGN
from .p2pmem import CopyBuffer

ALIGN = REAL_CHUNK_ALIGN  # O_DIRECT: whole 4 KiB blocks (512-B and 4Kn devices)
_DIGEST = "blake2b"


class CopyCancelled(Exception):
    pass


class CopyFailed(Exception):
    pass


def io_failed(exc: OSError, doing: str, path: str, offset: int | None = None) -> CopyFailed:
    """An I/O error in the user's terms: what failed, on which file, where ("No space left on device writing
    /data/b at byte 1048576") - the system call's own error names no file."""
    at = f" at byte {offset}" if offset is not None else ""
    error = CopyFailed(f"{exc.strerror or exc} {doing} {path}{at}")
    error.__cause__ = exc
    return error


@dataclass
class Progress:
    """Bytes done per thread; each thread writes only its own slot, readers sum them."""

    per_thread: list[int] = field(default_factory=list)
    dst_opened: bool = False  # the copy created or truncated the destination: on failure it must be removed
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


def write_random(path: str, size: int, seed: int, create: bool, cancel: threading.Event | None = None) -> str:
    """Fill ``path`` with ``size`` bytes from a seeded generator (p2pmem-test --check) and return their digest.
    CopyCancelled when ``cancel`` is set between two blocks; a file this call created is then removed."""
    rng = np.random.default_rng(seed)
    digest = hashlib.new(_DIGEST)
    flags = os.O_WRONLY | os.O_CLOEXEC | (os.O_CREAT | os.O_EXCL if create else 0)
    fd = os.open(path, flags, 0o644)
    try:
        done = 0
        while done < size:
            if cancel is not None and cancel.is_set():
                raise CopyCancelled()
            block = rng.bytes(min(8 << 20, size - done))
            digest.update(block)
            try:
                os.pwrite(fd, block, done)
            except OSError as exc:
                raise io_failed(exc, "writing the --check source", path, done) from exc
            done += len(block)
        try:
            os.fsync(fd)
        except OSError as exc:
            raise io_failed(exc, "flushing the --check source", path) from exc
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # the copy must read the device, not the page cache
    except BaseException:
        if create:  # half a source of seeded data is of no use to anyone
            os.unlink(path)
        raise
    finally:
        os.close(fd)
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
            return os.open(path, flags | os.O_DIRECT | os.O_CLOEXEC, 0o644), True
        except OSError as exc:
            if exc.errno != errno.EINVAL:
                raise
    return os.open(path, flags | os.O_CLOEXEC, 0o644), False


def copy_file(src: str, dst: str, size: int, buffer: CopyBuffer, *, create: bool, block_device: bool = False,
              cancel: threading.Event | None = None, progress: Progress | None = None,
              direct: bool = True, clock: Callable[[], float] = time.perf_counter) -> CopyOutcome:  # fmt: skip
    """Copy the first ``size`` bytes of ``src`` to ``dst`` through ``buffer``; the caller cleans up on failure."""
    cancel = cancel or threading.Event()
    progress = progress or Progress()
    chunk, threads = buffer.chunk, buffer.threads
    if chunk % ALIGN:
        raise CopyFailed(f"chunk {chunk} B is not a multiple of {ALIGN} B, which O_DIRECT needs")
    notes: list[str] = []
    dst_flags = os.O_WRONLY | (0 if block_device else (os.O_CREAT | (os.O_EXCL if create else os.O_TRUNC)))
    fds: list[int] = []
    try:
        src_fd, src_direct = _open(src, os.O_RDONLY, direct)
        fds.append(src_fd)
        dst_fd, dst_direct = _open(dst, dst_flags, direct)
        fds.append(dst_fd)
        progress.dst_opened = True
        for path, used in ((src, src_direct), (dst, dst_direct)):
            if direct and not used:
                notes.append(f"the filesystem of {path} refuses O_DIRECT: buffered I/O (through the page cache) "
                             "instead, with fsync inside the timing")  # fmt: skip
        aligned = size - size % ALIGN
        progress.reset(threads)
        errors: list[BaseException] = []
        start = clock()
        work = ((src, src_fd), (dst, dst_fd), buffer, aligned, cancel, progress, errors)
        workers = [
            threading.Thread(target=_worker, args=(i, *work), name=f"p2ptui-copy-{i}", daemon=True)
            for i in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        if errors:
            raise errors[0]
        if cancel.is_set():
            raise CopyCancelled()
        if aligned < size:
            _copy_tail(src, dst, aligned, size - aligned)
            progress.per_thread[0] += size - aligned
        try:
            os.fsync(dst_fd)
        except OSError as exc:
            raise io_failed(exc, "flushing", dst) from exc
        seconds = clock() - start
    finally:
        for fd in fds:
            os.close(fd)
    return CopyOutcome(size, seconds, None, notes)


def _worker(index: int, src: tuple[str, int], dst: tuple[str, int], buffer: CopyBuffer, aligned: int,
            cancel: threading.Event, progress: Progress, errors: list[BaseException]) -> None:  # fmt: skip
    chunk, threads = buffer.chunk, buffer.threads
    n_chunks = -(-aligned // chunk)
    slot = buffer.slot(index)
    try:
        for c in range(index * n_chunks // threads, (index + 1) * n_chunks // threads):
            if cancel.is_set():
                return
            offset = c * chunk
            length = min(chunk, aligned - offset)
            with slot[:length] as view:
                try:
                    got = os.preadv(src[1], [view], offset)
                except OSError as exc:
                    raise io_failed(exc, "reading", src[0], offset) from exc
                if got != length:
                    raise CopyFailed(f"short read: {got} of {length} B at offset {offset} of {src[0]}")
                try:
                    put = os.pwritev(dst[1], [view], offset)
                except OSError as exc:
                    raise io_failed(exc, "writing", dst[0], offset) from exc
                if put != length:
                    raise CopyFailed(f"short write: {put} of {length} B at offset {offset} of {dst[0]}")
            progress.per_thread[index] += length
    except BaseException as exc:  # noqa: BLE001 - handed to the caller's thread, which re-raises it
        errors.append(exc)
        cancel.set()


def _copy_tail(src: str, dst: str, offset: int, length: int) -> None:
    """The last bytes that are not a whole 4 KiB block: O_DIRECT cannot move them, buffered I/O can."""
    with open(src, "rb", buffering=0) as fin:
        fin.seek(offset)
        data = fin.read(length)
    if len(data) != length:
        raise CopyFailed(f"short read: {len(data)} of {length} B at offset {offset}")
    fd = os.open(dst, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.pwrite(fd, data, offset)
    except OSError as exc:
        raise io_failed(exc, "writing", dst, offset) from exc
    finally:
        os.close(fd)
