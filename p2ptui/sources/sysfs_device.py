"""Read one PCI function's sysfs attributes: IDs, driver, NUMA node, IOMMU group, link, SR-IOV, p2pmem, config.

Files that cannot be read are skipped and listed (a non-root user, an unplugged device). A value no PCI device
should have (a link width of 63 from a powered-off device, a NUMA node out of range) leaves that one fact unknown
and is counted as an oddity: one note per kind, naming the functions, as the kernel and pciutils walk past such
values. A real machine is never refused for one fact.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from ..errors import Diagnostic, Location
from ..fabric.bdf import BDF
from ..fabric.checks import LINK_WIDTHS, MAX_POOL_BYTES
from ..fabric.limits import IOMMU_GROUP, decimal_within
from ..fabric.model import P2PPool
from ..fabric.pcie import gen_from_rate
from .pci_config import ConfigSpace, parse_config
from .sysfs_files import Kind, SysfsFiles
from .sysfs_tree import FoundDevice, parse_bdf_dir

_SPEED_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*GT/s")
_HEX_RE = re.compile(r"^(?:0x)?[0-9a-fA-F]+$")
CONFIG_READ = 4096
WIDTH_UNKNOWN = 255  # the kernel's PCIE_LNK_WIDTH_UNKNOWN: no link capability to read (an RCiEP, conventional PCI)
WIDTH_ALL_ONES = 63  # the 6-bit width field of a register that reads all ones: the device did not answer
# What a function directory holds, for directories that cannot be listed but whose files may still be readable.
EXPECTED_ENTRIES: dict[str, Kind] = {
    **{
        name: Kind.FILE
        for name in (
            "vendor",
            "device",
            "class",
            "revision",
            "subsystem_vendor",
            "subsystem_device",
            "numa_node",
            "current_link_speed",
            "current_link_width",
            "max_link_speed",
            "max_link_width",
            "config",
        )
    },
    **{name: Kind.LINK for name in ("driver", "iommu_group", "physfn")},
    "p2pmem": Kind.DIR,
}


@dataclass
class Problems:
    """Errors (a tree that cannot be walked), oddities (values left unknown) and skipped items (unreadable files)
    collected over a whole scan."""

    files: SysfsFiles
    errors: list[Diagnostic] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    oddities: dict[str, list[str]] = field(default_factory=dict)  # what was odd -> "BDF/attribute (value)"

    def error(self, rel: str, message: str, hint: str = "") -> None:
        self.errors.append(Diagnostic(message, Location(self.files.show(rel)), hint))

    def odd(self, rel: str, kind: str, value: str = "") -> None:
        """Count an odd value of the attribute at ``rel``; ``kind`` says what was odd and what was done."""
        parts = rel.split("/")
        start = next((i for i in range(len(parts) - 1, -1, -1) if parse_bdf_dir(parts[i]) is not None), len(parts) - 1)
        label = "/".join(parts[start:]) + (f" ({value})" if value else "")
        self.oddities.setdefault(kind, []).append(label)

    def oddity_notes(self, limit: int = 5) -> list[str]:
        notes = []
        for kind, items in self.oddities.items():
            shown = ", ".join(items[:limit]) + (f" and {len(items) - limit} more" if len(items) > limit else "")
            notes.append(f"functions that {kind} ({len(items)}): {shown}")
        return notes

    def skip(self, rel: str, exc: OSError) -> None:
        self.skipped.append(f"{self.files.show(rel)}: {exc.strerror or exc}")


@dataclass
class RawDevice:
    """A function's attributes as read, before kinds and names are decided."""

    found: FoundDevice
    vendor_id: int | None = None
    device_id: int | None = None
    class_code: int | None = None
    revision: int | None = None
    subsystem_vendor_id: int | None = None
    subsystem_device_id: int | None = None
    driver: str | None = None
    numa_node: int | None = None
    iommu_group: int | None = None
    gen: int | None = None
    width: int | None = None
    max_gen: int | None = None
    max_width: int | None = None
    physfn: BDF | None = None
    pool: P2PPool | None = None
    config: ConfigSpace | None = None
    config_short_read: bool = False  # fewer bytes than the file declares: the kernel withheld them (not root)
    link_down: bool = False  # current_link_width reads 0
    no_link: bool = False  # max_link_width reads 255: the kernel could not read a link capability


