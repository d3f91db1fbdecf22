"""YAML bytes to a node tree, safely: size limits, binary and encoding checks, nesting that would crash libyaml,
and syntax errors turned into diagnostics with a position and a hint. Shared by fabric files and copy plans.

Files are read as node trees rather than ``yaml.safe_load``'s Python objects: YAML 1.1 turns ``00:01.0`` into the
float 1.0 (sexagesimal) and ``off`` into False, and only nodes carry line numbers.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

import yaml

from ..errors import Diagnostic, InputError, Location
from ..fabric.limits import MAX_YAML_NESTING
from .input_paths import check_input, display

Node = yaml.Node

MAX_INPUT_BYTES = 16 << 20  # the 2,048-device sample is ~0.5 MB; tens of MB is not a file someone wrote
# libyaml's composer recurses in C: a few thousand nested brackets overflow a thread's stack and kill the process
# (no Python exception). The YAML writer's output stays within this for any tree the model accepts (limits.py).
MAX_NESTING = MAX_YAML_NESTING

_BASE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser where PyYAML was built with it
_COLLECTION_STARTS = frozenset({yaml.MappingStartEvent, yaml.SequenceStartEvent})
_COLLECTION_ENDS = frozenset({yaml.MappingEndEvent, yaml.SequenceEndEvent})
_STR_TAG = _BASE_LOADER.DEFAULT_SCALAR_TAG


class _TooDeep(Exception):
    """The composer reached a collection deeper than MAX_NESTING (where exactly is found by _scan_nesting)."""


class _Loader(_BASE_LOADER):  # type: ignore[misc, valid-type]
    """The safe loader, checking the nesting while it composes (one pass over the text, not a parse for the check
    and another for the tree): it counts the depth it descends to and stops at a collection MAX_NESTING + 1 deep,
    long before the C composer's recursion could overflow the stack."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._plain_tags: dict[str | None, str] = {}  # plain scalar text -> its tag, within this document

    def descend_resolver(self, current_node: object, current_index: object) -> None:
        self._depth += 1  # the node about to be composed; SafeLoader has no path resolvers to descend
        if self._depth > MAX_NESTING + 1:  # a node inside MAX_NESTING + 1 collections
            raise _TooDeep

    def ascend_resolver(self) -> None:
        self._depth -= 1

    def resolve(self, kind: type, value: str | None, implicit: tuple[bool, bool]) -> str:
        if kind is yaml.ScalarNode:
            if not implicit[0]:  # quoted or block text: no implicit type applies, PyYAML would say str too
                return _STR_TAG
            # A plain scalar's tag depends on its text only: files repeat the same words (kinds, links, flags), and
            # PyYAML's regex walk per scalar was a fifth of the load of a large fabric.
            tag = self._plain_tags.get(value)
            if tag is None:
                tag = self._plain_tags[value] = super().resolve(kind, value, implicit)
            return tag
        # Called for a collection before its children are composed: the place to stop one nested too deep.
        if self._depth > MAX_NESTING:
            raise _TooDeep
        return super().resolve(kind, value, implicit)


def read_limited(path: str | os.PathLike[str], what: str = "fabric", limit: int = MAX_INPUT_BYTES) -> bytes:
    """The bytes of a regular file, refusing one over ``limit`` before reading it. FIFOs, sockets, devices and
    directories are refused without being opened (a FIFO would block until a writer comes)."""
    name = display(path)
    st = check_input(path, allow_dir=False)
    if st is None:
        raise InputError(Diagnostic("cannot read file: no such file or directory", Location(name)))
    try:
        size = st.st_size
        if size > limit:
            raise InputError(too_big(size, name, what, limit))
        with Path(path).open("rb") as fh:
            return fh.read(limit + 1)
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read file: {exc.strerror or exc}", Location(name))) from None


