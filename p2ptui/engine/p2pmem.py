"""Copy buffers: page-aligned host memory, or a provider's P2P memory mapped from its sysfs ``allocate`` file.

Kernel ≥ 6.2 (Documentation/ABI/testing/sysfs-bus-pci, p2pmem/allocate): each mmap of
``/sys/bus/pci/devices/<bdf>/p2pmem/allocate`` allocates a fresh chunk of the pool, MAP_SHARED and at offset 0
only; the pages go back to the pool on munmap. Such pages can only be handed to O_DIRECT I/O on queues that support
P2PDMA; the CPU must not copy through them (they are MMIO).
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
from pathlib import Path

from ..fabric.model import Device
from .transfer import PIPELINE_DEPTH

PAGE_SIZE = mmap.PAGESIZE
SYSFS_DEVICES = Path("/sys/bus/pci/devices")
HUGE_PAGE = 2 << 20  # x86-64's transparent huge page (PMD size): HostBuffer aligns its slots to it


class MappingError(RuntimeError):
    """Mapping a copy buffer failed; ``str()`` says why in the user's terms."""


def allocate_path(dev: Device, sysfs_devices: Path = SYSFS_DEVICES) -> Path:
    return sysfs_devices / str(dev.bdf) / "p2pmem" / "allocate"


class CopyBuffer:
    """``threads`` lanes of ``depth`` slots of ``chunk`` bytes each, in one mapping; ``close()`` unmaps it (and closes
    its file). Two slots per lane let a file copy read chunk k+1 while chunk k is being written; with one the lane
    reads a chunk, then writes it (p2pmem-test's loop)."""

    kind = "system memory"

    def __init__(self, chunk: int, threads: int, depth: int = PIPELINE_DEPTH):
        if depth < 1:
            raise ValueError(f"a copy buffer needs at least one slot per lane, not {depth}")
        self.chunk = chunk
        self.threads = threads
        self.depth = depth
        self.size = chunk * threads * depth
        self._map: mmap.mmap | None = None
        self._fd: int | None = None
        self._views: list[memoryview] = []

    def _mapped(self, mapping: mmap.mmap, start: int = 0) -> None:
        """Slots laid out from byte ``start`` of ``mapping``."""
        self._map = mapping
        whole = memoryview(mapping)
        n = self.threads * self.depth
        self._views = [whole] + [whole[start + i * self.chunk : start + (i + 1) * self.chunk] for i in range(n)]

    def slots(self, lane: int) -> list[memoryview]:
        """Lane ``lane``'s ``depth`` chunk-sized slots (distinct, adjacent pieces of the mapping)."""
        first = 1 + lane * self.depth
        return self._views[first : first + self.depth]

    @property
    def closed(self) -> bool:
        return self._map is None and self._fd is None

    def close(self) -> None:
        # Views must be released before the mapping can be closed, and every step must run even if one fails.
        for view in reversed(self._views):
            view.release()
        self._views = []
        try:
            if self._map is not None:
                self._map.close()
        finally:
            self._map = None
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None

    def __enter__(self) -> CopyBuffer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class HostBuffer(CopyBuffer):
    """Anonymous memory, page-aligned as O_DIRECT needs, and asked for in transparent huge pages (2 MiB on x86-64)
    where the kernel offers them (``madvise`` mode included): a chunk in a huge page is one physically contiguous
    DMA segment, where in 4 KiB pages a 1 MiB chunk is 256 segments - more than a virtio disk's 254, so the block
    layer splits each such I/O in two (measured: 512 requests per 256 MiB read instead of 256). Without huge pages
    the buffer works the same, in 4 KiB pages."""

    def __init__(self, chunk: int, threads: int, depth: int = PIPELINE_DEPTH):
        super().__init__(chunk, threads, depth)
        # Private: MADV_HUGEPAGE applies to private anonymous memory (shared anonymous memory is shmem, which
        # follows shmem_enabled, "never" by default). One huge page of slack lets the slots start on its boundary.
        mapping = mmap.mmap(-1, self.size + HUGE_PAGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        try:
            mapping.madvise(mmap.MADV_HUGEPAGE)
        except (AttributeError, OSError):
            pass  # no transparent huge pages (kernel built without, or "never"): 4 KiB pages
        self._mapped(mapping, -_address(mapping) % HUGE_PAGE)


def _address(mapping: mmap.mmap) -> int:
    """The virtual address where ``mapping`` starts (the ctypes view is dropped at once, so close() can unmap)."""
    view = ctypes.c_char.from_buffer(mapping)
    try:
        return ctypes.addressof(view)
    finally:
        del view


class P2PMemBuffer(CopyBuffer):
    """P2P memory from a provider's ``allocate`` file (or a stand-in file of at least the mapped size, for tests)."""

    kind = "p2pmem"

    def __init__(
        self,
        path: str | os.PathLike,
        chunk: int,
        threads: int,
        provider: str = "the provider",
        depth: int = PIPELINE_DEPTH,
    ):
        if chunk % PAGE_SIZE:
            raise MappingError(
                f"chunk {chunk} B is not a multiple of the page size ({PAGE_SIZE} B): "
                "P2P memory is mapped in whole pages"
            )
        super().__init__(chunk, threads, depth)
        self.path = str(path)
        try:
            self._fd = os.open(self.path, os.O_RDWR | os.O_CLOEXEC)
            # MAP_SHARED at offset 0: the only mapping the allocate file accepts.
            self._mapped(
                mmap.mmap(self._fd, self.size, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
            )
        except (OSError, ValueError) as exc:
            self.close()
            raise MappingError(_why(exc, provider, self.size, self.path)) from exc


def _why(exc: Exception, provider: str, size: int, path: str) -> str:
    code = getattr(exc, "errno", None)
    if code == errno.ENOMEM:
        return f"{provider}'s P2P pool cannot supply {size} B (ENOMEM from {path})"
    if code == errno.ENODEV:
        return f"{provider} is gone (ENODEV from {path})"
    if code in (errno.EACCES, errno.EPERM):
        return f"no permission to map {path}: run as root"
    if code == errno.ENOENT:
        return f"{path} does not exist: the provider has no P2P memory allocator (kernel < 6.2?)"
    return f"cannot map {size} B of P2P memory from {path}: {exc}"