def read_device(files: SysfsFiles, found: FoundDevice, problems: Problems) -> RawDevice:
    raw = RawDevice(found)
    rel = found.rel
    probing = found.entries is None  # unlistable: try the usual names, and absence is no news
    entries = EXPECTED_ENTRIES if found.entries is None else found.entries

    def skip(path: str, exc: OSError) -> None:
        if not (probing and isinstance(exc, FileNotFoundError)):
            problems.skip(path, exc)

    def text(name: str) -> str | None:
        if entries.get(name) is not Kind.FILE:
            return None
        path = f"{rel}/{name}"
        try:
            data = files.read(path, 256)
        except OSError as exc:
            skip(path, exc)
            return None
        try:
            return data.decode("ascii").strip()
        except UnicodeDecodeError:
            problems.odd(path, "hold binary bytes where the kernel writes text; left unknown")
            return None

    def hex_value(name: str, top: int, what: str) -> int | None:
        value = text(name)
        if value is None:
            return None
        if not _HEX_RE.match(value) or int(value, 16) > top:
            problems.odd(
                f"{rel}/{name}",
                f"hold a {what} that is not a hex number up to {top:#x}; left unknown",
                repr(value[:20]),
            )
            return None
        return int(value, 16)

    def link_name(name: str) -> str | None:
        if entries.get(name) is not Kind.LINK:
            return None
        try:
            return posixpath.basename(files.readlink(f"{rel}/{name}").rstrip("/"))
        except OSError as exc:
            skip(f"{rel}/{name}", exc)
            return None

    raw.vendor_id = hex_value("vendor", 0xFFFF, "vendor id")
    raw.device_id = hex_value("device", 0xFFFF, "device id")
    raw.class_code = hex_value("class", 0xFFFFFF, "class code")
    raw.revision = hex_value("revision", 0xFF, "revision")
    raw.subsystem_vendor_id = hex_value("subsystem_vendor", 0xFFFF, "subsystem vendor id")
    raw.subsystem_device_id = hex_value("subsystem_device", 0xFFFF, "subsystem device id")
    raw.driver = link_name("driver")
    raw.numa_node = _numa(text("numa_node"), f"{rel}/numa_node", problems)
    group = link_name("iommu_group")
    if group is not None:
        if decimal_within(group, IOMMU_GROUP) is not None:
            raw.iommu_group = int(group)
        else:
            problems.odd(
                f"{rel}/iommu_group",
                "link to an IOMMU group that is not a group number; left unknown",
                repr(group[:20]),
            )
    raw.gen = _gen(text("current_link_speed"), f"{rel}/current_link_speed", problems)
    raw.max_gen = _gen(text("max_link_speed"), f"{rel}/max_link_speed", problems)
    current_width, max_width = text("current_link_width"), text("max_link_width")
    raw.width = _width(current_width, f"{rel}/current_link_width", problems)
    raw.max_width = _width(max_width, f"{rel}/max_link_width", problems)
    raw.link_down = current_width == "0"  # the kernel's "not trained": an empty slot, a link down
    raw.no_link = max_width == str(WIDTH_UNKNOWN)
    pf = link_name("physfn")
    if pf is not None:
        raw.physfn = parse_bdf_dir(pf)
        if raw.physfn is None:
            problems.odd(
                f"{rel}/physfn", "name a physical function that is not a PCI address; taken as PFs", repr(pf[:20])
            )
    if entries.get("p2pmem") is Kind.DIR and (not probing or files.kind(f"{rel}/p2pmem") is Kind.DIR):
        raw.pool = _pool(files, f"{rel}/p2pmem", problems)
    if entries.get("config") is Kind.FILE:
        _read_config(files, raw, problems, skip)
    return raw


