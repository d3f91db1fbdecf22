"""What a real file copy needs checked before any byte moves, each problem an InputError naming its path.

* the chunk: a multiple of 4 KiB (O_DIRECT moves whole blocks) and, through P2P memory, of the page size;
* the source: a regular file or a block device, readable, holding the bytes to copy (a block device's size comes
  from the BLKGETSIZE64 ioctl: its st_size is 0); with --check it is written first, under the destination's rules;
* the destination: the safety rules (safety.py), and room for the bytes - free space on its filesystem
  (``os.statvfs``) counted together with the --check source's and with what other prepared copies still have to
  write there, or the size of a block device;
* the P2P memory file (``--p2pmem-file``): it must exist and be a regular file - the kernel's ``p2pmem/allocate``
  or a stand-in holding at least chunk × threads bytes - that can be opened for reading and writing.
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.units import human_size
from .limits import REAL_CHUNK_ALIGN
from .p2pmem import PAGE_SIZE
from .safety import Target, check_destination, check_source_overwrite
from .transfer import TransferSpec

BLKGETSIZE64 = 0x80081272  # _IOR(0x12, 114, size_t): a block device's size in bytes
SYSFS = "/sys/"
CHUNK_HINT = "--chunk: e.g. 64KiB or 1MiB"


@dataclass
class FileCheck:
    """What the checks learnt, for the copy that follows."""

    target: Target
    src_exists: bool
    disk_needs: dict[int, int] = field(default_factory=dict)  # st_dev of a filesystem -> bytes the copy adds there


def block_device_size(fd: int) -> int:
    """Bytes of the block device open as ``fd``."""
    return struct.unpack("Q", fcntl.ioctl(fd, BLKGETSIZE64, bytes(8)))[0]


def source_size(path: str) -> int:
    """Bytes a copy can read from ``path``: a regular file's length, a block device's size. ValueError for anything
    else (a directory, a character device, a pipe); OSError when it cannot be opened."""
    st = os.stat(path)
    if stat.S_ISREG(st.st_mode):
        return st.st_size
    if not stat.S_ISBLK(st.st_mode):
        raise ValueError(f"is {_kind(st.st_mode)}, not a regular file or a block device")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return block_device_size(fd)
    finally:
        os.close(fd)


def check_chunk(spec: TransferSpec, files: bool) -> None:
    """The real engine's chunk rules (limits.py bounds the rest, for both engines)."""
    if files and spec.chunk % REAL_CHUNK_ALIGN:
        raise InputError(Diagnostic(f"chunk {spec.chunk} B is not a multiple of 4 KiB, which O_DIRECT file copies "
                                    "need (they move whole 4 KiB blocks)", hint=CHUNK_HINT))  # fmt: skip
    if not files and spec.chunk < REAL_CHUNK_ALIGN:
        raise InputError(Diagnostic(f"chunk {spec.chunk} B is less than 4 KiB: a real memory copy times one copy "
                                    "call per chunk, and below a page the calls' overhead is what would be measured",
                                    hint=CHUNK_HINT))  # fmt: skip


def check_file_copy(spec: TransferSpec, *, expert: bool, yes: bool,
                    promised: Callable[[int], int] = lambda dev: 0) -> FileCheck:  # fmt: skip
    """Every check of a file → file copy but the P2P memory file's; InputError for the first problem found.
    ``promised(dev)`` is what other accepted copies have yet to write to filesystem ``dev``."""
    src, dst = spec.src_file, spec.dst_file
    assert src is not None and dst is not None
    check_chunk(spec, files=True)
    if os.path.realpath(src) == os.path.realpath(dst):
        raise InputError(Diagnostic("source and destination are the same file", Location(dst)))
    target = check_destination(dst, expert=expert, yes=yes)
    if spec.check:
        src_exists = check_source_overwrite(src, expert=expert, yes=yes)
    else:
        src_exists = True
        _check_source(src, spec.size)
    # Each filesystem written must hold everything this copy writes there (the --check source may share the
    # destination's), on top of what copies accepted before it still have to write.
    needs: dict[int, tuple[int, str, str]] = {}
    for path, what, writes in ((dst, "the destination", True), (src, "the --check source", spec.check)):
        if writes:
            dev, need = _room_needed(path, spec.size)
            if dev is not None:
                total, place, whats = needs.get(dev, (0, path, ""))
                needs[dev] = (total + need, place, f"{whats} and {what}" if whats else what)
    for dev, (need, place, whats) in needs.items():
        _check_free(place, need, promised(dev), whats)
    return FileCheck(target, src_exists, {dev: need for dev, (need, _, _) in needs.items()})


