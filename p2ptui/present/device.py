"""A device, a root complex and the fabric as rows and parts: the TUI's tree labels and detail pane, the CLI's
``show`` tree lines and ``describe``.

Pure functions of the fabric model, so both views say the same words: the link is always the device's uplink as
the fabric resolves it (a function without a link of its own rides its bridge's), the ACS, pool and health facts
are spelled once here.
"""

from __future__ import annotations

from collections.abc import Callable

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.kinds import NO_LINK_INTEGRATED, RCIEP_LABEL, DeviceKind
from ..fabric.model import AerCounts, Device, Fabric, Host, Link, RootBus
from ..fabric.naming import device_names
from ..fabric.units import human_size
from .rows import Part, Row

# One cell wide in every terminal font we tried; the TUI's help screen explains them.
KIND_ICONS: dict[DeviceKind, str] = {
    DeviceKind.HOST_BRIDGE: "⌂",
    DeviceKind.ROOT_PORT: "◆",
    DeviceKind.SWITCH_UPSTREAM: "▲",
    DeviceKind.SWITCH_DOWNSTREAM: "▽",
    DeviceKind.PCI_BRIDGE: "◇",
    DeviceKind.NVME: "▤",
    DeviceKind.NIC: "⇄",
    DeviceKind.GPU: "▦",
    DeviceKind.FPGA: "▩",
    DeviceKind.ACCELERATOR: "✦",
    DeviceKind.OTHER: "•",
}
ROOT_BUS_ICON = "◎"
POOL_MARK = "◈"
ACS_REDIRECT_MARK = "⇡ACS"  # in DejaVu Sans Mono and most terminal fonts (⤴ is not)
WIDTH_DEGRADED_MARK = "!"  # narrower than capable: lanes lost, a fault
SPEED_BELOW_MAX_MARK = "↓"  # slower than capable: may be power saving while idle
CONFLICT_MARK = "≠"  # the source contradicts itself about where this function sits

# How a view learns whether a device's ACS redirects P2P: None = not known (kernel-default bits are derived by
# the verdict code, unreadable registers stay unknown).
AcsRedirect = Callable[[Device], bool | None]


def hardware_acs_redirect(dev: Device) -> bool | None:
    """What the registers alone say: only live (hardware) control bits answer the question."""
    if dev.acs.source is AcsSource.NONE:
        return False
    if dev.acs.source is AcsSource.HARDWARE:
        return bool(dev.acs.ctrl & acsbits.REDIRECT_BITS)
    return None


# -- links ------------------------------------------------------------------------------------------------------------
def link_text(gen: int | None, width: int | None) -> str:
    """ "gen3 x4"; the parts a source could not read are left out, never shown as "?"; "" when neither is known."""
    return " ".join(x for x in (f"gen{gen}" if gen is not None else "", f"x{width}" if width is not None else "") if x)


def link_parts(link: Link | None) -> list[Part]:
    """The link in a few cells: its trained state with a fault mark, or what it can do when that is all known."""
    if link is None:
        return []
    capable = link_text(link.max_gen, link.max_width)
    if link.down:
        return [("link down", "bad")]
    current = link_text(link.gen, link.width)
    if not current:
        # The trained state is unknown (hwloc and NCCL files often say only what the link can do): say that.
        return [(f"capable {capable}", "muted")] if capable else []
    return [(current, "bad" if link.width_degraded else "muted"), *link_marks(link)]


def link_marks(link: Link) -> list[Part]:
    """A fault mark for a narrowed link, a softer one for a slowed link (an idle device may save power)."""
    marks: list[Part] = []
    if link.width_degraded:
        marks.append((WIDTH_DEGRADED_MARK, "bad"))
    if link.speed_below_max:
        marks.append((SPEED_BELOW_MAX_MARK, "warn"))
    return marks


def link_state_parts(link: Link) -> list[Part]:
    """What a link below its capability means, in operators' words: narrower is a fault, slower may be idle."""
    parts: list[Part] = []
    if link.down:
        return [("  no traffic crosses it until it retrains", "bad")]
    if link.width_degraded:
        parts.append(("  narrower than capable: lanes lost, a fault (reseat, riser, slot)", "bad"))
    if link.speed_below_max:
        parts.append(("  slower than capable: may be power saving while idle", "warn"))
    return parts


