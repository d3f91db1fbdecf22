"""JSON fabrics, as ``p2ptui convert X out.json`` and ``p2ptui show --json`` write them (formats/export.py), read
back to the same Fabric.

The JSON is the model flat: devices in a list, each naming its parent. Fields the export derives (a device's
upstream bridge, root bus and siblings, a root bus's representative, a link's ``downtrained``) are ignored, and so
is any key this reader does not know, so that a script may add its own. Values are held to the same ranges as the
YAML loader (fabric/limits.py) and the model's checks. Errors name the field as a JSON path and the line of the
device, root bus or host it belongs to.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from ..errors import Diagnostic, InputError, Location
from ..fabric import acs as acsbits
from ..fabric.acs import Acs, AcsSource
from ..fabric.bdf import BDF, parse_bus
from ..fabric.kinds import DeviceKind
from ..fabric.limits import CPU_FAMILY, IOMMU_GROUP, NUMA_NODE, spell, within
from ..fabric.model import (
    AerCounts,
    Device,
    Fabric,
    FabricError,
    Host,
    IommuMode,
    Link,
    P2PPool,
    RootBus,
)
from ..fabric.units import parse_bandwidth
from ..formats.yaml_nodes import MAX_BANDWIDTH_GBPS
from .xml_input import read_input

T = TypeVar("T")

SUFFIXES = (".json",)
_OBJECT_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*\{")
_MARKER = re.compile(rb'"root_buses"\s*:')  # the export's own key; YAML fabrics say root_complexes
_HEX_RE = re.compile(r"^[0-9a-fA-F]{1,8}$")
_KINDS = {k.value: k for k in DeviceKind}
_IOMMU = {m.value: m for m in IommuMode}
_ACS_SOURCES = {s.value: s for s in AcsSource}


def sniff(path: Path, head: bytes) -> bool:
    """A JSON object that has the export's keys (or any JSON object in a ``.json`` file, so its errors are JSON's)."""
    if not _OBJECT_START.match(head):
        return False
    return path.suffix.lower() in SUFFIXES or _MARKER.search(head) is not None


def load(path: Path) -> Fabric:
    return loads_json(read_input(Path(path), "JSON fabric"), str(path), Path(path).stem)


def loads_json(data: bytes, filename: str = "<string>", default_name: str = "fabric") -> Fabric:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise InputError(
            Diagnostic(
                f"not UTF-8 text (byte {data[exc.start]:#04x}), so not a JSON fabric",
                Location(filename, line),
                "JSON is UTF-8",
            )
        ) from None
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(
            Diagnostic(f"JSON syntax error: {exc.msg}", Location(filename, exc.lineno, exc.colno))
        ) from None
    except RecursionError:
        raise InputError(
            Diagnostic("JSON nested too deeply; a fabric is a few levels deep", Location(filename))
        ) from None
    except ValueError as exc:  # a number with more digits than Python converts
        raise InputError(Diagnostic(f"JSON value out of range: {str(exc).split(':')[0]}", Location(filename))) from None
    return _Reader(filename, text).fabric(doc, default_name)


class _Reader:
    def __init__(self, filename: str, text: str):
        self.filename = filename
        self.diagnostics: list[Diagnostic] = []
        # Where each device, root bus and the host start: the n-th "bdf" key is the n-th device's (a key cannot occur
        # inside a JSON string unescaped), used only when the counts agree with what was parsed.
        self._lines = {key: _key_lines(text, key) for key in ("bdf", "bus", "host")}

    # -- problems ---------------------------------------------------------------------------------------------------
    def where(self, key: str, index: int = 0, count: int | None = None) -> Location:
        lines = self._lines[key]
        if count is not None and len(lines) < count or index >= len(lines):  # (unplaced entries' come after)
            return Location(self.filename)
        return Location(self.filename, lines[index])

    def error(self, at: Location, path: str, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(f"{path}: {message}", at, hint))

    # -- the document -----------------------------------------------------------------------------------------------
    def fabric(self, doc: Any, default_name: str) -> Fabric:
        top = Location(self.filename, 1, 1)
        if not isinstance(doc, dict):
            raise InputError(
                Diagnostic(
                    f"a JSON fabric is an object, not {_what(doc)}",
                    top,
                    "as written by p2ptui convert IN OUT.json or p2ptui show --json",
                )
            )
        for key in ("root_buses", "devices"):
            if key not in doc:
                self.error(top, key, "missing", "a JSON fabric lists its root buses and devices")
        name = self.text(doc.get("name"), top, "name") or default_name
        description = self.text(doc.get("description"), top, "description") or ""
        notes = [
            note
            for i, item in enumerate(self.items(doc.get("notes"), top, "notes"))
            if (note := self.text(item, top, f"notes[{i}]", required=True)) is not None
        ]
        host = self.host(doc.get("host"))
        raw_buses = self.items(doc.get("root_buses"), top, "root_buses")
        buses = [b for i, item in enumerate(raw_buses) if (b := self.root_bus(item, i, len(raw_buses))) is not None]
        raw_devices = self.items(doc.get("devices"), top, "devices")
        devices = [d for i, item in enumerate(raw_devices) if (d := self.device(item, i, len(raw_devices))) is not None]
        # Entries the source could not place (conflicts): kept beside the tree, as the export lists them.
        raw_unplaced = self.items(doc.get("unplaced"), top, "unplaced")
        unplaced = [
            d for i, item in enumerate(raw_unplaced) if (d := self.device(item, i, None, "unplaced")) is not None
        ]
        if self.diagnostics:
            raise InputError(self.diagnostics)
        try:
            return Fabric(name, tuple(buses), tuple(devices), host, description, tuple(notes), tuple(unplaced))
        except FabricError as exc:
            raise InputError(
                [
                    Diagnostic(
                        p.message,
                        self.where("bdf", p.index, len(raw_devices))
                        if p.index is not None
                        else Location(self.filename),
                        p.hint,
                    )
                    for p in exc.problems
                ]
            ) from None

    def host(self, value: Any) -> Host:
        at = self.where("host", 0, 1)
        if value is None:
            return Host()
        if not isinstance(value, dict):
            self.error(at, "host", f"must be an object, not {_what(value)}")
            return Host()
        fields: dict[str, Any] = {}
        for key in ("cpu_vendor", "cpu_model", "kernel"):
            fields[key] = self.text(value.get(key), at, f"host.{key}")
        fields["arch"] = self.text(value.get("arch"), at, "host.arch") or Host().arch
        fields["cmdline"] = self.text(value.get("cmdline"), at, "host.cmdline") or ""
        fields["cpu_family"] = self.integer(value.get("cpu_family"), at, "host.cpu_family", CPU_FAMILY)
        fields["iommu"] = self.choice(value.get("iommu"), at, "host.iommu", _IOMMU) or Host().iommu
        fields["memory_bandwidth"] = self.bandwidth(
            value.get("memory_bandwidth_gbps"), at, "host.memory_bandwidth_gbps"
        )
        return Host(**fields)

    def root_bus(self, value: Any, i: int, count: int) -> RootBus | None:
        at, path = self.where("bus", i, count), f"root_buses[{i}]"
        if not isinstance(value, dict):
            self.error(at, path, f"must be an object, not {_what(value)}")
            return None
        bus = self.parsed(value.get("bus"), at, f"{path}.bus", parse_bus)
        host_bridge = self.text(value.get("host_bridge"), at, f"{path}.host_bridge") or ""
        numa = self.integer(value.get("numa_node"), at, f"{path}.numa_node", NUMA_NODE)
        read = self.bandwidth(value.get("p2p_read_gbps"), at, f"{path}.p2p_read_gbps")
        write = self.bandwidth(value.get("p2p_write_gbps"), at, f"{path}.p2p_write_gbps")
        if bus is None:
            if value.get("bus") is None:
                self.error(at, f"{path}.bus", "missing")
            return None
        return RootBus(bus[0], bus[1], host_bridge, numa, read, write)

    def device(self, value: Any, i: int, count: int | None, key: str = "devices") -> Device | None:
        at = self.where("bdf", i, count) if count is not None else Location(self.filename)
        path = f"{key}[{i}]"
        if not isinstance(value, dict):
            self.error(at, path, f"must be an object, not {_what(value)}")
            return None
        before = len(self.diagnostics)
        bdf = self.parsed(value.get("bdf"), at, f"{path}.bdf", BDF.parse)
        kind = self.choice(value.get("kind"), at, f"{path}.kind", _KINDS)
        name = self.text(value.get("name"), at, f"{path}.name")
        for key, missing in (("bdf", bdf), ("kind", kind), ("name", name)):
            if value.get(key) is None and missing is None:
                self.error(at, f"{path}.{key}", "missing")
        fields: dict[str, Any] = {
            "parent": self.parsed(value.get("parent"), at, f"{path}.parent", BDF.parse),
            "physfn": self.parsed(value.get("physfn"), at, f"{path}.physfn", BDF.parse),
            "product": self.text(value.get("product"), at, f"{path}.product"),
            "driver": self.text(value.get("driver"), at, f"{path}.driver"),
            "numa_node": self.integer(value.get("numa_node"), at, f"{path}.numa_node", NUMA_NODE),
            "iommu_group": self.integer(value.get("iommu_group"), at, f"{path}.iommu_group", IOMMU_GROUP),
            "link": self.link(value.get("link"), at, f"{path}.link"),
            "acs": self.acs(value.get("acs"), at, f"{path}.acs"),
            "pool": self.pool(value.get("p2pmem"), at, f"{path}.p2pmem"),
            "integrated": self.flag(value.get("integrated"), at, f"{path}.integrated", default=False),
            "conflict": self.text(value.get("conflict"), at, f"{path}.conflict") or "",
            "slot": self.text(value.get("slot"), at, f"{path}.slot"),
            "aer": self.aer(value.get("aer"), at, f"{path}.aer"),
        }
        for key, top in (
            ("vendor_id", 0xFFFF),
            ("device_id", 0xFFFF),
            ("class_code", 0xFFFFFF),
            ("subsystem_vendor_id", 0xFFFF),
            ("subsystem_device_id", 0xFFFF),
            ("revision", 0xFF),
        ):
            fields[key] = self.hex(value.get(key), at, f"{path}.{key}", top)
        if len(self.diagnostics) > before or bdf is None or kind is None or name is None:
            return None
        return Device(bdf, kind, name, **fields)

    # -- value types --------------------------------------------------------------------------------------------------
    def aer(self, value: Any, at: Location, path: str) -> AerCounts | None:
        """AER totals as the export writes them (``{correctable, nonfatal, fatal}``), or null."""
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(at, path, f"expected an object or null, not {_what(value)}")
            return None
        counts = {
            k: self.integer(value.get(k, 0), at, f"{path}.{k}", (0, 2**63 - 1)) or 0
            for k in ("correctable", "nonfatal", "fatal")
        }
        return AerCounts(**counts)

    def link(self, value: Any, at: Location, path: str) -> Link | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(at, path, f"must be an object or null, not {_what(value)}")
            return None
        wide = (0, 1 << 16)  # the model's checks say which values are PCIe's; this only keeps them integers
        fields = {
            key: self.integer(value.get(key), at, f"{path}.{key}", wide)
            for key in ("gen", "width", "max_gen", "max_width", "mps", "mrrs")
        }
        return Link(**fields, down=self.flag(value.get("down"), at, f"{path}.down", default=False))

    def acs(self, value: Any, at: Location, path: str) -> Acs:
        if value is None:
            return Acs()
        if not isinstance(value, dict):
            self.error(at, path, f"must be an object, not {_what(value)}")
            return Acs()
        source = self.choice(value.get("source"), at, f"{path}.source", _ACS_SOURCES) or AcsSource.NONE
        cap = self.bits(value.get("cap"), at, f"{path}.cap")
        ctrl = self.bits(value.get("ctrl"), at, f"{path}.ctrl")
        firmware = self.bits(value.get("firmware_ctrl"), at, f"{path}.firmware_ctrl")
        return Acs(source, cap, ctrl, firmware)

    def bits(self, value: Any, at: Location, path: str) -> int:
        """A list of ACS bit names (``["SV", "RR"]``), bits without a name as hex (``"0x80"``); null is none."""
        total = 0
        for i, item in enumerate(self.items(value, at, path)):
            if isinstance(item, str) and item in acsbits.BIT_NAMES:
                total |= acsbits.BIT_NAMES[item]
            elif isinstance(item, str) and item.lower().startswith("0x") and _HEX_RE.match(item[2:]):
                total |= int(item, 16)
            else:
                self.error(
                    at,
                    f"{path}[{i}]",
                    f"{_show(item)} is not an ACS bit",
                    f"one of {', '.join(acsbits.BIT_NAMES)} or a hex value",
                )
        return total

    def pool(self, value: Any, at: Location, path: str) -> P2PPool | None:
        if value is None:
            return None
        if not isinstance(value, dict):
            self.error(at, path, f"must be an object or null, not {_what(value)}")
            return None
        size = self.integer(value.get("size"), at, f"{path}.size", (0, 1 << 62))
        available = self.integer(value.get("available"), at, f"{path}.available", (0, 1 << 62))
        flags = [self.flag(value.get(key), at, f"{path}.{key}") for key in ("published", "allocate")]
        if size is None:
            self.error(at, f"{path}.size", "missing")
            return None
        return P2PPool(size, size if available is None else available, *flags)

    # -- scalars ------------------------------------------------------------------------------------------------------
    def items(self, value: Any, at: Location, path: str) -> list:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(at, path, f"must be a list, not {_what(value)}")
            return []
        return value

    def text(self, value: Any, at: Location, path: str, required: bool = False) -> str | None:
        if value is None and not required:
            return None
        if not isinstance(value, str):
            self.error(at, path, f"must be a string, not {_what(value)}")
            return None
        return value

    def integer(self, value: Any, at: Location, path: str, bounds: tuple[int, int]) -> int | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(at, path, f"must be a whole number, not {_what(value)}")
            return None
        if not within(value, bounds):
            self.error(at, path, f"{value} is out of range", f"expected {spell(bounds)}")
            return None
        return value

    def hex(self, value: Any, at: Location, path: str, top: int) -> int | None:
        if value is None:
            return None
        if not isinstance(value, str) or not _HEX_RE.match(value) or int(value, 16) > top:
            self.error(at, path, f"{_show(value)} is not a hex value up to {top:#x}")
            return None
        return int(value, 16)

    def flag(self, value: Any, at: Location, path: str, default: bool = True) -> bool:
        if value is None:
            return default
        if not isinstance(value, bool):
            self.error(at, path, f"must be true or false, not {_what(value)}")
            return default
        return value

    def bandwidth(self, value: Any, at: Location, path: str) -> float | None:
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            self.error(at, path, f"must be a number of GB/s, not {_what(value)}")
            return None
        try:
            gbps: float | None = parse_bandwidth(value)
        except ValueError as exc:
            self.error(at, path, str(exc))
            return None
        if gbps is not None and gbps > MAX_BANDWIDTH_GBPS:
            self.error(at, path, f"{gbps:g} GB/s is absurd", "more than 10 TB/s; check the unit")
            return None
        return gbps

    def choice(self, value: Any, at: Location, path: str, options: dict[str, T]) -> T | None:
        if value is None:
            return None
        if not isinstance(value, str) or value not in options:
            self.error(at, path, f"{_show(value)} is not one of {', '.join(options)}")
            return None
        return options[value]

    def parsed(self, value: Any, at: Location, path: str, parse: Callable[[Any], T]) -> T | None:
        if value is None:
            return None
        if not isinstance(value, str):
            self.error(at, path, f"must be a string, not {_what(value)}")
            return None
        try:
            return parse(value)
        except (ValueError, TypeError) as exc:
            self.error(at, path, str(exc))
            return None


def _key_lines(text: str, key: str) -> list[int]:
    lines = []
    line, last = 1, 0
    for match in re.finditer(rf'"{key}"\s*:', text):
        line += text.count("\n", last, match.start())
        last = match.start()
        lines.append(line)
    return lines


def _what(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "true/false",
        int: "a number",
        float: "a number",
        str: f"the string {_show(value)}",
        list: "a list",
        dict: "an object",
    }.get(type(value), type(value).__name__)


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
