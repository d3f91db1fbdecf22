"""The tree ``lspci -tv`` draws: which function sits on which bus, and each bridge's bus range.

lspci prints a bridge, then ``-[SS-ss]`` and its children to the right; the first child on the same line, the
others on following lines, their ``+-``/``\\-`` marker in the column the first child's marker took. So a function
that starts a line belongs to the last bus whose first child started in the same column; every later function
on a line belongs to the bridge just left of it. Names are printed only at the end of a chain.

lspci keeps a ``|`` or ``+`` on a line only where more of the tree follows (ls-tree.c turns them into the ``|``
of the lines below), so after a line holding one the tree is still open: a line there that does not parse is
damage inside the tree, an error; a tree that stops while open (a cut capture) is reported in ``cut_after``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import Diagnostic, InputError, Location
from ..fabric.bdf import BDF

_TREE_CHARS = frozenset(" |+\\-`")
_OPEN_CHARS = frozenset("|+")
# A line drawing a branch to an entry ("  |   +-0" after the guides): a tree line, or a damaged one. Table rules
# ("+-----+", nvidia-smi) have no entry after the dash.
_BRANCH = re.compile(r"^[ |]*[+\\`]-[^-\s]")
HINT = "paste `lspci -tv` output unchanged; lines lspci did not print cannot sit inside its tree"
_ROOT = re.compile(r"\[(?:([0-9a-fA-F]{4,8}):)?([0-9a-fA-F]{2})\]")
_FUNCTION = re.compile(r"([0-9a-fA-F]{2})\.([0-7])(?:-\[([0-9a-fA-F]{2})(?:-([0-9a-fA-F]{2}))?\])?")
_IDS_AT_END = re.compile(r" \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$")


@dataclass
class TreeEntry:
    bdf: BDF
    parent: BDF | None
    line: int
    column: int
    secondary: int | None = None  # a bridge: the bus range it forwards
    subordinate: int | None = None
    name: str | None = None  # "Vendor Device" as printed at the end of the line
    parent_line: int | None = None  # where the parent bridge is drawn (an address may be drawn twice)
    vendor_id: int | None = None  # from -tvnn
    device_id: int | None = None


@dataclass
class Tree:
    entries: list[TreeEntry]
    root_buses: list[tuple[int, int]]
    cut_after: list[int] = field(default_factory=list)  # last lines of trees that stop with branches still open
    # Entries for an address already drawn elsewhere in the tree (another bridge, another bus range): kept for the
    # fabric to set aside as conflicting, with their line.
    conflicts: list[TreeEntry] = field(default_factory=list)


@dataclass
class _Scan:
    """What one line draws: its buses and functions, where it stops parsing, whether more of the tree follows."""

    tokens: list[tuple[int, re.Match]]
    failed_at: int | None  # column (0-based) of the first thing that is neither drawing nor an entry
    opens: bool


@dataclass(frozen=True)
class _Bus:
    domain: int
    bus: int
    bridge: BDF | None  # None: a root bus
    bridge_line: int | None = None


def parse_tree(lines: list[str], path: str) -> Tree:
    """Every ``lspci -tv`` tree in ``lines``; text between trees is skipped. A line inside a tree that is not
    part of it, and an entry that cannot be placed, are InputErrors."""
    entries: dict[BDF, TreeEntry] = {}
    conflicts: list[TreeEntry] = []
    roots: list[tuple[int, int]] = []
    cut_after: list[int] = []
    columns: dict[int, _Bus] = {}  # column where a bus's children start -> that bus
    is_open = False  # the last tree line promised more of its tree
    last = 0  # number of the last tree line
    foreign: int | None = None  # first line that is no tree line since the tree went open
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        scan = _scan(line)
        tokens = scan.tokens
        if not tokens:
            if last and _BRANCH.match(line):
                at = scan.failed_at if scan.failed_at is not None else len(line)
                raise _error("this lspci -tv line does not parse", path, number, at)
            if is_open and foreign is None and line.strip():
                foreign = number
            continue
        if line.lstrip(" ").startswith("-"):  # a new tree: its first line starts with the root's dash
            if is_open:
                cut_after.append(last)
            columns.clear()
        elif not is_open and last:
            raise _error(
                "this lspci -tv line continues a tree that has already ended",
                path,
                number,
                tokens[0][0],
                f"line {last} was drawn as the tree's last; {HINT}",
            )
        elif foreign is not None:
            raise _error(
                f"this line is not lspci -tv output, yet it is inside the lspci -tv tree (the tree goes on "
                f"at line {number})",
                path,
                foreign,
                0,
            )
        is_open, last, foreign = scan.opens, number, None
        here: _Bus | None = None  # the bus the next function on this line sits on
        for column, match in tokens:
            if match.re is _ROOT:
                domain = int(match[1], 16) if match[1] else 0
                here = _Bus(domain, int(match[2], 16), None)
                if (here.domain, here.bus) not in roots:
                    roots.append((here.domain, here.bus))
                continue
            bus = here if here is not None else columns.get(column)
            if bus is None:
                raise InputError(
                    Diagnostic(
                        "cannot tell which bus this lspci -tv entry sits on",
                        Location(path, number, column + 1),
                        "the tree looks cut or re-indented; paste `lspci -tv` output unchanged",
                    )
                )
            columns[column] = bus
            entry = _entry(match, bus, number, column, path)
            _add(entries, entry, conflicts)
            here = _Bus(bus.domain, entry.secondary, entry.bdf, number) if entry.secondary is not None else None
    if is_open:
        cut_after.append(last)
    return Tree(list(entries.values()), roots, cut_after, conflicts)


def is_tree_line(line: str) -> bool:
    """Whether ``line`` draws part of an ``lspci -tv`` tree (starts a root bus or places a function)."""
    return bool(_scan(line.rstrip("\r\n")).tokens)


def _scan(line: str) -> _Scan:
    """Each bus and function drawn on a tree line as (column, match); no tokens when the line is not one."""
    tokens: list[tuple[int, re.Match]] = []
    opens = False
    pos, end = 0, len(line)
    while pos < end:
        char = line[pos]
        if char in _TREE_CHARS:
            opens = opens or char in _OPEN_CHARS
            pos += 1
            continue
        match = None
        if pos > 0 and line[pos - 1] == "-":  # every bus and function hangs off a dash
            match = _ROOT.match(line, pos) or _FUNCTION.match(line, pos)
        if match is None or (match.re is _FUNCTION and not _ends_entry(line, match)):
            return _Scan([], pos, False)
        tokens.append((pos, match))
        pos = match.end()
        if match.re is _FUNCTION and match[3] is None:
            break  # an ordinary function ends the line: the rest is its name
    return _Scan(tokens, None, opens)


def _ends_entry(line: str, match: re.Match) -> bool:
    """A bridge's bus range is followed by the dashes to its children; any other function by its name after
    spaces, or by nothing (plain -t)."""
    end = match.end()
    return end == len(line) or line[end] in ("-" if match[3] is not None else " \t")


def _error(message: str, path: str, line: int, column: int, hint: str = HINT) -> InputError:
    return InputError(Diagnostic(message, Location(path, line, column + 1), hint))


def _entry(match: re.Match, bus: _Bus, number: int, column: int, path: str) -> TreeEntry:
    try:
        bdf = BDF(bus.domain, bus.bus, int(match[1], 16), int(match[2]))
    except ValueError as exc:
        raise InputError(Diagnostic(str(exc), Location(path, number, column + 1))) from None
    entry = TreeEntry(bdf=bdf, parent=bus.bridge, line=number, column=column, parent_line=bus.bridge_line)
    if match[3] is not None:
        entry.secondary = int(match[3], 16)
        entry.subordinate = int(match[4], 16) if match[4] else entry.secondary
        if entry.subordinate < entry.secondary:
            raise InputError(
                Diagnostic(
                    f"bridge {bdf} forwards buses [{match[3]}-{match[4]}]: the range is reversed",
                    Location(path, number, column + 1),
                )
            )
    else:
        name = match.string[match.end() :].strip()
        ids = _IDS_AT_END.search(name)
        if ids:
            entry.vendor_id, entry.device_id = int(ids[1], 16), int(ids[2], 16)
            name = name[: ids.start()].strip()
        entry.name = name or None
    return entry


def _add(entries: dict[BDF, TreeEntry], entry: TreeEntry, conflicts: list[TreeEntry]) -> None:
    """The first entry for an address is the tree's; one drawn again in another place is a conflict (the same
    place twice, as two trees of one capture draw it, is no news)."""
    seen = entries.get(entry.bdf)
    if seen is None:
        entries[entry.bdf] = entry
    elif seen.parent != entry.parent or seen.secondary != entry.secondary:
        conflicts.append(entry)
