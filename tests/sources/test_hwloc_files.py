"""Every hwloc XML file in shared/data loads, and matches the lstopo -v output hwloc ships beside it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_data import require

from p2ptui.fabric import BDF, AcsSource, DeviceKind, IommuMode
from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.sources import hwloc

DATA = require("hwloc")
XML_FILES = sorted(DATA.glob("*.xml"))
CONSOLE_FILES = sorted(DATA.glob("*.console"))

_LINE = re.compile(
    r"^(?P<indent> *)(?:(?P<count>\d+) x \{ )?(?P<type>HostBridge|PCIBridge|PCI) L#\S+ \((?P<attrs>[^)]*)"
)
_BUSID = re.compile(r"busid=(?:([0-9a-f]{4,8}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])(?:-([0-7]))?")
_BUSES = re.compile(r"buses=([0-9a-f]{4,8}):\[([0-9a-f]{2})-([0-9a-f]{2})\]")
_IDS = re.compile(r"id=([0-9a-f]{4}):([0-9a-f]{4}) class=([0-9a-f]{4})")
_SPECIAL = re.compile(r"^Special depth -\d+:\s+(\d+) (Bridge|PCIDev)")


def console_objects(path: Path) -> tuple[list[dict], dict[str, int], int]:
    """The PCI objects of an lstopo -v console file: address, bridge or not, parent, IDs; and the trailer counts."""
    objects: list[dict] = []
    stack: list[tuple[int, tuple]] = []  # (indent, parent key) of open HostBridge / PCIBridge lines
    counts: dict[str, int] = {}
    host_bridges = 0
    for line in path.read_text().splitlines():
        special = _SPECIAL.match(line)
        if special:
            counts[special[2]] = int(special[1])
            continue
        match = _LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        parent = stack[-1][1] if stack else None
        attrs = match["attrs"]
        if match["type"] == "HostBridge":
            host_bridges += 1
            buses = _BUSES.search(attrs)
            stack.append((indent, ("host", int(buses[1], 16), int(buses[2], 16))))
            continue
        busid = _BUSID.search(attrs)
        domain = int(busid[1], 16) if busid[1] else _domain_of(parent, objects)
        first, last = int(busid[4]), int(busid[5] or busid[4])
        ids = _IDS.search(attrs)
        for function in range(first, last + 1):
            bdf = BDF(domain, int(busid[2], 16), int(busid[3], 16), function)
            objects.append(
                {
                    "bdf": bdf,
                    "bridge": match["type"] == "PCIBridge",
                    "parent": parent,
                    "ids": (int(ids[1], 16), int(ids[2], 16)),
                    "class16": int(ids[3], 16),
                }
            )
        assert match["count"] is None or int(match["count"]) == last - first + 1
        if match["type"] == "PCIBridge":
            stack.append((indent, ("bridge", objects[-1]["bdf"])))
    return objects, counts, host_bridges


def _domain_of(parent, objects) -> int:
    return parent[1] if parent[0] == "host" else parent[1].domain


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.name)
def test_every_hwloc_file_loads_with_its_pci_objects(path: Path) -> None:
    fabric = hwloc.load(path)
    root = ET.parse(path).getroot()
    objects = list(root.iter("object"))
    bridges = [o for o in objects if o.get("type") == "Bridge"]
    host_bridges = [o for o in bridges if o.get("bridge_type", "").startswith("0-")]
    pcidevs = [o for o in objects if o.get("type") == "PCIDev"]
    # One function per Bridge 1-1 and PCIDev; host bridges are root buses, not functions.
    assert len(fabric) == len(bridges) - len(host_bridges) + len(pcidevs)
    assert sum(1 for d in fabric if d.kind.is_bridge) == len(bridges) - len(host_bridges)
    assert {str(d.bdf) for d in fabric} == {o.get("pci_busid") for o in bridges + pcidevs if o.get("pci_busid")}
    assert len(fabric.root_buses) >= len(host_bridges)
    assert fabric.host.iommu is IommuMode.UNKNOWN
    assert all(d.acs.source is AcsSource.UNKNOWN for d in fabric)
    if len(fabric):
        assert any("ACS state unknown" in n for n in fabric.notes)
    else:
        assert any("without I/O" in n for n in fabric.notes)


@pytest.mark.parametrize("console", CONSOLE_FILES, ids=lambda p: p.name)
def test_tree_matches_the_lstopo_console_expectation(console: Path) -> None:
    fabric = hwloc.load(console.with_suffix(".xml"))
    objects, counts, host_bridges = console_objects(console)
    assert objects, "the console file lists PCI objects"
    assert {o["bdf"] for o in objects} == {d.bdf for d in fabric}
    for obj in objects:
        dev = fabric.device(obj["bdf"])
        assert dev.kind.is_bridge == obj["bridge"], dev
        assert (dev.vendor_id, dev.device_id) == obj["ids"]
        assert dev.class_code >> 8 == obj["class16"]
        kind, *rest = obj["parent"]
        if kind == "bridge":
            assert dev.parent == rest[0], dev
        else:
            assert dev.parent is None, dev
            assert fabric.root_bus_of(dev).bus_id == (rest[0], rest[1])
    assert host_bridges == len(fabric.root_buses)
    assert counts["Bridge"] == host_bridges + sum(1 for d in fabric if d.kind.is_bridge)
    assert counts["PCIDev"] == sum(1 for d in fabric if not d.kind.is_bridge)


def test_dgx2_gpus_sit_behind_two_switch_levels_on_four_host_bridges() -> None:
    fabric = hwloc.load(DATA / "nvidiaDGX2.xml")
    gpus = [d for d in fabric if d.kind is DeviceKind.GPU]
    assert len(gpus) == 16
    assert [str(rb) for rb in fabric.root_buses] == ["0000:2b", "0000:4e", "0000:ae", "0000:d7"]
    assert {rb.numa_node for rb in fabric.root_buses} == {0, 1}
    for gpu in gpus:
        kinds = [d.kind for d in fabric.upstream_chain(gpu)[1:]]
        assert kinds == [
            DeviceKind.SWITCH_DOWNSTREAM,
            DeviceKind.SWITCH_UPSTREAM,
            DeviceKind.SWITCH_DOWNSTREAM,
            DeviceKind.SWITCH_UPSTREAM,
            DeviceKind.ROOT_PORT,
        ]
        assert gpu.numa_node == fabric.root_bus_of(gpu).numa_node
    gpu0, gpu1 = fabric.find("0000:34:00.0"), fabric.find("0000:36:00.0")
    assert fabric.ancestors(gpu0)[1] == fabric.ancestors(gpu1)[1]  # same PEX9781 upstream port
    assert fabric.host.cpu_vendor == "intel" and fabric.host.cpu_family == 6
    # hwloc keeps bandwidth only (15.75 GB/s), so links stay unknown and a note says why.
    assert all(d.link is None for d in fabric)
    assert any("15.75" in n and "generation" in n for n in fabric.notes)


def test_dcs8000z_names_come_from_os_devices_and_numa_from_packages() -> None:
    fabric = hwloc.load(DATA / "linux-32em64t-2n8c+dax+nvme+mic+dimms.xml")
    assert fabric.find("nvme0").bdf == BDF.parse("0000:00:02.0")
    assert fabric.find("nvme0").kind is DeviceKind.NVME
    assert fabric.find("eth0").bdf == BDF.parse("0000:02:00.0")
    assert fabric.find("ib0").bdf == BDF.parse("0000:82:00.0")  # ConnectX-3: netdev before the RDMA name
    assert fabric.find("0000:83:00.0").kind is DeviceKind.ACCELERATOR  # Xeon Phi, class 0b40
    assert fabric.find("0000:00:00.0").kind is DeviceKind.HOST_BRIDGE
    numa = {str(rb): rb.numa_node for rb in fabric.root_buses}
    assert numa == {"0000:00": 0, "0000:7f": None, "0000:80": 1, "0000:ff": None}
    assert any("0000:7f, 0000:ff" in n for n in fabric.notes)


def test_manyvfs_cisco_vic_cascade_gets_kinds_from_position() -> None:
    fabric = hwloc.load(DATA / "16intel64-manyVFs.xml")
    nic = fabric.find("eth4")
    assert str(nic.bdf) == "0000:0b:00.0"
    chain = [(str(d.bdf), d.kind.value) for d in fabric.upstream_chain(nic)[1:]]
    assert chain == [
        ("0000:0a:00.0", "switch_downstream"),
        ("0000:09:00.0", "switch_upstream"),
        ("0000:07:01.0", "switch_downstream"),
        ("0000:06:00.0", "switch_upstream"),
        ("0000:00:03.0", "root_port"),
    ]
    assert len(fabric.siblings(nic)) == 3  # the userspace NIC functions 0b:00.1-3


def test_pcie_to_pci_bridge_chain_and_multi_domain_host_bridges() -> None:
    fabric = hwloc.load(DATA / "irregulargroups-disallowed.xml")
    assert [str(rb) for rb in fabric.root_buses] == ["0000:00", "0001:00", "0002:00", "0003:00", "0004:00"]
    vga = fabric.find("0000:08:00.0")
    assert vga.kind is DeviceKind.GPU
    assert len(fabric.ancestors(vga)) == 4
    raid = fabric.find("0001:02:00.0")
    assert raid.kind is DeviceKind.OTHER and raid.name.startswith("dev")  # a disk (sda) names no controller


@pytest.mark.parametrize("path", XML_FILES, ids=lambda p: p.name)
def test_yaml_round_trip(path: Path) -> None:
    fabric = hwloc.load(path)
    assert loads_fabric(dumps_fabric(fabric), "saved.yaml") == fabric


def test_cpu_vendor_from_the_model_name_when_the_export_has_no_cpuvendor() -> None:
    fabric = hwloc.load(DATA / "32em64t-2n8c2t-pci-noio.xml")
    assert fabric.host.cpu_vendor == "intel"
    assert fabric.host.cpu_model == "Intel(R) Xeon(R) CPU E5-2650 0 @ 2.00GHz"
    assert len(fabric) == 0 and fabric.root_buses == ()