def shown_link(fabric: Fabric, dev: Device) -> Link | None:
    """The link a tree line shows: the one above the device (both ends agreeing), so each link is shown once, on
    the device below it; a port with nothing below, or whose link is down, shows its own (an empty slot's or a
    dead link's "link down" lives there)."""
    link = fabric.uplink(dev)
    port = dev.kind in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM)
    if link is None and port and dev.link is not None and (dev.link.down or not fabric.children(dev)):
        return dev.link
    return link


def load_role(load: float) -> str:
    """Utilisation tiers shared by the tree and the transfers panel."""
    if load >= 0.9:
        return "bad"
    if load >= 0.6:
        return "warn"
    return "ok"


# -- facts spelled once -------------------------------------------------------------------------------------------
def device_title(dev: Device) -> str:
    """What the device is, in words, as lspci names it (the source's names first, then pci.ids); "" if unknown."""
    return device_names(dev).text or ""


NO_ACS: Part = ("no ACS capability", "muted")
ACS_UNREADABLE: Part = ("unknown: the source could not read the ACS registers", "warn")
KERNEL_DEFAULT_ACS = "set by the kernel at boot from firmware"
REDIRECTS: Part = ("redirects P2P to the root complex (RR/CR/EC set)", "bad")
NO_REDIRECT: Part = ("no P2P redirect", "ok")


def acs_parts(dev: Device, redirect: bool | None) -> list[Part]:
    """The ACS control in one phrase (the CLI tree line), in the detail pane's words."""
    acs = dev.acs
    if acs.source is AcsSource.NONE:
        return [NO_ACS]
    if acs.source is AcsSource.UNKNOWN:
        return [("ACS ", "warn"), ACS_UNREADABLE]
    if acs.source is AcsSource.KERNEL_DEFAULT:
        head: Part = (f"ACS {KERNEL_DEFAULT_ACS} {acsbits.describe(acs.firmware_ctrl)}", "muted")
    else:
        head = (f"ACS {acsbits.describe(acs.ctrl)}", "")
    if redirect is None:
        return [head]
    return [head, ("  ", ""), REDIRECTS if redirect else NO_REDIRECT]


def pool_parts(dev: Device) -> list[Part]:
    pool = dev.pool
    if pool is None:
        return [("none", "muted")]
    parts: list[Part] = [
        (human_size(pool.size), "ok" if pool.published else ""),
        (f", {human_size(pool.available)} free, ", ""),
        ("published" if pool.published else "not published", "ok" if pool.published else "warn"),
    ]
    if not pool.allocate:
        parts.append((", no allocate file (mmap needs kernel 6.2+)", "muted"))
    return parts


def aer_parts(aer: AerCounts | None) -> list[Part]:
    """AER counters since boot: correctable errors are a warning (retrains, a flaky riser), the others a fault."""
    if aer is None:
        return [("not recorded by the source", "muted")]
    if not aer.total:
        return [("no errors since boot", "ok")]
    return [
        (f"{aer.correctable} correctable", "warn" if aer.correctable else "muted"),
        (", ", ""),
        (f"{aer.nonfatal} nonfatal", "bad" if aer.nonfatal else "muted"),
        (", ", ""),
        (f"{aer.fatal} fatal", "bad" if aer.fatal else "muted"),
        (" since boot", "muted"),
    ]


def host_parts(host: Host, full: bool = False) -> list[Part]:
    """The host in one line; ``full`` adds the CPU model, memory bandwidth and command line (the CLI's header)."""
    cpu = host.cpu_vendor or "unknown CPU"
    if host.cpu_family is not None:
        cpu += f" family {host.cpu_family:#x}"
    if full and host.cpu_model:
        cpu += f" ({host.cpu_model})"
    parts: list[Part] = [(cpu, ""), (f" · kernel {host.kernel or 'unknown'}", ""), (f" · IOMMU {host.iommu.value}", "")]
    if full:
        if host.memory_bandwidth is not None:
            parts.append((f" · memory {host.memory_bandwidth:g} GB/s", "muted"))
        parts.append((f" · cmdline: {host.cmdline}" if host.cmdline else " · cmdline: (none)", "muted"))
    return parts


