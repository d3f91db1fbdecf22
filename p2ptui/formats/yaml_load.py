"""Load a fabric from YAML (format documented in docs/fabric-format.md), reporting every problem with its place."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Diagnostic, InputError, Location
from ..fabric.bdf import BDF, format_bus, parse_bus
from ..fabric.gc_pause import gc_paused
from ..fabric.kernel_version import kernel_release
from ..fabric.kinds import (
    CLASS_HOST_BRIDGE,
    CLASS_PCI_BRIDGE,
    DeviceKind,
    bridge_kind_for_position,
    endpoint_kind_from_class,
)
from ..fabric.limits import CPU_FAMILY, IOMMU_GROUP, NUMA_NODE, REVISION
from ..fabric.model import AerCounts, Device, Fabric, FabricError, Host, IommuMode, RootBus
from ..fabric.naming import default_names
from .yaml_nodes import DEFAULT_KERNEL_ACS_CAP, Node, ValueReader, describe_node, given, is_null, parse_int, shorten
from .yaml_text import compose, decode, read_limited

__all__ = ["DEFAULT_KERNEL_ACS_CAP", "FORMAT_TAG", "load_fabric", "loads_fabric"]

FORMAT_TAG = "p2ptui-fabric/1"
_IDS_RE = re.compile(r"^([0-9a-fA-F]{4}|\?{4}):([0-9a-fA-F]{4}|\?{4})$")
_CLASS_RE = re.compile(r"^(?:0x)?([0-9a-fA-F]{4}|[0-9a-fA-F]{6})$")
TOP_KEYS = ("format", "name", "description", "host", "notes", "root_complexes", "unplaced")
HOST_KEYS = ("cpu", "arch", "kernel", "cmdline", "iommu", "memory_bandwidth")
CPU_KEYS = ("vendor", "family", "model")
ROOT_KEYS = ("bus", "host_bridge", "numa_node", "p2p", "devices")
P2P_CAP_KEYS = ("read", "write")
DEVICE_KEYS = (
    "bdf",
    "kind",
    "name",
    "id",
    "subsystem",
    "class",
    "revision",
    "product",
    "driver",
    "numa_node",
    "iommu_group",
    "link",
    "acs",
    "p2pmem",
    "physfn",
    "vfs",
    "children",
    "integrated",
    "conflict",
    "slot",
    "aer",
)
AER_KEYS = ("correctable", "nonfatal", "fatal")

IOMMU_MODES = {
    "off": IommuMode.OFF,
    "passthrough": IommuMode.PASSTHROUGH,
    "pt": IommuMode.PASSTHROUGH,
    "translated": IommuMode.TRANSLATED,
    "on": IommuMode.TRANSLATED,
    "unknown": IommuMode.UNKNOWN,
}
KINDS = {k.value: k for k in DeviceKind}
UNPLACED_KEYS = tuple(k for k in DEVICE_KEYS if k not in ("vfs", "children")) + ("parent",)
# Where a structure problem about a model field is shown: the key that sets it (the address when none does).
_FIELD_KEYS = {"pool": "p2pmem", "parent": "bdf"}


@dataclass
class _Entry:
    """One device as read from the file, before the model sees it."""

    node: Node
    keys: dict[str, tuple[Node, Node]]  # key -> (key node, value node)
    parent: _Entry | None
    pf_entry: _Entry | None
    bdf: BDF | None = None
    kind: DeviceKind | None = None
    name: str | None = None
    physfn_bdf: BDF | None = None
    values: dict = field(default_factory=dict)
    ok: bool = True  # False when this entry or anything it depends on failed to read

    def value(self, key: str) -> Node:
        return self.keys[key][1]

    def line(self, key: str) -> int:
        return self.keys[key][0].start_mark.line + 1


def _file_order(diagnostic: Diagnostic) -> tuple[int, int]:
    where = diagnostic.location
    return (where.line or 0, where.column or 0) if where is not None else (0, 0)


def load_fabric(path: str | os.PathLike) -> Fabric:
    """Read a fabric file; raises InputError listing every problem as file:line:column."""
    return loads_fabric(read_limited(path), str(path), default_name=Path(path).stem)


def loads_fabric(data: bytes | str, filename: str = "<string>", default_name: str = "fabric") -> Fabric:
    """Read a fabric from YAML text or bytes; raises InputError listing every problem (and nothing else)."""
    text = decode(data, filename)
    with gc_paused():
        return _read_text(text, filename, default_name)


def _read_text(text: str, filename: str, default_name: str) -> Fabric:
    """The fabric in decoded YAML text (loads_fabric without the decoding)."""
    root = compose(text, filename)
    if root is None:
        what = "file is empty" if not text.strip() else "file holds only comments"
        raise InputError(
            Diagnostic(
                f"{what}: a fabric needs at least root_complexes",
                Location(filename, 1, 1),
                "see docs/fabric-format.md for an example",
            )
        )
    reader = ValueReader(filename)
    if not isinstance(root, yaml.MappingNode):
        raise InputError(
            Diagnostic(
                f"the top level must be a mapping with keys such as name and root_complexes, not {describe_node(root)}",
                reader.location(root),
            )
        )
    return _FabricReader(reader, default_name).read(root)


class _FabricReader:
    def __init__(self, reader: ValueReader, default_name: str):
        self.r = reader
        self.default_name = default_name
        self.entries: list[_Entry] = []
        self.seen_nodes: set[int] = set()

    def read(self, root: Node) -> Fabric:
        r = self.r
        top = r.mapping(root, "the fabric", TOP_KEYS) or {}
        r.check_format(top, FORMAT_TAG)
        name = r.optional_text(top["name"][1], "name") if "name" in top else None
        description = r.optional_text(top["description"][1], "description") if "description" in top else None
        host = self._host(node) if (node := given(top, "host")) else Host()
        notes = (
            [
                n
                for n in (r.text(item, "a note") for item in r.sequence(top["notes"][1], "notes") or [])
                if n is not None
            ]
            if "notes" in top
            else []
        )
        root_buses: list[RootBus] = []
        if "root_complexes" not in top:
            r.error(root, "missing key 'root_complexes'", "a fabric lists its root complexes and what hangs below them")
        else:
            root_buses = self._root_complexes(top["root_complexes"][1])
        devices, sources = self._devices()
        unplaced = self._unplaced(top["unplaced"][1]) if "unplaced" in top else []
        fabric_fields = dict(host=host, description=description or "", notes=notes, unplaced=tuple(unplaced))
        fabric = self._structure(
            name if name is not None else self.default_name, root_buses, devices, sources, fabric_fields
        )
        if r.diagnostics or fabric is None:
            # Structure was still checked on what did read cleanly, so one run shows every problem, in file order.
            raise InputError(sorted(r.diagnostics, key=_file_order))
        return fabric

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
            values["arch"] = r.optional_text(keys["arch"][1], "arch")
        if "kernel" in keys:
            values["kernel"] = r.optional_text(keys["kernel"][1], "kernel version")
            if values["kernel"] is not None:
                r.parsed(keys["kernel"][1], "kernel", kernel_release)  # a check only: the text is kept as written
        if "cmdline" in keys:
            values["cmdline"] = r.optional_text(keys["cmdline"][1], "kernel command line")
        if iommu_node := given(keys, "iommu"):
            values["iommu"] = r.choice(iommu_node, "IOMMU mode", IOMMU_MODES)
        if "memory_bandwidth" in keys:
            values["memory_bandwidth"] = self.r.bandwidth(keys["memory_bandwidth"][1], "memory_bandwidth")
        return Host(**{k: v for k, v in values.items() if v is not None})

    def _cpu(self, node: Node) -> dict:
        r = self.r
        if isinstance(node, yaml.ScalarNode):  # shorthand: "amd:0x19"
            vendor, colon, family = node.value.partition(":")
            result: dict = {"cpu_vendor": vendor.strip().lower() or None}
            if colon:
                result["cpu_family"] = r.parsed(node, "CPU family", lambda _: parse_int(family, *CPU_FAMILY))
            return result
        keys = r.mapping(node, "cpu", CPU_KEYS)
        if keys is None:
            return {}
        result = {}
        if "vendor" in keys:
            vendor = r.optional_text(keys["vendor"][1], "CPU vendor")
            result["cpu_vendor"] = (vendor.strip().lower() or None) if vendor is not None else None
        if "family" in keys and not is_null(keys["family"][1]):
            result["cpu_family"] = r.integer(keys["family"][1], "CPU family", *CPU_FAMILY)
        if "model" in keys:
            result["cpu_model"] = r.optional_text(keys["model"][1], "CPU model")
        return result

    # -- root complexes -----------------------------------------------------------------------------------------
    def _root_complexes(self, node: Node) -> list[RootBus]:
        r = self.r
        buses: list[RootBus] = []
        seen: dict[tuple[int, int], Node] = {}
        for item in r.sequence(node, "root_complexes") or []:
            keys = r.mapping(item, "a root complex", ROOT_KEYS)
            if keys is None:
                continue
            bus_id = None
            if "bus" not in keys:
                r.error(item, "root complex without 'bus'", "write e.g. bus: 0000:00")
            else:
                bus_id = r.parsed(keys["bus"][1], "bus", parse_bus)
            values: dict = {}
            if "host_bridge" in keys:
                values["host_bridge"] = r.optional_text(keys["host_bridge"][1], "host_bridge") or ""
            if "numa_node" in keys and not is_null(keys["numa_node"][1]):
                values["numa_node"] = r.integer(keys["numa_node"][1], "numa_node", *NUMA_NODE)
            if "p2p" in keys and not is_null(keys["p2p"][1]):
                caps = r.mapping(keys["p2p"][1], "p2p", P2P_CAP_KEYS) or {}
                for cap in P2P_CAP_KEYS:
                    if cap in caps:
                        values[f"p2p_{cap}"] = self.r.bandwidth(caps[cap][1], f"p2p {cap}")
            if bus_id is not None:
                if bus_id in seen:
                    r.error(
                        keys["bus"][1],
                        f"root bus {format_bus(*bus_id)} is declared twice",
                        f"first at line {seen[bus_id].start_mark.line + 1}",
                    )
                    bus_id = None
                else:
                    seen[bus_id] = keys["bus"][1]
                    buses.append(RootBus(bus_id[0], bus_id[1], **values))
            if "devices" in keys:
                domain = bus_id[0] if bus_id is not None else 0
                for dev_node in r.sequence(keys["devices"][1], "devices") or []:
                    self._device(dev_node, None, domain, root_bus=bus_id, bus_ok=bus_id is not None)
        return buses

    # -- devices ------------------------------------------------------------------------------------------------
    def _device(
        self,
        node: Node,
        parent: _Entry | None,
        domain: int,
        root_bus: tuple[int, int] | None = None,
        bus_ok: bool = True,
        pf: _Entry | None = None,
    ) -> None:
        r = self.r
        if id(node) in self.seen_nodes:
            r.error(node, "the same device is listed twice through a YAML alias", "write every function once")
            return
        self.seen_nodes.add(id(node))
        keys = r.mapping(node, "a device", DEVICE_KEYS)
        if keys is None:
            return
        e = _Entry(node, keys, parent, pf)
        before = len(r.diagnostics)
        if "bdf" not in keys:
            r.error(node, "device without 'bdf'", "every function needs its PCI address, e.g. bdf: 03:00.0")
        else:
            e.bdf = r.parsed(e.value("bdf"), "bdf", lambda t: BDF.parse(t, default_domain=domain))
            if e.bdf is not None and root_bus is not None and pf is None and e.bdf.bus_id != root_bus:
                r.error(
                    e.value("bdf"),
                    f"{e.bdf} is listed under root bus {format_bus(*root_bus)} but is on bus "
                    f"{format_bus(*e.bdf.bus_id)}",
                    "a root complex lists the functions on its root bus; put the others in their bridge's children",
                )
        self._misplaced(e, self._device_values(e))
        e.ok = bus_ok and len(r.diagnostics) == before
        self.entries.append(e)
        child_domain = e.bdf.domain if e.bdf is not None else domain
        if "vfs" in keys:
            for vf_node in r.sequence(e.value("vfs"), "vfs") or []:
                self._device(vf_node, parent, child_domain, bus_ok=bus_ok, pf=e)
        if "children" in keys:
            for child in r.sequence(e.value("children"), "children") or []:
                self._device(child, e, child_domain, bus_ok=bus_ok)

    def _unplaced(self, node: Node) -> list[Device]:
        """Entries a converted foreign file could not place in the tree (Fabric.unplaced): each says where the
        source put it; they are kept beside the tree, not checked against it."""
        r = self.r
        out = []
        for item in r.sequence(node, "unplaced") or []:
            keys = r.mapping(item, "an unplaced entry", UNPLACED_KEYS)
            if keys is None:
                continue
            e = _Entry(item, keys, None, None)
            before = len(r.diagnostics)
            for key in ("bdf", "name"):
                if key not in keys:
                    r.error(item, f"unplaced entry without '{key}'", "convert writes bdf, kind and name for each")
            if "bdf" in keys:
                e.bdf = r.parsed(e.value("bdf"), "bdf", BDF.parse)
            parent = r.parsed(e.value("parent"), "parent", BDF.parse) if given(keys, "parent") else None
            kind = self._device_values(e)
            if len(r.diagnostics) == before and e.bdf is not None and e.name:
                out.append(
                    Device(
                        e.bdf,
                        kind,
                        e.name,
                        parent=parent,
                        physfn=e.physfn_bdf,
                        **{k: x for k, x in e.values.items() if x is not None},
                    )
                )
        return out

    def _misplaced(self, e: _Entry, kind: DeviceKind) -> None:
        """Children of an endpoint and VFs of a bridge or of a VF: reported at the key, as the file says them."""
        what = f"{e.bdf or 'this device'} ({kind.label})"
        if "children" in e.keys and not kind.is_bridge:
            self.r.error(
                e.keys["children"][0],
                f"{what} has no secondary bus for children",
                "only root ports, switch ports and PCI bridges have devices below them",
            )
        if "vfs" in e.keys and (e.pf_entry is not None or given(e.keys, "physfn")):
            self.r.error(e.keys["vfs"][0], "a VF cannot have VFs of its own", "list VFs under their PF")
        elif "vfs" in e.keys and not kind.is_endpoint:
            self.r.error(e.keys["vfs"][0], f"{what} cannot have VFs", "only endpoints have VFs")

    def _device_values(self, e: _Entry) -> DeviceKind:
        """Read the entry's own values into it; returns its kind, as written or inferred."""
        r, v = self.r, e.values
        text = {
            k: r.optional_text(e.value(k), k) for k in ("name", "product", "driver", "conflict", "slot") if k in e.keys
        }
        e.name = text.pop("name", None)
        if e.name is not None and not e.name.strip():
            r.error(e.value("name"), "name is empty", "leave the key out to get a default name such as nvme0")
        v.update(text)
        for key, first, second in (
            ("id", "vendor_id", "device_id"),
            ("subsystem", "subsystem_vendor_id", "subsystem_device_id"),
        ):
            if key in e.keys and not is_null(e.value(key)):
                ids = r.parsed(e.value(key), key, _parse_ids)
                if ids is not None:
                    v[first], v[second] = ids
        if "class" in e.keys and not is_null(e.value("class")):
            v["class_code"] = r.parsed(e.value("class"), "class", _parse_class)
        for key, lo, hi in (("revision", *REVISION), ("numa_node", *NUMA_NODE), ("iommu_group", *IOMMU_GROUP)):
            if key in e.keys and not is_null(e.value(key)):
                v[key] = r.integer(e.value(key), key, lo, hi)
        if "link" in e.keys:
            v["link"] = r.link(e.value("link"))
        if node := given(e.keys, "integrated"):
            v["integrated"] = r.boolean(node, "integrated")
        if node := given(e.keys, "acs"):
            v["acs"] = r.acs(node)
        if "p2pmem" in e.keys and not is_null(e.value("p2pmem")):
            v["pool"] = r.pool(e.value("p2pmem"))
        if "aer" in e.keys and not is_null(e.value("aer")):
            v["aer"] = _aer(r, e.value("aer"))
        if given(e.keys, "physfn"):
            if e.pf_entry is not None:
                r.error(e.keys["physfn"][0], "a VF listed under 'vfs' already has its PF", "drop the physfn key")
            else:
                domain = e.bdf.domain if e.bdf else 0
                e.physfn_bdf = r.parsed(e.value("physfn"), "physfn", lambda t: BDF.parse(t, domain))
        kind = r.choice(kind_node, "device kind", KINDS) if (kind_node := given(e.keys, "kind")) else None
        e.kind = kind or self._infer_kind(e)
        return e.kind

    def _infer_kind(self, e: _Entry) -> DeviceKind:
        """A VF is what its PF is; a bridge (children, or a bridge class code) is what its position makes it."""
        if e.pf_entry is not None and e.pf_entry.kind is not None:
            return e.pf_entry.kind
        base_class = (e.values.get("class_code") or 0) >> 8
        if "children" in e.keys or base_class == CLASS_PCI_BRIDGE:
            return bridge_kind_for_position(e.parent.kind if e.parent else None)
        if base_class == CLASS_HOST_BRIDGE and e.parent is None:
            return DeviceKind.HOST_BRIDGE
        return endpoint_kind_from_class(e.values.get("class_code"), e.values.get("vendor_id"))

    # -- assembly -----------------------------------------------------------------------------------------------
    def _devices(self) -> tuple[list[Device], list[_Entry]]:
        r = self.r
        by_bdf: dict[BDF, _Entry] = {}
        by_name: dict[str, _Entry] = {}
        for e in self.entries:
            if e.bdf is not None:
                first = by_bdf.setdefault(e.bdf, e)
                if first is not e:
                    r.error(
                        e.keys["bdf"][0], f"duplicate PCI address {e.bdf}", f"first used at line {first.line('bdf')}"
                    )
                    e.ok = False
            if e.name:
                first = by_name.setdefault(e.name, e)
                if first is not e:
                    r.error(
                        e.keys["name"][0],
                        f"duplicate device name {shorten(e.name)!r}",
                        f"first used at line {first.line('name')}",
                    )
                    e.ok = False
        for e in self.entries:
            if e.physfn_bdf is not None:
                e.pf_entry = by_bdf.get(e.physfn_bdf)
                if e.pf_entry is None:
                    r.error(
                        e.keys["physfn"][0],
                        f"VF {e.bdf or ''} names physical function {e.physfn_bdf}, which is not in the fabric",
                        "add the PF, or list this VF in its PF's 'vfs'",
                    )
                    e.ok = False
        # Entries depend on their parent and PF; one failure drops what hangs on it, so it is reported once.
        changed = True
        while changed:
            changed = False
            for e in self.entries:
                if e.ok and any(up is not None and not up.ok for up in (e.parent, e.pf_entry)):
                    e.ok, changed = False, True
        usable = [e for e in self.entries if e.ok]
        # An entry that read cleanly has its BDF (a missing or malformed one is a diagnostic, so not ok) and its
        # kind (read or inferred by _device_values); only the name may still be missing.
        clean = [(e, e.bdf, e.kind) for e in usable if e.bdf is not None and e.kind is not None]
        assert len(clean) == len(usable), "a usable device entry lacks its BDF or kind"
        unnamed = sorted(((e, bdf, kind) for e, bdf, kind in clean if e.name is None), key=lambda c: c[1])
        names = default_names((kind for _, _, kind in unnamed), (e.name for e in usable if e.name))
        default_name = {id(e): name for (e, _, _), name in zip(unnamed, names, strict=True)}
        devices = []
        for e, bdf, kind in clean:
            name = e.name if e.name is not None else default_name[id(e)]
            e.name = name
            physfn = e.pf_entry.bdf if e.pf_entry is not None else None
            parent = e.parent.bdf if e.parent is not None else None
            devices.append(
                Device(
                    bdf,
                    kind,
                    name,
                    parent=parent,
                    physfn=physfn,
                    **{k: x for k, x in e.values.items() if x is not None},
                )
            )
        return devices, usable

    def _structure(self, name, root_buses, devices, sources, fabric_fields) -> Fabric | None:
        try:
            return Fabric(name=name, root_buses=tuple(root_buses), devices=tuple(devices), **fabric_fields)
        except FabricError as exc:
            for problem in exc.problems:
                node = None
                if problem.index is not None:
                    entry = sources[problem.index]
                    key = _FIELD_KEYS.get(problem.field or "", problem.field or "bdf")
                    node = (entry.keys.get(key) or entry.keys.get("bdf") or (entry.node,))[0]
                self.r.error(node, problem.message, problem.hint)
            return None


