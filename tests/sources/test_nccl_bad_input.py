"""Bad NCCL topology input: one InputError per problem, at the element's line; never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from real_data import require

from p2ptui.cli.main import main
from p2ptui.errors import InputError
from p2ptui.fabric.limits import MAX_BRIDGE_DEPTH
from p2ptui.sources import nccl

DATA = require()

HEAD = '<system version="1">\n  <cpu numaid="0" vendor="GenuineIntel" familyid="6" modelid="143">\n'
TAIL = "  </cpu>\n</system>\n"
SWITCH = '    <pci busid="0000:0c:00.0" class="0x060400" link_speed="32.0 GT/s PCIe" link_width="16">\n'


def load_text(tmp_path: Path, text: str) -> InputError:
    path = tmp_path / "topo.xml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        nccl.load(path)
    return info.value


@pytest.mark.parametrize(
    ("element", "message"),
    [
        ('<pci busid="0e:00"/>', "malformed busid '0e:00'"),
        ('<pci class="0x030200"/>', "<pci> without busid"),
    ],
)
def test_bad_values_are_reported_at_their_element(tmp_path: Path, element: str, message: str) -> None:
    [diag] = load_text(tmp_path, HEAD + SWITCH + "      " + element + "\n    </pci>\n" + TAIL).diagnostics
    assert message in diag.message
    assert diag.location.line == 4


@pytest.mark.parametrize(
    ("element", "words"),
    [
        ('<pci busid="0000:0e:00.0" class="0x020700" link_width="100000"/>', "link_width values out of range"),
        ('<pci busid="0000:0e:00.0" class="0x020700" link_width="3"/>', "link widths no PCIe link has"),
        ('<pci busid="0000:0e:00.0" class="0x1000000"/>', "class values beyond 0xffffff"),
        ('<pci busid="0000:0e:00.0" vendor="0x10de0"/>', "vendor values beyond 0xffff"),
        ('<pci busid="0000:0e:00.0" vendor="nvidia"/>', "vendor values that are not hex numbers"),
        ('<pci busid="0000:0e:00.0"><gpu dev="-1"/></pci>', "dev values out of range"),
    ],
)
def test_odd_values_are_unknown_with_a_note_naming_the_line(tmp_path: Path, element: str, words: str) -> None:
    # Were errors; one odd value of a real topology file leaves that fact unknown (issue 10).
    path = tmp_path / "topo.xml"
    path.write_text(HEAD + SWITCH + "      " + element + "\n    </pci>\n" + TAIL)
    f = nccl.load(path)
    assert f.find("0000:0e:00.0")
    (note,) = [n for n in f.notes if words in n]
    assert "line 4 (" in note and "left unknown" in note


def test_absurd_numa_id_is_unknown(tmp_path: Path) -> None:
    path = tmp_path / "topo.xml"
    path.write_text(HEAD.replace('numaid="0"', 'numaid="99999"') + SWITCH + "    </pci>\n" + TAIL)
    f = nccl.load(path)
    assert f.find("0000:0c:00.0").numa_node is None
    (note,) = [n for n in f.notes if "numaid values out of range" in n]
    assert "line 2 (99999)" in note


def test_duplicate_busid_is_set_aside_naming_both_lines(tmp_path: Path) -> None:
    # Was an error; RCCL's own topology models repeat addresses, and the rest of the file is sound (issue 10).
    text = HEAD + SWITCH + '      <pci busid="0000:0e:00.0"/>\n      <pci busid="0000:0e:00.0"/>\n    </pci>\n' + TAIL
    path = tmp_path / "t.xml"
    path.write_text(text)
    f = nccl.load(path)
    (unplaced,) = f.unplaced
    assert str(unplaced.bdf) == "0000:0e:00.0" and "line 4" in unplaced.conflict
    assert "line 5" in f.find("0000:0e:00.0").conflict
    assert any("0000:0e:00.0 (line 5), a second entry for line 4" in n for n in f.notes)


def nested(levels: int) -> str:
    """A chain of ``levels`` switches, one inside the other, the first on line 3; a free bus between each and the
    next, so every level gets an invented downstream port (the deepest tree a chain can make)."""
    opens = "".join(f'<pci busid="0000:{3 * (i + 1) % 256:02x}:00.0" class="0x060400">\n' for i in range(levels))
    return HEAD + opens + "</pci>\n" * levels + TAIL


def test_nesting_up_to_the_limit_loads_within_the_models_depth(tmp_path: Path) -> None:
    path = tmp_path / "topo.xml"
    path.write_text(nested(nccl.MAX_DEPTH))
    fabric = nccl.load(path)
    # An invented root port, then a switch and its invented downstream port per level; nothing set aside.
    assert max(depth for depth, _ in fabric.walk()) == 2 * nccl.MAX_DEPTH - 1 <= MAX_BRIDGE_DEPTH
    assert not fabric.unplaced and fabric.find(f"0000:{3 * nccl.MAX_DEPTH:02x}:00.0")


@pytest.mark.parametrize("levels", [nccl.MAX_DEPTH + 1, 40, 5000], ids=["one over", "40", "beyond Python's stack"])
def test_nesting_beyond_the_limit_is_refused_at_the_first_element_too_deep(tmp_path: Path, capsys, levels: int) -> None:
    text = nested(levels)
    [diag] = load_text(tmp_path, text).diagnostics
    first_too_deep = 3 + nccl.MAX_DEPTH  # the first <pci> is on line 3
    assert diag.message == f"<pci> elements nested more than {nccl.MAX_DEPTH} deep"
    assert diag.location.line == first_too_deep and f"at most {MAX_BRIDGE_DEPTH} bridges deep" in diag.hint
    assert main(["show", str(tmp_path / "topo.xml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{tmp_path / 'topo.xml'}:{first_too_deep}:") and "Traceback" not in err


def test_truncated_and_wrong_files(tmp_path: Path) -> None:
    source = (DATA / "nccl" / "topo_8p1h.xml").read_text()
    [diag] = load_text(tmp_path, source[: len(source) // 3]).diagnostics
    assert diag.message.startswith("malformed XML") and diag.location.line is not None
    [diag] = load_text(tmp_path, (DATA / "hwloc" / "nvidiaDGX2.xml").read_text()).diagnostics
    assert diag.message == "not an NCCL topology: the root element is <topology>"
    assert "hwloc" in diag.hint
    [diag] = load_text(tmp_path, '<graphs version="1"><graph id="0" pattern="4"/></graphs>').diagnostics
    assert "graph file" in diag.message


def test_unknown_link_speed_is_kept_unknown_with_a_note(tmp_path: Path) -> None:
    path = tmp_path / "topo.xml"
    path.write_text(
        HEAD + '    <pci busid="0000:0e:00.0" class="0x030200" link_speed="fast" link_width="16"/>\n' + TAIL
    )
    fabric = nccl.load(path)
    gpu = fabric.find("0000:0e:00.0")
    assert gpu.link.max_gen is None and gpu.link.max_width == 16
    assert any("fast" in n for n in fabric.notes)


def test_sniff_claims_nccl_xml_only() -> None:
    ndv4 = DATA / "nccl" / "ndv4-topo.xml"
    assert nccl.sniff(ndv4, ndv4.read_bytes())
    p4d = DATA / "nccl" / "p4d-24xl-topo.xml"  # starts with a comment
    assert nccl.sniff(p4d, p4d.read_bytes())
    for other in (DATA / "hwloc" / "nvidiaDGX2.xml", DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.md"):
        assert not nccl.sniff(other, other.read_bytes()[:65536])