# -- one line per device: the TUI's tree label and the CLI's tree line --------------------------------------------
def device_label(
    fabric: Fabric,
    dev: Device,
    *,
    role: str = "",
    acs_redirect: bool | None = None,
    load: float | None = None,
) -> list[Part]:
    """One TUI tree line: selection badge, icon, name, address, link, pool, ACS redirect and IOMMU group.

    ``role`` is "exporter", "importer" or "both"; ``load`` the busiest direction's share of the uplink (0..1) while
    transfers run, which colours the link.
    """
    parts: list[Part] = []
    if role in ("exporter", "both"):
        parts += [(" E ", "exporter"), (" ", "")]
    if role in ("importer", "both"):
        parts += [(" I ", "importer"), (" ", "")]
    parts += [(KIND_ICONS[dev.kind] + " ", "accent"), (dev.name, "name"), ("  ", ""), (dev.bdf.short(), "muted")]
    if dev.kind is DeviceKind.OTHER and device_title(dev):
        parts += [("  ", ""), (device_title(dev), "muted")]  # "• dev0" alone says nothing: an NVSwitch, a BMC…
    link = shown_link(fabric, dev)
    if link is not None:
        if load is not None:
            parts += [
                ("  ", ""),
                (link_text(link.gen, link.width) or "link", load_role(load)),
                (f" {load:.0%}", load_role(load)),
            ]
            parts += link_marks(link)
        elif link_parts(link):
            parts += [("  ", ""), *link_parts(link)]
    if dev.pool is not None:
        parts += [("  ", ""), (f"{POOL_MARK}{human_size(dev.pool.size)}", "ok" if dev.pool.published else "muted")]
    if acs_redirect:
        parts += [("  ", ""), (ACS_REDIRECT_MARK, "bad")]
    elif acs_redirect is None and dev.acs.source is not AcsSource.NONE and dev.kind.is_bridge:
        parts += [("  ", ""), ("ACS?", "muted")]
    if dev.iommu_group is not None:
        parts += [("  ", ""), (f"g{dev.iommu_group}", "muted")]
    if dev.conflict:
        parts += [("  ", ""), (CONFLICT_MARK, "bad")]
    return parts


def tree_line_parts(fabric: Fabric, dev: Device, in_tree: bool = True) -> list[Part]:
    """One CLI tree line (``show``, like ``lspci -tv``): the same facts as the detail pane, in the same words, on
    one line. ``in_tree`` is False for an entry the tree could not hold (``Fabric.unplaced``)."""
    fields: list[list[Part]] = [
        [(dev.bdf.short(), "muted")],
        [(dev.kind.value, "")],
        [(dev.name, "name")],
        [(f"[{dev.ids}]", "muted")],
    ]
    if device_title(dev):
        fields.append([(device_title(dev), "")])
    if dev.integrated:
        fields.append([(f"{RCIEP_LABEL}: {NO_LINK_INTEGRATED}", "muted")])
    link = shown_link(fabric, dev) if in_tree else dev.link
    if link is not None and link_parts(link):
        capable = link_text(link.max_gen, link.max_width)
        below = link.width_degraded or link.speed_below_max or link.down
        state = [(part, role) for part, role in link_state_parts(link)]
        if below and capable:
            state.insert(0, (f" (capable {capable})", "muted"))
        fields.append([*link_parts(link), *state])
    if in_tree and dev.kind.is_bridge and not fabric.children(dev):
        empty = "nothing below" if dev.kind is DeviceKind.SWITCH_UPSTREAM else "nothing below (empty slot or link down)"
        fields.append([(empty, "muted")])
    if dev.acs.source is not AcsSource.NONE:
        fields.append(acs_parts(dev, hardware_acs_redirect(dev) if dev.acs.source is AcsSource.HARDWARE else None))
    if dev.pool is not None:
        fields.append([("P2P pool ", ""), *pool_parts(dev)])
    if dev.slot is not None:
        fields.append([(f"slot {dev.slot}", "")])
    if dev.aer is not None and dev.aer.total:
        fields.append([("AER ", ""), *aer_parts(dev.aer)])
    if dev.physfn is not None:
        fields.append([(f"VF of {dev.physfn.short()}", "")])
    if dev.iommu_group is not None:
        fields.append([(f"IOMMU group {dev.iommu_group}", "")])
    if dev.driver:
        fields.append([(f"driver {dev.driver}", "")])
    if dev.conflict:
        fields.append([(f"{CONFLICT_MARK} conflict: {dev.conflict}", "bad")])
    parts: list[Part] = []
    for i, field in enumerate(fields):
        parts += ([("  ", "")] if i else []) + field
    return parts


def root_bus_label(fabric: Fabric, rb: RootBus) -> list[Part]:
    parts: list[Part] = [(ROOT_BUS_ICON + " ", "accent"), (rb.host_bridge, "name"), ("  ", ""), (str(rb), "muted")]
    if rb.numa_node is not None:
        parts += [("  ", ""), (f"NUMA {rb.numa_node}", "muted")]
    rep = fabric.representative(rb)
    if rep is not None:
        parts += [("  ", ""), (f"[{rep.ids}]", "muted")]
    return parts


