"""Find the PCI tree in a sysfs root: root buses and the nested device directories below them.

The kernel names each root bus's host bridge ``/sys/devices/pciDDDD:BB`` and nests every function's directory
under the bridge that owns its bus, so the directory nesting is the tree. ``/sys/bus/pci/devices`` only links into
it; its link targets also reveal root buses that live elsewhere (Hyper-V puts them under the VMBus device, VMD
under the VMD endpoint). Only real directories are descended into, never links.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from ..errors import Diagnostic, Location
from ..fabric.bdf import BDF
from ..fabric.limits import MAX_BRIDGE_DEPTH
from .sysfs_files import Kind, SysfsFiles

ROOT_DIR_RE = re.compile(r"^pci([0-9a-f]{4,8}):([0-9a-f]{2})$")
DEVICES = "sys/devices"
BUS_LINKS = "sys/bus/pci/devices"
MAX_DEPTH = MAX_BRIDGE_DEPTH  # shared with every reader and the YAML writer (fabric/limits.py)
MAX_FUNCTIONS = 100_000


@dataclass
class FoundDevice:
    bdf: BDF
    rel: str  # the function's directory, relative to the root
    parent: BDF | None  # the bridge whose directory holds it; None on a root bus
    root_bus: tuple[int, int]
    root_rel: str  # the host bridge directory (pciDDDD:BB) above it
    entries: dict[str, Kind] | None  # the directory's listing (kept so it is not listed twice); None: unlistable
    children: int = 0  # function directories directly inside


@dataclass
class TreeScan:
    root_buses: dict[tuple[int, int], str] = field(default_factory=dict)  # bus id -> host bridge directory
    devices: list[FoundDevice] = field(default_factory=list)  # parents before children
    skipped: list[str] = field(default_factory=list)
    errors: list[Diagnostic] = field(default_factory=list)
    linked: set[BDF] = field(default_factory=set)  # functions sys/bus/pci/devices lists
    devices_error: OSError | None = None  # why sys/devices could not be listed


def parse_bdf_dir(name: str) -> BDF | None:
    return BDF.from_pci_name(name)


def parse_root_dir(name: str) -> tuple[int, int] | None:
    m = ROOT_DIR_RE.match(name)
    return (int(m[1], 16), int(m[2], 16)) if m else None


def scan_tree(files: SysfsFiles) -> TreeScan:
    scan = TreeScan()
    roots: list[str] = []
    try:
        for name, kind in sorted(files.entries(DEVICES)):
            if parse_root_dir(name) is None:
                continue
            if kind is Kind.DIR:
                roots.append(f"{DEVICES}/{name}")
            else:
                scan.skipped.append(
                    f"{files.show(f'{DEVICES}/{name}')}: host bridge entry is a {kind.value}, not a directory"
                )
    except OSError as exc:
        scan.devices_error = exc
        scan.skipped.append(f"{files.show(DEVICES)}: cannot list ({exc.strerror or exc})")
    listed = set(roots)  # a set beside the list: thousands of host bridges made `in` on the list quadratic
    for rel in _roots_from_bus_links(files, scan):
        if rel not in listed:
            roots.append(rel)
            listed.add(rel)
    seen: dict[BDF, str] = {}
    for root_rel in roots:
        bus_id = parse_root_dir(posixpath.basename(root_rel))
        assert bus_id is not None
        _walk_root(files, scan, root_rel, bus_id, seen)
    return scan


def _roots_from_bus_links(files: SysfsFiles, scan: TreeScan) -> list[str]:
    """Host bridge directories named by the link targets, for trees that do not start in sys/devices."""
    found: set[str] = set()
    try:
        listing = files.entries(BUS_LINKS)
    except FileNotFoundError:
        return []  # snapshots may leave sys/bus out; the directory walk alone then defines the tree
    except OSError as exc:
        scan.skipped.append(
            f"{files.show(BUS_LINKS)}: cannot list ({exc.strerror or exc}); root buses outside sys/devices are missing"
        )
        return []
    for name, kind in listing:
        bdf = parse_bdf_dir(name)
        if bdf is None or kind is not Kind.LINK:
            continue
        scan.linked.add(bdf)
        try:
            target = files.readlink(f"{BUS_LINKS}/{name}")
        except OSError as exc:
            scan.skipped.append(f"{files.show(f'{BUS_LINKS}/{name}')}: {exc.strerror or exc}")
            continue
        path = posixpath.normpath(posixpath.join(BUS_LINKS, target.lstrip("/") if target.startswith("/") else target))
        parts = path.split("/")
        if parts[0] == ".." or not path.startswith("sys/"):
            continue
        for i in range(len(parts) - 1, -1, -1):
            if parse_root_dir(parts[i]) is not None:
                rel = "/".join(parts[: i + 1])
                if rel not in found and files.kind(rel) is Kind.DIR:
                    found.add(rel)
                break
    return sorted(found)


def _walk_root(files: SysfsFiles, scan: TreeScan, root_rel: str, bus_id: tuple[int, int], seen: dict) -> None:
    if bus_id in scan.root_buses:
        if scan.root_buses[bus_id] != root_rel:
            scan.errors.append(
                Diagnostic(
                    f"root bus {bus_id[0]:04x}:{bus_id[1]:02x} appears twice "
                    f"(also {files.show(scan.root_buses[bus_id])})",
                    Location(files.show(root_rel)),
                )
            )
        return
    scan.root_buses[bus_id] = root_rel
    # (directory, its function or None for the host bridge, depth); depth-first so parents precede children.
    stack: list[tuple[str, FoundDevice | None, int]] = [(root_rel, None, 0)]
    while stack:
        rel, owner, depth = stack.pop()
        try:
            listing = files.entries(rel)
        except OSError as exc:
            scan.skipped.append(
                f"{files.show(rel)}: cannot list ({exc.strerror or exc}); functions below it are missing"
            )
            continue
        entries = dict(listing)
        if owner is not None:
            owner.entries = entries
        below: list[tuple[str, FoundDevice | None, int]] = []
        for name in sorted(entries, reverse=True):
            kind = entries[name]
            bdf = parse_bdf_dir(name)
            nested_root = parse_root_dir(name) if owner is not None else None
            if bdf is None and nested_root is None:
                continue
            child_rel = f"{rel}/{name}"
            if kind is not Kind.DIR:
                if kind is Kind.LINK and bdf is not None:
                    scan.skipped.append(f"{files.show(child_rel)}: function entry is a link, not a directory; skipped")
                continue
            if nested_root is not None:
                _walk_root(files, scan, child_rel, nested_root, seen)  # a domain behind an endpoint (VMD)
                continue
            assert bdf is not None  # not a domain, so a function (anything else was skipped above)
            if depth >= MAX_DEPTH:
                scan.errors.append(
                    Diagnostic(f"PCI tree nested more than {MAX_DEPTH} levels deep", Location(files.show(rel)))
                )
                return
            if bdf in seen:
                scan.errors.append(
                    Diagnostic(
                        f"function {bdf} appears twice (also {files.show(seen[bdf])})", Location(files.show(child_rel))
                    )
                )
                continue
            if len(scan.devices) >= MAX_FUNCTIONS:
                scan.errors.append(
                    Diagnostic(f"more than {MAX_FUNCTIONS:,} PCI functions", Location(files.show(root_rel)))
                )
                return
            seen[bdf] = child_rel
            dev = FoundDevice(bdf, child_rel, owner.bdf if owner else None, bus_id, root_rel, None)
            if owner is not None:
                owner.children += 1
            scan.devices.append(dev)
            below.append((child_rel, dev, depth + 1))
        stack.extend(below)
