"""The fabric model: host facts and the PCI tree, one Device per PCI function.

Everything here is immutable: what-if views build changed copies (``Fabric.replace``), so a verdict computed on
one fabric can never be changed under it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from enum import StrEnum

from .acs import ACS_NONE, Acs
from .bdf import BDF, format_bus
from .kinds import DeviceKind


class IommuMode(StrEnum):
    OFF = "off"  # no IOMMU, or disabled: DMA addresses are physical addresses
    PASSTHROUGH = "passthrough"  # IOMMU present, identity domains (iommu=pt)
    TRANSLATED = "translated"  # IOMMU translates DMA through IOVAs
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Host:
    """Facts about the machine that the kernel's P2P decision and the simulator depend on."""

    cpu_vendor: str | None = None  # "intel", "amd", ... lower case; None when unknown
    cpu_family: int | None = None  # x86 CPU family (0x17 = Zen, 0x19 = Zen 3/4, 0x1a = Zen 5; Intel: 6)
    cpu_model: str | None = None  # marketing name, for people
    arch: str = "x86_64"
    kernel: str | None = None  # as uname -r prints it; None when unknown
    cmdline: str = ""
    iommu: IommuMode = IommuMode.OFF
    memory_bandwidth: float | None = None  # host DRAM bandwidth in GB/s


@dataclass(frozen=True, slots=True)
class Link:
    """A PCIe link as a function reports it: capability (max) and what it trained to (current), MPS and MRRS.

    Any field may be None when the source does not say.
    """

    gen: int | None = None
    width: int | None = None
    max_gen: int | None = None
    max_width: int | None = None
    mps: int | None = 256
    mrrs: int | None = 512
    down: bool = False  # the source reports the link down (width 0, speed unknown): an empty slot, a device off

    @property
    def width_degraded(self) -> bool:
        """Trained narrower than it can: lanes lost to a bad riser, a dirty contact or a slot wired narrower.
        Links do not narrow to save power in practice, so this is almost always a fault."""
        return self.width is not None and self.max_width is not None and self.width < self.max_width

    @property
    def speed_below_max(self) -> bool:
        """Running at a lower generation than it can. Not necessarily a fault: GPUs and some NICs lower the link
        speed while idle to save power and raise it under load (a fault when it stays low under load)."""
        return self.gen is not None and self.max_gen is not None and self.gen < self.max_gen

    def describe(self) -> str:
        if self.down:
            capable = (self.max_gen, self.max_width) != (None, None)
            return f"link down (of {_gen_width(self.max_gen, self.max_width)})" if capable else "link down"
        if self.gen is None and self.width is None and (self.max_gen, self.max_width) != (None, None):
            # Sources such as NCCL's topology file record what a link can do, not what it trained to.
            return f"up to {_gen_width(self.max_gen, self.max_width)}"
        current = _gen_width(self.gen, self.width)
        if self.width_degraded or self.speed_below_max:
            return f"{current} (of {_gen_width(self.max_gen, self.max_width)})"
        return current


def _gen_width(gen: int | None, width: int | None) -> str:
    return f"gen{gen if gen is not None else '?'} x{width if width is not None else '?'}"


@dataclass(frozen=True, slots=True)
class P2PPool:
    """A P2P memory pool as sysfs shows it under ``p2pmem/``: size and available in bytes, published flag,
    and whether the ``allocate`` file (kernel 6.2+) lets user space mmap from it."""

    size: int
    available: int
    published: bool = True
    allocate: bool = True


@dataclass(frozen=True, slots=True)
class AerCounts:
    """Totals of the AER error counters sysfs keeps per function since boot (aer_dev_correctable, _nonfatal,
    _fatal): a link that keeps retraining or a flaky riser shows here before it fails."""

    correctable: int = 0
    nonfatal: int = 0
    fatal: int = 0

    @property
    def total(self) -> int:
        return self.correctable + self.nonfatal + self.fatal


@dataclass(frozen=True, slots=True)
class RootBus:
    """A root bus and the host bridge that owns it; on multi-stack CPUs every stack is its own host bridge."""

    domain: int
    bus: int
    host_bridge: str = ""  # the kernel's name for it (pci0000:00); defaults from the bus number
    numa_node: int | None = None
    p2p_read: float | None = None  # GB/s of P2P reads the root complex forwards between its ports; None = unknown
    p2p_write: float | None = None  # GB/s of P2P writes

    def __post_init__(self) -> None:
        if not self.host_bridge:
            object.__setattr__(self, "host_bridge", f"pci{format_bus(self.domain, self.bus)}")

    @property
    def bus_id(self) -> tuple[int, int]:
        return (self.domain, self.bus)

    def __str__(self) -> str:
        return format_bus(self.domain, self.bus)


