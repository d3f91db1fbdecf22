"""The fabric as text, like ``lspci -tv`` with the facts P2P depends on: kinds, names, links, ACS, pools."""

from __future__ import annotations

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.kinds import NO_LINK_INTEGRATED, RCIEP_LABEL, DeviceKind
from ..fabric.model import Device, Fabric, Host, Link, RootBus
from ..fabric.naming import device_names
from ..fabric.units import human_size


def render_fabric(fabric: Fabric) -> str:
    lines = [f"{fabric.name}: {fabric.description}" if fabric.description else fabric.name, host_line(fabric.host)]
    lines.extend(f"note: {note}" for note in fabric.notes)
    for rb in fabric.root_buses:
        lines.append(root_bus_line(fabric, rb))
        _subtree(fabric, fabric.on_root_bus(rb), "", lines)
    if fabric.unplaced:
        lines.append(f"[unplaced] {len(fabric.unplaced)} conflicting entries the source gives but the tree cannot hold")
        for i, dev in enumerate(fabric.unplaced):
            last = i == len(fabric.unplaced) - 1
            under = f"  (under {dev.parent.short()} in the source)" if dev.parent is not None else ""
            lines.append(f"{'└─ ' if last else '├─ '}{device_line(dev)}{under}")
    return "\n".join(lines)


def host_line(host: Host) -> str:
    cpu = host.cpu_vendor or "unknown CPU"
    if host.cpu_family is not None:
        cpu += f" family {host.cpu_family:#x}"
    if host.cpu_model:
        cpu += f" ({host.cpu_model})"
    parts = [f"host: {cpu}", f"kernel {host.kernel or 'unknown'}", f"IOMMU {host.iommu.value}"]
    if host.memory_bandwidth is not None:
        parts.append(f"memory {host.memory_bandwidth:g} GB/s")
    parts.append(f"cmdline: {host.cmdline}" if host.cmdline else "cmdline: (none)")
    return ", ".join(parts)


def root_bus_line(fabric: Fabric, rb: RootBus) -> str:
    parts = [f"[{rb}] {rb.host_bridge}"]
    if rb.numa_node is not None:
        parts.append(f"NUMA {rb.numa_node}")
    if rb.p2p_read is not None or rb.p2p_write is not None:
        parts.append(f"RC P2P read {_gbps(rb.p2p_read)} / write {_gbps(rb.p2p_write)}")
    rep = fabric.representative(rb)
    parts.append(f"first device {rep.bdf.short()} [{rep.ids}]" if rep else "no devices")
    return "  ".join(parts)


def device_line(dev: Device, fabric: Fabric | None = None) -> str:
    parts = [dev.bdf.short(), dev.kind.value, dev.name, f"[{dev.ids}]"]
    names = device_names(dev).text
    if names:
        parts.append(names)
    if dev.integrated:
        parts.append(f"{RCIEP_LABEL}: {NO_LINK_INTEGRATED}")
    if dev.link is not None:
        parts.append(dev.link.describe() + link_state_words(dev.link))
    if fabric is not None and dev.kind.is_bridge and fabric.get(dev.bdf) is dev and not fabric.children(dev):
        parts.append(
            "nothing below (empty slot or link down)" if dev.kind is not DeviceKind.SWITCH_UPSTREAM else "nothing below"
        )
    acs = acs_text(dev)
    if acs:
        parts.append(acs)
    if dev.pool is not None:
        pool = dev.pool
        state = "published" if pool.published else "unpublished"
        parts.append(f"p2pmem {human_size(pool.size)} ({human_size(pool.available)} free, {state})")
    if dev.slot is not None:
        parts.append(f"slot {dev.slot}")
    if dev.aer is not None and dev.aer.total:
        parts.append(f"AER {dev.aer.correctable} corr/{dev.aer.nonfatal} nonfatal/{dev.aer.fatal} fatal")
    if dev.physfn is not None:
        parts.append(f"VF of {dev.physfn.short()}")
    if dev.iommu_group is not None:
        parts.append(f"group {dev.iommu_group}")
    if dev.driver:
        parts.append(f"driver {dev.driver}")
    if dev.conflict:
        parts.append(f"CONFLICT: {dev.conflict}")
    return "  ".join(parts)


def link_state_words(link: Link) -> str:
    """What a link below its capability means, in operators' words: narrower is a fault, slower may be idle."""
    words = []
    if link.width_degraded:
        words.append("width degraded: narrower than capable, a fault")
    if link.speed_below_max:
        words.append("speed below max: may be power saving while idle")
    return f" ({'; '.join(words)})" if words else ""


def acs_text(dev: Device) -> str:
    acs = dev.acs
    if acs.source is AcsSource.NONE:
        return ""
    if acs.source is AcsSource.UNKNOWN:
        return "ACS unknown"
    if acs.source is AcsSource.KERNEL_DEFAULT:
        return "ACS kernel default"
    redirect = " (redirect)" if acs.ctrl & acsbits.REDIRECT_BITS else ""
    return f"ACS {acsbits.describe(acs.ctrl)}{redirect}"


def _subtree(fabric: Fabric, devices: list[Device], prefix: str, lines: list[str]) -> None:
    for i, dev in enumerate(devices):
        last = i == len(devices) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{device_line(dev, fabric)}")
        _subtree(fabric, fabric.children(dev), prefix + ("   " if last else "│  "), lines)


def _gbps(value: float | None) -> str:
    return f"{value:g} GB/s" if value is not None else "?"