def _parse_ids(text: str) -> tuple[int | None, int | None]:
    """``vvvv:dddd`` in hex; ``????`` stands for a half the source did not know."""
    match = _IDS_RE.match(text.strip())
    if not match:
        raise ValueError(f"malformed {shorten(text)!r}: expected vendor:device in hex, e.g. 8086:2030 (????: unknown)")
    return (None if match[1] == "????" else int(match[1], 16), None if match[2] == "????" else int(match[2], 16))


def _parse_class(text: str) -> int:
    """24 bits (``0x010802``), or the 16-bit base class and subclass (``0108``) that some tools print."""
    match = _CLASS_RE.match(text.strip())
    if not match:
        raise ValueError(f"malformed class code {shorten(text)!r}: expected hex, e.g. 0x010802 or 0108")
    return int(match[1], 16) << 8 if len(match[1]) == 4 else int(match[1], 16)


def _aer(r, node) -> AerCounts | None:
    """``aer: {correctable: N, nonfatal: N, fatal: N}``; a key left out counts 0."""
    keys = r.mapping(node, "aer", AER_KEYS)
    if keys is None:
        return None
    counts = {key: r.integer(keys[key][1], f"aer {key}", 0) for key in AER_KEYS if key in keys}
    if any(v is None for v in counts.values()):
        return None
    return AerCounts(**counts)
