"""What views ask of every root bus and every function (its root bus's top functions, the bus's first function, a
PF's VFs, a function's siblings) is looked up, not scanned: machines with thousands of root buses (VMs, one domain
per device) or thousands of VFs under one PF made `show`, the exports, `convert` and verdict contexts quadratic
(8,000 functions on as many root buses: `show --json` took 24 s, `show` 7 s). The answers are checked against the
scans they replace; the CPU budgets are a few times what the lookups take and a fraction of what the scans did."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from p2ptui.cli.tree import render_fabric
from p2ptui.fabric import BDF, DeviceKind
from p2ptui.fabric.model import Device, Fabric, RootBus
from p2ptui.formats.export import fabric_to_dict
from p2ptui.formats.writers import dumps_dot

NVME = 0x010802
T = TypeVar("T")


def many_root_buses(count: int) -> Fabric:
    """One NVMe function on each of ``count`` root buses, one PCI domain each, two functions on the last."""
    devices = [Device(BDF(i, 0, 1, 0), DeviceKind.NVME, f"nvme{i}", class_code=NVME) for i in range(count)]
    devices.append(Device(BDF(count - 1, 0, 1, 1), DeviceKind.NVME, "nvme-fn1", class_code=NVME))
    return Fabric("roots", tuple(RootBus(i, 0) for i in range(count)), tuple(devices))


def many_vfs(count: int) -> Fabric:
    port = Device(BDF(0, 0, 1, 0), DeviceKind.ROOT_PORT, "rp0")
    pf = Device(BDF(0, 1, 0, 0), DeviceKind.NIC, "nic0", parent=port.bdf, class_code=0x020000)
    vfs = [
        Device(BDF(0, 1 + (i + 1) // 256, ((i + 1) % 256) >> 3, (i + 1) & 7), DeviceKind.NIC, f"vf{i}", parent=port.bdf)
        for i in range(count)
    ]
    vfs = [Device(v.bdf, v.kind, v.name, v.parent, class_code=0x020000, physfn=pf.bdf) for v in vfs]
    return Fabric("vfs", (RootBus(0, 0),), (port, pf, *vfs))


def scanned_answers(fabric: Fabric) -> tuple:
    """What the lookups answered when they scanned (the code they replace)."""
    top = fabric.children(None)
    tops = [[d for d in top if fabric.root_bus_of(d) == rb] for rb in fabric.root_buses]
    firsts = [next((d for d in top if d.bdf.bus_id == rb.bus_id), None) for rb in fabric.root_buses]
    vfs, siblings = [], []
    for dev in fabric:
        kin = fabric.children(fabric.parent(dev))
        vfs.append([d for d in kin if d.physfn == dev.bdf] if not dev.is_vf else [])
        same_slot = (dev.bdf.bus_id, dev.bdf.device)
        siblings.append(
            [
                d
                for d in kin
                if d.bdf != dev.bdf and not (d.is_vf or dev.is_vf) and (d.bdf.bus_id, d.bdf.device) == same_slot
            ]
        )
    return tops, firsts, vfs, siblings


def looked_up_answers(fabric: Fabric) -> tuple:
    return (
        [fabric.on_root_bus(rb) for rb in fabric.root_buses],
        [fabric.representative(rb) for rb in fabric.root_buses],
        [fabric.virtfns(dev) for dev in fabric],
        [fabric.siblings(dev) for dev in fabric],
    )


def cpu_seconds(work: Callable[[], T]) -> tuple[T, float]:
    """What ``work`` returns, and the CPU seconds it took."""
    start = time.process_time()
    result = work()
    return result, time.process_time() - start


def test_lookups_answer_what_the_scans_did() -> None:
    for fabric in (many_root_buses(40), many_vfs(300)):
        assert looked_up_answers(fabric) == scanned_answers(fabric)
    roots = many_root_buses(40)
    assert [d.name for d in roots.siblings(roots.device(BDF(39, 0, 1, 0)))] == ["nvme-fn1"]
    assert roots.on_root_bus(RootBus(39, 0, numa_node=3)) == []  # a root bus of another fabric holds nothing here
    vfs = many_vfs(300)
    assert len(vfs.virtfns(vfs.device(BDF(0, 1, 0, 0)))) == 300


def test_thousands_of_root_buses_show_and_export_in_linear_time() -> None:
    fabric = many_root_buses(6000)
    (text, exported), spent = cpu_seconds(lambda: (render_fabric(fabric), fabric_to_dict(fabric)))
    assert spent < 3.0, f"{spent:.2f} s for 6,000 root buses (24 s when each question scanned)"
    assert text.count("  nvme  ") == 6001 and len(exported["devices"]) == 6001


def test_thousands_of_vfs_under_one_pf_export_in_linear_time() -> None:
    fabric = many_vfs(12_000)
    exported, spent = cpu_seconds(lambda: fabric_to_dict(fabric))
    assert spent < 3.0, f"{spent:.2f} s for 12,000 VFs (about 12 s when each VF scanned its siblings)"
    assert len(exported["devices"]) == 12_002


def test_thousands_of_root_buses_draw_as_dot_in_linear_time() -> None:
    fabric = many_root_buses(4000)
    text, spent = cpu_seconds(lambda: dumps_dot(fabric))
    assert spent < 2.0, f"{spent:.2f} s for 4,000 root buses (each root bus scanned every function: about 10 s)"
    assert text.count("subgraph cluster_") == 4000 and text.count('[label="nvme') == 4001
