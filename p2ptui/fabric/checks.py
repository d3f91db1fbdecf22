"""Whether a set of devices forms a PCI tree the kernel could have enumerated.

Every source runs through these checks (the Fabric constructor calls them), so a YAML file, an lspci dump and a
sysfs snapshot are held to the same rules. Problems name the device's position in the input list so that a
loader can point at the line it came from.
"""

from __future__ import annotations

from functools import lru_cache

from .acs import ACS_NONE, ACS_UNKNOWN, AcsSource
from .bdf import BDF, format_bus
from .kinds import DeviceKind
from .limits import CPU_FAMILY, IOMMU_GROUP, MAX_BRIDGE_DEPTH, NUMA_NODE, spell, within
from .model import Device, Host, RootBus, StructureProblem

# A P2P pool beyond this is a typo (GiB for MiB, bytes for KiB), not hardware: today's largest BARs are a few
# hundred GiB.
MAX_POOL_BYTES = 64 << 40
LINK_GENS = range(1, 8)
LINK_WIDTHS = (1, 2, 4, 8, 12, 16, 32)
PAYLOAD_SIZES = (128, 256, 512, 1024, 2048, 4096)

_ID_FIELDS = (
    ("vendor id", 0xFFFF),
    ("device id", 0xFFFF),
    ("subsystem vendor id", 0xFFFF),
    ("subsystem device id", 0xFFFF),
    ("class code", 0xFFFFFF),
    ("revision", 0xFF),
)
_ALLOWED_PARENTS = {
    DeviceKind.SWITCH_DOWNSTREAM: {DeviceKind.SWITCH_UPSTREAM},
    DeviceKind.SWITCH_UPSTREAM: {DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM, DeviceKind.PCI_BRIDGE},
}


def structure_problems(root_buses: tuple[RootBus, ...], devices: tuple[Device, ...]) -> list[StructureProblem]:
    problems: list[StructureProblem] = []

    def add(
        message: str,
        index: int | None = None,
        field: str | None = None,
        hint: str = "",
        other: int | None = None,
        bus_conflict: bool = False,
    ) -> None:
        problems.append(StructureProblem(message, index, field, hint, other, bus_conflict))

    bus_ids: dict[tuple[int, int], int] = {}
    for i, rb in enumerate(root_buses):
        if rb.bus_id in bus_ids:
            add(f"root bus {rb} is declared twice")
        bus_ids[rb.bus_id] = i

    index_of: dict[BDF, int] = {}
    names: dict[str, int] = {}
    for i, dev in enumerate(devices):
        if dev.bdf in index_of:
            add(
                f"duplicate PCI address {dev.bdf}",
                i,
                "bdf",
                f"first used by device #{index_of[dev.bdf] + 1}",
                index_of[dev.bdf],
            )
        else:
            index_of[dev.bdf] = i
        if not dev.name:
            add(f"{dev.bdf} has an empty name", i, "name")
        elif dev.name in names:
            add(f"duplicate device name {dev.name!r}", i, "name", f"also the name of {devices[names[dev.name]].bdf}")
        else:
            names[dev.name] = i

    # Where an address is given twice, the first entry is the one that stands (the second is reported above as a
    # duplicate): functions below it are checked against it, not against the later copy.
    by_bdf = {d.bdf: d for d in reversed(devices)}
    # Which bridge (or root bus, None) owns each bus number: two owners of one bus is a tree no kernel enumerates.
    bus_owner: dict[tuple[int, int], BDF | None] = dict.fromkeys(bus_ids)
    # And the converse: a bridge has one secondary bus, so its (non-VF) children all sit on the same one.
    secondary: dict[BDF, Device] = {}
    for i, dev in enumerate(devices):
        _check_device(dev, i, by_bdf, bus_ids, add)
        _check_values(dev, i, add)
        # A function marked as conflicting stands where its source put it, on a bus another bridge also claims.
        parent = dev.parent
        if parent is not None and dev.physfn is None and parent in by_bdf and not dev.conflict:
            bus_id = dev.bdf.bus_id
            owner = bus_owner.setdefault(bus_id, parent)
            first = secondary.setdefault(parent, dev)
            if owner != parent:
                add(
                    f"{dev.bdf} is below bridge {parent} but bus {format_bus(*bus_id)} "
                    f"already belongs to {_owner_name(owner, bus_id)}",
                    i,
                    "bdf",
                    "every function below one bridge sits on that bridge's secondary bus",
                    bus_conflict=True,
                )
            elif first.bdf.bus_id != bus_id:
                add(
                    f"{dev.bdf} is below bridge {parent}, whose secondary bus is {format_bus(*first.bdf.bus_id)} "
                    f"(where {first.bdf} sits)",
                    i,
                    "bdf",
                    "a bridge has one secondary bus, and all its functions but VFs sit on it",
                    bus_conflict=True,
                )
    if not problems:
        _check_tree(devices, by_bdf, add)
    return problems


