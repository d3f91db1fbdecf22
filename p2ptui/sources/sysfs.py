"""The sysfs source: this machine (``local``), a root directory holding sys/ (and proc/), or a tarball snapshot
of one as hwloc-gather-topology writes it.

Follows the source contract (p2ptui/sources/__init__.py): ``sniff(path, head)`` and ``load(path)``; ``load_local()``
reads the live /sys. What cannot be read is listed in Fabric.notes; an odd value leaves that one fact unknown, with
one note per kind of oddity (sysfs_device.py).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.gc_pause import gc_paused
from ..fabric.model import Fabric
from .detect import LOCAL as LOCAL  # one name for this machine, defined where a FABRIC argument is resolved
from .sysfs_build import build_fabric
from .sysfs_device import Problems, read_device
from .sysfs_files import DirFiles, Kind, PrefixFiles, SubFiles, SysfsFiles
from .sysfs_health import add_health
from .sysfs_host import class_names, read_host
from .sysfs_tree import DEVICES, scan_tree
from .tarball import looks_like_tarball, read_tarball

TAR_SUFFIXES = (".tar.bz2", ".tar.gz", ".tar.xz", ".tbz2", ".tgz", ".txz", ".tar")
MAX_SKIPPED_NOTES = 20
ROOT_HINT = "a sysfs root holds sys/devices/pciDDDD:BB/... (and proc/), as hwloc-gather-topology writes; or use 'local'"


def sniff(path: Path, head: bytes) -> bool:
    """Directories are only ever sysfs roots; files are when they are tar archives."""
    try:
        if path.is_dir():
            return True
    except OSError:
        return False
    return looks_like_tarball(head)


def load(path: Path) -> Fabric:
    path = Path(path)
    name = path.name
    for suffix in TAR_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    with gc_paused():  # tens of thousands of members and attributes, all kept until the fabric is built
        files, live = open_root(path)
        return read_fabric(files, None if live else name or str(path), live, str(path))


def load_local() -> Fabric:
    """This machine, as its live /sys and /proc show it to the current user."""
    with gc_paused():
        return read_fabric(DirFiles(Path("/")), None, True, "this machine")


def open_root(path: Path) -> tuple[SysfsFiles, bool]:
    """The root's files and whether it is the live system; InputError when it is no sysfs root."""
    where = Location(str(path))
    try:
        st = os.stat(path)
    except OSError as exc:
        raise InputError(Diagnostic(_os_message(exc), where)) from None
    if os.path.isdir(path):
        if _same(st, "/sys"):
            return DirFiles(Path("/")), True  # the live sysfs mount: read /proc beside it too
        files: SysfsFiles = DirFiles(path)
        live = _same(st, "/")
    else:
        try:
            with open(path, "rb") as stream:
                head = stream.read(1024)
        except OSError as exc:
            raise InputError(Diagnostic(_os_message(exc), where)) from None
        if not head:
            raise InputError(Diagnostic("file is empty", where, "expected a sysfs snapshot tarball"))
        if not looks_like_tarball(head):
            raise InputError(Diagnostic("not a directory or a tar archive, so not a sysfs root", where, ROOT_HINT))
        files, live = read_tarball(path), False
    return _locate(files, path), live


def _same(st: os.stat_result, other: str) -> bool:
    try:
        return os.path.samestat(st, os.stat(other))
    except OSError:
        return False


def _locate(files: SysfsFiles, path: Path) -> SysfsFiles:
    """Find the fake root: here, a bare sysfs mount, or one directory down (snapshots extract to name/)."""
    if _is_dir(files, "sys", path):
        return files
    if _is_dir(files, "devices", path) and _is_dir(files, "bus", path):
        return PrefixFiles(files)
    try:
        top = sorted(files.entries(""))
    except OSError as exc:
        raise InputError(Diagnostic(_os_message(exc), Location(files.show("")))) from None
    for name in ("sys", "devices"):
        _check_reachable(files, name, top)
    found = [name for name, kind in top if kind is Kind.DIR and _is_dir(files, f"{name}/sys", path)]
    if len(found) == 1:
        return SubFiles(files, found[0])
    if found:
        raise InputError(
            Diagnostic(f"holds several sysfs roots ({', '.join(found)})", Location(str(path)), "pass one of them")
        )
    raise InputError(Diagnostic("no sys/ directory here: not a sysfs root or snapshot", Location(str(path)), ROOT_HINT))


