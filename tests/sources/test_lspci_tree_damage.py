"""``lspci -tv`` drawings with foreign or damaged lines inside them: an error at the line (and column), never a
function silently dropped; a drawing that merely stops early (a cut capture) loads with a note.

lspci draws ``|`` and ``+`` only where more of the tree follows (ls-tree.c keeps them for the lines below), so
while the last drawn line holds one, the tree is still open and any other line is inside it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from lspci_samples import SINGLE_ROOT, TVNN
from real_data import require

from p2ptui.errors import InputError
from p2ptui.sources import lspci
from p2ptui.sources.lspci_tree import parse_tree

REAL_TV = require("lspci") / "stelline-puget-threadripper-pro-wrx90.lspci-tv.txt"
REAL_MD = require("lspci") / "stelline-puget-threadripper-pro-wrx90.md"


def tree_error(lines: list[str]):
    with pytest.raises(InputError) as info:
        parse_tree(lines, "t.txt")
    [diag] = info.value.diagnostics
    return diag


def real_lines() -> list[str]:
    return REAL_TV.read_text().splitlines()


@pytest.mark.parametrize(
    ("entry", "bad"),
    [
        ("           +-zz.q weird", "zz.q"),
        ("           +-q1.0  corrupted entry", "q1.0"),
        ("           +-02.9  function nine", "02.9"),
        ("           +-04.0-[0z]--", "04.0-[0z]"),
        ("           +-04.0-[05]--  a bridge has no name here", "a bridge"),
    ],
)
def test_a_drawn_branch_that_does_not_parse_is_an_error_at_its_column(entry: str, bad: str) -> None:
    lines = SINGLE_ROOT.splitlines()
    lines.insert(2, entry)  # between 01.0 and 02.0: the bus still has children to come
    diag = tree_error(lines)
    assert (diag.location.line, diag.location.column) == (3, entry.index(bad) + 1)
    assert "lspci -tv" in diag.message and diag.hint


def test_the_reviewers_file_with_a_broken_last_entry(tmp_path: Path) -> None:
    # The bus's previous entry is drawn with '+-': one more entry follows, and it is damaged.
    path = tmp_path / "bad.lspci-tv.txt"
    path.write_text("-[0000:00]-+-00.0  Intel\n           +-01.0-[01-ff]----00.0  Foo\n           +-zz.q weird\n")
    with pytest.raises(InputError) as info:
        lspci.load(path)
    [diag] = info.value.diagnostics
    assert (diag.location.line, diag.location.column) == (3, 14)


@pytest.mark.parametrize("garbage", ["this is garbage @@@", "```", "- a markdown item", "$ lspci -tv"])
def test_a_foreign_line_inside_the_real_tree_is_an_error(tmp_path: Path, garbage: str) -> None:
    lines = real_lines()
    lines.insert(5, garbage)  # inside root bus 0000:00, whose entries continue below
    path = tmp_path / "tv.txt"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError) as info:
        lspci.load(path)
    [diag] = info.value.diagnostics
    assert diag.location.line == 6
    assert "inside the lspci -tv tree" in diag.message and "line 7" in diag.message


def test_an_entry_after_the_tree_has_ended_is_an_error() -> None:
    lines = SINGLE_ROOT.splitlines() + ["           \\-04.0  One more, but 03.0 was drawn as the last"]
    diag = tree_error(lines)
    assert diag.location.line == len(lines)
    assert "already ended" in diag.message


def test_a_blank_line_inside_the_tree_is_harmless() -> None:
    lines = SINGLE_ROOT.splitlines()
    lines.insert(2, "")
    assert len(parse_tree(lines, "t").entries) == 8


def test_a_tree_cut_short_loads_with_a_note(tmp_path: Path) -> None:
    lines = real_lines()[:30]  # stops in the middle of root bus 0000:00
    for tail in ([], ["```", "", "## NUMA Topology"]):
        path = tmp_path / "cut.txt"
        path.write_text("\n".join(lines + tail) + "\n")
        fabric = lspci.load(path)
        [note] = [n for n in fabric.notes if "looks cut" in n]
        assert f"line {len(lines)}" in note


def test_complete_trees_get_no_cut_note(tmp_path: Path) -> None:
    for text in (SINGLE_ROOT, TVNN, REAL_TV.read_text()):
        path = tmp_path / "tv.txt"
        path.write_text(text)
        assert not any("looks cut" in n for n in lspci.load(path).notes)
    assert not any("looks cut" in n for n in lspci.load(REAL_MD).notes)


def test_two_trees_one_after_the_other() -> None:
    lines = SINGLE_ROOT.splitlines() + ["some text between", *TVNN.replace("0000:", "0001:").splitlines()]
    tree = parse_tree(lines, "t")
    assert len(tree.entries) == 8 + 9
    assert not tree.cut_after


def test_an_indented_tree_and_a_tree_without_its_first_line() -> None:
    indented = ["    " + line for line in SINGLE_ROOT.splitlines()]
    assert len(parse_tree(["text", *indented, "more text", *indented], "t").entries) == 8
    diag = tree_error(SINGLE_ROOT.splitlines()[1:])  # starts below the root: nothing says which bus
    assert "cannot tell which bus" in diag.message and diag.location.line == 1
