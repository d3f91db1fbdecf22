"""Turn what was read from sysfs into model devices: kinds, links, ACS state, names; then the Fabric.

Bridge kinds come from the PCIe capability's Device/Port Type, corrected as the kernel's set_pcie_port_type()
does for ports that misreport it; without a readable capability they follow from the position in the tree.
Hardware quirks the kernel walks past (a reserved MPS encoding, LnkSta reading all ones, ACS control bits the
capability does not offer, a switch port on a root bus, a VF without its PF) leave the fact unknown or corrected,
with one note per kind; the tree is then assembled as every source's is (tolerate.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..errors import InputError, Location
from ..fabric import acs as acsbits
from ..fabric.acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from ..fabric.bdf import BDF
from ..fabric.checks import LINK_WIDTHS
from ..fabric.kinds import DeviceKind, bridge_kind_for_position, endpoint_kind_from_class
from ..fabric.model import Fabric, Host, Link, RootBus
from . import assemble
from . import pci_config as pc
from .assemble import Draft, listing
from .sysfs_device import Problems, RawDevice

PORT_KINDS = {
    pc.TYPE_ROOT_PORT: DeviceKind.ROOT_PORT,
    pc.TYPE_UPSTREAM: DeviceKind.SWITCH_UPSTREAM,
    pc.TYPE_DOWNSTREAM: DeviceKind.SWITCH_DOWNSTREAM,
    pc.TYPE_PCIE_TO_PCI: DeviceKind.PCI_BRIDGE,
    pc.TYPE_PCI_TO_PCIE: DeviceKind.PCI_BRIDGE,
}
# The kernel's pcie_downstream_port(): ports whose secondary side is a PCIe link going down.
DOWNSTREAM_SIDE = {pc.TYPE_ROOT_PORT, pc.TYPE_DOWNSTREAM, pc.TYPE_PCI_TO_PCIE}
BRIDGE_CLASSES = {0x0604, 0x0609}  # PCI-to-PCI and semi-transparent PCI-to-PCI bridges
HOST_BRIDGE_CLASS = 0x0600
ACS_UNKNOWN_NOTE = "ACS state unknown for {n} of {total} functions: {why}; run as root or load `lspci -vvv` output"
WHY_SHORT_READ = "the kernel shows only {size} bytes of config space to non-root users"
WHY_SHORT_FILE = "their config files hold only {size} bytes (snapshots keep the 64-byte header)"


@dataclass
class Tally:
    """Counts behind the notes, so each kind of gap is said once."""

    acs_unknown: int = 0
    no_config: int = 0
    acs_unknown_size: int = 0
    short_read: bool = False
    no_ext_space: int = 0
    positional: list[BDF] = field(default_factory=list)
    corrected: list[str] = field(default_factory=list)
    acs_stray: list[str] = field(default_factory=list)
    integrated_known: list[BDF] = field(default_factory=list)
    integrated_inferred: list[BDF] = field(default_factory=list)


def build_fabric(
    raws: list[RawDevice],
    root_buses: dict[tuple[int, int], str],
    class_names: dict[BDF, str],
    host: Host,
    problems: Problems,
    name: str,
    description: str,
    notes: list[str],
) -> Fabric:
    """Raws must list parents before children (sysfs_tree's order)."""
    tally = Tally()
    kinds: dict[BDF, DeviceKind] = {}
    port_types: dict[BDF, int | None] = {}
    for raw in raws:
        parent = raw.found.parent
        parent_kind, parent_type = (kinds.get(parent), port_types.get(parent)) if parent else (None, None)
        kind, port_type = _kind(raw, parent_kind, parent_type, problems, tally)
        kinds[raw.found.bdf] = kind
        port_types[raw.found.bdf] = port_type
    drafts = [
        Draft(
            raw.found.bdf,
            raw.found.parent,
            Location(problems.files.show(raw.found.rel)),
            bridge=kinds[raw.found.bdf].is_bridge,
            kind=kinds[raw.found.bdf],
            name=class_names.get(raw.found.bdf),
            label=str(raw.found.bdf),
            values={
                "vendor_id": _first(raw.vendor_id, raw.config.vendor_id if raw.config is not None else None),
                "device_id": _first(raw.device_id, raw.config.device_id if raw.config is not None else None),
                "class_code": _first(raw.class_code, raw.config.class_code if raw.config is not None else None),
                "subsystem_vendor_id": raw.subsystem_vendor_id,
                "subsystem_device_id": raw.subsystem_device_id,
                "revision": _first(raw.revision, raw.config.revision if raw.config is not None else None),
                "driver": raw.driver,
                "numa_node": raw.numa_node,
                "iommu_group": raw.iommu_group,
                "link": _link(raw, kinds[raw.found.bdf], problems),
                "acs": _acs(raw, tally),
                "physfn": raw.physfn,
                "pool": raw.pool,
                "integrated": False,
            },
        )
        for raw in raws
    ]
    present = {raw.found.bdf for raw in raws}
    for raw, draft in zip(raws, drafts, strict=False):
        if raw.physfn is not None and raw.physfn not in present:
            problems.odd(
                f"{raw.found.rel}/physfn",
                "are VFs whose physical function is absent; kept as functions of their own",
                str(raw.physfn),
            )
            draft.values["physfn"] = None
    _mark_integrated(raws, drafts, tally)
    # A root bus's NUMA node is the first its functions report. Gathered in one pass: searched per bus, a machine
    # of thousands of host bridges read every function for each.
    root_numa: dict[tuple[int, int], int] = {}
    for d in drafts:
        if d.parent is None and d.values["numa_node"] is not None:
            root_numa.setdefault(d.bdf.bus_id, d.values["numa_node"])
    buses = []
    for (domain, bus), rel in sorted(root_buses.items()):
        numa = root_numa.get((domain, bus))
        buses.append(RootBus(domain, bus, host_bridge=rel.rsplit("/", 1)[-1], numa_node=numa))
    if problems.errors:
        raise InputError(problems.errors)
    all_notes = notes + _tally_notes(tally, len(drafts)) + problems.oddity_notes()
    # The same assembly as every other source's: names, then the tree with what contradicts it set aside.
    return assemble.build_fabric(problems.files.show(""), name, buses, drafts, host, all_notes, description)


def _first(a: int | None, b: int | None) -> int | None:
    return a if a is not None else b


def _kind(
    raw: RawDevice, parent_kind: DeviceKind | None, parent_type: int | None, problems: Problems, tally: Tally
) -> tuple[DeviceKind, int | None]:
    cfg = raw.config
    class_code = _first(raw.class_code, cfg.class_code if cfg else None)
    pcie = cfg.pcie if cfg else None
    port_type = pcie.port_type if pcie else None
    vendor_id = _first(raw.vendor_id, cfg.vendor_id if cfg else None)
    if raw.physfn is not None:
        return endpoint_kind_from_class(class_code, vendor_id), port_type
    header = cfg.header_type if cfg else None
    class16 = class_code >> 8 if class_code is not None else None
    if header == 0 and raw.found.children:
        problems.odd(
            f"{raw.found.rel}/config",
            "have functions below them but a config header that is not a bridge's; taken as bridges",
        )
    is_bridge = header in (1, 2) or raw.found.children > 0 or (header is None and class16 in BRIDGE_CLASSES)
    if not is_bridge:
        if class16 == HOST_BRIDGE_CLASS:
            # A host bridge function below a bridge is some other device wearing the class (NTB, emulation).
            return (DeviceKind.HOST_BRIDGE if raw.found.parent is None else DeviceKind.OTHER), port_type
        return endpoint_kind_from_class(class_code, vendor_id), port_type
    if port_type in (pc.TYPE_UPSTREAM, pc.TYPE_DOWNSTREAM) and raw.found.parent is None:
        # A switch port cannot sit on a root bus; the kernel walks on, and VMs show such ports. On a root bus it
        # does what a root port does.
        tally.corrected.append(f"{raw.found.bdf} claims to be a switch port but sits on a root bus: a root port here")
        port_type = pc.TYPE_ROOT_PORT
    elif port_type == pc.TYPE_DOWNSTREAM and parent_type in DOWNSTREAM_SIDE:
        port_type = pc.TYPE_UPSTREAM
        tally.corrected.append(f"{raw.found.bdf} claims to be a downstream port but acts as upstream")
    elif port_type == pc.TYPE_UPSTREAM and parent_type == pc.TYPE_UPSTREAM:
        port_type = pc.TYPE_DOWNSTREAM
        tally.corrected.append(f"{raw.found.bdf} claims to be an upstream port but acts as downstream")
    kind = PORT_KINDS.get(port_type) if port_type is not None else None
    if kind is not None:
        return kind, port_type
    if header == 2 or (cfg is not None and cfg.caps_known and pcie is None):
        return DeviceKind.PCI_BRIDGE, port_type  # conventional PCI (or CardBus): no PCIe port type to have
    tally.positional.append(raw.found.bdf)
    return bridge_kind_for_position(parent_kind), port_type


def _link(raw: RawDevice, kind: DeviceKind, problems: Problems) -> Link | None:
    if kind is DeviceKind.HOST_BRIDGE or raw.physfn is not None:
        return None  # VFs share their PF's link; their own link registers are reserved
    pcie = raw.config.pcie if raw.config else None
    gen, width, max_gen, max_width = raw.gen, raw.width, raw.max_gen, raw.max_width
    mps = mrrs = None
    down = raw.link_down and not raw.no_link
    if pcie is not None:
        where = f"{raw.found.rel}/config"
        if pcie.port_type not in pc.LINKLESS_TYPES:
            if pcie.link_status == 0xFFFF:
                problems.odd(
                    where,
                    "have a Link Status register reading 0xffff (the device did not answer); current link unknown",
                )
            else:
                gen = _first(gen, _speed_code(pcie.speed, where, "Link Status", problems))
                width = _first(width, _width_code(pcie.width, where, "Link Status", problems))
                down = down or (pcie.width == 0 and raw.width is None)
            max_gen = _first(max_gen, _speed_code(pcie.max_speed, where, "Link Capabilities", problems))
            max_width = _first(max_width, _width_code(pcie.max_width, where, "Link Capabilities", problems))
        mps = pcie.mps if pcie.mps_code <= 5 else None
        mrrs = pcie.mrrs if pcie.mrrs_code <= 5 else None
        if mps is None or mrrs is None:
            problems.odd(
                where,
                "have a reserved MPS/MRRS encoding in Device Control; left unknown",
                f"{pcie.mps_code}/{pcie.mrrs_code}",
            )
    if (gen, width, max_gen, max_width, mps, mrrs) == (None,) * 6 and not down:
        return None
    down = down and gen is None and width is None
    return Link(gen=gen, width=width, max_gen=max_gen, max_width=max_width, mps=mps, mrrs=mrrs, down=down)


def _speed_code(code: int, where: str, register: str, problems: Problems) -> int | None:
    if code == 0:
        return None
    if code > 7:
        problems.odd(where, f"have a {register} speed code no PCIe generation has; left unknown", str(code))
        return None
    return code  # codes 1..7 are 2.5 GT/s (gen1) .. 128 GT/s (gen7)


def _width_code(width: int, where: str, register: str, problems: Problems) -> int | None:
    if width == 0:
        return None
    if width not in LINK_WIDTHS:
        problems.odd(where, f"have a {register} width no PCIe link has; left unknown", f"x{width}")
        return None
    return width


def _acs(raw: RawDevice, tally: Tally) -> Acs:
    cfg = raw.config
    if cfg is None:
        tally.no_config += 1
        return ACS_UNKNOWN
    if cfg.length < pc.STANDARD_BYTES or (not cfg.caps_known and not cfg.ext_known):
        tally.acs_unknown += 1
        tally.acs_unknown_size = cfg.length
        tally.short_read = tally.short_read or raw.config_short_read
        return ACS_UNKNOWN
    if cfg.ext_known:
        if cfg.acs is None:
            return ACS_NONE
        # Bits 7 and up are the egress vector size (cap) and newer controls the model does not use.
        cap, ctrl = cfg.acs.cap & acsbits.ALL_BITS, cfg.acs.ctrl & acsbits.ALL_BITS
        if ctrl & ~cap:
            # Hardware keeps unimplemented control bits at 0; the kernel only ever tests bits the capability offers.
            tally.acs_stray.append(f"{raw.found.bdf} ({ctrl & ~cap:#x})")
            ctrl &= cap
        return Acs(AcsSource.HARDWARE, cap=cap, ctrl=ctrl)
    if cfg.pcie is not None:
        tally.no_ext_space += 1  # 256 bytes from a PCIe function: the kernel cannot reach ACS either
    return ACS_NONE


def _tally_notes(tally: Tally, total: int) -> list[str]:
    notes = []
    if tally.acs_unknown:
        why = (WHY_SHORT_READ if tally.short_read else WHY_SHORT_FILE).format(size=tally.acs_unknown_size)
        notes.append(ACS_UNKNOWN_NOTE.format(n=tally.acs_unknown, total=total, why=why))
    if tally.no_config:
        notes.append(
            "ACS state and PCIe port types unknown for "
            f"{tally.no_config} function{'s' if tally.no_config != 1 else ''} "
            "without a readable config file"
        )
    if tally.no_ext_space:
        notes.append(
            f"{tally.no_ext_space} PCIe functions expose only 256 bytes of config space (no extended space: "
            "pci=nommconf or no ECAM); like the kernel, they are treated as having no ACS capability"
        )
    if tally.positional:
        positional = sorted(tally.positional)
        shown = ", ".join(str(b) for b in positional[:5]) + (" ..." if len(tally.positional) > 5 else "")
        notes.append(
            f"{len(tally.positional)} bridges have no readable PCIe capability; their port type (root, switch "
            f"upstream/downstream) is inferred from their position in the tree: {shown}"
        )
    for line in tally.corrected:
        notes.append(f"port type corrected as the kernel does: {line}")
    if tally.acs_stray:
        notes.append(
            f"{len(tally.acs_stray)} functions set ACS control bits their ACS capability does not offer; like the "
            f"kernel, p2ptui reads only the offered ones: {listing(tally.acs_stray, 5)}"
        )
    if tally.integrated_known:
        notes.append(
            f"{len(tally.integrated_known)} root complex integrated endpoint"
            f"{'s' if len(tally.integrated_known) > 1 else ''} (PCIe port type 9): no link, integrated in the root "
            "complex: " + listing([str(b) for b in sorted(tally.integrated_known)], 5)
        )
    if tally.integrated_inferred:
        notes.append(
            f"{len(tally.integrated_inferred)} endpoints on a root bus report no link (max_link_width 255, or no "
            "link attributes) and no readable port type: taken as integrated in the root complex (RCiEP): "
            + listing([str(b) for b in sorted(tally.integrated_inferred)], 5)
        )
    return notes


def _mark_integrated(raws: list[RawDevice], drafts: list[Draft], tally: Tally) -> None:
    """RCiEPs: port type 9 where the config space says so; else inferred for an endpoint on a root bus whose
    sysfs shows no link of its own (max_link_width 255, or no link attributes: conventional PCI)."""
    for raw, draft in zip(raws, drafts, strict=False):
        kind = draft.kind
        if draft.parent is not None or draft.values["physfn"] is not None or kind is None or not kind.is_endpoint:
            continue
        pcie = raw.config.pcie if raw.config else None
        if pcie is not None:
            if pcie.port_type == pc.TYPE_RC_ENDPOINT:
                tally.integrated_known.append(draft.bdf)
                draft.values.update(integrated=True, link=None)
            continue
        if raw.config is not None and raw.config.caps_known:
            continue  # a readable capability list without a PCIe capability: conventional PCI, said as such
        if raw.no_link or (draft.values["link"] is None and raw.max_width is None):
            tally.integrated_inferred.append(draft.bdf)
            draft.values.update(integrated=True, link=None)
