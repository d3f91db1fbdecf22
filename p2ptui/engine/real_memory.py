"""Memory → memory copies: N threads, each copying a contiguous 1/N slice in large pieces with numpy (which releases
the GIL), so progress can be sampled and a cancel lands within one piece (a few tens of ms).

Why the pieces are large, not chunk-sized: glibc's memcpy switches to non-temporal stores only for copies above its
x86_non_temporal_threshold (240 MiB on this kind of machine: ¾ of the shared cache it detects). Below it every
destination line is read before it is written, so a 1 MiB-chunked copy moved half again as many bytes as one
np.copyto of the whole buffer and ran at 0.5-0.6 × its rate. A memory copy has no DMA buffer to fill chunk by chunk,
so the chunk only sets how finely a real DMA would be split; the CPU copy takes pieces of at least MOVE_PIECE.

Preparing the buffers is as interruptible as the copy: the source is filled and the digests are taken in
PREPARE_CHUNK slices with a cancellation check between them, so cancelling (or quitting) while a 4 GiB source is
being filled with seeded data ends within one slice, not after seconds. The destination is left to be faulted in
by the copy itself (np.empty maps it lazily), as a fresh np.copyto target would be.

A copy needs the source and the destination in RAM at once: ``memory_problem`` refuses one that would not fit in
what the kernel reports as available (MemAvailable) with HEADROOM to spare, before anything is allocated.
"""

from __future__ import annotations

import hashlib
import itertools
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..fabric.units import human_size
from .real_files import CopyCancelled, CopyOutcome, Progress

PREPARE_CHUNK = 64 << 20  # bytes filled or hashed between two cancellation checks (a few tens of ms)
# Smallest piece one np.copyto moves: above glibc's non-temporal threshold (see above), about 40 ms at 7 GB/s.
MOVE_PIECE = 256 << 20
MEMINFO = Path("/proc/meminfo")
# Left free on top of both buffers: the rest of the system (and this process) must not be pushed into swap.
HEADROOM = 512 << 20


def _check(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise CopyCancelled()


def make_source(
    size: int, seed: int | None, *, cancel: threading.Event | None = None, progress: Progress | None = None
) -> np.ndarray:
    """Seeded random bytes for --check; otherwise a cheap pattern that still touches every page (a never-written
    buffer reads as the shared zero page and would flatter the copy). CopyCancelled when ``cancel`` is set while
    filling; ``progress.prepared`` counts the bytes filled so far."""
    src = np.empty(size, dtype=np.uint8)
    # The generator's raw 64-bit words, in order: the same bytes for a seed whatever the slice size (a multiple of 8).
    rng = np.random.default_rng(seed).bit_generator if seed is not None else None
    for lo in range(0, size, PREPARE_CHUNK):
        _check(cancel)
        hi = min(size, lo + PREPARE_CHUNK)
        if rng is not None:
            src[lo:hi] = rng.random_raw(-(-(hi - lo) // 8)).view(np.uint8)[: hi - lo]
        else:
            src[lo:hi:4096] = 1  # lo is page-aligned (PREPARE_CHUNK is), so this writes one byte in every page
        if progress is not None:
            progress.prepared += hi - lo
    return src


def digest(buf: np.ndarray, cancel: threading.Event | None = None) -> str:
    """BLAKE2b of the buffer, hashed in slices so a cancel is not held up by a multi-second digest."""
    h = hashlib.blake2b()
    view = buf.data  # the array's memory as a memoryview (numpy types memoryview(buf) for Python ≥ 3.12 only)
    for lo in range(0, len(view), PREPARE_CHUNK):
        _check(cancel)
        h.update(view[lo : lo + PREPARE_CHUNK])
    return h.hexdigest()


def available_memory(meminfo: Path | None = None) -> int | None:
    """MemAvailable in bytes (the kernel's estimate of what can be allocated without swapping), or None where the
    file or the field is missing (not Linux, kernel < 3.14)."""
    try:
        text = (meminfo or MEMINFO).read_text()
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key == "MemAvailable":
            fields = value.split()
            try:
                number = int(fields[0])
            except (IndexError, ValueError):
                return None
            unit = fields[1].lower() if len(fields) > 1 else ""
            return number * 1024 if unit == "kb" else number
    return None


def memory_problem(size: int, available: int | None, promised: int = 0) -> str | None:
    """Why a memory copy of ``size`` bytes must not start, given MemAvailable and the bytes the copies running have
    yet to allocate; None when it fits (or when availability is unknown)."""
    if available is None:
        return None
    need = 2 * size + HEADROOM
    free = available - promised
    if need <= free:
        return None
    others = f", {human_size(promised)} of it still to be taken by copies already running" if promised else ""
    return (
        f"a real memory copy of {human_size(size)} needs {human_size(2 * size)} of RAM (source and destination "
        f"buffers) plus {human_size(HEADROOM)} headroom; this machine has {human_size(max(available, 0))} "
        f"available (MemAvailable){others}"
    )


def copy_memory(
    src: np.ndarray,
    dst: np.ndarray,
    chunk: int,
    threads: int,
    *,
    cancel: threading.Event | None = None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.perf_counter,
) -> CopyOutcome:
    if src.shape != dst.shape:
        raise ValueError("source and destination differ in size")
    cancel = cancel or threading.Event()
    progress = progress or Progress()
    progress.reset(threads)
    size = src.shape[0]
    n_chunks = -(-size // chunk)
    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            # This thread's share: whole chunks, as a DMA engine would split it; copied in large pieces.
            first, end = index * n_chunks // threads * chunk, min(size, (index + 1) * n_chunks // threads * chunk)
            for lo, hi in pieces(first, end):
                if cancel.is_set():
                    return
                np.copyto(dst[lo:hi], src[lo:hi])
                progress.per_thread[index] += hi - lo
        except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
            errors.append(exc)
            cancel.set()

    start = clock()
    if threads == 1:
        work(0)  # no thread start-up inside the timing for the common case
    else:
        workers = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(threads)]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
    seconds = clock() - start
    if errors:
        raise errors[0]
    if cancel.is_set():
        raise CopyCancelled()
    return CopyOutcome(size, seconds)


def pieces(lo: int, hi: int, smallest: int | None = None) -> list[tuple[int, int]]:
    """``[lo, hi)`` cut into equal pieces of at least ``smallest`` bytes (MOVE_PIECE; one piece when the range is
    shorter), their ends on 4 KiB pages so no two pieces share a cache line."""
    smallest = MOVE_PIECE if smallest is None else smallest
    count = max(1, (hi - lo) // smallest)
    cuts = [lo + ((hi - lo) * k // count) // 4096 * 4096 for k in range(count)] + [hi]
    return [(a, b) for a, b in itertools.pairwise(cuts) if b > a]
