"""The Puget Threadripper PRO WRX90 capture: its lspci tree, and the nvidia-smi classes measured on that machine.

GPU indices map to bus IDs through p2pBandwidthLatencyTest's ``pciBusID`` lines (same machine, same driver).
NIC0/NIC1 are mlx5_0/mlx5_1; the capture does not print their bus IDs, so they are taken in function order
(21:00.0, 21:00.1), the order mlx5_core probes and numbers them. Both NICs get the same classes against the GPUs
either way; only their pair (PIX) tells the functions apart.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from real_data import require

from p2ptui.fabric import BDF, DeviceKind, Link, pciids
from p2ptui.fabric.acs import AcsSource
from p2ptui.fabric.model import Fabric
from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.p2p.context import fabric_index
from p2ptui.p2p.topo import topo_class
from p2ptui.sources import lspci

DATA = require("lspci")
STEM = "stelline-puget-threadripper-pro-wrx90"
MD = DATA / f"{STEM}.md"
TV = DATA / f"{STEM}.lspci-tv.txt"
NIC_FUNCTIONS = {"mlx5_0": BDF.parse("0000:21:00.0"), "mlx5_1": BDF.parse("0000:21:00.1")}


def nvidia_smi_matrix() -> dict[tuple[BDF, BDF], str]:
    """topo-m.txt's GPU/NIC matrix, keyed by bus addresses."""
    text = (DATA / f"{STEM}.topo-m.txt").read_text()
    p2p = (DATA / f"{STEM}.p2pBandwidthLatencyTest.txt").read_text()
    gpus = {
        f"GPU{m[1]}": BDF(int(m[4]), int(m[2], 16), int(m[3], 16), 0)
        for m in re.finditer(
            r"Device: (\d+), .*?pciBusID: ([0-9a-f]+), pciDeviceID: ([0-9a-f]+), pciDomainID:(\d+)", p2p
        )
    }
    nics = {m[1]: NIC_FUNCTIONS[m[2]] for m in re.finditer(r"^\s+(NIC\d+): (\S+)$", text, re.M)}
    where = gpus | nics
    lines = text.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["GPU0"])
    columns = lines[header].split()[: len(where)]
    matrix = {}
    for line in lines[header + 1 : header + 1 + len(where)]:
        row, *cells = line.split()
        for column, cell in zip(columns, cells, strict=False):
            matrix[(where[row], where[column])] = cell
    return matrix


def drawn(path: Path) -> tuple[int, int, set[int]]:
    """Functions and bridges drawn in the -tv text, and the secondary buses of those bridges (a plain count)."""
    text = path.read_text()
    functions = len(re.findall(r"-[0-9a-f]{2}\.[0-7]", text))
    secondaries = [int(b, 16) for b in re.findall(r"[0-9a-f]{2}\.[0-7]-\[([0-9a-f]{2})", text)]
    return functions, len(secondaries), set(secondaries)


@pytest.fixture(scope="module")
def md() -> Fabric:
    return lspci.load(MD)


@pytest.mark.parametrize("path", [MD, TV], ids=["md (-tv + -vvv)", "lspci-tv.txt"])
def test_tree_holds_every_function_drawn(path: Path) -> None:
    fabric = lspci.load(path)
    functions, bridges, secondaries = drawn(TV)
    assert len(fabric) == functions == 113
    assert sum(1 for d in fabric if d.kind.is_bridge) == bridges
    for dev in fabric:
        if dev.parent is not None:
            assert dev.bdf.bus in secondaries and dev.bdf.bus > dev.parent.bus
    assert {(d.bdf, d.parent) for d in fabric} == {(d.bdf, d.parent) for d in lspci.load(TV)}
    assert [str(rb) for rb in fabric.root_buses] == ["0000:00", "0000:20", "0000:c0", "0000:e0"]
    assert loads_fabric(dumps_fabric(fabric), "saved.yaml") == fabric
    assert lspci.sniff(path, path.read_bytes()[:65536])