def _is_dir(files: SysfsFiles, rel: str, path: Path) -> bool:
    kind = files.kind(rel)
    if kind is Kind.DIR:
        return True
    if kind is Kind.LINK and isinstance(files, DirFiles):
        # A root may link sys/ to a copy elsewhere; following that one link is safe, a loop is reported.
        try:
            return os.path.isdir(os.path.realpath(files.show(rel), strict=True))
        except OSError as exc:
            raise InputError(Diagnostic(_os_message(exc), Location(files.show(rel)))) from None
    return False


def _check_reachable(files: SysfsFiles, name: str, top: list[tuple[str, Kind]]) -> None:
    """A root whose listing names ``name`` but which cannot be entered (read but no search permission) would
    otherwise read as "no sys/ here": name the entry and the reason instead."""
    if not isinstance(files, DirFiles) or name not in dict(top):
        return
    try:
        os.lstat(files.show(name))
    except OSError as exc:
        if exc.errno != errno.ENOENT:
            raise InputError(Diagnostic(_os_message(exc), Location(files.show(name)))) from None


def _os_message(exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symbolic link loop (too many levels of symbolic links)"
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return f"cannot read: {exc.strerror or exc}"


def read_fabric(files: SysfsFiles, name: str | None, live: bool, origin: str) -> Fabric:
    scan = scan_tree(files)
    problems = Problems(files, errors=list(scan.errors), skipped=list(scan.skipped))
    if not scan.root_buses and not problems.errors:
        if scan.devices_error is not None:
            reason = scan.devices_error.strerror or str(scan.devices_error)
            raise InputError(
                Diagnostic(
                    f"cannot list ({reason}), so no PCI host bridge can be found",
                    Location(files.show(DEVICES)),
                    "read it as a user allowed to list it, e.g. root",
                )
            )
        raise InputError(
            Diagnostic("no PCI host bridges (no pciDDDD:BB directories)", Location(files.show(DEVICES)), ROOT_HINT)
        )
    raws = [read_device(files, found, problems) for found in scan.devices]
    facts = read_host(files, live, any(raw.iommu_group is not None for raw in raws), problems.skipped)
    names = class_names(files, problems.skipped)
    notes = list(facts.notes)
    if scan.linked:
        unlinked = sorted(raw.found.bdf for raw in raws if raw.found.bdf not in scan.linked)
        if unlinked:
            shown = ", ".join(map(str, unlinked[:5])) + (" ..." if len(unlinked) > 5 else "")
            notes.append(
                f"in sys/devices but not linked from sys/bus/pci/devices (an incomplete snapshot?), "
                f"included anyway: {shown}"
            )
    skipped = problems.skipped
    notes.extend(f"skipped {line}" for line in skipped[:MAX_SKIPPED_NOTES])
    if len(skipped) > MAX_SKIPPED_NOTES:
        notes.append(f"skipped {len(skipped) - MAX_SKIPPED_NOTES} more unreadable entries")
    fabric_name = name or facts.hostname or "this machine"
    buses = len(scan.root_buses)
    description = (
        f"Read from sysfs ({origin}): {len(raws)} PCI functions on {buses} root bus{'es' if buses != 1 else ''}."
    )
    fabric = build_fabric(raws, scan.root_buses, names, facts.host, problems, fabric_name, description, notes)
    return add_health(fabric, files, {raw.found.bdf: raw.found.rel for raw in raws}, problems)