def decode(data: bytes | str, filename: str, what: str = "fabric") -> str:
    """The text of a fabric file; binary data, non-UTF-8 bytes and oversized inputs are refused with a position."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > MAX_INPUT_BYTES:
        raise InputError(too_big(None, filename, what))
    nul = raw.find(b"\0")
    if nul >= 0:
        raise InputError(
            Diagnostic(
                f"binary data (a NUL byte), not a YAML {what}",
                _offset_location(raw, nul, filename),
                "is this the right file?",
            )
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(
            Diagnostic(
                f"not UTF-8 text (byte {raw[exc.start]:#04x}), so not a YAML {what}",
                _offset_location(raw, exc.start, filename),
                "save the file as UTF-8",
            )
        ) from None
    return text.removeprefix("\ufeff")


def too_big(size: int | None, filename: str, what: str = "fabric", limit: int = MAX_INPUT_BYTES) -> Diagnostic:
    """The input is over ``limit``: ``size`` bytes, or None when only known to be larger (a stream)."""
    found = f"file is {size / 1e6:.1f} MB" if size is not None else f"input is larger than {limit >> 20} MiB"
    rule = f"{what} files are limited to {limit >> 20} MiB"
    # Line 1 column 1, so that editors and CI parsers that expect FILE:LINE:COL take the line too.
    return Diagnostic(f"{found}; {rule}", Location(filename, 1, 1), f"is this really a {what} description?")


def compose(text: str, filename: str) -> Node | None:
    """The document's node tree (None for an empty document); YAML errors become diagnostics with a position."""
    try:
        try:
            return yaml.compose(text, Loader=_Loader)
        except _TooDeep:
            _scan_nesting(text, filename, yaml.SafeLoader)  # raises our diagnostic, at the place
            raise AssertionError("the composer and the event scan disagree on the nesting depth") from None
        except yaml.YAMLError:
            # Newer libyaml builds refuse deep nesting themselves (at their own depth, in their own words) while
            # scanning ahead of the events. The pure-Python parser is lazy and has no such limit: asking it gives
            # our own answer at the 201st level whatever libyaml does; a real syntax error is raised as it was.
            _scan_nesting(text, filename, yaml.SafeLoader)
            raise
    except yaml.reader.ReaderError as exc:
        # Raised for characters YAML forbids (control characters); position counts characters of the text.
        where = _offset_location(text, exc.position, filename)
        raise InputError(
            Diagnostic(
                f"character U+{exc.character:04X} is not allowed in YAML text",
                where,
                "binary data? control characters may only appear escaped in double-quoted strings",
            )
        ) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = mark_location(filename, mark)
        problem, hint = _explain(exc, text)
        raise InputError(Diagnostic(f"YAML syntax error: {problem}", where, hint)) from None
    except yaml.YAMLError as exc:
        raise InputError(Diagnostic(f"YAML error: {exc}", Location(filename))) from None


def _explain(exc: yaml.MarkedYAMLError, text: str) -> tuple[str, str]:
    """The problem and a hint for a YAML error, in the terms of someone writing the file."""
    problem = exc.problem or exc.context or "malformed YAML"
    mark = exc.problem_mark or exc.context_mark
    if isinstance(exc, yaml.composer.ComposerError) and "single document" in (exc.context or ""):
        return "a second YAML document starts here", "a fabric file holds one document; remove the ---"
    if mark is not None and _char_at(text, mark.line, mark.column) == "\t":
        return problem, "YAML does not allow tabs for indentation; use spaces"
    if "mapping values are not allowed" in problem:
        return problem, "a value that contains ': ' must be quoted"
    if exc.context and exc.context_mark and exc.problem_mark:
        return problem, f"{exc.context}, at line {exc.context_mark.line + 1}"
    return problem, "check the indentation and quoting here and on the line before"


def _scan_nesting(text: str, filename: str, loader: type) -> None:
    """Refuse a document nested deeper than MAX_NESTING with its place; the pure-Python parser stops at the first
    syntax error (raised as a YAMLError) and never recurses."""
    depth = 0
    starts, ends = _COLLECTION_STARTS, _COLLECTION_ENDS
    for event in yaml.parse(text, Loader=loader):
        if event.__class__ in starts:
            depth += 1
            if depth > MAX_NESTING:
                raise InputError(
                    Diagnostic(
                        f"nested more than {MAX_NESTING} levels deep",
                        mark_location(filename, event.start_mark),
                        "nothing p2ptui reads nests this deep; is this the right file?",
                    )
                )
        elif event.__class__ in ends:
            depth -= 1


class _Mark(Protocol):
    """A position as both PyYAML's Python parser and its libyaml binding give it (0-based)."""

    line: int
    column: int


def mark_location(filename: str, mark: _Mark | None) -> Location:
    """Where a parser mark points, 1-based; the file alone for the rare event the parser gives no mark."""
    if mark is None:
        return Location(filename)
    return Location(filename, mark.line + 1, mark.column + 1)


def _offset_location(data: bytes | str, offset: int, filename: str) -> Location:
    # A byte offset into raw data (decode errors) or a character offset into text (reader errors): same arithmetic.
    if isinstance(data, bytes):
        lines_before, line_start = data.count(b"\n", 0, offset), data.rfind(b"\n", 0, offset) + 1
    else:
        lines_before, line_start = data.count("\n", 0, offset), data.rfind("\n", 0, offset) + 1
    return Location(filename, lines_before + 1, offset - line_start + 1)


def _char_at(text: str, line: int, column: int) -> str:
    lines = text.split("\n", line + 1)
    return lines[line][column : column + 1] if line < len(lines) else ""