@dataclass(frozen=True, slots=True)
class Device:
    """One PCI function.

    ``parent`` is the bridge that owns the bus this function sits on (None on a root bus). A VF names its PF in
    ``physfn`` and hangs below the same bridge as its PF, as the kernel puts VFs on the PF's bus or a virtual bus
    of the same bridge.
    """

    bdf: BDF
    kind: DeviceKind
    name: str
    parent: BDF | None = None
    vendor_id: int | None = None
    device_id: int | None = None
    class_code: int | None = None  # 24 bits: base class, subclass, prog-if
    subsystem_vendor_id: int | None = None
    subsystem_device_id: int | None = None
    revision: int | None = None
    product: str | None = None
    driver: str | None = None
    numa_node: int | None = None
    iommu_group: int | None = None
    link: Link | None = None
    acs: Acs = ACS_NONE
    physfn: BDF | None = None
    pool: P2PPool | None = None
    # A Root Complex Integrated Endpoint (PCIe port type 9, or inferred: an endpoint on a root bus reporting no
    # link): it sits inside the root complex and has no PCIe link of its own.
    integrated: bool = False
    # Why the source's facts about this function's place in the tree conflict ("" when they do not): the file
    # gives its address twice, or puts it on a bus another bridge owns. Verdicts refuse such a function as a pair
    # end (its path is not known); ``Fabric.unplaced`` holds the entries that could not be placed at all.
    conflict: str = ""
    slot: str | None = None  # the physical slot's name (/sys/bus/pci/slots/NAME/address), what people label
    aer: AerCounts | None = None  # AER error counters, when the kernel keeps them

    @property
    def is_vf(self) -> bool:
        return self.physfn is not None

    @property
    def ids(self) -> str:
        """``vvvv:dddd`` as lspci -n prints it, or ``?`` parts when unknown."""
        vendor = f"{self.vendor_id:04x}" if self.vendor_id is not None else "????"
        device = f"{self.device_id:04x}" if self.device_id is not None else "????"
        return f"{vendor}:{device}"

    def __str__(self) -> str:
        return f"{self.name} ({self.bdf})"


class FabricError(ValueError):
    """A set of devices that cannot form a PCI tree. ``problems`` says every reason, device by device."""

    def __init__(self, problems: list[StructureProblem]):
        self.problems = problems
        super().__init__("; ".join(p.message for p in problems))


@dataclass(frozen=True, slots=True)
class StructureProblem:
    """Why a device cannot stand where it was put. ``index`` is its position in the list given to Fabric, so a
    loader can point at the line it came from; ``field`` the attribute at fault."""

    message: str
    index: int | None = None
    field: str | None = None
    hint: str = ""
    other: int | None = None  # the device it clashes with (the first holder of a duplicate address), by index
    bus_conflict: bool = False  # the device is sound but sits on a bus another bridge (or a root bus) owns