# -- the detail pane and ``p2ptui describe`` --------------------------------------------------------------------------
def device_rows(fabric: Fabric, dev: Device, acs_redirect: bool | None = None) -> list[Row]:
    """Every attribute of a function: identity, place in the tree, link, ACS, pool, SR-IOV, health, conflicts.

    An entry the tree could not hold (``Fabric.unplaced``) gets its identity, what the source says about its place
    and why it conflicts, and nothing that needs a place in the tree."""
    names = device_names(dev)
    rows: list[Row] = [
        ("name", [(dev.name, "name")]),
        ("kind", [(KIND_ICONS[dev.kind] + " ", "accent"), (dev.kind.label, "")]),
        ("address", [(str(dev.bdf), "")]),
        ("product", [(names.text or "—", "" if names.text else "muted")]),
        ("IDs", [(dev.ids, ""), (f"  subsystem {_subsystem(dev)}", "muted")]),
        ("class", [(f"{dev.class_code:06x}" if dev.class_code is not None else "—", "")]),
        ("revision", [(f"{dev.revision:02x}" if dev.revision is not None else "—", "")]),
        ("driver", [(dev.driver or "none bound", "" if dev.driver else "muted")]),
        ("NUMA node", [(str(dev.numa_node) if dev.numa_node is not None else "—", "")]),
        ("IOMMU group", [(str(dev.iommu_group) if dev.iommu_group is not None else "—", "")]),
    ]
    placed = fabric.get(dev.bdf) is dev
    if placed:
        rows.extend(_place_rows(fabric, dev))
    else:
        under = f"{dev.parent.short()}" if dev.parent is not None else "a root bus"
        rows.append(("placement", [("not in the tree: the source's facts about its place conflict", "bad")]))
        rows.append(("", [(f"the source puts it under {under}", "muted")]))
        rows.extend(_link_rows("link", dev.link))
    if dev.conflict:
        rows.append(("conflict", [(dev.conflict, "bad")]))
    rows.extend(_acs_rows(dev, acs_redirect))
    rows.append(("P2P pool", pool_parts(dev)))
    rows.append(("slot", [(dev.slot, "")] if dev.slot is not None else [("—", "muted")]))
    rows.append(("AER", aer_parts(dev.aer)))
    if placed:
        rows.extend(_family_rows(fabric, dev))
    return rows


def _place_rows(fabric: Fabric, dev: Device) -> list[Row]:
    rows: list[Row] = []
    parent = fabric.parent(dev)
    rb = fabric.root_bus_of(dev)
    rows.append(("parent", [(f"{parent.name} ({parent.bdf.short()})" if parent else "root bus", "")]))
    rows.append(("host bridge", [(f"{rb.host_bridge} (root bus {rb})", "")]))
    upstream = fabric.upstream_chain(dev)[1:]
    if upstream:
        rows.append(("upstream", [(" → ".join(d.name for d in upstream), "muted")]))
    uplink = fabric.uplink(dev)
    if dev.integrated:
        rows.append(("link", [(f"{RCIEP_LABEL}: {NO_LINK_INTEGRATED}", "muted")]))
    elif dev.link is not None or uplink is None:
        rows.extend(_link_rows("link", dev.link))
    if uplink is not None and uplink != dev.link:
        rows.extend(_link_rows("uplink", uplink))
    return rows


def _family_rows(fabric: Fabric, dev: Device) -> list[Row]:
    rows: list[Row] = []
    if dev.physfn is not None:
        pf = fabric.get(dev.physfn)
        rows.append(("SR-IOV", [(f"VF of {pf.name} ({pf.bdf.short()})" if pf else f"VF of {dev.physfn.short()}", "")]))
    else:
        vfs = fabric.virtfns(dev)
        if vfs:
            rows.append(("SR-IOV", [(f"PF with {len(vfs)} VFs", "")]))
    siblings = fabric.siblings(dev)
    if siblings:
        rows.append(("functions", [(", ".join(s.name for s in siblings), "")]))
    children = fabric.children(dev)
    if dev.kind.is_bridge:
        rows.append(("below", [(f"{len(children)} functions" if children else "empty", "" if children else "muted")]))
    return rows


