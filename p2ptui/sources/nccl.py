"""NCCL / RCCL topology XML (the NCCL_TOPO_FILE / NCCL_TOPO_DUMP_FILE format) as a Fabric.

``<cpu>`` is a NUMA node. A ``<pci>`` with ``<pci>`` children is a switch, and NCCL keeps only its upstream port:
walking sysfs two levels at a time, it drops the downstream ports and the root ports. So the reader adds them back
with invented addresses on buses the file does not use, to get a tree the kernel could have enumerated. Cloud
files also hold placeholder switches (``ffff:ff:01.0``) that the VM cannot see; they get invented addresses in
their devices' domain, or, where the devices sit on bus 00 of domains of their own (Hyper-V), cannot stand above
them at all and only survive as a note.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from ..fabric.bdf import BDF, BDFSyntaxError
from ..fabric.checks import LINK_WIDTHS
from ..fabric.limits import MAX_BRIDGE_DEPTH
from ..fabric.model import Fabric, Host, IommuMode, Link, RootBus
from .assemble import IOMMU_UNKNOWN_NOTE, Draft, acs_unknown_note, build_fabric, cpu_vendor, listing
from .xml_input import OddValues, XmlDocument, looks_like_xml, parse_xml, read_input, root_tag

_SPEED = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*GT/s")
_GEN_BY_RATE = {2.5: 1, 5.0: 2, 8.0: 3, 16.0: 4, 32.0: 5, 64.0: 6, 128.0: 7}
# How many levels <pci> elements may nest (a <pci> directly in a <cpu> is level 1). Level n may sit 2n - 1 bridges
# below its root bus (an invented root port, then an invented downstream port above every level but the first), so
# half the shared bridge depth (fabric/limits.py) keeps every file accepted here within the model's bound; one level
# more could need 65. Cascaded switches are a few levels deep. The reader walks with explicit stacks, so this is the
# format's limit, not Python's.
MAX_DEPTH = MAX_BRIDGE_DEPTH // 2


def sniff(path: Path, head: bytes) -> bool:
    # Graph files are claimed too, so that loading one says what it is rather than "unrecognised format".
    return looks_like_xml(head) and root_tag(head) in ("system", "graphs")


def load(path: Path) -> Fabric:
    path = Path(path)
    doc = parse_xml(path, read_input(path))
    tag = doc.root.tag
    if tag == "graphs":
        raise doc.error(
            doc.root,
            "an NCCL graph file (rings and trees over GPUs and NICs), not a topology",
            "NCCL_TOPO_DUMP_FILE writes the topology; NCCL_GRAPH_DUMP_FILE writes graphs",
        )
    if tag != "system":
        hint = (
            "an hwloc topology starts with <topology>" if tag == "topology" else "NCCL topologies start with <system>"
        )
        raise doc.error(doc.root, f"not an NCCL topology: the root element is <{tag}>", hint)
    reader = _Reader(doc)
    reader.read()
    return reader.fabric(path)


@dataclass
class _Pci:
    elem: ET.Element
    busid: str
    bdf: BDF | None  # None: a placeholder switch without a real address (until one is invented)
    numa: int | None
    values: dict
    name: str | None = None
    children: list[_Pci] = field(default_factory=list)
    placeholder: bool = False
    secondary: int | None = None  # the bus its invented downstream ports sit on

    @property
    def address(self) -> BDF:
        """The address of a node that has one: real, or invented for a placeholder that stays."""
        assert self.bdf is not None, "only nodes with an address are placed"
        return self.bdf

    @property
    def bridge(self) -> bool:
        cls = self.values.get("class_code")
        return bool(self.children) or (cls is not None and cls >> 8 == 0x0604)


class _Reader:
    def __init__(self, doc: XmlDocument):
        self.doc = doc
        self.cpus: list[tuple[int | None, list[_Pci]]] = []
        self.first_cpu: ET.Element | None = None  # host facts come from it (every <cpu> repeats them)
        self.used: set[tuple[int, int]] = set()
        self.drafts: list[Draft] = []
        self.root_buses: dict[tuple[int, int], RootBus] = {}
        self.invented: list[str] = []
        self.placed_placeholders: list[str] = []
        self.dropped_placeholders: list[str] = []
        self.lifted: list[str] = []
        self.odd_speeds: set[str] = set()
        self.socket_nics: list[str] = []
        self.links = 0
        self.fabric_links = 0  # NVLink / xGMI / C2C: not PCIe
        self.odd = OddValues(doc)

    # -- reading --------------------------------------------------------------------------------------------------
    def read(self) -> None:
        for cpu in self.doc.root.iterfind("cpu"):
            numa = self.odd.integer(cpu, "numaid", -1, 4095)
            numa = None if numa is None or numa < 0 else numa
            if self.first_cpu is None:
                self.first_cpu = cpu
            tops = []
            for child in cpu:
                if child.tag == "pci":
                    tops.append(self._pci_tree(child, numa))
                elif child.tag == "nic":
                    self.socket_nics.extend(n.get("name", "?") for n in child.iterfind("net"))
            self.cpus.append((numa, tops))

    def _pci_tree(self, top: ET.Element, numa: int | None) -> _Pci:
        """The ``<pci>`` element ``top`` and every one below it, in file order: a node's own attributes first, then
        its children one whole subtree after another, then what needs its children known (see ``_close``)."""
        tops: list[_Pci] = []
        # (element, the node it belongs to, its depth), or a node whose subtree is read and that can be closed.
        stack: list[tuple[ET.Element, _Pci | None, int] | _Pci] = [(top, None, 0)]
        while stack:
            item = stack.pop()
            if isinstance(item, _Pci):
                self._close(item)
                continue
            elem, parent, depth = item
            if elem.tag == "pci":
                node = self._open(elem, numa, depth)
                (tops if parent is None else parent.children).append(node)
                stack.append(node)  # closed once every child below it is read
                stack.extend((child, node, depth + 1) for child in reversed(elem))
            elif parent is not None:
                self._inside(parent, elem)
        return tops[0]

    def _open(self, elem: ET.Element, numa: int | None, depth: int) -> _Pci:
        """A ``<pci>`` element's own attributes, as a node without children yet."""
        if depth >= MAX_DEPTH:  # depth counts from 0: this is level depth + 1
            raise self.doc.error(
                elem,
                f"<pci> elements nested more than {MAX_DEPTH} deep",
                f"each level may need an invented switch port above it, and a PCI tree is at most "
                f"{MAX_BRIDGE_DEPTH} bridges deep (real machines are under ten)",
            )
        busid = elem.get("busid")
        if busid is None:
            raise self.doc.error(elem, "<pci> without busid", 'NCCL writes busid="DDDD:BB:DD.F" on every <pci>')
        values: dict = {"numa_node": numa}
        for attr, key, top in (
            ("class", "class_code", 0xFFFFFF),
            ("vendor", "vendor_id", 0xFFFF),
            ("device", "device_id", 0xFFFF),
            ("subsystem_vendor", "subsystem_vendor_id", 0xFFFF),
            ("subsystem_device", "subsystem_device_id", 0xFFFF),
        ):
            value = self._hex(elem, attr, top)
            if value is not None and not (key != "class_code" and value in (0, 0xFFFF)):  # 0 / ffff: blanked out
                values[key] = value
        link = self._link(elem)
        if link is not None:
            values["link"] = link
        return _Pci(elem, busid, self._bdf(elem, busid), numa, values)

    def _inside(self, node: _Pci, child: ET.Element) -> None:
        """What a ``<pci>`` element's other children say about it: the name of its NIC or GPU."""
        if child.tag == "nic":
            nets = [n.get("name") for n in child.iterfind("net") if n.get("name")]
            node.name = node.name or (nets[0] if nets else None)
        elif child.tag == "gpu":
            dev = self.odd.integer(child, "dev", 0, 4095)
            node.name = node.name or (f"gpu{dev}" if dev is not None else None)
            self.fabric_links += sum(1 for link_elem in child if link_elem.tag in ("nvlink", "xgmi", "c2c"))

    def _close(self, node: _Pci) -> None:
        """What needs a node's children known: whether an address that does not parse is an error (a leaf) or a
        placeholder switch's name, and whether the node is a placeholder at all."""
        elem = node.elem
        if node.bdf is None and not node.children:
            raise self.doc.error(elem, f"malformed busid {node.busid!r}", "NCCL writes DDDD:BB:DD.F in lower-case hex")
        # Cloud files mark switches the VM cannot see by busid ffff:ff:0N.0 or vendor 0xffff.
        node.placeholder = (
            node.bdf is None
            or (node.bdf.domain == 0xFFFF and node.bdf.bus == 0xFF)
            or (node.bridge and self._hex(elem, "vendor", 0xFFFF) == 0xFFFF)
        )
        if node.placeholder:
            node.bdf = None  # its link and class stay: NCCL uses them; blanked IDs were dropped above
        else:
            self.used.add(node.address.bus_id)

    def _bdf(self, elem: ET.Element, busid: str) -> BDF | None:
        try:
            return BDF.parse(busid, domain_required=True)
        except BDFSyntaxError:
            return None  # a placeholder switch's name, or a malformed busid (an error if it has no children)
        except ValueError as exc:
            raise self.doc.error(elem, f"busid {busid!r}: {exc}") from None

    def _hex(self, elem: ET.Element, attr: str, top: int) -> int | None:
        text = elem.get(attr)
        if text is None or not text.strip():
            return None
        try:
            value = int(text, 16)
        except ValueError:
            self.odd.add(elem, f"{attr} values that are not hex numbers, left unknown", repr(text[:30]))
            return None
        if not 0 <= value <= top:
            self.odd.add(elem, f"{attr} values beyond {top:#x}, left unknown", text[:30])
            return None
        return value

    def _link(self, elem: ET.Element) -> Link | None:
        speed = elem.get("link_speed", "").strip()
        gen = None
        if speed:
            match = _SPEED.match(speed)
            gen = _GEN_BY_RATE.get(float(match[1])) if match else None
            if gen is None:
                self.odd_speeds.add(speed)
        width = self.odd.integer(elem, "link_width", 0, 1 << 16)
        if width == 0:
            width = None  # NCCL's "unknown"
        if width is not None and width not in LINK_WIDTHS:
            self.odd.add(elem, "link widths no PCIe link has, left unknown", str(width))
            width = None
        if gen is None and width is None:
            return None
        self.links += 1
        # NCCL records max_link_speed/max_link_width (the lower of both ends): what the link can do, not what it
        # trained to.
        return Link(gen=None, width=None, max_gen=gen, max_width=width, mps=None, mrrs=None)

    # -- making a tree the kernel could have enumerated ---------------------------------------------------------
    def _alloc(self, domain: int, low: int, high: int) -> int | None:
        """The highest bus strictly between ``low`` and ``high`` that nothing uses, now taken; None if none is free."""
        for bus in range(min(high, 0x100) - 1, low, -1):
            if (domain, bus) not in self.used:
                self.used.add((domain, bus))
                return bus
        return None

    def _resolve(self, top: _Pci) -> tuple[bool, list[_Pci]]:
        """Fit ``top``'s subtree into bus numbering, inventing placeholder and downstream-port buses bottom-up: each
        node after its children, children in file order (the order decides which free buses each one takes).

        Returns whether ``top`` stays (with the children that fit) and the nodes that must move to the top level.
        """
        fitted: dict[int, tuple[bool, list[_Pci]]] = {}  # by id(node): what _fit said, until its parent asks
        stack: list[tuple[_Pci, bool]] = [(top, False)]  # (node, whether its children are fitted)
        while stack:
            node, ready = stack.pop()
            if ready or not node.children:
                fitted[id(node)] = self._fit(node, [(c, *fitted.pop(id(c))) for c in node.children])
            else:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(node.children))
        return fitted[id(top)]

    def _fit(self, node: _Pci, children: list[tuple[_Pci, bool, list[_Pci]]]) -> tuple[bool, list[_Pci]]:
        """``_resolve`` for one node, given for each child whether it stays and what moved up from below it."""
        if not children:
            if node.bdf is None:
                self.dropped_placeholders.append(f"{node.busid} (empty)")
            return node.bdf is not None, []
        lifted: list[_Pci] = []
        kept: list[_Pci] = []
        for child, stays, moved in children:
            lifted.extend(moved)
            if stays:
                kept.append(child)
        # A placeholder takes its devices' domain; devices in several domains (Hyper-V) leave it none.
        domains = {c.address.domain for c in kept}
        if node.bdf is not None:
            domain: int | None = node.bdf.domain
        else:
            domain = domains.pop() if len(domains) == 1 else None
        low = node.bdf.bus if node.bdf is not None else -1
        fits = [c for c in kept if c.address.domain == domain and c.address.bus > low]
        # By identity: `in` on the list compared nodes field by field, N² comparisons for a switch of N devices.
        fitting = {id(c) for c in fits}
        misfits = [c for c in kept if id(c) not in fitting]
        secondary = None
        if fits and domain is not None:
            secondary = self._alloc(domain, low, min(c.address.bus for c in fits))
        if node.bdf is None:
            own = self._alloc(domain, -1, secondary) if domain is not None and secondary is not None else None
            if domain is None or own is None:
                members = ", ".join(c.busid for c in kept)
                self.dropped_placeholders.append(f"{node.busid} (above {members})")
                return False, lifted + kept
            node.bdf = BDF(domain, own, 0, 0)
            self.placed_placeholders.append(f"{node.busid} as {node.bdf}")
        elif secondary is None and len({c.address.bus for c in fits}) > 1:
            misfits.extend(fits)  # no bus left for downstream ports between the switch and its devices
            fits = []
        self.lifted.extend(f"{c.busid} (below {node.busid})" for c in misfits)
        node.children = fits
        node.secondary = secondary
        return True, lifted + misfits

    def _place(self) -> None:
        for numa, tops in self.cpus:
            items: list[_Pci] = []
            for top in tops:
                stays, moved = self._resolve(top)
                items.extend(([top] if stays else []) + moved)
            by_domain: dict[int, list[_Pci]] = {}
            for item in items:
                by_domain.setdefault(item.address.domain, []).append(item)
            for domain, members in by_domain.items():
                self._place_on_root(domain, members, numa)

    def _place_on_root(self, domain: int, items: list[_Pci], numa: int | None) -> None:
        """Items a ``<cpu>`` holds directly sit behind root ports NCCL left out: one root bus per NUMA node and
        domain, one invented root port per bus they use. Items on bus 00 can only sit on a root bus themselves."""
        buses = sorted({i.address.bus for i in items})
        root = self._alloc(domain, -1, buses[0])
        if root is None:
            for item in items:
                self._declare_root(domain, item.address.bus, numa)
                self._emit(item, None)
            return
        self._declare_root(domain, root, numa)
        for k, bus in enumerate(buses):
            port = self._invent(BDF(domain, root, k % 32, k // 32), None, numa, "root port")
            for item in items:
                if item.address.bus == bus:
                    self._emit(item, port)

    def _declare_root(self, domain: int, bus: int, numa: int | None) -> None:
        self.root_buses.setdefault((domain, bus), RootBus(domain, bus, numa_node=numa))

    def _invent(self, bdf: BDF, parent: BDF | None, numa: int | None, what: str) -> BDF:
        self.invented.append(str(bdf))
        values = {"numa_node": numa, "product": f"invented: NCCL leaves {what}s out"}
        self.drafts.append(Draft(bdf, parent, self.doc.where(None), bridge=True, values=values))
        return bdf

    def _emit(self, top: _Pci, parent: BDF | None) -> None:
        """Drafts for ``top`` below ``parent`` and for its subtree, in the order the file gives them: a switch, then
        per bus its devices use, an invented downstream port and the devices behind it."""
        # (node, its parent, None): draft the node; (switch, the switch's address, port): invent the port.
        stack: list[tuple[_Pci, BDF | None, BDF | None]] = [(top, parent, None)]
        while stack:
            node, above, port = stack.pop()
            if port is not None:
                self._invent(port, above, node.numa, "downstream port")
                continue
            address = node.address
            values = dict(node.values)
            if node.placeholder:
                values["product"] = f"VM-hidden switch {node.busid}, invented address"
            where = self.doc.where(node.elem)
            self.drafts.append(Draft(address, above, where, bridge=node.bridge, name=node.name, values=values))
            below: list[tuple[_Pci, BDF | None, BDF | None]] = []
            if node.secondary is None:
                below.extend((child, address, None) for child in node.children)
            else:
                for k, bus in enumerate(sorted({c.address.bus for c in node.children})):
                    invented = BDF(address.domain, node.secondary, k % 32, k // 32)
                    below.append((node, address, invented))
                    below.extend((child, invented, None) for child in node.children if child.address.bus == bus)
            stack.extend(reversed(below))

    # -- the result ---------------------------------------------------------------------------------------------
    def fabric(self, path: Path) -> Fabric:
        self._place()
        cpu = self.first_cpu
        host = Host(iommu=IommuMode.UNKNOWN)
        if cpu is not None:
            host = Host(
                cpu_vendor=cpu_vendor(cpu.get("vendor")),
                cpu_family=_x86_family(self.odd.integer(cpu, "familyid", 0, 0xFFF)),
                arch=cpu.get("arch") or Host().arch,
                iommu=IommuMode.UNKNOWN,
            )
        version = self.doc.root.get("version", "?")
        description = f"NCCL topology (system version {version}), {len(self.cpus)} NUMA nodes"
        return build_fabric(
            str(path), path.stem, self.root_buses.values(), self.drafts, host, self._notes(), description
        )

    def _notes(self) -> list[str]:
        if not self.drafts:
            return ["no <pci> elements: the file names no PCI devices"]
        notes = [acs_unknown_note("NCCL topology XML"), IOMMU_UNKNOWN_NOTE]
        if self.invented:
            notes.append(
                "NCCL topology files leave out root ports and switch downstream ports: "
                f"{len(self.invented)} bridges with invented addresses on buses the file does not use "
                f"stand in for them ({listing(self.invented, 3)})"
            )
        if self.placed_placeholders:
            notes.append(
                "placeholder switches (switches the VM cannot see) got invented addresses in their devices' domain: "
                + listing(self.placed_placeholders, 4)
            )
        if self.dropped_placeholders:
            notes.append(
                "placeholder switches that no bridge address can represent are left out, their devices sit on root "
                "buses of their own (e.g. bus 00 of a PCI domain per device, as Hyper-V presents them): "
                + listing(self.dropped_placeholders, 3)
            )
        if self.lifted:
            notes.append(
                f"devices whose bus numbers cannot sit below their switch moved to a root port: {listing(self.lifted)}"
            )
        if self.links:
            notes.append(
                "links are what each link can do (NCCL records max_link_speed and max_link_width); the speed and "
                "width they trained to are unknown"
            )
        if self.odd_speeds:
            notes.append(f"link speeds not understood, left unknown: {listing(sorted(self.odd_speeds))}")
        if self.fabric_links:
            notes.append(f"{self.fabric_links} NVLink/xGMI/C2C connections in the file are not PCIe and are left out")
        if self.socket_nics:
            notes.append(
                f"network devices without a PCI function in the file are left out: {listing(self.socket_nics)}"
            )
        notes.extend(self.odd.notes())
        return notes


def _x86_family(familyid: int | None) -> int | None:
    """NCCL's familyid is family + (extended family << 4); hand-written files often give the plain family."""
    if familyid is None:
        return None
    if familyid & 0xF == 0xF:
        return 0xF + (familyid >> 4)
    return familyid