@dataclass(frozen=True, eq=False)
class Fabric:
    """Host facts plus the PCI tree. Devices are kept in bus order (sorted by address)."""

    name: str
    root_buses: tuple[RootBus, ...]
    devices: tuple[Device, ...]
    host: Host = Host()
    description: str = ""
    notes: tuple[str, ...] = ()  # what the source could not read, and how to get it
    # Functions a foreign file describes but that cannot stand in the tree (a second entry for an address already
    # placed), each with its ``conflict`` reason and its parent as the file gives it. Not part of any lookup,
    # walk or verdict: kept so that views can show them, in a group of their own.
    unplaced: tuple[Device, ...] = ()
    _by_bdf: dict[BDF, Device] = field(init=False, repr=False)
    _by_name: dict[str, Device] = field(init=False, repr=False)
    _children: dict[BDF | None, list[Device]] = field(init=False, repr=False)
    _root_of: dict[BDF, RootBus] = field(init=False, repr=False)
    _tops: dict[tuple[int, int], list[Device]] = field(init=False, repr=False)  # on_root_bus, by bus
    _first_on_bus: dict[tuple[int, int], Device] = field(init=False, repr=False)  # representative, by bus
    _virtfns: dict[BDF, list[Device]] = field(init=False, repr=False)  # by PF
    _slots: dict[tuple[BDF | None, tuple[int, int], int], list[Device]] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        from .checks import host_problems, structure_problems  # checks reads the model's types: imported late

        devices = tuple(self.devices)
        root_buses = tuple(self.root_buses)
        problems = structure_problems(root_buses, devices) + host_problems(self.host)
        if problems:
            raise FabricError(problems)
        devices = tuple(sorted(devices, key=lambda d: d.bdf))
        object.__setattr__(self, "devices", devices)
        object.__setattr__(self, "root_buses", tuple(sorted(root_buses, key=lambda r: r.bus_id)))
        object.__setattr__(self, "notes", tuple(self.notes))
        object.__setattr__(self, "unplaced", tuple(self.unplaced))
        by_bdf = {d.bdf: d for d in devices}
        children: dict[BDF | None, list[Device]] = {}
        for dev in devices:
            children.setdefault(dev.parent, []).append(dev)
        buses = {rb.bus_id: rb for rb in root_buses}
        root_of: dict[BDF, RootBus] = {}
        for dev in devices:  # in address order: a bridge (its bus below its children's, checked) comes first
            # A VF of a root-bus PF may sit on a virtual bus of its own; it belongs to its PF's root bus.
            top = by_bdf[dev.physfn] if dev.physfn is not None else dev
            root_of[dev.bdf] = root_of[top.parent] if top.parent is not None else buses[top.bdf.bus_id]
        object.__setattr__(self, "_by_bdf", by_bdf)
        object.__setattr__(self, "_by_name", {d.name: d for d in devices})
        object.__setattr__(self, "_children", children)
        object.__setattr__(self, "_root_of", root_of)
        # Indexes for the questions views ask of every root bus or function: answered by scanning, they made
        # `show`, the exports and verdict contexts quadratic on machines with thousands of root-bus functions or
        # VFs (8,000 functions on 2,700 root buses: `show --json` 24 s).
        tops: dict[tuple[int, int], list[Device]] = {}
        first_on_bus: dict[tuple[int, int], Device] = {}
        for dev in children.get(None, ()):
            tops.setdefault(root_of[dev.bdf].bus_id, []).append(dev)
            first_on_bus.setdefault(dev.bdf.bus_id, dev)
        virtfns: dict[BDF, list[Device]] = {}
        slots: dict[tuple[BDF | None, tuple[int, int], int], list[Device]] = {}
        for dev in devices:
            if dev.physfn is not None:
                virtfns.setdefault(dev.physfn, []).append(dev)
            else:
                slots.setdefault((dev.parent, dev.bdf.bus_id, dev.bdf.device), []).append(dev)
        object.__setattr__(self, "_tops", tops)
        object.__setattr__(self, "_first_on_bus", first_on_bus)
        object.__setattr__(self, "_virtfns", virtfns)
        object.__setattr__(self, "_slots", slots)

    # -- equality: the same facts, whatever order they were given in --------------------------------------------
    def _key(self) -> tuple:
        return (self.name, self.description, self.host, self.root_buses, self.devices, self.notes, self.unplaced)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Fabric) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __len__(self) -> int:
        return len(self.devices)

    def __iter__(self) -> Iterator[Device]:
        return iter(self.devices)

    def __contains__(self, bdf: object) -> bool:
        return bdf in self._by_bdf

    # -- lookup -----------------------------------------------------------------------------------------------------
    def device(self, bdf: BDF) -> Device:
        return self._by_bdf[bdf]

    def get(self, bdf: BDF | None) -> Device | None:
        return self._by_bdf.get(bdf) if bdf is not None else None

    def by_name(self, name: str) -> Device | None:
        return self._by_name.get(name)

    def find(self, ref: str) -> Device:
        """A device by name (``nvme0``) or address (``0000:03:00.0`` or ``03:00.0``); KeyError says what is there."""
        dev = self._by_name.get(ref)
        if dev is not None:
            return dev
        try:
            bdf = BDF.parse(ref)
        except ValueError:
            bdf = None
        if bdf is not None and bdf in self._by_bdf:
            return self._by_bdf[bdf]
        raise KeyError(ref)

    # -- tree -------------------------------------------------------------------------------------------------------
    def children(self, dev: Device | None) -> list[Device]:
        """Functions directly below a bridge in bus order; with None, the functions on root buses."""
        return list(self._children.get(dev.bdf if dev is not None else None, ()))

    def on_root_bus(self, root_bus: RootBus) -> list[Device]:
        """Functions at the top of a root bus's hierarchy in address order: those on the bus itself (devfn order,
        the kernel's enumeration order) and VFs of its RCiEPs that sit on virtual buses."""
        tops = self._tops.get(root_bus.bus_id, [])
        return list(tops) if tops and self._root_of[tops[0].bdf] == root_bus else []

    def representative(self, root_bus: RootBus) -> Device | None:
        """The first function on the root bus, which stands for the host bridge in the kernel's whitelist."""
        return self._first_on_bus.get(root_bus.bus_id)

    def root_bus_of(self, dev: Device) -> RootBus:
        return self._root_of[dev.bdf]

    def parent(self, dev: Device) -> Device | None:
        return self.get(dev.parent)

    def upstream_bridge(self, dev: Device) -> Device | None:
        """The kernel's pci_upstream_bridge(): a VF first steps to its PF; a function on a root bus has none."""
        if dev.physfn is not None:
            dev = self._by_bdf[dev.physfn]
        return self.get(dev.parent)

    def upstream_chain(self, dev: Device) -> list[Device]:
        """``[dev, up(dev), up(up(dev)), ...]``: the device itself first, as the P2P distance walk counts it."""
        chain = [dev]
        up = self.upstream_bridge(dev)
        while up is not None:
            chain.append(up)
            up = self.upstream_bridge(up)
        return chain

    def ancestors(self, dev: Device) -> list[Device]:
        """Bridges above ``dev`` in the tree, nearest first (a VF's are its PF's)."""
        return self.upstream_chain(dev)[1:]

    def physfn(self, dev: Device) -> Device | None:
        return self.get(dev.physfn)

    def virtfns(self, dev: Device) -> list[Device]:
        """A PF's VFs in address order (they sit below the PF's bridge, as the checks hold them to)."""
        return list(self._virtfns.get(dev.bdf, ())) if not dev.is_vf else []

    def siblings(self, dev: Device) -> list[Device]:
        """The other functions of the same multi-function device (same bus and slot), VFs excluded."""
        if dev.is_vf:
            return []
        return [d for d in self._slots.get((dev.parent, dev.bdf.bus_id, dev.bdf.device), ()) if d.bdf != dev.bdf]

    def endpoints(self) -> list[Device]:
        """Every function that is not a bridge or a host bridge, in bus order."""
        return [d for d in self.devices if d.kind.is_endpoint]

    def walk(self) -> Iterator[tuple[int, Device]]:
        """Depth-first (depth, device) over each root bus in order, children in bus order."""
        stack: list[tuple[int, Device]] = []
        for rb in reversed(self.root_buses):
            stack.extend((0, d) for d in reversed(self.on_root_bus(rb)))
        while stack:
            depth, dev = stack.pop()
            yield depth, dev
            stack.extend((depth + 1, c) for c in reversed(self._children.get(dev.bdf, ())))

    def uplink(self, dev: Device) -> Link | None:
        """The physical link between ``dev`` and the port above it, as both ends agree on it.

        Endpoints, switch upstream ports and PCI bridges report their upstream link; a root port or downstream
        port reports the link below it. A downstream port's own upstream side is the switch's internal fabric
        and a root port's is the root complex: neither is a PCIe link, so they have none.
        """
        if dev.kind in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM, DeviceKind.HOST_BRIDGE):
            return None
        if dev.physfn is not None:  # VFs share their PF's link
            dev = self._by_bdf[dev.physfn]
        port = self.get(dev.parent)
        if port is None or port.link is None or port.kind not in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM):
            return dev.link
        if dev.link is None:
            return port.link
        return _narrower(dev.link, port.link)

    def conflicting(self) -> list[Device]:
        """Functions in the tree whose place the source contradicts (``Device.conflict``), in bus order."""
        return [d for d in self.devices if d.conflict]

    def providers(self, published_only: bool = True) -> list[Device]:
        """Functions with a P2P memory pool (published ones only, by default), in bus order."""
        return [d for d in self.devices if d.pool is not None and (d.pool.published or not published_only)]

    # -- copies -----------------------------------------------------------------------------------------------------
    def replace(self, **changes) -> Fabric:
        """A copy with fields changed; ``devices`` may be given as an iterable."""
        return replace(self, **changes)

    def with_devices(self, devices: Iterable[Device]) -> Fabric:
        """A copy in which the given devices replace those with the same address."""
        changed = {d.bdf: d for d in devices}
        return replace(self, devices=tuple(changed.get(d.bdf, d) for d in self.devices))


def _narrower(a: Link, b: Link) -> Link:
    """The link two ends negotiate: the lower generation and width each reports (unknowns give way)."""

    def low(x: int | None, y: int | None) -> int | None:
        if x is None:
            return y
        if y is None:
            return x
        return min(x, y)

    return Link(
        gen=low(a.gen, b.gen),
        width=low(a.width, b.width),
        max_gen=low(a.max_gen, b.max_gen),
        max_width=low(a.max_width, b.max_width),
        mps=a.mps,
        mrrs=a.mrrs,
        down=a.down or b.down,
    )
