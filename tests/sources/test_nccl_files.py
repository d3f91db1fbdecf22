"""Every NCCL / RCCL topology file in shared/data loads into a tree the kernel could have enumerated.

NCCL keeps one ``<pci>`` per switch (its upstream port) and drops root and downstream ports; the reader adds them
back with invented addresses. The nvidia-smi classes computed on the result must be the ones NCCL's own model
gives: GPUs and NICs under one switch are PIX, across cascaded switches PXB, across switches of one CPU PHB,
across CPUs SYS.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from real_data import require, unlicensed

from p2ptui.fabric import BDF, AcsSource, DeviceKind
from p2ptui.fabric.model import Fabric
from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.p2p.context import fabric_index
from p2ptui.p2p.topo import topo_class
from p2ptui.sources import nccl

DATA = require("nccl")
FILES = sorted(DATA.glob("*.xml"))


def topo(fabric: Fabric, a: str, b: str) -> str:
    index = fabric_index(fabric)
    return topo_class(index, index.index[fabric.find(a).bdf], index.index[fabric.find(b).bdf]).value


def real_pci(path: Path) -> list[ET.Element]:
    return [e for e in ET.parse(path).getroot().iter("pci") if not e.get("busid", "").startswith("ffff:ff:")]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_nccl_file_loads_with_each_real_pci_function(path: Path) -> None:
    fabric = nccl.load(path)
    busids = {e.get("busid") for e in real_pci(path)}
    invented = {str(d.bdf) for d in fabric if d.product and d.product.startswith(("invented", "VM-hidden"))}
    assert {str(d.bdf) for d in fabric} == busids | invented
    assert not busids & invented
    root = ET.parse(path).getroot()
    numa_of = {e.get("busid"): int(cpu.get("numaid")) for cpu in root.iter("cpu") for e in cpu.iter("pci")}
    for dev in fabric:
        if str(dev.bdf) in numa_of:
            assert dev.numa_node == numa_of[str(dev.bdf)]
            assert fabric.root_bus_of(dev).numa_node == numa_of[str(dev.bdf)]
    gpus = [e for e in root.iter("pci") if e.find("gpu") is not None]
    for elem in gpus:
        dev = fabric.find(elem.get("busid"))
        assert dev.kind is DeviceKind.GPU
        assert dev.name == f"gpu{elem.find('gpu').get('dev')}"
    for elem in root.iter("pci"):
        net = elem.find("nic/net")
        if net is not None:
            assert fabric.find(net.get("name")).bdf == BDF.parse(elem.get("busid"))
    assert all(d.acs.source is AcsSource.UNKNOWN for d in fabric)
    assert loads_fabric(dumps_fabric(fabric), "saved.yaml") == fabric


def test_h800_switches_get_their_downstream_ports_back() -> None:
    fabric = nccl.load(unlicensed("nccl", "yccl-h800-8gpu-topo.xml"))
    gpu0 = fabric.find("gpu0")
    assert str(gpu0.bdf) == "0000:0f:00.0"
    chain = [(d.kind, d.vendor_id) for d in fabric.upstream_chain(gpu0)[1:]]
    assert chain == [
        (DeviceKind.SWITCH_DOWNSTREAM, None),  # invented
        (DeviceKind.SWITCH_UPSTREAM, 0x1000),  # the PEX890xx NCCL keeps
        (DeviceKind.ROOT_PORT, None),  # invented
    ]
    usp = fabric.find("0000:0c:00.0")
    assert usp.device_id == 0xC030
    assert usp.link.max_gen == 5 and usp.link.max_width == 16 and usp.link.gen is None
    assert topo(fabric, "gpu0", "mlx5_0") == "PIX"  # GPUDirect RDMA pair under one switch
    assert topo(fabric, "gpu0", "gpu1") == "PHB"  # two switches of one CPU
    assert topo(fabric, "gpu0", "gpu4") == "SYS"  # across NUMA nodes
    assert fabric.host.cpu_vendor == "intel" and fabric.host.cpu_family == 6
    assert any("NVLink" in n for n in fabric.notes)


def test_cascaded_switches_are_pxb() -> None:
    fabric = nccl.load(DATA / "topo_8p_pcie.xml")
    gpu = fabric.find("0000:1d:00.0")
    kinds = [d.kind for d in fabric.upstream_chain(gpu)[1:]]
    assert kinds == [
        DeviceKind.SWITCH_DOWNSTREAM,
        DeviceKind.SWITCH_UPSTREAM,  # 1b:00.0
        DeviceKind.SWITCH_DOWNSTREAM,
        DeviceKind.SWITCH_UPSTREAM,  # 18:00.0
        DeviceKind.ROOT_PORT,
    ]
    assert str(fabric.ancestors(gpu)[3].bdf) == "0000:18:00.0"
    assert topo(fabric, "0000:1d:00.0", "0000:20:00.0") == "PXB"
    assert topo(fabric, "0000:1d:00.0", "0000:3f:00.0") == "PHB"
    assert fabric.find("0000:1d:00.0").vendor_id is None  # this file strips IDs
    assert fabric.find("0000:1d:00.0").class_code == 0x038000


def test_aws_placeholder_switches_get_invented_addresses_in_their_devices_domain() -> None:
    fabric = nccl.load(DATA / "p4d-24xl-topo.xml")
    gpu0 = fabric.find("0000:10:1c.0")
    usp = fabric.ancestors(gpu0)[1]
    assert usp.kind is DeviceKind.SWITCH_UPSTREAM
    assert usp.bdf.domain == 0 and usp.bdf.bus < 0x10
    assert "ffff:ff:01.0" in usp.product
    assert usp.vendor_id is None  # the file's 0xffff means "unknown"
    assert topo(fabric, "0000:10:1c.0", "0000:10:1d.0") == "PIX"
    assert topo(fabric, "0000:10:1c.0", "0000:10:1b.0") == "PIX"  # GPU and EFA under one switch
    assert topo(fabric, "0000:10:1c.0", "0000:20:1c.0") == "PHB"
    assert topo(fabric, "0000:10:1c.0", "0000:90:1c.0") == "SYS"
    used = {d.bdf.bus_id for d in fabric if not d.product or not d.product.startswith(("invented", "VM-hidden"))}
    invented = [d for d in fabric if d.product and d.product.startswith(("invented", "VM-hidden"))]
    assert len(invented) == 12  # 4 placeholder switches, 4 downstream ports, 4 root ports
    assert all(d.bdf.bus_id not in used for d in invented)
    assert any("ffff:ff:01.0 as 0000:0e:00.0" in n for n in fabric.notes)


def test_hyperv_devices_in_domains_of_their_own_stay_on_their_root_buses() -> None:
    fabric = nccl.load(DATA / "ndv4-topo.xml")
    assert len(fabric) == 16  # 8 A100 + 8 HDR NICs, nothing invented
    for dev in fabric:
        assert dev.parent is None and dev.bdf.bus == 0
        assert fabric.root_bus_of(dev).bus_id == dev.bdf.bus_id
    assert fabric.find("0003:00:00.0").kind is DeviceKind.GPU
    assert fabric.find("0103:00:00.0").kind is DeviceKind.NIC
    assert any("ffff:ff:01.0 (above 0003:00:00.0, 0103:00:00.0" in n for n in fabric.notes)
    assert topo(fabric, "0003:00:00.0", "0004:00:00.0") == "NODE"  # NUMA 0 both, separate root buses
    assert topo(fabric, "0003:00:00.0", "0001:00:00.0") == "SYS"
    assert fabric.host.cpu_vendor == "amd" and fabric.host.cpu_family == 0x17  # hand-written plain family 23


def test_rccl_mi250_file_reads_encoded_family_and_narrow_links() -> None:
    fabric = nccl.load(DATA / "topo_8p1h.xml")
    assert fabric.host.cpu_family == 0x19  # familyid 175 = 0xF + (0xA << 4)
    bridge = fabric.find("0000:27:00.0")
    assert bridge.kind is DeviceKind.SWITCH_UPSTREAM and bridge.link.max_width == 8
    gpu0 = fabric.find("gpu0")
    assert gpu0.class_code == 0x038000 and gpu0.kind is DeviceKind.GPU
    assert fabric.find("mlx5_0").numa_node == 1
    assert [rb.numa_node for rb in fabric.root_buses] == [1, 3]