def _read_config(files: SysfsFiles, raw: RawDevice, problems: Problems, skip: Callable[[str, OSError], None]) -> None:
    path = f"{raw.found.rel}/config"
    try:
        data = files.read(path, CONFIG_READ)
    except OSError as exc:
        skip(path, exc)
        return
    declared = files.declared_size(path)
    raw.config_short_read = declared is not None and len(data) < min(declared, CONFIG_READ)
    config = parse_config(data)
    if config.no_answer:
        problems.odd(
            path,
            "answer config reads with all ones (powered off in D3cold, or gone): config ignored, "
            "the facts it holds unknown",
        )
        return
    raw.config = config
    for kind, detail in raw.config.problems:
        problems.odd(path, f"have config space where {kind} (the kernel stops there, and so does p2ptui)", detail)


def _numa(value: str | None, rel: str, problems: Problems) -> int | None:
    if value is None:
        return None
    try:
        node = int(value)
    except ValueError:
        problems.odd(rel, "give a NUMA node that is not a number; left unknown", repr(value[:20]))
        return None
    if node == -1:
        return None  # the kernel's "no affinity / unknown"
    if not 0 <= node < 4096:
        problems.odd(rel, "give a NUMA node beyond the kernel's 4096; left unknown", str(node))
        return None
    return node


def _gen(value: str | None, rel: str, problems: Problems) -> int | None:
    if value is None or value.lower().startswith("unknown"):
        return None
    m = _SPEED_RE.match(value)
    if not m:
        problems.odd(rel, "give a link speed not of the form '8.0 GT/s PCIe'; left unknown", repr(value[:20]))
        return None
    try:
        return gen_from_rate(float(m[1]))
    except ValueError:
        problems.odd(rel, "give a link speed no PCIe generation has; left unknown", f"{m[1]} GT/s")
        return None


def _width(value: str | None, rel: str, problems: Problems) -> int | None:
    if value is None:
        return None
    if not (value.isascii() and value.isdigit()) or len(value) > 9:  # int() refuses over 4,300 digits
        problems.odd(rel, "give a link width that is not a number; left unknown", repr(value[:20]))
        return None
    width = int(value)
    if width == 0:
        return None  # link down or not trained
    if width not in LINK_WIDTHS:
        problems.odd(rel, _odd_width(width))
        return None
    return width


def _odd_width(width: int) -> str:
    if width == WIDTH_UNKNOWN:
        return "report link width 255, the kernel's 'unknown' (no link registers of their own); left unknown"
    if width == WIDTH_ALL_ONES:
        return (
            "report link width 63: the link register reads all ones (a device powered off in D3cold, or "
            "gone); left unknown"
        )
    widths = ", x".join(map(str, LINK_WIDTHS))
    return f"report a link width no PCIe link has (x{width}; links are x{widths}); left unknown"


def _pool(files: SysfsFiles, rel: str, problems: Problems) -> P2PPool | None:
    values: dict[str, int] = {}
    try:
        entries = dict(files.entries(rel))
    except OSError as exc:
        problems.skip(rel, exc)
        return None
    for name in ("size", "available", "published"):
        if entries.get(name) is not Kind.FILE:
            problems.skipped.append(f"{files.show(rel)}: no '{name}' file; P2P pool ignored")
            return None
        path = f"{rel}/{name}"
        try:
            text = files.read(path, 64).decode("ascii", "replace").strip()
        except OSError as exc:
            problems.skip(path, exc)
            return None
        if not text.isdigit():
            problems.odd(path, "have a P2P pool file that is not a decimal number; pool ignored", repr(text[:20]))
            return None
        values[name] = int(text)
    size, available = values["size"], values["available"]
    if size > MAX_POOL_BYTES:
        problems.odd(f"{rel}/size", "have a P2P pool of more than 64 TiB; pool ignored", str(size))
        return None
    if available > size:
        problems.odd(
            f"{rel}/available",
            "have more P2P memory available than the pool holds; pool ignored",
            f"{available} of {size}",
        )
        return None
    if values["published"] not in (0, 1):
        problems.odd(
            f"{rel}/published", "have a P2P pool 'published' other than 0 or 1; pool ignored", str(values["published"])
        )
        return None
    return P2PPool(size, available, published=values["published"] == 1, allocate="allocate" in entries)
