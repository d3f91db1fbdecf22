"""The memory mover copies in large pieces (above glibc's non-temporal threshold) and still copies every byte, per
thread, whatever the chunk."""

import itertools

import numpy as np
import pytest

from p2ptui.engine import real_memory
from p2ptui.engine.real_memory import copy_memory, pieces

KiB, MiB = 1 << 10, 1 << 20


@pytest.mark.parametrize(
    ("lo", "hi", "smallest"),
    [(0, 10 * MiB, MiB), (4 * KiB, 7 * MiB + 5, 2 * MiB), (0, 100, MiB), (8 * KiB, 9 * KiB, 1)],
)
def test_pieces_tile_the_range_each_at_least_the_smallest(lo, hi, smallest):
    parts = pieces(lo, hi, smallest)
    assert parts[0][0] == lo and parts[-1][1] == hi
    assert all(a[1] == b[0] for a, b in itertools.pairwise(parts))  # contiguous, no gap, no overlap
    if hi - lo >= smallest:
        assert all(b - a >= smallest - 4 * KiB for a, b in parts)  # cuts round down to a page
    else:
        assert parts == [(lo, hi)]
    assert all(b % (4 * KiB) == 0 for _, b in parts[:-1])


def test_the_default_piece_is_one_copy_for_a_buffer_below_it():
    assert pieces(0, 64 * MiB) == [(0, 64 * MiB)]
    assert len(pieces(0, 1024 * MiB)) == 4


@pytest.mark.parametrize("threads", [1, 3])
def test_every_byte_is_copied_and_counted_with_small_pieces(monkeypatch, threads):
    monkeypatch.setattr(real_memory, "MOVE_PIECE", 64 * KiB)
    src = np.random.default_rng(7).integers(0, 256, 3 * MiB + 17, dtype=np.uint8)
    dst = np.zeros_like(src)
    progress = real_memory.Progress()
    outcome = copy_memory(src, dst, 256 * KiB, threads, progress=progress)
    assert np.array_equal(src, dst)
    assert outcome.nbytes == src.size == progress.total
