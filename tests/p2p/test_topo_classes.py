"""nvidia-smi topo -m classes beside the kernel's verdict, checked against a real nvidia-smi matrix."""

from __future__ import annotations

import pytest
from p2p_scenario_support import scenario_fabric
from real_data import require

from p2ptui.p2p.context import verdict_context
from p2ptui.p2p.topo import TopoClass, topo_class
from p2ptui.sources import open_fabric

DATA = require("lspci")
STELLINE = "stelline-puget-threadripper-pro-wrx90"


def _topo(fabric, a: str, b: str) -> TopoClass:
    ctx = verdict_context(fabric)
    ix = ctx.index.index
    return topo_class(ctx.index, ix[fabric.find(a).bdf], ix[fabric.find(b).bdf])


@pytest.mark.parametrize(
    "a, b, cls",
    [
        ("nvme-a", "nvme-a", TopoClass.X),
        ("nvme-a", "rnic0", TopoClass.PIX),  # one switch
        ("rnic0", "rnic1", TopoClass.PIX),  # two functions of one device
        ("rnic0", "rnic0-vf0", TopoClass.PIX),
        ("nvme-c", "rnic0", TopoClass.PXB),  # two switches, cascaded
        ("nvme-c", "nvme-c", TopoClass.X),
        ("nvme-d", "gpu0", TopoClass.PHB),  # two root ports of one host bridge
        ("nvme-a", "gpu0", TopoClass.PHB),
        ("dsa0", "dsa1", TopoClass.PHB),  # RCiEPs of one root bus
        ("dsa0", "nvme-d", TopoClass.NODE),  # two host bridges, NUMA node 0 both
        ("nvme-e", "nvme-d", TopoClass.SYS),  # NUMA 1 against NUMA 0
    ],
)
def test_scenario_classes(a, b, cls):
    assert _topo(scenario_fabric(), a, b) is cls
    assert _topo(scenario_fabric(), b, a) is cls


def _nvidia_smi_matrix() -> dict[tuple[str, str], str]:
    lines = (DATA / f"{STELLINE}.topo-m.txt").read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:1] == ["GPU0"])
    names = lines[header].split()[:4]
    out = {}
    for line in lines[header + 1 : header + 5]:
        fields = line.split()
        for name, cls in zip(names, fields[1:5], strict=False):
            out[(fields[0], name)] = cls
    return out


def test_real_nvidia_smi_matrix():
    """The Puget Threadripper PRO box: GPUs c1:00.0 and c2:00.0 (nvidia-smi Bus-Id), NIC0/NIC1 = mlx5_0/mlx5_1,
    the two ports of the ConnectX-7 at 21:00.0/.1. Its lspci -tv gives the tree; nvidia-smi gives the answer."""
    fabric = open_fabric(str(DATA / f"{STELLINE}.lspci-tv.txt"))
    bdfs = {"GPU0": "c1:00.0", "GPU1": "c2:00.0", "NIC0": "21:00.0", "NIC1": "21:00.1"}
    want = _nvidia_smi_matrix()
    assert len(want) == 16
    for (a, b), cls in want.items():
        assert _topo(fabric, bdfs[a], bdfs[b]).value == cls, (a, b)
