"""Hypothesis strategies: valid Fabrics that exercise every model field, and the strings YAML likes to misread.

``fabrics()`` builds trees the way firmware numbers them: each bridge takes the next free bus number, so every
bus below a bridge is greater than the bridge's own; multi-function devices share a slot; VFs follow their PF on
its bus or on a later bus of their own.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import strategies as st

from p2ptui.fabric import (
    ACS_NONE,
    ACS_UNKNOWN,
    BDF,
    Acs,
    AcsSource,
    Device,
    DeviceKind,
    Fabric,
    Host,
    IommuMode,
    Link,
    P2PPool,
    RootBus,
)
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.checks import LINK_GENS, LINK_WIDTHS, MAX_POOL_BYTES, PAYLOAD_SIZES
from p2ptui.fabric.kinds import ENDPOINT_KINDS, NAME_PREFIX

# Strings a YAML 1.1 reader would turn into numbers, booleans, nulls, floats, sexagesimals or syntax.
TRICKY = [
    "0x10",
    "off",
    "on",
    "yes",
    "no",
    "y",
    "n",
    "null",
    "Null",
    "~",
    "true",
    "False",
    "1e3",
    "1_000",
    "012",
    "0o17",
    ".inf",
    "-.inf",
    ".nan",
    "00:01.0",
    "0000:03:00.0",
    "1:30",
    "8086:2030",
    "2001-12-14",
    "=",
    "<<",
    "-",
    "- x",
    "? x",
    "#",
    "x #y",
    "a: b",
    "[x]",
    "{x: y}",
    "*x",
    "&x",
    "!x",
    "!!str",
    "%YAML",
    "@x",
    "`x",
    "'",
    '"',
    "|",
    ">",
    "",
    " ",
    " lead",
    "trail ",
    "two  spaces",
    "multi\nline",
    "trailing newline\n",
    "\n",
    "tab\tx",
    "back\\slash",
    "日本語",
    "Ünïcödé",
    "emoji 🚀",
    "nel\x85x",
    "ls\u2028x",
    "bom\ufeffx",
    "bell\x07",
    "del\x7f",
    "nul\x00x",
]
_CHARS = st.characters(exclude_categories=("Cs",))  # lone surrogates cannot be written as UTF-8


def texts(max_size: int = 24) -> st.SearchStrategy[str]:
    return st.one_of(st.sampled_from(TRICKY), st.text(_CHARS, max_size=max_size))


# Kernel releases a fabric file may hold (p2ptui.fabric.kernel_version): uname -r forms, YAML look-alikes included.
KERNEL_RELEASES = [
    "6.8.0-45-generic",
    "5.10",
    "6.12",
    "4.20.0",
    "latest",
    "5.14.0-362.el9.x86_64",
    "6.12.23+",
    "3.10.0-1160.el7.x86_64",
    "v5.4",
    " 6.1 ",
    "6.1.0-rc4+",
    "1.0",
    "7.10",
]


def kernel_releases() -> st.SearchStrategy[str]:
    tails = st.sampled_from(["", ".0", "-rc1", "+", "-45-generic", ".el9.x86_64", "-2-pve", "_1"])
    built = st.builds("{}.{}{}".format, st.integers(0, 99), st.integers(0, 999), tails)
    return st.one_of(st.sampled_from(KERNEL_RELEASES), built)


def optional(strategy: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(st.none(), strategy)


bandwidths = st.one_of(st.integers(0, 10_000).map(float), st.floats(0, 10_000, allow_nan=False, allow_infinity=False))
ids16 = st.integers(0, 0xFFFF)


def links() -> st.SearchStrategy[Link]:
    gens, widths, payloads = st.sampled_from(LINK_GENS), st.sampled_from(LINK_WIDTHS), st.sampled_from(PAYLOAD_SIZES)
    trained = st.builds(lambda g, w: Link(g, w, g, w), gens, widths)  # the "gen3 x16" shorthand
    downtrained = st.builds(
        lambda g, w, dg, dw: Link(g, w, min(g + dg, 7), w * 2**dw if w * 2**dw <= 32 else w),
        st.integers(1, 6),
        st.sampled_from((1, 2, 4, 8)),
        st.integers(1, 3),
        st.integers(0, 2),
    )
    anything = st.builds(
        Link, optional(gens), optional(widths), optional(gens), optional(widths), optional(payloads), optional(payloads)
    )
    return st.one_of(trained, downtrained, anything, st.just(Link(mps=None, mrrs=None)))


@st.composite
def acs_states(draw) -> Acs:
    source = draw(st.sampled_from(AcsSource))
    if source is AcsSource.NONE:
        return ACS_NONE
    if source is AcsSource.UNKNOWN:
        return ACS_UNKNOWN
    cap = draw(st.one_of(st.just(acsbits.ALL_BITS), st.integers(0, acsbits.ALL_BITS), st.integers(0, 0xFFFF)))
    within = draw(st.integers(0, 0xFFFF)) & cap  # hardware keeps bits it does not implement at 0
    if source is AcsSource.HARDWARE:
        return Acs(source, cap=cap, ctrl=within)
    return Acs(source, cap=cap, firmware_ctrl=within if draw(st.booleans()) else 0)


@st.composite
def pools(draw) -> P2PPool:
    unit = draw(st.sampled_from((1, 1 << 10, 1 << 20, 1 << 30, 1 << 40)))
    size = min(draw(st.integers(0, 4096)) * unit, MAX_POOL_BYTES)
    available = draw(st.one_of(st.just(size), st.integers(0, size)))
    return P2PPool(size, available, published=draw(st.booleans()), allocate=draw(st.booleans()))


@st.composite
def hosts(draw) -> Host:
    vendor = draw(optional(st.one_of(st.sampled_from(["intel", "amd", "arm", "off", "null", "0x10"]), texts(8))))
    if vendor is not None:  # the loader stores vendors stripped and in lower case, as the model asks
        vendor = vendor.strip().lower()
        vendor = vendor if vendor and vendor.strip().lower() == vendor else None
    return Host(
        cpu_vendor=vendor,
        cpu_family=draw(optional(st.integers(0, 0xFFF))),
        cpu_model=draw(optional(texts())),
        arch=draw(st.one_of(st.sampled_from(["x86_64", "aarch64", "ppc64le"]), texts(8))),
        kernel=draw(optional(kernel_releases())),
        cmdline=draw(st.one_of(st.just(""), st.just("intel_iommu=on iommu=pt pci=noacs"), texts())),
        iommu=draw(st.sampled_from(IommuMode)),
        memory_bandwidth=draw(optional(bandwidths)),
    )


_OPTIONAL = [
    ("vendor_id", ids16),
    ("device_id", ids16),
    ("subsystem_vendor_id", ids16),
    ("subsystem_device_id", ids16),
    ("class_code", st.integers(0, 0xFFFFFF)),
    ("revision", st.integers(0, 0xFF)),
    ("product", texts(40)),
    ("driver", st.one_of(st.sampled_from(["nvme", "pcieport"]), texts())),
    ("numa_node", st.integers(-1, 7)),
    ("iommu_group", st.integers(0, 2**31 - 1)),
    ("link", links()),
    ("acs", acs_states()),
    ("pool", pools()),
]


class _Builder:
    """Grows one random PCI tree, handing out bus numbers and device/function numbers as firmware would."""

    def __init__(self, draw, max_devices: int):
        self.draw = draw
        self.max_devices = max_devices
        self.devices: list[Device] = []
        self.next_devfn: dict[tuple[int, int], int] = {}
        self.next_bus: dict[int, int] = {}

    def full(self) -> bool:
        return len(self.devices) >= self.max_devices

    def new_bus(self, domain: int) -> int:
        bus = self.next_bus[domain]
        self.next_bus[domain] = bus + 1 + self.draw(st.integers(0, 2))
        return bus

    def slot(self, bus_id: tuple[int, int], functions: int = 1) -> list[BDF]:
        """``functions`` functions of one fresh slot (a multi-function device when more than one)."""
        devfn = -(-self.next_devfn.get(bus_id, 0) // 8) * 8
        self.next_devfn[bus_id] = devfn + functions
        return [BDF(bus_id[0], bus_id[1], (devfn + f) >> 3, (devfn + f) & 7) for f in range(functions)]

    def following(self, bus_id: tuple[int, int]) -> BDF:
        """The next devfn on a bus, whatever the slot: where VFs go."""
        devfn = self.next_devfn.get(bus_id, 0)
        self.next_devfn[bus_id] = devfn + 1
        return BDF(bus_id[0], bus_id[1], devfn >> 3, devfn & 7)

    def add(self, bdf: BDF, kind: DeviceKind, parent: BDF | None, physfn: BDF | None = None) -> Device:
        # One draw picks which optional fields are set (None otherwise), so a device costs few draws.
        present = self.draw(st.integers(0, (1 << len(_OPTIONAL)) - 1))
        values = {name: self.draw(strategy) for i, (name, strategy) in enumerate(_OPTIONAL) if present >> i & 1}
        if not kind.is_endpoint:
            values.pop("pool", None)  # only endpoints expose P2P memory
        dev = Device(bdf, kind, name="", parent=parent, physfn=physfn, **values)
        self.devices.append(dev)
        return dev

    def bridge(self, bdf: BDF, kind: DeviceKind, parent: BDF | None, depth: int) -> None:
        self.add(bdf, kind, parent)
        below = (bdf.domain, self.new_bus(bdf.domain))
        if kind is DeviceKind.SWITCH_UPSTREAM:
            for _ in range(self.draw(st.integers(1, 3))):
                if not self.full():
                    self.bridge(self.slot(below)[0], DeviceKind.SWITCH_DOWNSTREAM, bdf, depth + 1)
            return
        choices = ["endpoints", "empty"] + (["switch", "pci_bridge"] if depth < 4 else [])
        for _ in range(self.draw(st.integers(1, 2)) if kind is DeviceKind.PCI_BRIDGE else 1):
            what = self.draw(st.sampled_from(choices)) if not self.full() else "empty"
            if what == "endpoints":
                self.endpoints(below, bdf)
            elif what == "switch":
                self.bridge(self.slot(below)[0], DeviceKind.SWITCH_UPSTREAM, bdf, depth + 1)
            elif what == "pci_bridge":
                self.bridge(self.slot(below)[0], DeviceKind.PCI_BRIDGE, bdf, depth + 1)

    def endpoints(self, bus_id: tuple[int, int], parent: BDF | None) -> None:
        """One slot of endpoint functions; some are PFs with VFs on the same bus or on a later one."""
        pfs = [
            self.add(bdf, self.draw(st.sampled_from(ENDPOINT_KINDS)), parent)
            for bdf in self.slot(bus_id, self.draw(st.integers(1, 3)))
        ]
        for pf in pfs:
            if self.full() or not self.draw(st.booleans()):
                continue
            vf_bus = bus_id
            if parent is not None and self.draw(st.booleans()):
                vf_bus = (bus_id[0], self.new_bus(bus_id[0]))  # a virtual bus of the same bridge
            for _ in range(self.draw(st.integers(1, 3))):
                self.add(self.following(vf_bus), self.draw(st.sampled_from(ENDPOINT_KINDS)), parent, physfn=pf.bdf)

    def root_bus(self, domain: int) -> RootBus:
        d = self.draw
        bus = self.new_bus(domain)
        host_bridge = d(st.one_of(st.just(""), st.just(f"pci{domain:04x}:{bus:02x}"), texts(12)))
        rb = RootBus(
            domain,
            bus,
            host_bridge=host_bridge,
            numa_node=d(optional(st.integers(-1, 3))),
            p2p_read=d(optional(bandwidths)),
            p2p_write=d(optional(bandwidths)),
        )
        bus_id = (domain, bus)
        if d(st.booleans()):
            self.add(self.slot(bus_id)[0], DeviceKind.HOST_BRIDGE, None)
        for _ in range(d(st.integers(0, 3))):
            what = d(st.sampled_from(["root_port", "root_port", "rciep", "pci_bridge"])) if not self.full() else None
            if what == "rciep":
                self.endpoints(bus_id, None)
            elif what is not None:
                self.bridge(self.slot(bus_id)[0], DeviceKind(what), None, depth=0)
        return rb


def _unique_names(draw, devices: list[Device]) -> list[Device]:
    """Names in the kernel's style or any text (YAML look-alikes included), made unique and non-blank."""
    used: set[str] = set()
    named = []
    for i, dev in enumerate(devices):
        name = draw(st.one_of(st.just(f"{NAME_PREFIX[dev.kind]}{i}"), texts(16)))
        if not name.strip():
            name = NAME_PREFIX[dev.kind]
        while name in used:
            name = f"{name}-{i}"
        used.add(name)
        named.append(replace(dev, name=name))
    return named


@st.composite
def fabrics(draw, max_devices: int = 24) -> Fabric:
    builder = _Builder(draw, max_devices)
    domains = draw(
        st.lists(
            st.one_of(st.just(0), st.integers(1, 0xFFFF), st.integers(0x10000, 0xFFFFFFFF)),
            min_size=1,
            max_size=2,
            unique=True,
        )
    )
    root_buses = []
    for domain in domains:
        builder.next_bus[domain] = draw(st.integers(0, 0x40))
        for _ in range(draw(st.integers(1, 3))):
            root_buses.append(builder.root_bus(domain))
    return Fabric(
        name=draw(st.one_of(st.just("generated"), texts())),
        root_buses=tuple(root_buses),
        devices=tuple(_unique_names(draw, builder.devices)),
        host=draw(hosts()),
        description=draw(st.one_of(st.just(""), texts(200))),
        notes=tuple(draw(st.lists(texts(60), max_size=3))),
    )