def _owner_name(owner: BDF | None, bus_id: tuple[int, int]) -> str:
    return f"bridge {owner}" if owner is not None else f"root bus {format_bus(*bus_id)}"


def _check_device(dev: Device, i: int, by_bdf: dict[BDF, Device], bus_ids: dict, add) -> None:
    if dev.integrated and (not dev.kind.is_endpoint or dev.parent is not None or dev.link is not None):
        add(
            f"{dev.bdf} is marked integrated in the root complex, but it is not an endpoint on a root bus without "
            "a link",
            i,
            "integrated",
        )
    if dev.physfn is not None:
        _check_vf(dev, dev.physfn, i, by_bdf, add)
    if dev.parent is None:
        if dev.bdf.bus_id not in bus_ids and not dev.is_vf:  # VFs of RCiEPs may sit on virtual buses
            add(
                f"{dev.bdf} is on bus {format_bus(*dev.bdf.bus_id)}, which is neither a root bus nor below a bridge",
                i,
                "bdf",
                "declare the root bus or place the device below its bridge",
            )
        if dev.kind in (DeviceKind.SWITCH_UPSTREAM, DeviceKind.SWITCH_DOWNSTREAM):
            add(f"{dev.bdf} is a {dev.kind.label} but sits on a root bus", i, "kind", "switches hang below root ports")
        return
    parent = by_bdf.get(dev.parent)
    if parent is None:
        add(f"{dev.bdf} names parent {dev.parent}, which is not in the fabric", i, "parent")
        return
    if not parent.kind.is_bridge:
        add(
            f"{dev.bdf} is below {parent.bdf} ({parent.name}), a {parent.kind.label}, which has no secondary bus",
            i,
            "bdf",
            "only root ports, switch ports and PCI bridges have devices below them",
        )
        return
    if dev.kind in (DeviceKind.ROOT_PORT, DeviceKind.HOST_BRIDGE):
        add(
            f"{dev.bdf} is a {dev.kind.label} but sits below bridge {parent.bdf}", i, "kind", "it belongs on a root bus"
        )
    allowed = _ALLOWED_PARENTS.get(dev.kind)
    if allowed is not None and parent.kind not in allowed:
        wanted = " or ".join(sorted(k.label for k in allowed))
        add(f"{dev.bdf} is a {dev.kind.label} below a {parent.kind.label}", i, "kind", f"it must sit below a {wanted}")
    if dev.bdf.domain != parent.bdf.domain:
        add(f"{dev.bdf} is in a different PCI domain than its bridge {parent.bdf}", i, "bdf")
    elif dev.bdf.bus <= parent.bdf.bus:
        add(
            f"{dev.bdf} is below bridge {parent.bdf} but its bus number is not greater than the bridge's",
            i,
            "bdf",
            "buses are numbered downward from the root: a bridge's secondary bus is above its own",
        )


