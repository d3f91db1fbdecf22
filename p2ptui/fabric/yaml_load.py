"""Load a fabric from YAML (format documented in docs/fabric-format.md), reporting every problem with its place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Diagnostic, InputError, Location
from . import acs as acsbits
from .acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from .bdf import BDF, parse_bus
from .kinds import DeviceKind, bridge_kind_for_position, endpoint_kind_from_class
from .model import Device, Fabric, FabricError, Host, IommuMode, Link, P2PPool, RootBus
from .naming import default_names
from .units import parse_bandwidth, parse_size
from .yaml_nodes import Node, NodeReader, describe_node, is_null

FORMAT_TAG = "p2ptui-fabric/1"
MAX_FILE_BYTES = 16 << 20  # the 2,048-device sample is ~0.6 MB; tens of MB is not a fabric someone wrote
MAX_BANDWIDTH_GBPS = 10_000.0  # 10 TB/s: beyond any PCIe or DRAM figure, so a unit slip

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

TOP_KEYS = ("format", "name", "description", "host", "notes", "root_complexes")
HOST_KEYS = ("cpu", "arch", "kernel", "cmdline", "iommu", "memory_bandwidth")
CPU_KEYS = ("vendor", "family", "model")
ROOT_KEYS = ("bus", "host_bridge", "numa_node", "p2p", "devices")
P2P_CAP_KEYS = ("read", "write")
DEVICE_KEYS = (
    "bdf", "kind", "name", "id", "subsystem", "class", "revision", "product", "driver", "numa_node",
    "iommu_group", "link", "acs", "p2pmem", "physfn", "vfs", "children",
)  # fmt: skip
LINK_KEYS = ("gen", "width", "max_gen", "max_width", "mps", "mrrs")
ACS_KEYS = ("cap", "ctrl", "firmware")
POOL_KEYS = ("size", "available", "published", "allocate")

IOMMU_MODES = {
    "off": IommuMode.OFF,
    "passthrough": IommuMode.PASSTHROUGH,
    "pt": IommuMode.PASSTHROUGH,
    "translated": IommuMode.TRANSLATED,
    "on": IommuMode.TRANSLATED,
    "unknown": IommuMode.UNKNOWN,
}
KINDS = {k.value: k for k in DeviceKind}
_LINK_RE = re.compile(r"^\s*gen\s*(\d+)\s*x\s*(\d+)\s*$", re.IGNORECASE)
_IDS_RE = re.compile(r"^([0-9a-fA-F]{4}|\?{4}):([0-9a-fA-F]{4}|\?{4})$")
_CLASS_RE = re.compile(r"^(?:0x)?([0-9a-fA-F]{4}|[0-9a-fA-F]{6})$")
DEFAULT_KERNEL_ACS_CAP = acsbits.ALL_BITS


@dataclass
class _Entry:
    """One device as read from the file, before the model sees it."""

    node: Node
    fields: dict[str, Node]
    bdf: BDF | None
    parent: _Entry | None
    kind: DeviceKind | None = None
    name: str | None = None
    physfn_bdf: BDF | None = None
    pf_entry: _Entry | None = None
    values: dict = field(default_factory=dict)
    ok: bool = True  # False when this entry or anything it depends on failed to read


def load_fabric(path: str | os.PathLike) -> Fabric:
    """Read a fabric file; raises InputError listing every problem as file:line:column."""
    path = Path(path)
    name = str(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise InputError(
                Diagnostic(
                    f"file is {size / 1e6:.1f} MB; fabric files are limited to {MAX_FILE_BYTES >> 20} MiB",
                    Location(name),
                    "is this really a fabric description?",
                )
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read file: {exc.strerror or exc}", Location(name))) from None
    return loads_fabric(data, name, default_name=path.stem)


def loads_fabric(data: bytes | str, filename: str = "<string>", default_name: str = "fabric") -> Fabric:
    text = _decode(data, filename)
    reader = NodeReader(filename)
    try:
        root = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(filename, mark.line + 1, mark.column + 1) if mark else Location(filename)
        raise InputError(Diagnostic(f"YAML syntax error: {exc.problem or exc.context}", where)) from None
    except yaml.YAMLError as exc:
        raise InputError(Diagnostic(f"YAML error: {exc}", Location(filename))) from None
    if root is None:
        raise InputError(Diagnostic("file is empty: a fabric needs at least root_complexes", Location(filename, 1, 1)))
    if not isinstance(root, yaml.MappingNode):
        raise InputError(
            Diagnostic(
                f"the top level must be a mapping with keys such as name and root_complexes, not {describe_node(root)}",
                reader.location(root),
            )
        )
    return _FabricReader(reader, default_name).read(root)


def _decode(data: bytes | str, filename: str) -> str:
    if isinstance(data, str):
        raw = data.encode("utf-8", "surrogatepass")
    else:
        raw = data
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(
            Diagnostic(f"input is {len(raw) / 1e6:.1f} MB; fabric files are limited to 16 MiB", Location(filename))
        )
    nul = raw.find(b"\0")
    if nul >= 0:
        raise InputError(Diagnostic("binary data (a NUL byte), not a YAML fabric", _offset_location(raw, nul, filename)))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            Diagnostic("not UTF-8 text, so not a YAML fabric", _offset_location(raw, exc.start, filename))
        ) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return text


def _offset_location(raw: bytes, offset: int, filename: str) -> Location:
    line = raw.count(b"\n", 0, offset) + 1
    column = offset - (raw.rfind(b"\n", 0, offset) + 1) + 1
    return Location(filename, line, column)


class _FabricReader:
    def __init__(self, reader: NodeReader, default_name: str):
        self.r = reader
        self.default_name = default_name
        self.entries: list[_Entry] = []
        self.seen_nodes: set[int] = set()

    def read(self, root: Node) -> Fabric:
        r = self.r
        top = r.mapping(root, "the fabric", TOP_KEYS) or {}
        if "format" in top:
            fmt = r.text(top["format"][1], "format")
            if fmt is not None and fmt != FORMAT_TAG:
                r.error(top["format"][1], f"unsupported format {fmt!r}", f"this version reads {FORMAT_TAG}")
        name = self.default_name
        if "name" in top:
            name = r.text(top["name"][1], "name") or name
        description = ""
        if "description" in top and not is_null(top["description"][1]):
            description = (r.text(top["description"][1], "description") or "").strip()
        host = self._host(top["host"][1]) if "host" in top else Host()
        notes: list[str] = []
        if "notes" in top:
            for item in r.sequence(top["notes"][1], "notes") or []:
                note = r.text(item, "a note")
                if note is not None:
                    notes.append(note)
        root_buses: list[RootBus] = []
        if "root_complexes" not in top:
            r.error(root, "missing key 'root_complexes'", "a fabric lists its root complexes and what hangs below them")
        else:
            root_buses = self._root_complexes(top["root_complexes"][1])
        devices, sources = self._devices()
        if r.diagnostics:
            # Structure is still checked on what did read cleanly, so one run shows every problem.
            self._structure(root_buses, devices, sources, name)
            raise InputError(r.diagnostics)
        return self._structure(root_buses, devices, sources, name, host=host, description=description, notes=notes)

    # -- host ---------------------------------------------------------------------------------------------------
    def _host(self, node: Node) -> Host:
        r = self.r
        keys = r.mapping(node, "host", HOST_KEYS)
        if keys is None:
            return Host()
        values: dict = {}
        if "cpu" in keys:
            values.update(self._cpu(keys["cpu"][1]))
        if "arch" in keys:
            values["arch"] = r.text(keys["arch"][1], "arch") or "x86_64"
        if "kernel" in keys and not is_null(keys["kernel"][1]):
            values["kernel"] = r.text(keys["kernel"][1], "kernel version")
        if "cmdline" in keys and not is_null(keys["cmdline"][1]):
            values["cmdline"] = r.text(keys["cmdline"][1], "kernel command line") or ""
        if "iommu" in keys:
            mode = r.choice(keys["iommu"][1], "IOMMU mode", IOMMU_MODES)
            if mode is not None:
                values["iommu"] = mode
        if "memory_bandwidth" in keys:
            values["memory_bandwidth"] = self._bandwidth(keys["memory_bandwidth"][1], "memory_bandwidth")
        return Host(**{k: v for k, v in values.items() if v is not None})

    def _cpu(self, node: Node) -> dict:
        r = self.r
        if isinstance(node, yaml.ScalarNode):
            vendor, _, family = node.value.partition(":")
            result = {"cpu_vendor": vendor.strip().lower() or None}
            if family:
                try:
                    result["cpu_family"] = int(family, 0)
                except ValueError:
                    r.error(node, f"CPU family {family!r} is not a number", "write e.g. amd:0x19 or amd:25")
            return result
        keys = r.mapping(node, "cpu", CPU_KEYS)
        if keys is None:
            return {}
        result = {}
        if "vendor" in keys:
            vendor = r.text(keys["vendor"][1], "CPU vendor")
            result["cpu_vendor"] = vendor.strip().lower() if vendor else None
        if "family" in keys:
            result["cpu_family"] = r.integer(keys["family"][1], "CPU family", 0, 0xFFF)
        if "model" in keys:
            result["cpu_model"] = r.text(keys["model"][1], "CPU model")
        return result

    def _bandwidth(self, node: Node, what: str) -> float | None:
        value = self.r.parsed(node, what, parse_bandwidth)
        if value is not None and value > MAX_BANDWIDTH_GBPS:
            self.r.error(node, f"{what} of {value:g} GB/s is absurd", "more than 10 TB/s; check the unit")
            return None
        return value

    # -- root complexes -----------------------------------------------------------------------------------------
    def _root_complexes(self, node: Node) -> list[RootBus]:
        r = self.r
        buses: list[RootBus] = []
        seen: dict[tuple[int, int], Node] = {}
        for item in r.sequence(node, "root_complexes") or []:
            keys = r.mapping(item, "a root complex", ROOT_KEYS)
            if keys is None:
                continue
            if "bus" not in keys:
                r.error(item, "root complex without 'bus'", "write e.g. bus: 0000:00")
                continue
            bus_id = r.parsed(keys["bus"][1], "bus", parse_bus)
            values: dict = {}
            if "host_bridge" in keys:
                values["host_bridge"] = r.text(keys["host_bridge"][1], "host_bridge") or ""
            if "numa_node" in keys:
                values["numa_node"] = r.integer(keys["numa_node"][1], "numa_node", -1, 4095)
            if "p2p" in keys:
                caps = r.mapping(keys["p2p"][1], "p2p", P2P_CAP_KEYS) or {}
                for cap in P2P_CAP_KEYS:
                    if cap in caps:
                        values[f"p2p_{cap}"] = self._bandwidth(caps[cap][1], f"p2p {cap}")
            if bus_id is not None:
                if bus_id in seen:
                    r.error(keys["bus"][1], f"root bus {bus_id[0]:04x}:{bus_id[1]:02x} is declared twice",
                            f"first at line {seen[bus_id].start_mark.line + 1}")  # fmt: skip
                else:
                    seen[bus_id] = keys["bus"][1]
                    buses.append(RootBus(bus_id[0], bus_id[1], **values))
            if "devices" in keys:
                domain, bus = bus_id if bus_id is not None else (0, 0)
                for dev_node in r.sequence(keys["devices"][1], "devices") or []:
                    self._device(dev_node, None, domain, bus_ok=bus_id is not None, root_bus=bus)
        return buses

    # -- devices ------------------------------------------------------------------------------------------------
    def _device(self, node: Node, parent: _Entry | None, domain: int, bus_ok: bool, root_bus: int | None = None,
                pf: _Entry | None = None) -> None:  # fmt: skip
        r = self.r
        if id(node) in self.seen_nodes:
            r.error(node, "the same device is listed twice through a YAML alias", "write every function once")
            return
        self.seen_nodes.add(id(node))
        keys = r.mapping(node, "a device", DEVICE_KEYS)
        if keys is None:
            return
        fields = {k: v for k, (_, v) in keys.items()}
        bdf = None
        if "bdf" not in fields:
            r.error(node, "device without 'bdf'", "every function needs its PCI address, e.g. bdf: 03:00.0")
        else:
            bdf = r.parsed(fields["bdf"], "bdf", lambda t: BDF.parse(t, default_domain=domain))
            if bdf is not None and parent is None and pf is None and root_bus is not None and bus_ok:
                if (bdf.domain, bdf.bus) != (domain, root_bus):
                    r.error(fields["bdf"], f"{bdf} is listed on root bus {domain:04x}:{root_bus:02x} but is on bus "
                            f"{bdf.domain:04x}:{bdf.bus:02x}", "devices of a root complex sit on its root bus; "
                            "put the others below their bridge")  # fmt: skip
                    bdf = None
        entry = _Entry(node, fields, bdf, parent)
        entry.ok = bdf is not None and bus_ok and (parent is None or parent.ok) and (pf is None or pf.ok)
        before = len(r.diagnostics)
        self._device_values(entry, pf)
        if len(r.diagnostics) > before:
            entry.ok = False
        self.entries.append(entry)
        child_domain = bdf.domain if bdf is not None else domain
        if "vfs" in fields:
            if "physfn" in fields:
                r.error(fields["vfs"], "a VF cannot have VFs of its own")
            for vf_node in r.sequence(fields["vfs"], "vfs") or []:
                self._device(vf_node, parent, child_domain, bus_ok, pf=entry)
        if "children" in fields:
            for child in r.sequence(fields["children"], "children") or []:
                self._device(child, entry, child_domain, bus_ok)

    def _device_values(self, e: _Entry, pf: _Entry | None) -> None:
        r, f, v = self.r, e.fields, e.values
        if "name" in f:
            e.name = r.text(f["name"], "name")
            if e.name is not None and not e.name.strip():
                r.error(f["name"], "name is empty")
        if "id" in f:
            ids = r.parsed(f["id"], "id", _parse_ids)
            if ids is not None:
                v["vendor_id"], v["device_id"] = ids
        if "subsystem" in f:
            ids = r.parsed(f["subsystem"], "subsystem", _parse_ids)
            if ids is not None:
                v["subsystem_vendor_id"], v["subsystem_device_id"] = ids
        if "class" in f:
            v["class_code"] = r.parsed(f["class"], "class", _parse_class)
        if "revision" in f:
            v["revision"] = r.integer(f["revision"], "revision", 0, 0xFF)
        for key in ("product", "driver"):
            if key in f and not is_null(f[key]):
                v[key] = r.text(f[key], key)
        if "numa_node" in f:
            v["numa_node"] = r.integer(f["numa_node"], "numa_node", -1, 4095)
        if "iommu_group" in f:
            v["iommu_group"] = r.integer(f["iommu_group"], "iommu_group", 0)
        if "link" in f:
            v["link"] = self._link(f["link"])
        if "acs" in f:
            v["acs"] = self._acs(f["acs"])
        if "p2pmem" in f:
            v["pool"] = self._pool(f["p2pmem"])
        if "physfn" in f:
            if pf is not None:
                r.error(f["physfn"], "a VF listed under 'vfs' already has its PF", "drop the physfn key")
            else:
                e.physfn_bdf = r.parsed(f["physfn"], "physfn", lambda t: BDF.parse(t, e.bdf.domain if e.bdf else 0))
        e.pf_entry = pf
        kind = None
        if "kind" in f:
            kind = r.choice(f["kind"], "device kind", KINDS)
        e.kind = kind or self._infer_kind(e, pf)

    def _infer_kind(self, e: _Entry, pf: _Entry | None) -> DeviceKind:
        if pf is not None and pf.kind is not None:
            return pf.kind
        if "children" in e.fields:
            return bridge_kind_for_position(e.parent.kind if e.parent else None)
        return endpoint_kind_from_class(e.values.get("class_code"))

    def _link(self, node: Node) -> Link | None:
        r = self.r
        if isinstance(node, yaml.ScalarNode):
            if node.value.strip().lower() == "unknown":
                return Link(mps=None, mrrs=None)
            match = _LINK_RE.match(node.value)
            if not match:
                r.error(node, f"malformed link {node.value!r}", "write e.g. 'gen4 x16' or a mapping with gen and width")
                return None
            gen, width = int(match[1]), int(match[2])
            return Link(gen, width, gen, width)
        keys = r.mapping(node, "link", LINK_KEYS)
        if keys is None:
            return None
        values: dict = {}
        for key in LINK_KEYS:
            if key in keys:
                value_node = keys[key][1]
                if isinstance(value_node, yaml.ScalarNode) and value_node.value.strip().lower() == "unknown":
                    values[key] = None
                else:
                    values[key] = r.integer(value_node, f"link {key}", 0)
        values.setdefault("max_gen", values.get("gen"))
        values.setdefault("max_width", values.get("width"))
        return Link(**values)

    def _acs(self, node: Node) -> Acs | None:
        r = self.r
        if isinstance(node, yaml.ScalarNode):
            word = node.value.strip().lower()
            if word == "none":
                return ACS_NONE
            if word == "unknown":
                return ACS_UNKNOWN
            if word == AcsSource.KERNEL_DEFAULT.value:
                return Acs(AcsSource.KERNEL_DEFAULT, cap=DEFAULT_KERNEL_ACS_CAP)
            r.error(node, f"unknown ACS state {node.value!r}",
                    "write none, unknown, kernel-default, or a mapping with cap and ctrl")  # fmt: skip
            return None
        keys = r.mapping(node, "acs", ACS_KEYS)
        if keys is None:
            return None
        if "cap" not in keys:
            r.error(node, "acs mapping without 'cap'", "list the capability bits, e.g. cap: [SV, RR, CR, UF, EC]")
            return None
        cap = self._acs_bits(keys["cap"][1], "ACS cap")
        source, ctrl = AcsSource.HARDWARE, 0
        if "ctrl" in keys:
            ctrl_node = keys["ctrl"][1]
            if isinstance(ctrl_node, yaml.ScalarNode) and ctrl_node.value.strip().lower() == "kernel-default":
                source = AcsSource.KERNEL_DEFAULT
            else:
                ctrl = self._acs_bits(ctrl_node, "ACS ctrl")
        firmware = 0
        if "firmware" in keys:
            if source is not AcsSource.KERNEL_DEFAULT:
                r.error(keys["firmware"][0], "'firmware' only goes with ctrl: kernel-default",
                        "with a hardware ctrl value, the live register already includes what firmware set")  # fmt: skip
            firmware = self._acs_bits(keys["firmware"][1], "ACS firmware")
        if cap is None or ctrl is None or firmware is None:
            return None
        return Acs(source, cap=cap, ctrl=ctrl, firmware_ctrl=firmware)

    def _acs_bits(self, node: Node, what: str) -> int | None:
        r = self.r
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            return r.integer(node, what, 0, 0xFFFF)
        value = 0
        for item in r.sequence(node, what) or []:
            name = r.text(item, f"{what} bit")
            if name is None:
                return None
            bit = acsbits.BIT_NAMES.get(name.strip().upper())
            if bit is None:
                r.error(item, f"unknown {what} bit {name!r}", f"known bits: {' '.join(acsbits.BIT_NAMES)}")
                return None
            value |= bit
        return value

    def _pool(self, node: Node) -> P2PPool | None:
        r = self.r
        if isinstance(node, yaml.ScalarNode):
            size = r.parsed(node, "p2pmem size", parse_size)
            return P2PPool(size, size) if size is not None else None
        keys = r.mapping(node, "p2pmem", POOL_KEYS)
        if keys is None:
            return None
        if "size" not in keys:
            r.error(node, "p2pmem without 'size'", "write e.g. p2pmem: {size: 256MiB}")
            return None
        size = r.parsed(keys["size"][1], "p2pmem size", parse_size)
        available = r.parsed(keys["available"][1], "p2pmem available", parse_size) if "available" in keys else size
        published = r.boolean(keys["published"][1], "published") if "published" in keys else True
        allocate = r.boolean(keys["allocate"][1], "allocate") if "allocate" in keys else True
        if None in (size, available, published, allocate):
            return None
        return P2PPool(size, available, published, allocate)

    # -- assembly -----------------------------------------------------------------------------------------------
    def _devices(self) -> tuple[list[Device], list[_Entry]]:
        by_bdf = {e.bdf: e for e in self.entries if e.bdf is not None}
        for e in self.entries:
            if e.physfn_bdf is not None:
                e.pf_entry = by_bdf.get(e.physfn_bdf)
        # Entries depend on their parent and PF; one failure removes what hangs on it, so it is reported once.
        changed = True
        while changed:
            changed = False
            for e in self.entries:
                bad = (e.parent is not None and not e.parent.ok) or (e.pf_entry is not None and not e.pf_entry.ok)
                if e.ok and bad:
                    e.ok, changed = False, True
        usable = [e for e in self.entries if e.ok]
        unnamed = sorted((e for e in usable if e.name is None), key=lambda e: e.bdf)
        for e, name in zip(unnamed, default_names((e.kind for e in unnamed), (e.name for e in usable if e.name))):
            e.name = name
        devices = []
        for e in usable:
            pf = e.pf_entry
            physfn = pf.bdf if pf is not None else e.physfn_bdf
            parent = e.parent.bdf if e.parent is not None else None
            devices.append(Device(e.bdf, e.kind, e.name, parent=parent, physfn=physfn,
                                  **{k: x for k, x in e.values.items() if x is not None}))  # fmt: skip
        return devices, usable

    def _structure(self, root_buses, devices, sources, name, **fabric_fields) -> Fabric | None:
        try:
            return Fabric(name=name, root_buses=tuple(root_buses), devices=tuple(devices), **fabric_fields)
        except FabricError as exc:
            for problem in exc.problems:
                node = None
                if problem.index is not None:
                    entry = sources[problem.index]
                    key = {"pool": "p2pmem"}.get(problem.field or "", problem.field or "bdf")
                    node = entry.fields.get(key) or entry.fields.get("bdf") or entry.node
                self.r.error(node, problem.message, problem.hint)
            raise InputError(self.r.diagnostics) from None


def _parse_ids(text: str) -> tuple[int | None, int | None]:
    """``vvvv:dddd`` in hex; ``????`` stands for a half the source did not know."""
    match = _IDS_RE.match(text.strip())
    if not match:
        raise ValueError(f"expected vendor:device as two 4-digit hex numbers, e.g. 8086:2030, not {text!r}")
    return tuple(None if half == "????" else int(half, 16) for half in (match[1], match[2]))


def _parse_class(text: str) -> int:
    match = _CLASS_RE.match(text.strip())
    if not match:
        raise ValueError(f"expected a class code in hex, e.g. 0x010802 or 0108, not {text!r}")
    digits = match[1]
    return int(digits, 16) << 8 if len(digits) == 4 else int(digits, 16)
