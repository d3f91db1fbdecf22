"""Looking at a real copy while it runs: what the ledger holds or what is mapped is only visible mid-copy."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_watching(job, look: Callable[[], T]) -> list[T]:
    """Run a real copy job, calling ``look()`` before each write it makes (os.pwritev, which the copy looks up at
    each call); what ``look`` returned, in order."""
    seen: list[T] = []
    real_pwritev = os.pwritev

    def spy(fd, buffers, offset):
        seen.append(look())
        return real_pwritev(fd, buffers, offset)

    os.pwritev = spy
    try:
        job.run()
    finally:
        os.pwritev = real_pwritev
    return seen
