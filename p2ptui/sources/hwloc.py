"""hwloc XML topologies (``lstopo --of xml``, format v1, v2 and v3) as a Fabric.

hwloc nests ``Bridge`` and ``PCIDev`` objects under the CPU-side object (Package, Group, NUMANode or Machine)
their host bridge is local to. A host bridge (``bridge_type="0-…"``) is no PCI function: its children sit on a
root bus. hwloc keeps no port types, no ACS and, per link, only a bandwidth in GB/s (which several
generation × width pairs give), so bridge kinds come from position and links and ACS stay unknown.

Objects are read in file order, so where a file gives an address twice the first entry stands. PCI objects where
hwloc never writes them (below a PCI device or an OS device, inside an info) are named in a note, not read.
"""

from __future__ import annotations

import math
import re
import xml.etree.ElementTree as ET
from functools import partial
from pathlib import Path
from typing import NamedTuple

from ..fabric.acs import ACS_UNKNOWN
from ..fabric.bdf import BDF, BDFSyntaxError
from ..fabric.gc_pause import gc_paused
from ..fabric.kernel_version import release_or_note
from ..fabric.limits import CPU_FAMILY, decimal_within
from ..fabric.model import Fabric, Host, IommuMode, RootBus
from .assemble import IOMMU_UNKNOWN_NOTE, Draft, acs_unknown_note, build_fabric, cpu_vendor, listing
from .xml_input import OddValues, XmlDocument, looks_like_xml, parse_xml, read_input, root_tag

_BUS_RANGE = re.compile(r"^([0-9a-fA-F]{1,8}):\[([0-9a-fA-F]{1,2})-([0-9a-fA-F]{1,2})\]$")
# "CCCC [VVVV:DDDD] [SVVV:SDDD] RR" and, from hwloc 3.0 on, " PP" (prog-if) at the end.
_PCI_TYPE = re.compile(
    r"^([0-9a-fA-F]{4}) \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\] \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\] "
    r"([0-9a-fA-F]{2})(?: ([0-9a-fA-F]{2}))?\s*$"
)
_NVME_BLOCK = re.compile(r"^(nvme\d+)n\d+$")
_UNSEEN: dict = {}  # a pci_type text not parsed yet (None is taken: a text that is no pci_type)
_HOST_INFOS = ("CPUVendor", "CPUFamilyNumber", "CPUModel", "Architecture", "OSRelease", "DMIProductName")
MAX_LINK_GBPS = 1000.0  # a Gen7 x32 link is under 500 GB/s; anything far beyond is a broken file


def sniff(path: Path, head: bytes) -> bool:
    return looks_like_xml(head) and root_tag(head) == "topology"


def load(path: Path) -> Fabric:
    path = Path(path)
    data = read_input(path)
    # The element tree and the drafts are all kept until the fabric is built, and freed (by reference counts) as
    # _read returns, so the one collection after the pause walks only the fabric.
    with gc_paused():
        return _read(path, data)


def _read(path: Path, data: bytes) -> Fabric:
    doc = parse_xml(path, data)
    if doc.root.tag != "topology":
        hint = (
            "an NCCL topology starts with <system>" if doc.root.tag == "system" else "hwloc XML starts with <topology>"
        )
        raise doc.error(doc.root, f"not an hwloc topology: the root element is <{doc.root.tag}>", hint)
    reader = _Reader(doc, _major_version(doc))
    reader.walk()
    return reader.fabric(path)


def _major_version(doc: XmlDocument) -> int:
    version = doc.root.get("version")
    if version is None:
        return 1  # hwloc 1.x wrote no version attribute
    match = re.match(r"^([0-9]{1,9})(?:\.[0-9]+)*$", version.strip())
    if not match:
        raise doc.error(doc.root, f"unknown hwloc XML version {version!r}", "hwloc writes 2.0 or 3.0, or nothing (1.x)")
    return int(match[1])


class _Context(NamedTuple):  # a tuple: one is made per bridge, and a tuple is the cheapest immutable record
    numa: int | None  # the NUMA node of the nearest CPU-side object, when it is exactly one
    host: tuple[int, int] | None  # (domain, secondary bus) of the enclosing host bridge
    parent: BDF | None  # the enclosing PCI-to-PCI bridge


