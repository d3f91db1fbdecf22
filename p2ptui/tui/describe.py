"""What the TUI says about devices, as styled parts: tree labels and the detail pane's rows.

Pure functions of the fabric model (no widgets), so they are tested directly and shared by every screen.
"""

from __future__ import annotations

from collections.abc import Callable

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.kinds import DeviceKind
from ..fabric.model import Device, Fabric, Host, Link, RootBus
from ..fabric.naming import device_names
from ..fabric.units import human_size
from .styled import Part

# One cell wide in every terminal font we tried; the help screen explains them.
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

# How the screens learn whether a device's ACS redirects P2P: None = not known (kernel-default bits are derived by
# the verdict code, unreadable registers stay unknown).
AcsRedirect = Callable[[Device], bool | None]


def hardware_acs_redirect(dev: Device) -> bool | None:
    """What the registers alone say: only live (hardware) control bits answer the question."""
    if dev.acs.source is AcsSource.NONE:
        return False
    if dev.acs.source is AcsSource.HARDWARE:
        return bool(dev.acs.ctrl & acsbits.REDIRECT_BITS)
    return None


def link_text(gen: int | None, width: int | None) -> str:
    """ "gen3 x4"; the parts a source could not read are left out, never shown as "?"; "" when neither is known."""
    return " ".join(x for x in (f"gen{gen}" if gen is not None else "", f"x{width}" if width is not None else "") if x)


def link_parts(link: Link | None) -> list[Part]:
    if link is None:
        return []
    current = link_text(link.gen, link.width)
    if not current:
        # The trained state is unknown (hwloc and NCCL files often say only what the link can do): say that.
        capable = link_text(link.max_gen, link.max_width)
        return [(f"capable {capable}", "muted")] if capable else []
    marks = link_marks(link)
    if link.width_degraded:
        return [(current, "bad"), *marks]
    return [(current, "muted"), *marks]


def link_marks(link: Link) -> list[Part]:
    """A fault mark for a narrowed link, a softer one for a slowed link (an idle device may save power)."""
    marks: list[Part] = []
    if link.width_degraded:
        marks.append((WIDTH_DEGRADED_MARK, "bad"))
    if link.speed_below_max:
        marks.append((SPEED_BELOW_MAX_MARK, "warn"))
    return marks