def _check_vf(dev: Device, physfn: BDF, i: int, by_bdf: dict[BDF, Device], add) -> None:
    pf = by_bdf.get(physfn)
    if pf is None:
        add(f"VF {dev.bdf} names physical function {dev.physfn}, which is not in the fabric", i, "physfn")
        return
    if pf.is_vf:
        add(f"VF {dev.bdf} names {pf.bdf} as its PF, but that is itself a VF", i, "physfn")
    elif not pf.kind.is_endpoint:
        add(f"VF {dev.bdf} names {pf.bdf}, a {pf.kind.label}, as its PF", i, "physfn", "only endpoints have VFs")
    if dev.parent != pf.parent:
        add(f"VF {dev.bdf} is not below the same bridge as its PF {pf.bdf}", i, "physfn")
    if dev.bdf.domain != pf.bdf.domain or dev.bdf.bus < pf.bdf.bus:
        add(f"VF {dev.bdf} must be on its PF's bus or a later one of the same domain", i, "bdf")
    if dev.kind.is_bridge:
        add(f"VF {dev.bdf} cannot be a bridge", i, "kind")


def _check_values(dev: Device, i: int, add) -> None:
    if dev.pool is not None:
        pool = dev.pool
        if not dev.kind.is_endpoint:
            add(f"{dev.bdf} is a {dev.kind.label} and cannot provide P2P memory", i, "pool")
        if pool.size < 0 or pool.available < 0:
            add(f"{dev.bdf}: P2P pool sizes cannot be negative", i, "pool")
        elif pool.size > MAX_POOL_BYTES:
            add(f"{dev.bdf}: P2P pool of {pool.size} bytes is absurd", i, "pool", "more than 64 TiB; check the unit")
        elif pool.available > pool.size:
            add(
                f"{dev.bdf}: P2P pool has {pool.available} bytes available but only {pool.size} in all",
                i,
                "pool",
                "available cannot exceed size",
            )
    if dev.link is not None:
        link = dev.link
        for name, value, allowed in (
            ("gen", link.gen, LINK_GENS),
            ("max_gen", link.max_gen, LINK_GENS),
            ("width", link.width, LINK_WIDTHS),
            ("max_width", link.max_width, LINK_WIDTHS),
            ("mps", link.mps, PAYLOAD_SIZES),
            ("mrrs", link.mrrs, PAYLOAD_SIZES),
        ):
            if value is None or value in allowed:
                continue
            if allowed is LINK_GENS:
                add(f"{dev.bdf}: unknown PCIe link generation {value} ({name})", i, "link", "known: 1 to 7")
            else:
                add(f"{dev.bdf}: link {name} {value} is not a PCIe value", i, "link", f"one of {_spell(allowed)}")
    if dev.acs is not ACS_UNKNOWN and dev.acs is not ACS_NONE:  # the shared constants need no check (most)
        _check_acs(dev, i, add)
    _check_numbers(dev, i, add)


def _check_acs(dev: Device, i: int, add) -> None:
    acs = dev.acs
    # Each ACS source carries only the registers it can mean; anything else is a builder's mistake that a saved
    # file could not express.
    stray = {
        AcsSource.NONE: acs.cap | acs.ctrl | acs.firmware_ctrl,
        AcsSource.UNKNOWN: acs.cap | acs.ctrl | acs.firmware_ctrl,
        AcsSource.HARDWARE: acs.firmware_ctrl,
        AcsSource.KERNEL_DEFAULT: acs.ctrl,
    }[acs.source]
    if stray:
        add(
            f"{dev.bdf}: ACS state {acs.source.value!r} cannot carry register bits {stray:#x}",
            i,
            "acs",
            "hardware holds cap and ctrl; kernel-default holds cap and firmware",
        )
    if acs.source in (AcsSource.HARDWARE, AcsSource.KERNEL_DEFAULT):
        for name, value in (("cap", acs.cap), ("ctrl", acs.ctrl), ("firmware", acs.firmware_ctrl)):
            if not 0 <= value <= 0xFFFF:
                add(f"{dev.bdf}: ACS {name} value {value:#x} does not fit the 16-bit register", i, "acs")
        extra = (acs.ctrl | acs.firmware_ctrl) & ~acs.cap
        if extra and 0 <= extra <= 0xFFFF:
            add(
                f"{dev.bdf}: ACS control sets bits the capability does not advertise ({extra:#x})",
                i,
                "acs",
                "hardware keeps unimplemented control bits at 0",
            )


