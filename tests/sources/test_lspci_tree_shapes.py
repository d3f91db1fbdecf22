"""``lspci -tv`` drawings: single and several root buses, empty bridges, -tvnn IDs, and drawings that are broken."""

from __future__ import annotations

from pathlib import Path

import pytest
from lspci_samples import SINGLE_ROOT, TVNN

from p2ptui.errors import InputError
from p2ptui.fabric import BDF, DeviceKind
from p2ptui.sources import lspci
from p2ptui.sources.lspci_tree import is_tree_line, parse_tree


def test_single_root_tree_with_a_switch_and_an_empty_port() -> None:
    tree = parse_tree(SINGLE_ROOT.splitlines(), "t")
    parents = {str(e.bdf): (str(e.parent) if e.parent else None) for e in tree.entries}
    assert parents == {
        "0000:00:00.0": None,
        "0000:00:01.0": None,
        "0000:00:02.0": None,
        "0000:01:00.0": "0000:00:02.0",
        "0000:02:01.0": "0000:01:00.0",
        "0000:03:00.0": "0000:02:01.0",
        "0000:02:02.0": "0000:01:00.0",
        "0000:00:03.0": None,
    }
    assert tree.root_buses == [(0, 0)]
    ranges = {str(e.bdf): (e.secondary, e.subordinate) for e in tree.entries if e.secondary is not None}
    assert ranges == {"0000:00:02.0": (1, 3), "0000:01:00.0": (2, 3), "0000:02:01.0": (3, 3), "0000:02:02.0": (4, 4)}


def test_tvnn_ids_and_several_root_buses(tmp_path: Path) -> None:
    path = tmp_path / "tv.txt"
    path.write_text(TVNN)
    fabric = lspci.load(path)
    assert [str(rb) for rb in fabric.root_buses] == ["0000:00", "0000:17"]
    nic = fabric.find("0000:1a:00.1")
    assert (nic.vendor_id, nic.device_id) == (0x15B3, 0x1017)
    assert nic.product == "Mellanox Technologies MT27800 Family [ConnectX-5]"
    assert nic.kind is DeviceKind.NIC  # guessed from the name: -tv prints no class
    assert [d.kind for d in fabric.ancestors(nic)] == [
        DeviceKind.SWITCH_DOWNSTREAM,
        DeviceKind.SWITCH_UPSTREAM,
        DeviceKind.ROOT_PORT,
    ]
    assert fabric.find("0000:19:01.0").kind is DeviceKind.SWITCH_DOWNSTREAM
    assert fabric.children(fabric.find("0000:19:01.0")) == []
    assert fabric.find("0000:17:05.0").parent is None
    assert any("guessed from device names" in n for n in fabric.notes)


def test_tree_is_found_among_other_text_and_prompts() -> None:
    lines = ["$ lspci -tv", "```", *SINGLE_ROOT.splitlines(), "```", "- a markdown item", "---"]
    assert len(parse_tree(lines, "t").entries) == 8
    assert not is_tree_line("- a markdown item") and not is_tree_line("---") and not is_tree_line("$ lspci -tv")
    assert is_tree_line(" |           +-00.3  AMD Device 14a6")


def test_a_re_indented_line_is_an_error_with_its_position() -> None:
    lines = SINGLE_ROOT.splitlines()
    lines[3] = "  " + lines[3]  # shift the empty port two columns: it lines up with no bus any more
    with pytest.raises(InputError) as info:
        parse_tree(lines, "t.txt")
    [diag] = info.value.diagnostics
    assert "cannot tell which bus" in diag.message
    assert (diag.location.line, diag.location.column) == (4, lines[3].index("02.0") + 1)


def test_conflicting_duplicate_is_kept_aside_and_reversed_range_is_an_error() -> None:
    twice = SINGLE_ROOT.splitlines() + [
        "-[0000:05]-+-00.0  again",
        "           \\-03.0  Red Hat, Inc. Virtio network device",
    ]
    assert parse_tree(twice, "t")  # 0000:05:03.0 is another function: fine
    clash = SINGLE_ROOT.splitlines() + ["-[0000:00]-+-03.0-[07]--"]
    tree = parse_tree(clash, "t")  # was an error; the fabric sets the second drawing aside (issue 10)
    [again] = tree.conflicts
    assert again.bdf == BDF(0, 0, 3, 0) and again.line == len(clash) and again.secondary == 7
    with pytest.raises(InputError, match="range is reversed"):
        parse_tree(["-[0000:00]-+-02.0-[05-03]--"], "t")


def test_domainless_root_of_old_lspci() -> None:
    tree = parse_tree(["-[00]-+-00.0  Host bridge", "      \\-1f.0  ISA bridge"], "t")
    assert [e.bdf for e in tree.entries] == [BDF(0, 0, 0, 0), BDF(0, 0, 0x1F, 0)]