def check_p2pmem_file(path: str, spec: TransferSpec, provider: str) -> None:
    """``path`` can stand for ``provider``'s ``p2pmem/allocate``: InputError naming it otherwise."""
    where = Location(path)
    hint = f"give {provider}'s /sys/bus/pci/devices/<bdf>/p2pmem/allocate (kernel ≥ 6.2)"
    if spec.chunk % PAGE_SIZE:
        raise InputError(Diagnostic(f"chunk {spec.chunk} B is not a multiple of the page size ({PAGE_SIZE} B): "
                                    "P2P memory is mapped in whole pages", hint=CHUNK_HINT))  # fmt: skip
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(Diagnostic("P2P memory file does not exist", where, hint)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot inspect the P2P memory file: {exc.strerror}", where, hint)) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(Diagnostic(f"is {_kind(st.st_mode)}, not a p2pmem allocate file (a regular file in sysfs)",
                                    where, hint))  # fmt: skip
    if not os.access(path, os.R_OK | os.W_OK):
        raise InputError(Diagnostic("no permission to map the P2P memory file (it needs read and write)", where,
                                    "run as root"))  # fmt: skip
    # sysfs reports its attribute files' sizes as 0 or a nominal figure; a stand-in must hold the mapping.
    if not os.path.realpath(path).startswith(SYSFS) and st.st_size < spec.buffer_bytes:
        raise InputError(Diagnostic(f"holds {human_size(st.st_size)}, less than the {human_size(spec.buffer_bytes)} "
                                    "(chunk × threads) the copy maps from it", where))  # fmt: skip


def _check_source(src: str, size: int) -> None:
    where = Location(src)
    try:
        available = source_size(src)
        os.close(os.open(src, os.O_RDONLY | os.O_CLOEXEC))
    except FileNotFoundError:
        raise InputError(Diagnostic("source file does not exist", where,
                                    "--check creates it with seeded random data")) from None  # fmt: skip
    except ValueError as exc:
        raise InputError(Diagnostic(f"source {exc}", where)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read the source: {exc.strerror}", where)) from None
    if available < size:
        raise InputError(Diagnostic(f"source holds {available} B, fewer than the {size} B to copy", where))


def _room_needed(path: str, size: int) -> tuple[int | None, int]:
    """(filesystem, bytes) writing ``size`` bytes to ``path`` adds there; (None, 0) for a block device big enough.
    What an existing file already occupies is reused (the copy truncates or overwrites it)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return os.stat(Path(path).parent).st_dev, size
    if stat.S_ISBLK(st.st_mode):
        capacity = source_size(path)
        if capacity < size:
            raise InputError(Diagnostic(f"block device holds {human_size(capacity)} ({capacity} B), less than the "
                                        f"{size} B to write", Location(path)))  # fmt: skip
        return None, 0
    return st.st_dev, max(0, size - st.st_blocks * 512)


def _check_free(path: str, need: int, promised: int, what: str) -> None:
    fs = os.statvfs(path if os.path.exists(path) else Path(path).parent)
    free = fs.f_bavail * fs.f_frsize  # what an unprivileged writer may use, as df shows it
    if need + promised <= free:
        return
    others = f", {human_size(promised)} of it promised to copies accepted before this one" if promised else ""
    raise InputError(Diagnostic(f"not enough free space: the copy needs {human_size(need)} ({need} B) for {what} "
                                f"on this filesystem, which has {human_size(free)} free{others}", Location(path),
                                "free some space, copy less (--size) or write elsewhere"))  # fmt: skip


def _kind(mode: int) -> str:
    kinds = ((stat.S_ISDIR, "a directory"), (stat.S_ISCHR, "a character device"), (stat.S_ISFIFO, "a pipe"),
             (stat.S_ISSOCK, "a socket"), (stat.S_ISBLK, "a block device"))  # fmt: skip
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"