class _Reader:
    def __init__(self, doc: XmlDocument, major: int):
        self.doc = doc
        self.major = major
        self.drafts: list[Draft] = []
        self.root_buses: dict[tuple[int, int], RootBus] = {}
        self.infos: dict[str, str] = {}
        self.numa_nodes: set[int] = set()
        self.host_bridges = 0
        self.hostless: list[str] = []
        self.link_speeds: set[float] = set()
        self.odd = OddValues(doc)
        # Parsed attribute texts: a machine repeats a few device types and link speeds many times over.
        self.pci_types: dict[str, dict | None] = {}
        self.speed_texts: set[str] = set()

    # -- walking the object tree ----------------------------------------------------------------------------------
    def walk(self) -> None:
        """Visit every object in file order (an object, then everything below it, then its next sibling): where the
        file gives an address twice, the entry that comes first in the file stands, and notes list lines in order.
        A CPU-side object's host infos are read as it is visited, before those of the objects below it."""
        stack: list[tuple[ET.Element, _Context]] = []
        self._read_children(self.doc.root, _Context(None, None, None), stack, host_infos=True)
        while stack:
            elem, ctx = stack.pop()
            inner = self._visit(elem, ctx)
            if inner is not None:
                self._read_children(elem, inner, stack, host_infos=elem.get("type") != "Bridge")
            elif elem.get("type") == "OSDev":
                self._stray_below(elem)

    def _read_children(
        self, elem: ET.Element, ctx: _Context, stack: list[tuple[ET.Element, _Context]], host_infos: bool
    ) -> None:
        """Push the objects below ``elem`` to be visited in ``ctx``; take host infos from its infos."""
        objects = []
        for child in elem:
            tag = child.tag
            if tag == "object":
                objects.append((child, ctx))
            elif tag == "info":
                name = child.get("name", "")
                if host_infos and name in _HOST_INFOS:
                    self.infos.setdefault(name, child.get("value", ""))
                if len(child):
                    self._stray(child)
            else:
                self._stray(child)
        stack.extend(reversed(objects))

    def _stray_below(self, osdev: ET.Element) -> None:
        """Note PCI objects below an OS device (whose children are infos)."""
        for child in osdev:
            if child.tag != "info" or len(child):
                self._stray(child)

    def _stray(self, elem: ET.Element) -> None:
        """PCI objects in a part of the file the reader does not walk: below a PCI device or an OS device, or
        inside an element that is no object. hwloc never writes them there; they are noted, not read."""
        for obj in elem.iter("object"):
            if obj.get("type") in ("PCIDev", "Bridge"):
                self.odd.add(
                    obj,
                    "PCI objects where hwloc never puts them (below a PCI device or an OS device, or inside an "
                    "element that is no object), not read",
                    repr(obj.get("pci_busid", "")[:30]),
                )

    def _visit(self, elem: ET.Element, ctx: _Context) -> _Context | None:
        """Record one object; the context its children are read in, or None when they hold nothing for us."""
        kind = elem.get("type", "")
        # PCI objects first: on a PCI-heavy machine nearly every object is one.
        if kind == "PCIDev":
            self._draft(elem, ctx, bridge=False)
            return None
        if kind == "Bridge":
            if elem.get("bridge_type", "").startswith("0-") or elem.get("pci_busid") is None:
                self.host_bridges += 1
                bus_range = self._range(elem)
                return _Context(ctx.numa, (bus_range[0], bus_range[1]) if bus_range else (-1, -1), None)
            return _Context(ctx.numa, ctx.host, self._draft(elem, ctx, bridge=True))
        if kind == "OSDev":
            return None
        node = None
        if kind == "NUMANode" and elem.get("os_index") is not None:
            node = self.odd.integer(elem, "os_index", 0, 4095)
            if node is not None:
                self.numa_nodes.add(node)
            if elem.get("nodeset") is None:
                return _Context(node, ctx.host, ctx.parent)  # v1: I/O below NUMA nodes
        if elem.get("nodeset") is not None:
            return _Context(_single_node(elem.get("nodeset", "")), ctx.host, ctx.parent)
        return ctx

    def _draft(self, elem: ET.Element, ctx: _Context, bridge: bool) -> BDF:
        # Run once per PCI function of the file: the texts a machine repeats (device types, link speeds) are
        # parsed once and looked up after.
        get = elem.get
        bdf = self._busid(elem)
        if bridge and get("bridge_pci") is not None:
            self._range(elem)  # not needed (children say where they sit), but a broken range is a broken file
        type_text = get("pci_type")
        ids = self._pci_type(elem, type_text) if type_text is not None else None
        values: dict = (
            dict(ids, numa_node=ctx.numa, acs=ACS_UNKNOWN) if ids else {"numa_node": ctx.numa, "acs": ACS_UNKNOWN}
        )
        vendor, device, osdevs = self._infos_and_osdevs(elem, bridge)
        product = _product(elem, vendor, device, osdevs)
        if product:
            values["product"] = product
        speed_text = get("pci_link_speed")
        if speed_text is not None and speed_text not in self.speed_texts:
            self._link_speed(elem, speed_text)
        parent = ctx.parent
        if parent is None:
            if ctx.host is None:
                self.hostless.append(str(bdf))
            if bdf.bus_id not in self.root_buses:
                self.root_buses[bdf.bus_id] = RootBus(bdf.domain, bdf.bus, numa_node=ctx.numa)
        name = self._os_name(osdevs) if osdevs and not bridge else None
        self.drafts.append(Draft(bdf, parent, partial(self.doc.where, elem), bridge, name=name, values=values))
        return bdf

    def _infos_and_osdevs(self, elem: ET.Element, bridge: bool) -> tuple[str, str, list[ET.Element]]:
        """A PCI object's PCIVendor and PCIDevice infos (the last of a name wins, "" when absent) and its OS devices,
        in one look at its children (ElementPath's iterfind costs more than the loop for each query). Below a PCI
        device (not a bridge, whose children the walk visits) anything else is noted where it holds PCI objects."""
        vendor = device = ""
        osdevs = []
        for child in elem:
            tag = child.tag
            if tag == "info":
                name = child.get("name")
                if name == "PCIVendor":
                    vendor = child.get("value", "")
                elif name == "PCIDevice":
                    device = child.get("value", "")
                if not bridge and len(child):
                    self._stray(child)
            elif tag == "object" and child.get("type") == "OSDev":
                osdevs.append(child)
                if not bridge:
                    self._stray_below(child)
            elif not bridge:
                self._stray(child)
        return vendor, device, osdevs

    # -- attributes ---------------------------------------------------------------------------------------------
    def _busid(self, elem: ET.Element) -> BDF:
        text = elem.get("pci_busid", "")
        try:
            return BDF.parse(text, domain_required=True)
        except BDFSyntaxError:
            raise self.doc.error(elem, f"malformed pci_busid {text!r}", "hwloc writes DDDD:BB:DD.F in hex") from None
        except ValueError as exc:
            raise self.doc.error(elem, f"pci_busid {text!r}: {exc}") from None

    def _range(self, elem: ET.Element) -> tuple[int, int, int] | None:
        """The bridge's bus range; None (and a note) when it is not one: children say where they sit anyway."""
        text = elem.get("bridge_pci", "")
        match = _BUS_RANGE.match(text.strip())
        if not match:
            self.odd.add(elem, "bridge bus ranges (bridge_pci) not of the form DDDD:[SS-ss], ignored", repr(text[:30]))
            return None
        domain, low, high = int(match[1], 16), int(match[2], 16), int(match[3], 16)
        if low > high:
            self.odd.add(elem, "bridge bus ranges whose secondary bus is above the subordinate bus, ignored", text)
            return None
        return domain, low, high

    def _pci_type(self, elem: ET.Element, text: str) -> dict | None:
        ids = self.pci_types.get(text, _UNSEEN)
        if ids is _UNSEEN:
            ids = self.pci_types[text] = _parse_pci_type(text)
        if ids is None:
            self.odd.add(
                elem,
                "pci_type values not of the form 'CCCC [VVVV:DDDD] [SVVV:SDDD] RR', IDs and class left unknown",
                repr(text[:40]),
            )
        return ids

    def _link_speed(self, elem: ET.Element, text: str) -> None:
        try:
            speed = float(text)
        except ValueError:
            speed = math.nan
        if not math.isfinite(speed) or not 0 <= speed <= MAX_LINK_GBPS:
            self.odd.add(
                elem, "pci_link_speed values that are no PCIe link bandwidth in GB/s, ignored", repr(text[:30])
            )
            return
        self.speed_texts.add(text)
        if speed > 0:
            self.link_speeds.add(round(speed, 2))

    def _os_name(self, osdevs: list[ET.Element]) -> str | None:
        """The name users know the function by: its NVMe controller, network interface or RDMA device."""
        nvme = net = rdma = None
        for osdev in osdevs:
            name = osdev.get("name", "")
            try:
                code = int(osdev.get("osdev_type", "-1"))
            except ValueError:
                code = -1
            if self.major >= 3:  # v3 writes a bitmask: 1 storage, 16 network, 32 OpenFabrics
                storage, network, ofed = code & 1, code & 16 and not code & 32, code & 32
            else:  # v1/v2: 0 block, 2 network, 3 OpenFabrics
                storage, network, ofed = code == 0, code == 2, code == 3
            match = _NVME_BLOCK.match(name)
            if storage and match and nvme is None:
                nvme = match[1]
            elif network and net is None and name:
                net = name
            elif ofed and rdma is None and name:
                rdma = name
        return nvme or net or rdma

    # -- the result ---------------------------------------------------------------------------------------------
    def fabric(self, path: Path) -> Fabric:
        infos = self.infos
        family = infos.get("CPUFamilyNumber", "")
        vendor = infos.get("CPUVendor")
        if not vendor:  # older exports name only the model, e.g. "Intel(R) Xeon(R) CPU E5-2650 0 @ 2.00GHz"
            model = infos.get("CPUModel", "")
            vendor = "intel" if model.startswith("Intel") else "amd" if model.startswith("AMD ") else None
        kernel, kernel_note = release_or_note(infos.get("OSRelease"), "the export's OSRelease")
        host = Host(
            cpu_vendor=cpu_vendor(vendor),
            cpu_family=decimal_within(family, CPU_FAMILY) if family.isdigit() else None,
            cpu_model=infos.get("CPUModel") or None,
            arch=infos.get("Architecture") or Host().arch,
            kernel=kernel,
            iommu=IommuMode.UNKNOWN,
        )
        product = infos.get("DMIProductName")
        description = f"hwloc XML v{self.major} topology" + (f" of {product}" if product else "")
        notes = self._notes() + ([kernel_note] if kernel_note else [])
        return build_fabric(str(path), path.stem, self.root_buses.values(), self.drafts, host, notes, description)

    def _notes(self) -> list[str]:
        if not self.drafts:
            return [
                "no PCI objects: the topology was exported without I/O; export it again with I/O, "
                "e.g. `lstopo --whole-io topology.xml`"
            ]
        notes = [acs_unknown_note("hwloc XML"), IOMMU_UNKNOWN_NOTE]
        notes.append(
            "port types unknown: hwloc does not record them, so bridges are root ports on a root bus, then "
            "alternately switch upstream and downstream ports below"
        )
        if self.link_speeds:
            speeds = ", ".join(f"{s:g}" for s in sorted(self.link_speeds, reverse=True)[:4])
            notes.append(
                f"link generation and width unknown: hwloc records each link only as GB/s ({speeds} here), which "
                "several generation × width pairs give (15.75 GB/s is gen3 x16, gen4 x8 or gen5 x4); "
                "load `lspci -vvv` output or a sysfs tree for them"
            )
        unplaced = sorted(str(rb) for rb in self.root_buses.values() if rb.numa_node is None)
        if unplaced and len(self.numa_nodes) > 1:
            notes.append(
                f"NUMA node unknown for root buses {listing(unplaced)}: hwloc attaches them to more than one NUMA node"
            )
        if self.hostless:
            notes.append(f"no host bridge above {listing(self.hostless)}: each is taken to sit on a root bus")
        notes.extend(self.odd.notes())
        return notes


