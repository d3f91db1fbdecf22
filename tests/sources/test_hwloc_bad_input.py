"""Bad hwloc input is one InputError per problem, with the line (and column) it sits on; never another exception."""

from __future__ import annotations

from pathlib import Path

import pytest
from real_data import require

from p2ptui.errors import InputError
from p2ptui.sources import hwloc

DATA = require()
DGX2 = DATA / "hwloc" / "nvidiaDGX2.xml"

BRIDGE = '<object type="Bridge" bridge_type="0-1" depth="0" bridge_pci="0000:[00-02]">\n{inner}\n</object>'
DOC = '<?xml version="1.0"?>\n<topology version="2.0">\n<object type="Machine" os_index="0">\n{body}\n</object>\n</topology>\n'


def doc(inner: str) -> str:
    return DOC.format(body=BRIDGE.format(inner=inner))


def error_of(path: Path) -> InputError:
    with pytest.raises(InputError) as info:
        hwloc.load(path)
    return info.value


def test_truncated_file_points_at_where_the_xml_stops(tmp_path: Path) -> None:
    data = DGX2.read_bytes()
    cut = data[: len(data) // 2]
    path = tmp_path / "cut.xml"
    path.write_bytes(cut)
    error = error_of(path)
    [diag] = error.diagnostics
    assert "malformed XML" in diag.message
    assert diag.location.file == str(path)
    assert diag.location.line == cut.count(b"\n") + 1  # the parser gives up at the end of what is there
    assert diag.location.column is not None


def test_mismatched_tag_names_its_line_and_column(tmp_path: Path) -> None:
    path = tmp_path / "bad.xml"
    path.write_text('<topology version="2.0">\n  <object type="Machine">\n  </objet>\n</topology>\n')
    [diag] = error_of(path).diagnostics
    assert "mismatched tag" in diag.message
    assert (diag.location.line, diag.location.column) == (3, 5)


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        (
            "nccl.xml",
            (DATA / "nccl" / "ndv4-topo.xml").read_text(),
            "not an hwloc topology: the root element is <system>",
        ),
        ("empty.xml", "", "malformed XML: no element found"),
        ("text.xml", "lspci -tv output\n", "malformed XML: syntax error"),
    ],
)
def test_wrong_format_is_one_clear_error(tmp_path: Path, name: str, content: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    [diag] = error_of(path).diagnostics
    assert expected in diag.message


def test_unreadable_paths(tmp_path: Path) -> None:
    [diag] = error_of(tmp_path).diagnostics
    assert diag.message == "is a directory, not a file"
    [diag] = error_of(tmp_path / "missing.xml").diagnostics
    assert diag.message.startswith("cannot read: No such file")


@pytest.mark.parametrize(
    ("inner", "message"),
    [
        (
            '<object type="PCIDev" pci_busid="0000:01:00" pci_type="0200 [8086:1521] [8086:0001] 01"/>',
            "malformed pci_busid",
        ),
        ('<object type="PCIDev" pci_busid="0000:01:20.0" pci_type="0200 [8086:1521] [8086:0001] 01"/>', "out of range"),
    ],
)
def test_bad_attribute_is_reported_on_its_element_line(tmp_path: Path, inner: str, message: str) -> None:
    path = tmp_path / "bad.xml"
    path.write_text(doc(inner))
    [diag] = error_of(path).diagnostics
    assert message in diag.message
    assert diag.location.line == 5  # the element's own line


@pytest.mark.parametrize(
    ("inner", "words"),
    [
        (
            '<object type="PCIDev" pci_busid="0000:00:01.0" pci_type="0200 8086:1521"/>',
            "pci_type values not of the form",
        ),
        (
            '<object type="PCIDev" pci_busid="0000:00:01.0" pci_type="0200 [8086:1521] [8086:0001] 01" '
            'pci_link_speed="1e9"/>',
            "pci_link_speed values that are no PCIe link bandwidth",
        ),
        (
            '<object type="PCIDev" pci_busid="0000:00:01.0" pci_type="0200 [8086:1521] [8086:0001] 01" '
            'pci_link_speed="fast"/>',
            "pci_link_speed values that are no PCIe link bandwidth",
        ),
        (
            '<object type="Bridge" bridge_type="1-1" bridge_pci="0000:[07-05]" pci_busid="0000:00:01.0" '
            'pci_type="0604 [8086:2f02] [0000:0000] 02"/>',
            "secondary bus is above the subordinate bus",
        ),
    ],
)
def test_odd_attribute_is_unknown_with_a_note_naming_its_line(tmp_path: Path, inner: str, words: str) -> None:
    # Were errors; one odd attribute of a real export leaves that fact unknown (issue 10).
    path = tmp_path / "bad.xml"
    path.write_text(doc(inner))
    f = hwloc.load(path)
    assert len(f) == 1
    (note,) = [n for n in f.notes if words in n]
    assert "line 5 (" in note  # the element's own line


def test_structure_problems_set_aside_each_function_at_its_line(tmp_path: Path) -> None:
    # Was an error: a foreign file's contradictions are set aside, each named by its line (issue 10).
    inner = "\n".join(
        [
            '<object type="PCIDev" pci_busid="0000:00:01.0" pci_type="0200 [8086:1521] [8086:0001] 01"/>',
            '<object type="PCIDev" pci_busid="0000:00:01.0" pci_type="0200 [8086:1521] [8086:0001] 01"/>',
            '<object type="Bridge" bridge_type="1-1" bridge_pci="0000:[05-05]" pci_busid="0000:04:00.0" '
            'pci_type="0604 [8086:2f02] [0000:0000] 02">',
            '<object type="PCIDev" pci_busid="0000:03:00.0" pci_type="0200 [8086:1521] [8086:0001] 01"/>',
            "</object>",
        ]
    )
    path = tmp_path / "bad.xml"
    path.write_text(doc(inner))
    f = hwloc.load(path)
    assert sorted(str(d.bdf) for d in f.unplaced) == ["0000:00:01.0", "0000:03:00.0"]
    assert f.find("0000:00:01.0").conflict and f.find("0000:04:00.0").kind.is_bridge
    (note,) = [n for n in f.notes if "set aside" in n]
    assert "0000:00:01.0 (line 6), a second entry for line 5" in note
    assert "0000:03:00.0 (line 8): " in note and "not greater than the bridge's" in note


def test_sniff_claims_hwloc_xml_only() -> None:
    assert hwloc.sniff(DGX2, DGX2.read_bytes()[:65536])
    for other in (DATA / "nccl" / "ndv4-topo.xml", DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.md"):
        assert not hwloc.sniff(other, other.read_bytes()[:65536])
    assert not hwloc.sniff(Path("x"), b"")