@lru_cache(maxsize=4096)  # a machine repeats a few device types many times over: each is checked once
def _ids_out_of_range(ids: tuple[int | None, ...]) -> tuple[tuple[str, int], ...]:
    return tuple(
        (name, value)
        for (name, top), value in zip(_ID_FIELDS, ids, strict=True)
        if value is not None and not 0 <= value <= top
    )


def _check_numbers(dev: Device, i: int, add) -> None:
    ids = (dev.vendor_id, dev.device_id, dev.subsystem_vendor_id, dev.subsystem_device_id, dev.class_code, dev.revision)
    for name, value in _ids_out_of_range(ids):
        add(f"{dev.bdf}: {name} {value:#x} is out of range", i, None)
    if dev.numa_node is not None and not within(dev.numa_node, NUMA_NODE):
        add(f"{dev.bdf}: NUMA node {dev.numa_node} is out of range", i, "numa_node")
    if dev.iommu_group is not None and dev.iommu_group < 0:
        add(f"{dev.bdf}: IOMMU group {dev.iommu_group} is negative", i, "iommu_group")
    elif dev.iommu_group is not None and not within(dev.iommu_group, IOMMU_GROUP):
        add(
            f"{dev.bdf}: IOMMU group {dev.iommu_group} is out of range",
            i,
            "iommu_group",
            f"the kernel numbers groups {IOMMU_GROUP[0]} to {IOMMU_GROUP[1]}",
        )


def _check_tree(devices: tuple[Device, ...], by_bdf: dict[BDF, Device], add) -> None:
    """Every chain of parents ends on a root bus, at most MAX_BRIDGE_DEPTH bridges up.

    The depth limit is shared with the YAML writer and loader (limits.py): a deeper tree would be written as YAML
    nested beyond what the loader reads back; it is reported once per chain, at the first function past it. Each
    function's depth is computed once (memoised), so the walk is linear in the number of functions. A cycle is
    impossible once the other checks pass (bus numbers grow downward), but the walk still stops on one, which
    guards builders that bypass the numbering rules.
    """
    depth: dict[BDF, int] = {}
    for i, dev in enumerate(devices):
        chain: list[BDF] = []
        up: BDF | None = dev.bdf
        while up is not None and up not in depth:
            if len(chain) > len(devices):  # more steps than functions: the chain came round
                add(f"{dev.bdf} is its own ancestor, or below one that is", i, "parent")
                return
            chain.append(up)
            up = by_bdf[up].parent
        below = depth[up] if up is not None else -1
        for bdf in reversed(chain):
            below += 1
            depth[bdf] = below
        if depth[dev.bdf] == MAX_BRIDGE_DEPTH + 1:
            add(
                f"{dev.bdf} sits {MAX_BRIDGE_DEPTH + 1} bridges below its root bus; p2ptui reads trees at most "
                f"{MAX_BRIDGE_DEPTH} bridges deep",
                i,
                "parent",
                "real machines are under 10 bridges deep",
            )


def host_problems(host: Host) -> list[StructureProblem]:
    """Host facts out of the shared ranges (limits.py), which the YAML loader would refuse."""
    if host.cpu_family is not None and not within(host.cpu_family, CPU_FAMILY):
        return [
            StructureProblem(
                f"CPU family {host.cpu_family} is out of range",
                None,
                "cpu_family",
                f"x86 families are {spell(CPU_FAMILY)}",
            )
        ]
    return []


def _spell(values) -> str:
    values = list(values)
    return ", ".join(str(v) for v in values)