def _parse_pci_type(text: str) -> dict | None:
    """Class code, IDs and revision from hwloc's pci_type text; None when it is not of that form."""
    match = _PCI_TYPE.match(text.strip())
    if not match:
        return None
    cls, vendor, device, sub_vendor, sub_device, rev = (int(match[i], 16) for i in range(1, 7))
    prog_if = int(match[7], 16) if match[7] else 0
    masked = vendor == 0  # vendor 0 is no vendor: hwloc's tests blank out IDs this way
    return {
        "class_code": None if masked and cls == 0 else (cls << 8) | prog_if,
        "vendor_id": None if masked else vendor,
        "device_id": None if masked else device,
        "subsystem_vendor_id": sub_vendor or None,
        "subsystem_device_id": sub_device if sub_vendor else None,
        "revision": rev,
    }


def _single_node(nodeset: str) -> int | None:
    """The NUMA node a nodeset names when it names exactly one (hwloc bitmaps: 32-bit hex words, high first)."""
    words = nodeset.strip().split(",")
    value = 0
    for word in words:
        word = word.strip().lower()
        word = word[2:] if word.startswith("0x") else word
        if not re.fullmatch(r"[0-9a-f]{0,8}", word):
            return None  # "0xf...f" (infinite) or garbage: no single node
        value = (value << 32) | int(word or "0", 16)
    if value == 0 or value & (value - 1):
        return None
    return value.bit_length() - 1


def _product(elem: ET.Element, vendor: str, device: str, osdevs: list[ET.Element]) -> str | None:
    # A GPU's OS devices (CUDA, NVML, RSMI ...) name the exact model: "Tesla V100-SXM3-32GB-H" beside pci.ids'
    # family. The first OS device that names one is taken whole (its model and vendor), so a later one with an
    # empty GPUModel cannot blank it.
    for osdev in osdevs:
        gpu = {i.get("name"): i.get("value", "") for i in osdev if i.tag == "info"}
        if gpu.get("GPUModel"):
            vendor, device = vendor or gpu.get("GPUVendor", ""), gpu["GPUModel"]
            break
    text = f"{vendor} {device}".strip() if vendor or device else ""
    return text or elem.get("name") or None  # v1 wrote "Vendor Device" into the name attribute
