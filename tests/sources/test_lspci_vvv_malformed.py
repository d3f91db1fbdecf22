"""``lspci -vvv`` dumps that are cut or damaged: facts genuinely missing become unknown (with a note saying how to
get them); lines that are not what lspci prints are errors at their line and column, never a silent guess.

Every case edits the dump of test_lspci_vvv.py (an Intel root port, a PLX switch, an NVMe drive behind one
downstream port and a ConnectX-5 behind the other). Intact, ``check nvme0 nic0`` is THRU_HOST_BRIDGE there: the
drive's downstream port (0000:19:00.0, line 34) redirects peer-to-peer requests up to the root complex.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from lspci_samples import DUMP_NN_D, plain

from p2ptui.errors import InputError
from p2ptui.fabric import Fabric
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import AcsSource
from p2ptui.p2p import verdict
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.verdict import MapType
from p2ptui.sources import lspci

# The downstream port 0000:19:00.0's ACS register lines (the block after it is 0000:19:01.0's).
DSP0_CTL = (
    "\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-\n"
    "\tKernel driver in use: pcieport\n\n0000:19:01.0"
)
DSP0_CAP = (
    "\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+\n"
    "\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+"
)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "lspci.txt"
    path.write_text(text)
    return path


def line_of(text: str, fragment: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def only_error(tmp_path: Path, text: str):
    with pytest.raises(InputError) as info:
        lspci.load(write(tmp_path, text))
    [diag] = info.value.diagnostics
    return diag


def nvme_to_nic(fabric: Fabric):
    """What ``p2ptui check FILE nvme0 nic0 --assume kernel=latest`` decides (the dump does not say which kernel ran):
    the verdict for the one client (its worst outcome when it depends on unknown ACS), and the verdict."""
    result = verdict.check(fabric, "nvme0", ["nic0"], profile_for(fabric, assume=["kernel=latest"]))
    [client] = result.clients
    return client, result


def test_the_intact_dump_redirects_at_the_drives_port(tmp_path: Path) -> None:
    client, _ = nvme_to_nic(lspci.load(write(tmp_path, DUMP_NN_D)))
    assert client.map_type is MapType.THRU_HOST_BRIDGE
    assert [str(d.bdf) for d in client.acs_redirect] == ["0000:19:00.0"]


# -- data that is genuinely absent: unknown, with a note --------------------------------------------------------


def test_missing_acs_control_line_leaves_acs_unknown_not_off(tmp_path: Path) -> None:
    assert DUMP_NN_D.count(DSP0_CTL) == 1
    text = DUMP_NN_D.replace(DSP0_CTL, DSP0_CTL.split("\n", 1)[1])
    fabric = lspci.load(write(tmp_path, text))
    dsp0 = fabric.find("0000:19:00.0")
    assert dsp0.acs.source is AcsSource.UNKNOWN  # was HARDWARE with ctrl 0: "no redirect", a wrong BUS_ADDR
    assert fabric.find("0000:19:01.0").acs.source is AcsSource.HARDWARE
    [note] = [n for n in fabric.notes if "ACS unknown" in n]
    assert "0000:19:00.0" in note and "ACSCtl" in note and "sudo lspci -vvv" in note
    # The verdict knows the port's ACS is unknown and says it depends on it, instead of reading "ACS off".
    client, result = nvme_to_nic(fabric)
    assert [str(d.bdf) for d in client.acs_unknown] == ["0000:19:00.0"]
    assert not result.certain and [u.subjects for u in result.depends_on] == [("dsp0 (0000:19:00.0)",)]


def test_missing_acs_capability_line_leaves_acs_unknown(tmp_path: Path) -> None:
    text = DUMP_NN_D.replace(DSP0_CAP, DSP0_CAP.split("\n", 1)[1])
    fabric = lspci.load(write(tmp_path, text))
    assert fabric.find("0000:19:00.0").acs.source is AcsSource.UNKNOWN
    [note] = [n for n in fabric.notes if "ACS unknown" in n]
    assert "0000:19:00.0" in note and "ACSCap" in note


def test_acs_capability_listed_without_its_registers_is_unknown_with_a_note(tmp_path: Path) -> None:
    # `lspci -v` (one v) names the capability but prints no ACSCap/ACSCtl lines.
    text = re.sub(r"\t\tACSC(?:ap|tl):[^\n]*\n", "", DUMP_NN_D)
    fabric = lspci.load(write(tmp_path, text))
    for bdf in ("0000:17:00.0", "0000:19:00.0", "0000:19:01.0"):
        assert fabric.find(bdf).acs.source is AcsSource.UNKNOWN
    assert fabric.find("0000:1a:00.0").acs.source is AcsSource.NONE  # no ACS capability listed at all
    [note] = [n for n in fabric.notes if "ACS unknown" in n]
    assert "0000:17:00.0" in note and "0000:19:01.0" in note and "sudo lspci -vvv" in note


def test_link_lines_an_older_lspci_does_not_print_leave_the_link_unknown(tmp_path: Path) -> None:
    # pciutils before 3.0 printed "Link: Speed 2.5Gb/s, Width x4" instead of LnkCap/LnkSta: not read, so unknown.
    sta = "\t\tLnkSta:\tSpeed 8GT/s (downgraded), Width x4 (ok)\n"
    cap = "\t\tLnkCap:\tPort #0, Speed 16GT/s, Width x4, ASPM L1, Exit Latency L1 <64us\n"
    assert DUMP_NN_D.count(sta) == 1 and DUMP_NN_D.count(cap) == 1
    fabric = lspci.load(write(tmp_path, DUMP_NN_D.replace(sta, "\t\tLink: Speed 2.5Gb/s, Width x4\n")))
    nvme = fabric.find("nvme0")
    assert (nvme.link.gen, nvme.link.width, nvme.link.max_gen, nvme.link.max_width) == (None, None, 4, 4)
    [note] = [n for n in fabric.notes if "link speed or width unknown" in n]
    assert "0000:1a:00.0 (no LnkSta line)" in note and "pciutils 3.0" in note
    assert "1b:00.2" not in note  # VFs have no link of their own
    nvme = lspci.load(write(tmp_path, DUMP_NN_D.replace(sta, "").replace(cap, ""))).find("nvme0")
    assert nvme.link is None


# -- lines that are not what lspci prints: errors at their position --------------------------------------------


@pytest.mark.parametrize("bad", ["0000:1z:00.0", "0000:18:3f.0", "0000:18:00.9", "0000:100:00.0", "zz:00.0"])
def test_header_with_a_bad_address_is_an_error_at_its_line(tmp_path: Path, bad: str) -> None:
    header = "0000:18:00.0 PCI bridge [0604]: PLX"
    text = DUMP_NN_D.replace(header, header.replace("0000:18:00.0", bad))
    diag = only_error(tmp_path, text)
    assert f"{bad!r} is not a PCI address" in diag.message
    assert (diag.location.line, diag.location.column) == (line_of(text, bad + " PCI bridge"), 1)
    assert "DDDD:BB:DD.F" in diag.hint


def test_header_with_a_bad_address_in_plain_output(tmp_path: Path) -> None:
    text = plain(DUMP_NN_D).replace("1a:00.0 Non-Volatile", "1a:0g.0 Non-Volatile")
    diag = only_error(tmp_path, text)
    assert (diag.location.line, diag.location.column) == (line_of(text, "1a:0g.0"), 1)


@pytest.mark.parametrize(
    ("old", "new", "token"),
    [
        ("SrcValid+ TransBlk- ReqRedir+", "SrcValid? TransBlk- ReqRedir%", "SrcValid?"),
        ("SrcValid+ TransBlk- ReqRedir+", "SrcValid+ TransBlk- ReqRedir%", "ReqRedir%"),
        ("SrcValid+ TransBlk- ReqRedir+", "SrcValid+ TransBlk- ReqRedr+", "ReqRedr+"),
        ("SrcValid+ TransBlk- ReqRedir+", "SrcValid+ TransBlk- ReqRedir+ ReqRedir+", "ReqRedir+"),
    ],
)
def test_garbled_acs_flags_are_an_error_at_the_token(tmp_path: Path, old: str, new: str, token: str) -> None:
    start = DUMP_NN_D.index("0000:19:00.0 PCI bridge")
    ctl = DUMP_NN_D.index("ACSCtl:\t" + old, start)
    text = DUMP_NN_D[:ctl] + DUMP_NN_D[ctl:].replace(old, new, 1)
    diag = only_error(tmp_path, text)
    line = text.splitlines()[diag.location.line - 1]
    assert diag.location.line == line_of(text[ctl:], "ACSCtl") + text[:ctl].count("\n")
    assert line[diag.location.column - 1 :].startswith(token)
    assert "ACSCtl" in diag.message and "Name+ or Name-" in diag.hint


def test_acs_line_missing_flags_is_an_error(tmp_path: Path) -> None:
    # The file was cut inside the line (or edited): the flags that are not there are not "off".
    cut = DUMP_NN_D.index("ACSCap:\tSrcValid+ TransBlk- ReqRedir+") + len("ACSCap:\tSrcValid+ Tr")
    text = DUMP_NN_D[:cut] + "\n"
    diag = only_error(tmp_path, text)
    assert diag.location.line == text.count("\n")
    assert "ACSCap" in diag.message


@pytest.mark.parametrize(
    ("old", "new", "column_at"),
    [
        ("secondary=19, subordinate=1c", "secondary=zz, subordinate=1c", "zz"),
        ("secondary=19, subordinate=1c", "secondary=19, subordinate=1g", "1g"),
        ("primary=18, secondary=19", "primary=18 secondary=19", "18 secondary"),
    ],
)
def test_malformed_bus_numbers_are_an_error_at_the_field(tmp_path: Path, old: str, new: str, column_at: str) -> None:
    assert DUMP_NN_D.count(old) == 1
    text = DUMP_NN_D.replace(old, new)
    diag = only_error(tmp_path, text)
    line = line_of(text, new)
    assert diag.location.line == line
    assert text.splitlines()[line - 1][diag.location.column - 1 :].startswith(column_at)
    assert "Bus:" in diag.message


def test_reversed_bus_range_is_an_error(tmp_path: Path) -> None:
    text = DUMP_NN_D.replace("secondary=19, subordinate=1c", "secondary=19, subordinate=18")
    diag = only_error(tmp_path, text)
    assert "subordinate bus 18 is below secondary bus 19" in diag.message
    assert diag.location.line == line_of(text, "subordinate=18")


@pytest.mark.parametrize(
    ("old", "new"),
    [
        (
            "LnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)\n\tCapabilities: [110",
            "LnkSta:\tSpeed 8GT/s (ok), Wdth x16\n\tCapabilities: [110",
        ),
        ("LnkCap:\tPort #5, Speed 8GT/s, Width x16, ASPM not", "LnkCap:\tPort #5 Speed 8GT/s Width x16, ASPM not"),
        ("\tNUMA node: 0\n\tIOMMU group: 33", "\tNUMA node: zero\n\tIOMMU group: 33"),
        ("\tIOMMU group: 33", "\tIOMMU group: 3x3"),
    ],
)
def test_other_lines_the_reader_needs_must_parse(tmp_path: Path, old: str, new: str) -> None:
    assert DUMP_NN_D.count(old) == 1
    text = DUMP_NN_D.replace(old, new)
    diag = only_error(tmp_path, text)
    assert diag.location.line == line_of(text, new.split("\n")[0].strip())
    assert "not in the form lspci prints" in diag.message


def test_acs_bits_still_read_exactly(tmp_path: Path) -> None:
    fabric = lspci.load(write(tmp_path, DUMP_NN_D))
    dsp0 = fabric.find("0000:19:00.0")
    assert dsp0.acs.cap == acsbits.ALL_BITS
    assert dsp0.acs.ctrl == acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF


def test_a_bridge_firmware_left_unconfigured_forwards_no_bus(tmp_path: Path) -> None:
    # Bus numbers 00/00 mean "not assigned", not "bus 00 is below me": the host bridge must stay on its root bus.
    old = "Bus: primary=19, secondary=1b, subordinate=1b"
    assert DUMP_NN_D.count(old) == 1
    text = DUMP_NN_D.replace(old, "Bus: primary=00, secondary=00, subordinate=00")
    fabric = lspci.load(write(tmp_path, text))
    assert fabric.find("0000:00:00.0").parent is None
    dsp1 = fabric.find("0000:19:01.0")
    assert dsp1.kind.is_bridge and fabric.children(dsp1) == []
