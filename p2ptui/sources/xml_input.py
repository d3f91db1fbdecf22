"""Reading XML topology files (hwloc, NCCL) into ElementTree elements that remember their line.

ElementTree's own parse keeps no positions, yet a bad attribute deep in a 5 MB file is only useful to a user with
its line number. So the tree is built with ElementTree's TreeBuilder fed by the same expat parser ElementTree
uses, recording where each element starts.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import Diagnostic, InputError, Location
from ..formats.yaml_text import read_limited, too_big
from .assemble import listing

if TYPE_CHECKING:  # the parsers are imported when XML is parsed: reading stdin or lspci text does without them
    import xml.etree.ElementTree as ET

# Topology inputs (lspci text, hwloc and NCCL XML) are refused above this size before they are read: parsing holds
# the text plus structures several times its size (a 315 MB lspci file took 1 GB). Real files are far smaller: the
# DGX-2 hwloc export is 42 kB for 84 functions, and bench/bench_hwloc_load.py's 5 MB file, ~180 times its PCI
# functions, must load; `lspci -vvv` prints 6-7 kB per function (the Puget capture), so a thousand functions make
# about 7 MB. 64 MiB leaves roughly ten times headroom over both.
MAX_TOPOLOGY_BYTES = 64 << 20

_XML_START = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<")


def read_input(path: Path, what: str = "topology", limit: int | None = None) -> bytes:
    """The file's bytes; an InputError (never OSError) when it cannot be read or is over ``limit`` (default
    MAX_TOPOLOGY_BYTES), which a regular file's size shows before reading and a pipe's or device's after one
    byte past the limit."""
    limit = MAX_TOPOLOGY_BYTES if limit is None else limit
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read: {exc.strerror or exc}", Location(str(path)))) from None
    if stat.S_ISDIR(mode):
        raise InputError(Diagnostic("is a directory, not a file", Location(str(path))))
    data = read_limited(path, what, limit)
    if len(data) > limit:
        raise InputError(too_big(None, str(path), what, limit))
    return data


def looks_like_xml(head: bytes) -> bool:
    return _XML_START.match(head) is not None


def root_tag(head: bytes) -> str | None:
    """The name of the first element in ``head`` (after the XML declaration, DOCTYPE and comments)."""
    text = re.sub(rb"<!--.*?-->|<\?.*?\?>|<!DOCTYPE[^>]*>", b"", head, flags=re.S)
    match = re.match(rb"\s*<([A-Za-z_][\w.-]*)", text)
    return match[1].decode("ascii") if match else None


@dataclass
class XmlDocument:
    """A parsed file, and where its elements start, worked out on the first question (see ``where``)."""

    path: str
    root: ET.Element
    data: bytes = field(repr=False)
    _positions: dict[int, tuple[int, int]] | None = field(default=None, repr=False)

    def where(self, elem: ET.Element | None) -> Location:
        """Where ``elem`` starts in the file (1-based line and column), or just the file."""
        if elem is None:
            return Location(self.path)
        if self._positions is None:
            self._positions = _positions(self.root, self.data)
        line, column = self._positions.get(id(elem), (None, None))
        return Location(self.path, line, column)

    def error(self, elem: ET.Element | None, message: str, hint: str = "") -> InputError:
        return InputError(Diagnostic(message, self.where(elem), hint))


class OddValues:
    """Attribute values an XML reader could not use and left unknown: one note per kind of oddity, naming the lines
    (a file that gets one attribute wrong on 15,000 functions says so once, not 15,000 times)."""

    def __init__(self, doc: XmlDocument):
        self.doc = doc
        self.lines: dict[str, list[str]] = {}

    def add(self, elem: ET.Element, kind: str, value: str) -> None:
        self.lines.setdefault(kind, []).append(f"line {self.doc.where(elem).line} ({value})")

    def integer(self, elem: ET.Element, attr: str, low: int, high: int) -> int | None:
        """A decimal attribute within ``low``..``high``; None when absent or blank, and (noted) when it is not."""
        text = elem.get(attr)
        if text is None or not text.strip():
            return None
        try:
            value = int(text)
        except ValueError:
            self.add(elem, f"{attr} values that are not numbers, left unknown", repr(text[:30]))
            return None
        if not low <= value <= high:
            self.add(elem, f"{attr} values out of range {low} to {high}, left unknown", str(value))
            return None
        return value

    def notes(self) -> list[str]:
        return [f"{kind}: {listing(where)}" for kind, where in self.lines.items()]


def parse_xml(path: Path, data: bytes) -> XmlDocument:
    """Parse ``data`` (the bytes of ``path``); malformed or truncated XML is an InputError at the parser's position.

    ElementTree's C parser keeps no positions, and recording them as the tree is built (a Python call per
    element) made the parse of a 5 MB hwloc file half as fast again; most loads never name a line. So positions
    come from a second pass, run only when a line is asked for.
    """
    import xml.etree.ElementTree as ET
    from xml.parsers import expat

    parser = ET.XMLParser()
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, offset = exc.position
        where = Location(str(path), line, offset + 1)
        raise InputError(Diagnostic(f"malformed XML: {expat.ErrorString(exc.code)}", where)) from None
    return XmlDocument(str(path), root, data)


def _positions(root: ET.Element, data: bytes) -> dict[int, tuple[int, int]]:
    """Each element's start (line, column), keyed by id: expat reports element starts in document order, the
    order ``root.iter()`` walks the tree built from the same bytes."""
    from xml.parsers import expat

    starts: list[tuple[int, int]] = []
    parser = expat.ParserCreate()

    def start(tag: str, attrs: dict[str, str]) -> None:
        starts.append((parser.CurrentLineNumber, parser.CurrentColumnNumber + 1))

    parser.StartElementHandler = start
    parser.Parse(data, True)
    return {id(elem): at for elem, at in zip(root.iter(), starts, strict=True)}
