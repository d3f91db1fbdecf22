"""The tree ``lspci -tv`` draws: which function sits on which bus, and each bridge's bus range.

lspci prints a bridge, then ``-[SS-ss]`` and its children to the right; the first child on the same line, the
others on following lines, their ``+-``/``\\-`` marker in the column the first child's marker took. So a function
that starts a line belongs to the last bus whose first child started in the same column; every later function
on a line belongs to the bridge just left of it. Names are printed only at the end of a chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..errors import Diagnostic, InputError, Location
from ..fabric.bdf import BDF

_TREE_CHARS = frozenset(" |+\\-`")
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
    vendor_id: int | None = None  # from -tvnn
    device_id: int | None = None


@dataclass
class Tree:
    entries: list[TreeEntry]
    root_buses: list[tuple[int, int]]


@dataclass(frozen=True)
class _Bus:
    domain: int
    bus: int
    bridge: BDF | None  # None: a root bus


def parse_tree(lines: list[str], path: str) -> Tree:
    """Every ``lspci -tv`` line in ``lines``; others are skipped. An unplaceable line is an InputError."""
    entries: dict[BDF, TreeEntry] = {}
    roots: list[tuple[int, int]] = []
    columns: dict[int, _Bus] = {}  # column where a bus's children start -> that bus
    for number, raw in enumerate(lines, start=1):
        tokens = _tokens(raw.rstrip("\r\n"))
        if not tokens:
            continue
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
            _add(entries, entry, path)
            here = _Bus(bus.domain, entry.secondary, entry.bdf) if entry.secondary is not None else None
    return Tree(list(entries.values()), roots)


def is_tree_line(line: str) -> bool:
    """Whether ``line`` draws part of an ``lspci -tv`` tree (starts a root bus or places a function)."""
    return bool(_tokens(line.rstrip("\r\n")))


def _tokens(line: str) -> list[tuple[int, re.Match]]:
    """(column, match) of each bus and function drawn on a tree line; [] when the line is not one."""
    tokens: list[tuple[int, re.Match]] = []
    pos, end = 0, len(line)
    while pos < end:
        if line[pos] in _TREE_CHARS:
            pos += 1
            continue
        if pos == 0 or line[pos - 1] != "-":  # every bus and function hangs off a dash
            return []
        match = _ROOT.match(line, pos) or _FUNCTION.match(line, pos)
        if match is None:
            return []
        tokens.append((pos, match))
        pos = match.end()
        if match.re is _FUNCTION and match[3] is None:
            break  # an ordinary function ends the line: the rest is its name
    return tokens


def _entry(match: re.Match, bus: _Bus, number: int, column: int, path: str) -> TreeEntry:
    try:
        bdf = BDF(bus.domain, bus.bus, int(match[1], 16), int(match[2]))
    except ValueError as exc:
        raise InputError(Diagnostic(str(exc), Location(path, number, column + 1))) from None
    entry = TreeEntry(bdf=bdf, parent=bus.bridge, line=number, column=column)
    if match[3] is not None:
        entry.secondary = int(match[3], 16)
        entry.subordinate = int(match[4], 16) if match[4] else entry.secondary
        if entry.subordinate < entry.secondary:
            raise InputError(
                Diagnostic(f"bridge {bdf} forwards buses [{match[3]}-{match[4]}]: the range is reversed",
                           Location(path, number, column + 1))
            )
    else:
        name = match.string[match.end():].strip()
        ids = _IDS_AT_END.search(name)
        if ids:
            entry.vendor_id, entry.device_id = int(ids[1], 16), int(ids[2], 16)
            name = name[: ids.start()].strip()
        entry.name = name or None
    return entry


def _add(entries: dict[BDF, TreeEntry], entry: TreeEntry, path: str) -> None:
    seen = entries.get(entry.bdf)
    if seen is None:
        entries[entry.bdf] = entry
    elif seen.parent != entry.parent or seen.secondary != entry.secondary:
        raise InputError(
            Diagnostic(
                f"{entry.bdf} appears twice in lspci -tv output, in different places (first on line {seen.line})",
                Location(path, entry.line, entry.column + 1),
            )
        )