def device_label(
    fabric: Fabric,
    dev: Device,
    *,
    role: str = "",
    acs_redirect: bool | None = None,
    load: float | None = None,
) -> list[Part]:
    """One tree line: selection badge, icon, name, address, link, pool, ACS redirect and IOMMU group.

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
    link = fabric.uplink(dev)
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
    return parts


def device_title(dev: Device) -> str:
    """What the device is, in words, as lspci names it (the source's names first, then pci.ids); "" if unknown."""
    return device_names(dev).text or ""


def load_role(load: float) -> str:
    """Utilisation tiers shared by the tree and the transfers panel."""
    if load >= 0.9:
        return "bad"
    if load >= 0.6:
        return "warn"
    return "ok"


def root_bus_label(fabric: Fabric, rb: RootBus) -> list[Part]:
    parts: list[Part] = [(ROOT_BUS_ICON + " ", "accent"), (rb.host_bridge, "name"), ("  ", ""), (str(rb), "muted")]
    if rb.numa_node is not None:
        parts += [("  ", ""), (f"NUMA {rb.numa_node}", "muted")]
    rep = fabric.representative(rb)
    if rep is not None:
        parts += [("  ", ""), (f"[{rep.ids}]", "muted")]
    return parts


def host_summary(host: Host) -> str:
    cpu = host.cpu_vendor or "unknown CPU"
    if host.cpu_family is not None:
        cpu += f" family {host.cpu_family:#x}"
    return f"{cpu} · kernel {host.kernel or '?'} · IOMMU {host.iommu.value}"


Row = tuple[str, list[Part]]


def device_rows(fabric: Fabric, dev: Device, acs_redirect: bool | None = None) -> list[Row]:
    """Every attribute of a function, for the detail pane: identity, place in the tree, link, ACS, pool, SR-IOV."""
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
    parent = fabric.parent(dev)
    rb = fabric.root_bus_of(dev)
    rows.append(("parent", [(f"{parent.name} ({parent.bdf.short()})" if parent else "root bus", "")]))
    rows.append(("host bridge", [(f"{rb.host_bridge} (root bus {rb})", "")]))
    upstream = fabric.upstream_chain(dev)[1:]
    if upstream:
        rows.append(("upstream", [(" → ".join(d.name for d in upstream), "muted")]))
    rows.extend(_link_rows("link", dev.link))
    uplink = fabric.uplink(dev)
    if uplink is not None and uplink != dev.link:
        rows.extend(_link_rows("uplink", uplink))
    rows.extend(_acs_rows(dev, acs_redirect))
    rows.append(("P2P pool", _pool_detail(dev)))
    if dev.physfn is not None:
        pf = fabric.device(dev.physfn)
        rows.append(("SR-IOV", [(f"VF of {pf.name} ({pf.bdf.short()})", "")]))
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
    rows: list[Row] = [
        ("host bridge", [(rb.host_bridge, "name")]),
        ("root bus", [(str(rb), "")]),
        ("NUMA node", [(str(rb.numa_node) if rb.numa_node is not None else "—", "")]),
        ("first device", [(f"{rep.name} ({rep.bdf.short()}) [{rep.ids}]" if rep else "none", "")]),
        ("", [("the first device stands for the host bridge in the kernel's P2P whitelist", "muted")]),
        ("RC P2P read", [(_gbps(rb.p2p_read), "")]),
        ("RC P2P write", [(_gbps(rb.p2p_write), "")]),
        ("functions", [(str(sum(1 for d in fabric.devices if fabric.root_bus_of(d) == rb)), "")]),
    ]
    return rows


def _acs_rows(dev: Device, redirect: bool | None) -> list[Row]:
    acs = dev.acs
    if acs.source is AcsSource.NONE:
        return [("ACS", [("no ACS capability", "muted")])]
    if acs.source is AcsSource.UNKNOWN:
        return [("ACS", [("unknown: the source could not read the ACS registers", "warn")])]
    rows: list[Row] = [("ACS cap", _bits(acs.cap))]
    if acs.source is AcsSource.HARDWARE:
        rows.append(("ACS ctrl", _bits(acs.ctrl)))
    else:
        rows.append(("ACS ctrl", [("set by the kernel at boot from firmware ", "muted")] + _bits(acs.firmware_ctrl)))
    if redirect is True:
        rows.append(("", [("redirects P2P to the root complex (RR/CR/EC set)", "bad")]))
    elif redirect is False:
        rows.append(("", [("no P2P redirect", "ok")]))
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
    current: list[Part] = link_parts(link) if trained else [("trained speed and width unknown", "muted")]
    if link.width_degraded:
        current.append(("  narrower than capable: lanes lost, a fault (reseat, riser, slot)", "bad"))
    if link.speed_below_max:
        current.append(("  slower than capable: may be power saving while idle", "warn"))
    capable = link_text(link.max_gen, link.max_width)
    facts = [
        f"capable {capable}" if capable else "capability unknown",
        f"MPS {link.mps}" if link.mps is not None else "",
        f"MRRS {link.mrrs}" if link.mrrs is not None else "",
    ]
    return [(key, current), ("", [(" · ".join(f for f in facts if f), "muted")])]


def _pool_detail(dev: Device) -> list[Part]:
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


def _subsystem(dev: Device) -> str:
    """ "vvvv:dddd", or "—" when the source did not record it (rather than "????:????")."""
    if dev.subsystem_vendor_id is None and dev.subsystem_device_id is None:
        return "—"
    vendor = f"{dev.subsystem_vendor_id:04x}" if dev.subsystem_vendor_id is not None else "—"
    device = f"{dev.subsystem_device_id:04x}" if dev.subsystem_device_id is not None else "—"
    return f"{vendor}:{device}"


def _gbps(value: float | None) -> str:
    return f"{value:g} GB/s" if value is not None else "unknown"
