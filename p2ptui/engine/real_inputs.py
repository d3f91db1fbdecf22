"""What a real file copy needs checked before any byte moves, each problem an InputError naming its path.

* the chunk: a multiple of 4 KiB (O_DIRECT moves whole blocks) and, through P2P memory, of the page size;
* the paths (real_paths.py): every stat failure in words, source and destination compared by identity, and each
  output's directory able to take the temporary file the copy writes and renames into place;
* the source: a regular file or a block device, readable, holding the bytes to copy (a block device's size comes
  from the BLKGETSIZE64 ioctl: its st_size is 0); with --check it is written first, under the destination's rules;
* the destination: the safety rules (safety.py); a block device only when the user named it (--yes-overwrite), as a
  partial write to one cannot be undone; and room for the bytes - free space on its filesystem (``os.statvfs``) for
  the whole new file (the old one is freed only by the rename), counted together with the --check source's and with
  what other prepared copies still have to write there, or the size of a block device;
* the P2P memory file (``--p2pmem-file``): it must exist and be a regular file - the kernel's ``p2pmem/allocate``
  or a stand-in holding at least chunk × threads bytes - that can be opened for reading and writing.
"""

from __future__ import annotations

import fcntl
import os
import stat
import struct
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.units import human_size
from .limits import REAL_CHUNK_ALIGN
from .p2pmem import PAGE_SIZE
from .real_paths import Examined, examine_output, examine_source, path_error, reason, same_file
from .safety import Target, check_destination, check_source_overwrite
from .transfer import TransferSpec

BLKGETSIZE64 = 0x80081272  # _IOR(0x12, 114, size_t): a block device's size in bytes
SYSFS = "/sys/"
CHUNK_HINT = "--chunk: e.g. 64KiB or 1MiB"


@dataclass
class FileCheck:
    """What the checks learnt, for the copy that follows."""

    target: Target
    disk_needs: dict[int, int] = field(default_factory=dict)  # st_dev of a filesystem -> bytes the copy adds there
    src_stat: os.stat_result | None = None  # as examined: the copy checks it still reads (and replaces) these files
    dst_stat: os.stat_result | None = None


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
        raise ValueError(f"is {kind_of(st.st_mode)}, not a regular file or a block device")
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return block_device_size(fd)
    finally:
        os.close(fd)


def check_chunk(spec: TransferSpec, files: bool) -> None:
    """The real engine's chunk rules (limits.py bounds the rest, for both engines)."""
    if files and spec.chunk % REAL_CHUNK_ALIGN:
        raise InputError(
            Diagnostic(
                f"chunk {spec.chunk} B is not a multiple of 4 KiB, which O_DIRECT file copies "
                "need (they move whole 4 KiB blocks)",
                hint=CHUNK_HINT,
            )
        )
    if not files and spec.chunk < REAL_CHUNK_ALIGN:
        raise InputError(
            Diagnostic(
                f"chunk {spec.chunk} B is less than 4 KiB: a real memory copy times one copy "
                "call per chunk, and below a page the calls' overhead is what would be measured",
                hint=CHUNK_HINT,
            )
        )


def check_file_copy(
    spec: TransferSpec,
    *,
    expert: bool,
    yes: bool,
    promised: Callable[[int], int] = lambda dev: 0,
    confirmed: Collection[int] = (),
) -> FileCheck:
    """Every check of a file → file copy but the P2P memory file's; InputError for the first problem found.
    ``promised(dev)`` is what other accepted copies have yet to write to filesystem ``dev``; ``confirmed`` holds the
    device numbers (st_rdev) of the block devices the user named to be overwritten (--yes-overwrite)."""
    src, dst = spec.src_file, spec.dst_file
    assert src is not None and dst is not None
    check_chunk(spec, files=True)
    # Everything is examined, and identity compared, before anything is opened for writing.
    source = examine_output(src, "--check source") if spec.check else examine_source(src)
    destination = examine_output(dst)
    if same_file(source, destination):
        raise InputError(
            Diagnostic(
                "source and destination are the same file (compared by identity: a hard link, "
                "a bind mount or a symbolic link names it twice)",
                Location(dst),
                "copy to another file",
            )
        )
    target = _checked_output(destination, "destination", expert=expert, yes=yes, confirmed=confirmed)
    if spec.check:
        _checked_output(source, "--check source", expert=expert, yes=yes, confirmed=confirmed)
    else:
        _check_source(source, spec.size)
    # Each filesystem written must hold everything this copy writes there (the --check source may share the
    # destination's), on top of what copies accepted before it still have to write.
    needs: dict[int, tuple[int, str, str]] = {}
    for examined, what, writes in ((destination, "the destination", True), (source, "the --check source", spec.check)):
        if writes:
            dev, need = _room_needed(examined, spec.size)
            if dev is not None:
                total, place, whats = needs.get(dev, (0, examined.path, ""))
                needs[dev] = (total + need, place, f"{whats} and {what}" if whats else what)
    for dev, (need, place, whats) in needs.items():
        _check_free(place, need, promised(dev), whats)
    return FileCheck(target, {dev: need for dev, (need, _, _) in needs.items()}, source.st, destination.st)


