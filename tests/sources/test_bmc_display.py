"""A BMC's display controller (an ASPEED VGA) is not a GPU: kind OTHER, never named gpuN, never counted for P2P."""

from __future__ import annotations

from pathlib import Path

from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.kinds import DeviceKind, endpoint_kind_from_class
from p2ptui.sources import open_fabric

DATA = Path(__file__).resolve().parents[1] / "data"
ASPEED, NVIDIA = 0x1A03, 0x10DE


def test_a_vga_class_is_a_gpu_unless_a_bmc_vendor_made_it():
    assert endpoint_kind_from_class(0x030000, ASPEED) is DeviceKind.OTHER
    assert endpoint_kind_from_class(0x030000, NVIDIA) is DeviceKind.GPU
    assert endpoint_kind_from_class(0x030200, None) is DeviceKind.GPU  # a 3D controller of unknown make


def test_the_aspeed_vga_in_an_hwloc_file_is_not_a_gpu():
    fabric = open_fabric(str(DATA / "hwloc" / "linux-32em64t-2n8c+dax+nvme+mic+dimms.xml"))
    vga = fabric.device(BDF.parse("0000:05:00.0"))
    assert vga.vendor_id == ASPEED
    assert vga.kind is DeviceKind.OTHER
    assert vga.name == "vga0"  # named for what it is, neither gpuN nor a faceless devN
    assert vga not in [d for d in fabric.endpoints() if d.kind is DeviceKind.GPU]


def test_the_aspeed_vga_in_lspci_tree_text_is_not_guessed_a_gpu():
    fabric = open_fabric(str(DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.lspci-tv.txt"))
    aspeed = [d for d in fabric.devices if "ASPEED" in (d.product or "")]
    assert aspeed, "the file lists an ASPEED Graphics Family function"
    assert all(d.kind is not DeviceKind.GPU and not d.name.startswith("gpu") for d in aspeed)
