"""``lspci -vvv`` dumps on their own: port types, links, ACS, SR-IOV, NUMA and IOMMU groups, with and without -nn/-D.

The dump they read is lspci_samples.DUMP_NN_D (an Intel root port, a PLX switch with two downstream ports, an NVMe
drive and a ConnectX-5 with two enabled VFs), with and without its numbers.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lspci_samples import DUMP_NN_D, plain

from p2ptui.cli.main import main
from p2ptui.errors import InputError
from p2ptui.fabric import BDF, DeviceKind, Link
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import AcsSource
from p2ptui.sources import lspci

PCI_IDS = Path(__file__).resolve().parents[1] / "data" / "pci.ids"


def load(tmp_path: Path, text: str):
    path = tmp_path / "lspci.txt"
    path.write_text(text)
    return lspci.load(path)


def test_port_types_links_and_acs_from_a_root_dump(tmp_path: Path) -> None:
    fabric = load(tmp_path, DUMP_NN_D)
    kinds = {str(d.bdf): d.kind for d in fabric}
    assert kinds == {
        "0000:00:00.0": DeviceKind.HOST_BRIDGE,
        "0000:17:00.0": DeviceKind.ROOT_PORT,
        "0000:18:00.0": DeviceKind.SWITCH_UPSTREAM,
        "0000:19:00.0": DeviceKind.SWITCH_DOWNSTREAM,
        "0000:19:01.0": DeviceKind.SWITCH_DOWNSTREAM,
        "0000:1a:00.0": DeviceKind.NVME,
        "0000:1b:00.0": DeviceKind.NIC,
        "0000:1b:00.2": DeviceKind.NIC,
        "0000:1b:00.3": DeviceKind.NIC,
    }
    assert [str(rb) for rb in fabric.root_buses] == ["0000:00", "0000:17"]
    assert all(rb.numa_node == 0 for rb in fabric.root_buses)
    nvme = fabric.find("nvme0")
    assert [str(d.bdf) for d in fabric.ancestors(nvme)] == ["0000:19:00.0", "0000:18:00.0", "0000:17:00.0"]
    assert nvme.link == Link(gen=3, width=4, max_gen=4, max_width=4, mps=256, mrrs=512)
    assert nvme.link.speed_below_max and not nvme.link.width_degraded
    assert (nvme.vendor_id, nvme.device_id, nvme.class_code) == (0x144D, 0xA80A, 0x010802)
    assert (nvme.subsystem_vendor_id, nvme.subsystem_device_id) == (0x144D, 0xA801)
    assert nvme.product == "Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO"
    assert (nvme.driver, nvme.numa_node, nvme.iommu_group) == ("nvme", 0, 33)
    assert nvme.acs.source is AcsSource.NONE  # readable capabilities, no ACS among them
    rp = fabric.find("0000:17:00.0")
    assert rp.acs.source is AcsSource.HARDWARE
    assert rp.acs.cap == rp.acs.ctrl == acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF
    assert rp.link == Link(gen=3, width=16, max_gen=3, max_width=16, mps=256, mrrs=128)
    assert rp.revision == 0x04
    dsp0, dsp1 = fabric.find("0000:19:00.0"), fabric.find("0000:19:01.0")
    assert dsp0.acs.ctrl & acsbits.REDIRECT_BITS == acsbits.RR | acsbits.CR
    assert dsp1.acs.ctrl == 0 and dsp1.acs.cap == acsbits.ALL_BITS
    assert dsp0.link.width == 4 and dsp0.link.max_width == 16
    assert fabric.find("0000:18:00.0").acs.source is AcsSource.NONE
    assert not any("root buses" in n for n in fabric.notes)  # a host bridge and a root port show both roots


def test_enabled_vfs_are_found_from_the_sriov_capability(tmp_path: Path) -> None:
    fabric = load(tmp_path, DUMP_NN_D)
    pf = fabric.find("0000:1b:00.0")
    assert [str(v.bdf) for v in fabric.virtfns(pf)] == ["0000:1b:00.2", "0000:1b:00.3"]
    vf = fabric.find("0000:1b:00.2")
    assert vf.physfn == pf.bdf and vf.parent == pf.parent and vf.device_id == 0x1018
    assert fabric.upstream_bridge(vf) == fabric.find("0000:19:01.0")


def test_plain_output_reads_classes_and_vendors_from_names(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("P2PTUI_PCI_IDS", str(PCI_IDS))  # the database lspci took the names from
    fabric = load(tmp_path, plain(DUMP_NN_D))
    expected = load(tmp_path, DUMP_NN_D)
    assert [(d.bdf, d.kind, d.parent) for d in fabric] == [(d.bdf, d.kind, d.parent) for d in expected]
    nvme = fabric.find("nvme0")
    assert nvme.class_code == 0x010802  # "Non-Volatile memory controller" + prog-if 02
    assert (nvme.vendor_id, nvme.device_id) == (0x144D, 0xA80A)  # both back from their names in pci.ids
    assert fabric.find("0000:19:00.0").vendor_id == 0x10B5
    assert fabric.find("0000:00:00.0").subsystem_vendor_id == 0x8086
    assert fabric.find("0000:00:00.0").subsystem_device_id is None
    assert any("lspci -nn" in n for n in fabric.notes)


def test_plain_output_without_a_pci_id_database_leaves_ids_unknown(tmp_path: Path) -> None:
    fabric = load(tmp_path, plain(DUMP_NN_D))
    nvme = fabric.find("nvme0")
    assert nvme.kind is DeviceKind.NVME and (nvme.vendor_id, nvme.device_id) == (None, None)


def test_dump_without_root_leaves_links_and_acs_unknown(tmp_path: Path) -> None:
    text = re.sub(r"\tCapabilities: \[[^\n]*\n(?:\t\t[^\n]*\n)*", "\tCapabilities: <access denied>\n", DUMP_NN_D)
    fabric = load(tmp_path, text)
    assert all(d.acs.source is AcsSource.UNKNOWN for d in fabric)
    assert all(d.link is None for d in fabric)
    # Port types were behind the denied capabilities: kinds come from position, the tree from Bus: lines.
    assert fabric.find("0000:17:00.0").kind is DeviceKind.ROOT_PORT
    assert fabric.find("0000:18:00.0").kind is DeviceKind.SWITCH_UPSTREAM
    assert fabric.find("0000:1b:00.2").physfn is None  # the SR-IOV capability was denied too
    assert any("lspci ran without root" in n for n in fabric.notes)


def test_port_type_that_cannot_stand_on_a_root_bus_gives_way_to_position(tmp_path: Path) -> None:
    # A VM that passes through a switch shows its upstream port on the guest's root bus.
    text = DUMP_NN_D.replace("Express (v2) Root Port (Slot+)", "Express (v2) Upstream Port")
    fabric = load(tmp_path, text)
    assert fabric.find("0000:17:00.0").kind is DeviceKind.ROOT_PORT
    assert any("0000:17:00.0 (switch upstream port in the file, root port here)" in n for n in fabric.notes)


def test_partial_dump_takes_unknown_buses_as_root_buses_and_says_so(tmp_path: Path) -> None:
    blocks = DUMP_NN_D.split("\n\n")
    only_nvme = next(b for b in blocks if b.startswith("0000:1a:00.0"))
    fabric = load(tmp_path, only_nvme + "\n")
    assert [str(rb) for rb in fabric.root_buses] == ["0000:1a"]
    assert any("0000:1a have no bridge in the file" in n for n in fabric.notes)


@pytest.mark.parametrize(
    ("old", "new", "words"),
    [
        ("\tNUMA node: 0\n\tIOMMU group: 33", "\tNUMA node: 99999\n\tIOMMU group: 33", "NUMA nodes beyond"),
        ("Speed 16GT/s, Width x4", "Speed 3GT/s, Width x4", "link speeds no PCIe generation has"),
        ("Speed 16GT/s, Width x4", "Speed 16GT/s, Width x3", "link widths no PCIe link has"),
        ("Speed 16GT/s, Width x4", "Speed 16GT/s, Width x63", "x63: the register reads all ones"),
        ("MaxReadReq 512 bytes", "MaxReadReq 500 bytes", "payload sizes (MPS/MRRS) that are no PCIe value"),
    ],
)
def test_absurd_numbers_are_unknown_with_a_note_at_their_line(tmp_path: Path, old: str, new: str, words: str) -> None:
    # Were errors; a value no device should have leaves that one fact unknown (issue 10).
    assert old in DUMP_NN_D
    text = DUMP_NN_D.replace(old, new, 1)
    fabric = load(tmp_path, text)
    line = next(i for i, line in enumerate(text.splitlines(), 1) if new.split("\n")[0].strip() in line)
    (note,) = [n for n in fabric.notes if words in n]
    assert f"line {line} (" in note and "left unknown" in note


def test_acs_control_beyond_the_capability_is_masked_with_a_note(tmp_path: Path) -> None:
    text = DUMP_NN_D.replace(
        "ACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n\tKernel driver in use: pcieport\n\n0000:18",
        "ACSCtl:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n\tKernel driver in use: pcieport\n\n0000:18",
    )
    # Was an error; the kernel tests only the bits the capability offers, and so does p2ptui now (issue 10).
    f = load(tmp_path, text)
    (note,) = [n for n in f.notes if "ACS control bits their ACS capability does not offer" in n]
    assert "(line 7)" in note  # the root port's header line
    port = next(d for d in f if d.acs.cap and not d.acs.cap & 0x02)
    assert not port.acs.ctrl & ~port.acs.cap


def test_not_lspci_output(tmp_path: Path) -> None:
    for content in (b"", b"hello world\n", b"\x00\x01binary"):
        path = tmp_path / "x.txt"
        path.write_bytes(content)
        with pytest.raises(InputError) as info:
            lspci.load(path)
        assert len(info.value.diagnostics) == 1
    with pytest.raises(InputError, match="is a directory"):
        lspci.load(tmp_path)
    assert not lspci.sniff(tmp_path / "x", b"\x00\x01binary")
    assert lspci.sniff(tmp_path / "x", DUMP_NN_D.encode())
    assert lspci.sniff(tmp_path / "x", plain(DUMP_NN_D).encode())
    assert not lspci.sniff(tmp_path / "x", b"format: p2ptui-fabric/1\nname: x\n")
    assert BDF.parse("1b:00.2") in load(tmp_path, plain(DUMP_NN_D))


RCIEP_BLOCK = """
0000:00:04.0 System peripheral [0880]: Intel Corporation Sky Lake-E CBDMA Registers [8086:2021] (rev 04)
\tSubsystem: Intel Corporation Device [8086:0000]
\tNUMA node: 0
\tIOMMU group: 1
\tCapabilities: [90] Express (v2) Root Complex Integrated Endpoint, MSI 00
\t\tDevCap:\tMaxPayload 256 bytes, PhantFunc 0
\tKernel driver in use: ioatdma
"""


def test_rciep_and_link_down_port(tmp_path: Path, capsys) -> None:
    # A CBDMA engine on the root bus (an RCiEP, as `lspci -vvv` names it) and a switch port whose link is down.
    text = (
        DUMP_NN_D.replace(
            "Port #5, Speed 8GT/s, Width x16, ASPM L1\n\t\tLnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)",
            "Port #5, Speed 8GT/s, Width x16, ASPM L1\n\t\tLnkSta:\tSpeed unknown (downgraded), Width x0 (downgraded)",
        )
        + RCIEP_BLOCK
    )
    f = load(tmp_path, text)
    cbdma = f.find("0000:00:04.0")
    assert cbdma.integrated and cbdma.link is None and f.upstream_bridge(cbdma) is None
    assert not f.find("0000:1a:00.0").integrated  # an Endpoint below a port is not
    port = f.find("0000:19:01.0")
    assert port.link.down and (port.link.max_gen, port.link.max_width) == (3, 16)
    assert main(["show", str(tmp_path / "lspci.txt")]) == 0
    out = capsys.readouterr().out
    assert "RCiEP: no link (integrated in the root complex)" in next(r for r in out.splitlines() if "00:04.0" in r)
    assert "link down (capable gen3 x16)" in next(r for r in out.splitlines() if "19:01.0" in r)