def _checked_output(examined: Examined, what: str, *, expert: bool, yes: bool, confirmed: Collection[int]) -> Target:
    """The safety rules for a file the copy writes; a block device must also have been named by the user."""
    named = examined.block_device and examined.st is not None and examined.st.st_rdev in confirmed
    if what == "destination":
        target = check_destination(examined.path, expert=expert, yes=yes or named)
    else:
        check_source_overwrite(examined.path, expert=expert, yes=yes or named)
        target = Target(examined.path, examined.exists, examined.block_device)
    if examined.block_device and not named:
        raise InputError(
            Diagnostic(
                f"{what}: a block device is written in place, so a partial write (a failure, a "
                "cancel, a kill) cannot be undone; confirm by naming the device",
                Location(examined.path),
                f"--yes-overwrite {examined.path}",
            )
        )
    return target


def confirmed_devices(paths: Collection[str]) -> set[int]:
    """The device numbers of the block devices named by --yes-overwrite; InputError for a path that is not one."""
    devices = set()
    for path in paths:
        try:
            st = os.stat(path)
        except OSError as exc:
            raise path_error(path, "--yes-overwrite", exc) from None
        if not stat.S_ISBLK(st.st_mode):
            raise InputError(
                Diagnostic(
                    "--yes-overwrite: not a block device (it confirms writing one)",
                    Location(path),
                    "files are replaced whole, never in place: --expert --yes confirms that",
                )
            )
        devices.add(st.st_rdev)
    return devices


def check_p2pmem_file(path: str, spec: TransferSpec, provider: str) -> None:
    """``path`` can stand for ``provider``'s ``p2pmem/allocate``: InputError naming it otherwise."""
    where = Location(path)
    hint = f"give {provider}'s /sys/bus/pci/devices/<bdf>/p2pmem/allocate (kernel ≥ 6.2)"
    if spec.chunk % PAGE_SIZE:
        raise InputError(
            Diagnostic(
                f"chunk {spec.chunk} B is not a multiple of the page size ({PAGE_SIZE} B): "
                "P2P memory is mapped in whole pages",
                hint=CHUNK_HINT,
            )
        )
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(Diagnostic("P2P memory file does not exist", where, hint)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot inspect the P2P memory file: {exc.strerror}", where, hint)) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            Diagnostic(f"is {kind_of(st.st_mode)}, not a p2pmem allocate file (a regular file in sysfs)", where, hint)
        )
    if not os.access(path, os.R_OK | os.W_OK):
        raise InputError(
            Diagnostic("no permission to map the P2P memory file (it needs read and write)", where, "run as root")
        )
    # sysfs reports its attribute files' sizes as 0 or a nominal figure; a stand-in must hold the mapping.
    if not os.path.realpath(path).startswith(SYSFS) and st.st_size < spec.buffer_bytes:
        raise InputError(
            Diagnostic(
                f"holds {human_size(st.st_size)}, less than the {human_size(spec.buffer_bytes)} "
                "(chunk × threads) the copy maps from it",
                where,
            )
        )


def _check_source(source: Examined, size: int) -> None:
    src, where = source.path, Location(source.path)
    if source.st is None:
        raise InputError(Diagnostic("source file does not exist", where, "--check creates it with seeded random data"))
    try:
        available = source_size(src)
        # O_NONBLOCK: a FIFO swapped in since the stat must not block the check (regular files ignore the flag).
        os.close(os.open(src, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK))
    except ValueError as exc:
        raise InputError(Diagnostic(f"source {exc}", where)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read the source: {reason(exc)}", where)) from None
    if available < size:
        raise InputError(Diagnostic(f"source holds {available} B, fewer than the {size} B to copy", where))


def _room_needed(examined: Examined, size: int) -> tuple[int | None, int]:
    """(filesystem, bytes) writing ``size`` bytes to the examined path adds there; (None, 0) for a block device big
    enough. A file is written whole beside the one it replaces before the rename frees the old one, so an existing
    file's space does not count."""
    path, st = examined.path, examined.st
    if st is not None and stat.S_ISBLK(st.st_mode):
        capacity = source_size(path)
        if capacity < size:
            raise InputError(
                Diagnostic(
                    f"block device holds {human_size(capacity)} ({capacity} B), less than the {size} B to write",
                    Location(path),
                )
            )
        return None, 0
    return os.stat(Path(path).parent).st_dev, size


def _check_free(path: str, need: int, promised: int, what: str) -> None:
    fs = os.statvfs(Path(path).parent)
    free = fs.f_bavail * fs.f_frsize  # what an unprivileged writer may use, as df shows it
    if need + promised <= free:
        return
    others = f", {human_size(promised)} of it promised to copies accepted before this one" if promised else ""
    raise InputError(
        Diagnostic(
            f"not enough free space: the copy needs {human_size(need)} ({need} B) for {what} "
            f"on this filesystem, which has {human_size(free)} free{others}",
            Location(path),
            "free some space, copy less (--size) or write elsewhere",
        )
    )


def kind_of(mode: int) -> str:
    """What a non-regular file is, in words ("a pipe")."""
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISFIFO, "a pipe"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISBLK, "a block device"),
    )
    for test, name in kinds:
        if test(mode):
            return name
    return "not a regular file"
