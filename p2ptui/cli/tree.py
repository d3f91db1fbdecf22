"""The fabric as text, like ``lspci -tv`` with the facts P2P depends on: kinds, names, links, ACS, pools.

Each line is the presentation layer's parts printed plain (p2ptui/present/device.py), so ``show`` says what the
TUI's detail pane says, in the same words.
"""

from __future__ import annotations

from ..fabric.model import Device, Fabric, RootBus
from ..present.device import host_parts, tree_line_parts
from ..present.rows import plain


def render_fabric(fabric: Fabric) -> str:
    lines = [f"{fabric.name}: {fabric.description}" if fabric.description else fabric.name]
    lines.append("host: " + plain(host_parts(fabric.host, full=True)))
    lines.extend(f"note: {note}" for note in fabric.notes)
    for rb in fabric.root_buses:
        lines.append(root_bus_line(fabric, rb))
        _subtree(fabric, fabric.on_root_bus(rb), "", lines)
    if fabric.unplaced:
        count = len(fabric.unplaced)
        entries = "entry" if count == 1 else "entries"
        lines.append(f"[unplaced] {count} conflicting {entries} the source gives but the tree cannot hold")
        for i, dev in enumerate(fabric.unplaced):
            last = i == len(fabric.unplaced) - 1
            under = f"  (under {dev.parent.short()} in the source)" if dev.parent is not None else ""
            lines.append(f"{'└─ ' if last else '├─ '}{device_line(fabric, dev, in_tree=False)}{under}")
    return "\n".join(lines)


def root_bus_line(fabric: Fabric, rb: RootBus) -> str:
    parts = [f"[{rb}] {rb.host_bridge}"]
    if rb.numa_node is not None:
        parts.append(f"NUMA {rb.numa_node}")
    if rb.p2p_read is not None or rb.p2p_write is not None:
        parts.append(f"RC P2P read {_gbps(rb.p2p_read)} / write {_gbps(rb.p2p_write)}")
    rep = fabric.representative(rb)
    parts.append(f"first device {rep.bdf.short()} [{rep.ids}]" if rep else "no devices")
    return "  ".join(parts)


def device_line(fabric: Fabric, dev: Device, in_tree: bool = True) -> str:
    return plain(tree_line_parts(fabric, dev, in_tree))


def _subtree(fabric: Fabric, devices: list[Device], prefix: str, lines: list[str]) -> None:
    for i, dev in enumerate(devices):
        last = i == len(devices) - 1
        lines.append(f"{prefix}{'└─ ' if last else '├─ '}{device_line(fabric, dev)}")
        _subtree(fabric, fabric.children(dev), prefix + ("   " if last else "│  "), lines)


def _gbps(value: float | None) -> str:
    return f"{value:g} GB/s" if value is not None else "?"