def test_highpoint_card_is_a_switch_of_two_switches_with_eight_nvme(md: Fabric) -> None:
    top = md.find("0000:01:00.0")
    assert top.kind is DeviceKind.SWITCH_UPSTREAM and md.parent(top).bdf == BDF.parse("00:03.1")
    ports = md.children(top)
    assert [str(p.bdf) for p in ports] == ["0000:02:00.0", "0000:02:04.0", "0000:02:0c.0", "0000:02:1c.0"]
    assert all(p.kind is DeviceKind.SWITCH_DOWNSTREAM for p in ports)
    samsung = [d for d in md if d.product and "S4LV008" in d.product]
    assert len(samsung) == 8 and all(d.kind is DeviceKind.NVME for d in samsung)
    for drive in samsung:
        chain = md.ancestors(drive)
        assert [d.kind for d in chain] == [
            DeviceKind.SWITCH_DOWNSTREAM,
            DeviceKind.SWITCH_UPSTREAM,
            DeviceKind.SWITCH_DOWNSTREAM,
            DeviceKind.SWITCH_UPSTREAM,
            DeviceKind.ROOT_PORT,
        ]
        assert chain[3] is top
    raid = md.find("0000:11:00.0")
    assert raid.kind is DeviceKind.OTHER  # its -vvv block says RAID bus controller, despite "NVMe" in the name
    assert raid.class_code == 0x010400 and raid.link == Link(gen=2, width=1, max_gen=2, max_width=2, mps=256, mrrs=512)


def test_vvv_blocks_fill_in_the_gpus_and_the_connectx7(md: Fabric) -> None:
    for bus in ("c1", "c2"):
        gpu = md.find(f"0000:{bus}:00.0")
        assert gpu.kind is DeviceKind.GPU and gpu.class_code == 0x030000
        assert gpu.link == Link(gen=1, width=16, max_gen=4, max_width=16, mps=256, mrrs=512)  # idle at 2.5GT/s
        assert gpu.driver == "nvidia" and gpu.revision == 0xA1
        assert gpu.acs.source is AcsSource.NONE
    nic = md.find("0000:21:00.0")
    assert nic.kind is DeviceKind.NIC and nic.driver == "mlx5_core"
    assert nic.link == Link(gen=5, width=16, max_gen=5, max_width=16, mps=512, mrrs=512)
    assert nic.acs.source is AcsSource.HARDWARE and nic.acs.cap == 0 and nic.acs.ctrl == 0
    assert md.find("0000:21:00.1").acs.source is AcsSource.UNKNOWN  # only in the -tv tree
    assert md.virtfns(nic) == []  # SR-IOV capable, 0 VFs enabled
    assert md.host.cpu_vendor == "amd" and md.host.cpu_family == 25
    assert md.host.cpu_model == "AMD Ryzen Threadripper PRO 7965WX 24-Cores"
    assert all(rb.numa_node == 0 for rb in md.root_buses)  # numactl: "available: 1 nodes (0)"


@pytest.mark.skipif(pciids.database() is None, reason="needs the system's pci.ids (Debian's hwdata)")
def test_ids_come_back_from_names_through_the_system_database(md: Fabric) -> None:
    """The capture was taken without -nn: lspci printed names, and the IDs are found again by name in pci.ids."""
    assert [md.find(f"0000:{bus}:00.0").vendor_id for bus in ("c1", "c2")] == [0x10DE, 0x10DE]


@pytest.mark.parametrize("path", [MD, TV], ids=["md (-tv + -vvv)", "lspci-tv.txt"])
def test_nvidia_smi_classes_for_gpus_and_nics(path: Path) -> None:
    fabric = lspci.load(path)
    index = fabric_index(fabric)
    expected = nvidia_smi_matrix()
    assert len(expected) == 16 and set(expected.values()) == {"X", "PHB", "NODE", "PIX"}
    got = {(a, b): topo_class(index, index.index[a], index.index[b]).value for a, b in expected}
    assert got == expected


def test_the_expectation_files_beside_it_are_not_taken_for_lspci_output() -> None:
    for name in (f"{STEM}.topo-m.txt", f"{STEM}.p2pBandwidthLatencyTest.txt"):
        path = DATA / name
        assert not lspci.sniff(path, path.read_bytes())
