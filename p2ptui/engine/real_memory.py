"""Memory → memory copies: N threads, each copying a contiguous 1/N slice chunk by chunk with numpy (which releases
the GIL), so progress can be sampled and a cancel lands within one chunk."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable

import numpy as np

from .real_files import CopyCancelled, CopyOutcome, Progress


def make_source(size: int, seed: int | None) -> np.ndarray:
    """Seeded random bytes for --check; otherwise a cheap pattern that still touches every page (a never-written
    buffer reads as the shared zero page and would flatter the copy)."""
    if seed is not None:
        return np.frombuffer(np.random.default_rng(seed).bytes(size), dtype=np.uint8).copy()
    src = np.empty(size, dtype=np.uint8)
    src[::4096] = 1
    return src


def digest(buf: np.ndarray) -> str:
    return hashlib.blake2b(memoryview(buf)).hexdigest()


def copy_memory(src: np.ndarray, dst: np.ndarray, chunk: int, threads: int, *, cancel: threading.Event | None = None,
                progress: Progress | None = None, clock: Callable[[], float] = time.perf_counter) -> CopyOutcome:  # fmt: skip
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
            for c in range(index * n_chunks // threads, (index + 1) * n_chunks // threads):
                if cancel.is_set():
                    return
                lo, hi = c * chunk, min(size, (c + 1) * chunk)
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
