"""What the real engine refuses to touch, and the one thing only the simulator may do.

Rules: never write to a block device or over an existing file unless expert mode is on *and* the user confirmed
(--yes); never write to a block device that is mounted, used as swap or held by another device (LVM, md), even in
expert mode; forcing a P2P path the kernel refuses (NOT_SUPPORTED) is for the simulator only.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..p2p import Decision, ExpertMode, gate_write


@dataclass(frozen=True)
class Target:
    path: str
    exists: bool
    block_device: bool


def check_destination(
    path: str,
    *,
    expert: bool,
    yes: bool,
    mounts: str = "/proc/self/mounts",
    swaps: str = "/proc/swaps",
    what: str = "destination",
) -> Target:
    """May the real engine write ``path``? InputError saying why not, else what it is.

    The expert gate (p2ptui.p2p.gate_write) gives the verdict on files and block devices; on top of it the engine
    asks for --yes as confirmation and also refuses block devices that are swap or held by LVM/md/dm, and mounts
    it recognises by device number (a /dev/disk/by-id alias, a partition)."""
    st = None
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if not Path(path).parent.is_dir():
            raise InputError(Diagnostic(f"the {what}'s directory does not exist", Location(path))) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise InputError(Diagnostic("is a directory; name a file or a block device", Location(path)))
    if st is not None and stat.S_ISBLK(st.st_mode):
        where = block_device_in_use(st.st_rdev, mounts, swaps)
        if where:
            raise InputError(
                Diagnostic(
                    f"block device is in use ({where}); refusing to write to it, even in expert mode", Location(path)
                )
            )
    decision = gate_write(path, ExpertMode.from_cli(expert))
    if decision.decision is Decision.REFUSED:
        # No flag unlocks this (a character device, a mounted disk): suggesting --expert --yes would mislead.
        raise InputError(
            Diagnostic(
                f"{_reasons(decision)}; refusing to write to it, even in expert mode",
                Location(path),
                "name a regular file, or a block device that is not in use",
            )
        )
    if not decision.permitted:
        raise InputError(
            Diagnostic(
                _reasons(decision),
                Location(path),
                "expert mode (--expert) and a confirmation (--yes) are both required",
            )
        )
    if decision.decision is Decision.NEEDS_EXPERT and not yes:
        raise InputError(
            Diagnostic(
                f"{_reasons(decision)}; refusing without --yes",
                Location(path),
                "expert mode is on: confirm the destructive write with --yes",
            )
        )
    return Target(path, st is not None, st is not None and stat.S_ISBLK(st.st_mode))


def _reasons(decision) -> str:
    return "; ".join(r.text for r in decision.reasons)


def check_source_overwrite(path: str, *, expert: bool, yes: bool) -> bool:
    """--check writes seeded random data to the source first (as p2pmem-test does to its read device): the same
    rules as for a destination apply. True when the file already exists."""
    return check_destination(path, expert=expert, yes=yes, what="--check source").exists


def block_device_in_use(rdev: int, mounts: str = "/proc/self/mounts", swaps: str = "/proc/swaps") -> str | None:
    """Why the block device ``rdev`` (or a partition of it) must not be written, or None."""
    devs = {rdev} | _partitions(rdev)
    for table, what in ((mounts, "mounted on {}"), (swaps, "used as swap")):
        try:
            lines = Path(table).read_text().splitlines()
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if not fields or not fields[0].startswith("/"):
                continue
            try:
                source = os.stat(fields[0])
            except OSError:
                continue
            if stat.S_ISBLK(source.st_mode) and source.st_rdev in devs:
                return what.format(fields[1] if len(fields) > 1 else "?")
    for dev in devs:
        node = _sys_node(dev)
        holders = node / "holders" if node is not None else None
        if holders is not None and holders.is_dir() and any(holders.iterdir()):
            return "held by another device (LVM, md, dm-crypt, ...)"
    return None


def _sys_node(rdev: int) -> Path | None:
    link = Path("/sys/dev/block") / f"{os.major(rdev)}:{os.minor(rdev)}"
    return link.resolve() if link.exists() else None


def _partitions(rdev: int) -> set[int]:
    base = _sys_node(rdev)
    out: set[int] = set()
    if base is None:
        return out
    for child in base.iterdir():
        dev_file = child / "dev"
        if (child / "partition").exists() and dev_file.exists():
            major, _, minor = dev_file.read_text().strip().partition(":")
            out.add(os.makedev(int(major), int(minor)))
    return out
