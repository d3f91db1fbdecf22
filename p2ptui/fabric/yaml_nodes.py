"""Reading YAML node trees with positions, collecting every problem instead of stopping at the first.

Fabric files are read from the composed node tree rather than from ``yaml.safe_load``'s Python objects: YAML 1.1
turns ``00:01.0`` into the float 1.0 (sexagesimal) and ``off`` into False, and only nodes carry line numbers.
"""

from __future__ import annotations

import difflib
from collections.abc import Collection

import yaml

from ..errors import Diagnostic, Location

Node = yaml.Node
_NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}


class NodeReader:
    """Typed access to YAML nodes; every failed read becomes a Diagnostic at the node's position."""

    def __init__(self, filename: str):
        self.filename = filename
        self.diagnostics: list[Diagnostic] = []

    def location(self, node: Node | None) -> Location:
        if node is None:
            return Location(self.filename)
        mark = node.start_mark
        return Location(self.filename, mark.line + 1, mark.column + 1)

    def error(self, node: Node | None, message: str, hint: str = "") -> None:
        self.diagnostics.append(Diagnostic(message, self.location(node), hint))

    # -- structure --------------------------------------------------------------------------------------------------
    def mapping(self, node: Node, what: str, allowed: Collection[str]) -> dict[str, tuple[Node, Node]] | None:
        """Key → (key node, value node); unknown and duplicate keys are reported (with a did-you-mean)."""
        if not isinstance(node, yaml.MappingNode):
            self.error(node, f"{what} must be a mapping of keys to values, not {describe_node(node)}")
            return None
        entries: dict[str, tuple[Node, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_node, f"{what} has a key that is not a plain word")
                continue
            key = key_node.value
            if key in entries:
                self.error(key_node, f"duplicate key {key!r} in {what}", f"first given at line {entries[key][0].start_mark.line + 1}")
                continue
            if key not in allowed:
                self.error(key_node, f"unknown key {key!r} in {what}", did_you_mean(key, allowed))
                continue
            entries[key] = (key_node, value_node)
        return entries

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {describe_node(node)}")
            return None
        return list(node.value)

    # -- scalars ----------------------------------------------------------------------------------------------------
    def text(self, node: Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"{what} must be a single value, not {describe_node(node)}")
            return None
        return node.value

    def integer(self, node: Node, what: str, lo: int | None = None, hi: int | None = None) -> int | None:
        """Decimal or 0x-hex, from the raw text (so ``010`` stays ten, not octal eight)."""
        raw = self.text(node, what)
        if raw is None:
            return None
        try:
            value = int(raw, 16) if raw.lower().startswith(("0x", "-0x")) else int(raw, 10)
        except ValueError:
            self.error(node, f"{what} must be a whole number, not {raw!r}")
            return None
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            bounds = f"{lo if lo is not None else '-∞'} to {hi if hi is not None else '∞'}"
            self.error(node, f"{what} {value} is out of range", f"expected {bounds}")
            return None
        return value

    def boolean(self, node: Node, what: str) -> bool | None:
        raw = self.text(node, what)
        if raw is None:
            return None
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.error(node, f"{what} must be true or false, not {raw!r}")
        return None

    def choice(self, node: Node, what: str, choices: dict[str, object]) -> object | None:
        raw = self.text(node, what)
        if raw is None:
            return None
        key = raw.strip().lower()
        if key in choices:
            return choices[key]
        self.error(node, f"unknown {what} {raw!r}", did_you_mean(key, choices) or f"one of {', '.join(choices)}")
        return None

    def parsed(self, node: Node, what: str, parse):
        """Apply ``parse`` to the raw text; its ValueError becomes a diagnostic here."""
        raw = self.text(node, what)
        if raw is None:
            return None
        try:
            return parse(raw)
        except ValueError as exc:
            self.error(node, f"{what}: {exc}")
            return None


def is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def describe_node(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if is_null(node):
        return "an empty value"
    return f"the value {node.value!r}"


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(sorted(choices))}"