def root_bus_rows(fabric: Fabric, rb: RootBus) -> list[Row]:
    rep = fabric.representative(rb)
    return [
        ("host bridge", [(rb.host_bridge, "name")]),
        ("root bus", [(str(rb), "")]),
        ("NUMA node", [(str(rb.numa_node) if rb.numa_node is not None else "—", "")]),
        ("first device", [(f"{rep.name} ({rep.bdf.short()}) [{rep.ids}]" if rep else "none", "")]),
        ("", [("the first device stands for the host bridge in the kernel's P2P whitelist", "muted")]),
        ("RC P2P read", [(_gbps(rb.p2p_read), "")]),
        ("RC P2P write", [(_gbps(rb.p2p_write), "")]),
        ("functions", [(str(sum(1 for d in fabric.devices if fabric.root_bus_of(d) == rb)), "")]),
    ]


def fabric_rows(fabric: Fabric) -> list[Row]:
    """The whole fabric: host, notes, and the functions whose place the source contradicts or could not give."""
    rows: list[Row] = [("fabric", [(fabric.name, "name")])]
    if fabric.description:
        rows.append(("", [(fabric.description, "muted")]))
    rows.append(("host", host_parts(fabric.host, full=True)))
    rows.append(("root buses", [(str(len(fabric.root_buses)), "")]))
    rows.append(("functions", [(str(len(fabric.devices)), "")]))
    rows.extend(("note", [(note, "muted")]) for note in fabric.notes)
    for i, dev in enumerate(fabric.conflicting()):
        rows.append(("conflicts" if i == 0 else "", [(dev.name, "bad"), (f" ({dev.bdf.short()}): {dev.conflict}", "")]))
    for i, dev in enumerate(fabric.unplaced):
        under = f", under {dev.parent.short()} in the source" if dev.parent is not None else ""
        why = f": {dev.conflict}" if dev.conflict else ""
        rows.append(("unplaced" if i == 0 else "", [(dev.name, "bad"), (f" ({dev.bdf.short()}{under}){why}", "")]))
    return rows


def _acs_rows(dev: Device, redirect: bool | None) -> list[Row]:
    acs = dev.acs
    if acs.source is AcsSource.NONE:
        return [("ACS", [NO_ACS])]
    if acs.source is AcsSource.UNKNOWN:
        return [("ACS", [ACS_UNREADABLE])]
    rows: list[Row] = [("ACS cap", _bits(acs.cap))]
    if acs.source is AcsSource.HARDWARE:
        rows.append(("ACS ctrl", _bits(acs.ctrl)))
    else:
        rows.append(("ACS ctrl", [(f"{KERNEL_DEFAULT_ACS} ", "muted")] + _bits(acs.firmware_ctrl)))
    if redirect is not None:
        rows.append(("", [REDIRECTS if redirect else NO_REDIRECT]))
    return rows


def _bits(value: int) -> list[Part]:
    names = acsbits.bit_names(value)
    if not names:
        return [("none", "muted")]
    parts: list[Part] = []
    for i, name in enumerate(names):
        redirect = acsbits.BIT_NAMES.get(name, 0) & acsbits.REDIRECT_BITS
        parts.append((("  " if i else "") + name, "warn" if redirect else "key"))
        if name in acsbits.LONG_NAMES:
            parts.append((f" {acsbits.LONG_NAMES[name]}", "muted"))
    return parts


def _link_rows(key: str, link: Link | None) -> list[Row]:
    if link is None:
        return [(key, [("not a PCIe link", "muted")])]
    trained = link_text(link.gen, link.width)
    current = link_parts(link) if trained or link.down else [("trained speed and width unknown", "muted")]
    current += link_state_parts(link)
    capable = link_text(link.max_gen, link.max_width)
    facts = [
        f"capable {capable}" if capable else "capability unknown",
        f"MPS {link.mps}" if link.mps is not None else "",
        f"MRRS {link.mrrs}" if link.mrrs is not None else "",
    ]
    return [(key, current), ("", [(" · ".join(f for f in facts if f), "muted")])]


def _subsystem(dev: Device) -> str:
    """ "vvvv:dddd", or "—" when the source did not record it (rather than "????:????")."""
    if dev.subsystem_vendor_id is None and dev.subsystem_device_id is None:
        return "—"
    vendor = f"{dev.subsystem_vendor_id:04x}" if dev.subsystem_vendor_id is not None else "—"
    device = f"{dev.subsystem_device_id:04x}" if dev.subsystem_device_id is not None else "—"
    return f"{vendor}:{device}"


def _gbps(value: float | None) -> str:
    return f"{value:g} GB/s" if value is not None else "unknown"
