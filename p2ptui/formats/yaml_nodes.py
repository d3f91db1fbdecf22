"""Typed reads of YAML nodes that collect every problem with its position (yaml_text makes the nodes).

The reads cover plain values (numbers, flags, choices) and the fabric's small value types: links, ACS states,
P2P pools, bandwidths and PCI IDs. The fabric's own layout (which keys go where) is yaml_load's job.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Collection
from typing import TypeVar

import yaml

from ..errors import Diagnostic, Location
from ..fabric import acs as acsbits
from ..fabric.acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from ..fabric.checks import LINK_GENS, LINK_WIDTHS, MAX_POOL_BYTES, PAYLOAD_SIZES
from ..fabric.model import Link, P2PPool
from ..fabric.units import format_size, parse_bandwidth, parse_size

Node = yaml.Node
T = TypeVar("T")


_NULL_TAG = "tag:yaml.org,2002:null"
_TRUE = {"true", "yes", "on", "y"}
_FALSE = {"false", "no", "off", "n"}
MAX_BANDWIDTH_GBPS = 10_000.0  # 10 TB/s: beyond any PCIe or DRAM figure, so a unit slip
DEFAULT_KERNEL_ACS_CAP = acsbits.ALL_BITS  # what ``acs: kernel-default`` alone assumes the port implements
LINK_KEYS = ("gen", "width", "max_gen", "max_width", "mps", "mrrs")
ACS_KEYS = ("cap", "ctrl", "firmware")
POOL_KEYS = ("size", "available", "published", "allocate")
ACS_WORDS = {"none": ACS_NONE, "unknown": ACS_UNKNOWN, "kernel-default": None}
_LINK_RE = re.compile(r"^\s*gen\s*(\d{1,3})\s*x\s*(\d{1,3})\s*$", re.IGNORECASE)
_INT_RE = re.compile(r"^[-+]?(?:0[xX][0-9a-fA-F]{1,64}|[0-9]{1,64})$")  # 0x hex or decimal, never octal


# -- typed reads of nodes --------------------------------------------------------------------------------------------
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
                first = entries[key][0].start_mark.line + 1
                self.error(key_node, f"duplicate key {key!r} in {what}", f"first given at line {first}")
            elif key == "<<":
                self.error(key_node, f"YAML merge keys (<<) are not supported in {what}", "write the keys out")
            elif key not in allowed:
                self.error(key_node, f"unknown key {shorten(key)!r} in {what}", did_you_mean(key, allowed))
            else:
                entries[key] = (key_node, value_node)
        return entries

    def sequence(self, node: Node, what: str) -> list[Node] | None:
        """The items of a list; an empty value counts as an empty list."""
        if is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            self.error(node, f"{what} must be a list, not {describe_node(node)}")
            return None
        return list(node.value)

    # -- scalars ----------------------------------------------------------------------------------------------------
    def check_format(self, top: dict[str, tuple[Node, Node]], tag: str, what: str = "format") -> None:
        """A file's optional ``format:`` key must name the version this code reads."""
        if "format" not in top:
            return
        node = top["format"][1]
        found = self.text(node, "format")
        if found is not None and found != tag:
            self.error(node, f"unsupported {what} {shorten(found)!r}", f"this version reads {tag}")

    def text(self, node: Node, what: str) -> str | None:
        if not isinstance(node, yaml.ScalarNode):
            self.error(node, f"{what} must be a single value, not {describe_node(node)}")
            return None
        return node.value

    def optional_text(self, node: Node, what: str) -> str | None:
        """Text as written, None for an empty value or ``null``; block scalars (``|``, ``>``) lose their final
        newlines, which YAML adds but nobody means."""
        if is_null(node):
            return None
        value = self.text(node, what)
        if value is not None and isinstance(node, yaml.ScalarNode) and node.style in ("|", ">"):
            value = value.rstrip("\n")
        return value

    def integer(self, node: Node, what: str, lo: int | None = None, hi: int | None = None) -> int | None:
        """Decimal or 0x-hex, from the raw text (so ``010`` stays ten, not octal eight)."""
        return self.parsed(node, what, lambda raw: parse_int(raw, lo, hi))

    def boolean(self, node: Node, what: str) -> bool | None:
        raw = self.text(node, what)
        if raw is None:
            return None
        if raw.lower() in _TRUE:
            return True
        if raw.lower() in _FALSE:
            return False
        self.error(node, f"{what} must be true or false, not {shorten(raw)!r}")
        return None

    def choice(self, node: Node, what: str, choices: dict[str, T]) -> T | None:
        """One of ``choices``, case-insensitive, with ``-`` and ``_`` alike."""
        raw = self.text(node, what)
        if raw is None:
            return None
        key = raw.strip().lower()
        if key in choices:
            return choices[key]
        normal = {k.replace("-", "_"): v for k, v in choices.items()}
        if key.replace("-", "_") in normal:
            return normal[key.replace("-", "_")]
        self.error(node, f"unknown {what} {shorten(raw)!r}", did_you_mean(raw.strip().lower(), choices))
        return None

    def parsed(self, node: Node, what: str, parse: Callable[[str], T], hint: str = "") -> T | None:
        """Apply ``parse`` to the raw text; its ValueError becomes a diagnostic here.

        Parsers say ``"<problem>: expected <what works>"``; the second half becomes the hint.
        """
        raw = self.text(node, what)
        if raw is None:
            return None
        try:
            return parse(raw)
        except OverflowError:  # float("1e400") made into an int
            self.error(node, f"{what}: {shorten(raw)!r} is not a finite number", hint)
        except ValueError as exc:
            message, sep, expected = str(exc).partition(": expected ")
            self.error(node, f"{what}: {message}", f"expected {expected}" if sep else hint)
        return None


class ValueReader(NodeReader):
    """Reads of the fabric's small value types, in the same collect-every-problem style."""

    def bandwidth(self, node: Node, what: str) -> float | None:
        if is_null(node):
            return None
        value = self.parsed(node, what, parse_bandwidth, "write GB/s, e.g. 7.1 or '900 MB/s'")
        if value is not None and value > MAX_BANDWIDTH_GBPS:
            self.error(node, f"{what} of {value:g} GB/s is absurd", "more than 10 TB/s; check the unit")
            return None
        return value

    def link(self, node: Node) -> Link | None:
        if is_null(node):
            return None
        if isinstance(node, yaml.ScalarNode):
            if node.value.strip().lower() == "unknown":
                return Link(mps=None, mrrs=None)
            match = _LINK_RE.match(node.value)
            if not match:
                self.error(
                    node,
                    f"malformed link {shorten(node.value)!r}",
                    "write e.g. 'gen4 x16', or a mapping such as {gen: 3, width: 8, max_gen: 4, max_width: 16}",
                )
                return None
            gen, width = int(match[1]), int(match[2])
            ok = self.link_value(node, "gen", gen) & self.link_value(node, "width", width)
            return Link(gen, width, gen, width) if ok else None
        keys = self.mapping(node, "link", LINK_KEYS + ("down",))
        if keys is None:
            return None
        values: dict = {}
        ok = True
        if down_node := given(keys, "down"):  # the source saw the link down (an empty slot, a device off)
            values["down"] = self.boolean(down_node, "link down")
            ok = values["down"] is not None
        for key in LINK_KEYS:
            if key in keys:
                value_node = keys[key][1]
                if is_null(value_node) or (
                    isinstance(value_node, yaml.ScalarNode) and value_node.value.strip().lower() == "unknown"
                ):
                    values[key] = None
                    continue
                values[key] = self.integer(value_node, f"link {key}", 0)
                ok = values[key] is not None and self.link_value(value_node, key, values[key]) and ok
        values.setdefault("max_gen", values.get("gen"))
        values.setdefault("max_width", values.get("width"))
        return Link(**values) if ok else None

    def link_value(self, node: Node, key: str, value: int) -> bool:
        if key.endswith("gen") and value not in LINK_GENS:
            known = f"known: gen{min(LINK_GENS)} to gen{max(LINK_GENS)}"
            self.error(node, f"unknown PCIe link generation gen{value}", known)
        elif key.endswith("width") and value not in LINK_WIDTHS:
            self.error(node, f"link width x{value} is not a PCIe width", f"one of x{', x'.join(map(str, LINK_WIDTHS))}")
        elif key in ("mps", "mrrs") and value not in PAYLOAD_SIZES:
            self.error(node, f"link {key} {value} is not a PCIe payload size", f"one of {_spell(PAYLOAD_SIZES)}")
        else:
            return True
        return False

    def acs(self, node: Node) -> Acs | None:
        if isinstance(node, yaml.ScalarNode):
            word = node.value.strip().lower()
            if word in ACS_WORDS:
                return ACS_WORDS[word] or Acs(AcsSource.KERNEL_DEFAULT, cap=DEFAULT_KERNEL_ACS_CAP)
            self.error(
                node,
                f"unknown ACS state {shorten(node.value)!r}",
                "write none, unknown, kernel-default, or a mapping such as {cap: [SV, RR, CR, UF], ctrl: [SV]}",
            )
            return None
        keys = self.mapping(node, "acs", ACS_KEYS)
        if keys is None:
            return None
        if "cap" not in keys:
            self.error(node, "acs mapping without 'cap'", "list the capability bits, e.g. cap: [SV, RR, CR, UF, EC]")
            return None
        cap = self.acs_bits(keys["cap"][1], "ACS cap")
        source = AcsSource.HARDWARE
        ctrl: int | None = 0
        firmware: int | None = 0
        if "ctrl" in keys:
            ctrl_node = keys["ctrl"][1]
            if isinstance(ctrl_node, yaml.ScalarNode) and ctrl_node.value.strip().lower() == "kernel-default":
                source = AcsSource.KERNEL_DEFAULT
            else:
                ctrl = self.acs_bits(ctrl_node, "ACS ctrl", cap)
        if "firmware" in keys:
            if source is not AcsSource.KERNEL_DEFAULT:
                self.error(
                    keys["firmware"][0],
                    "'firmware' only goes with ctrl: kernel-default",
                    "a hardware ctrl value is the live register, which already includes what firmware set",
                )
                return None
            firmware = self.acs_bits(keys["firmware"][1], "ACS firmware", cap)
        if cap is None or ctrl is None or firmware is None:
            return None
        return Acs(source, cap=cap, ctrl=ctrl, firmware_ctrl=firmware)

    def acs_bits(self, node: Node, what: str, cap: int | None = None) -> int | None:
        """Bits as a list of names (``[SV, RR]``, hex items allowed) or one number; with ``cap``, only those bits."""
        value: int | None
        if isinstance(node, yaml.ScalarNode) and not is_null(node):
            value = self.integer(node, what, 0, 0xFFFF)
        else:
            items = self.sequence(node, what)
            if items is None:
                return None
            value = 0
            for item in items:
                name = self.text(item, f"{what} bit")
                bit = acsbits.BIT_NAMES.get(name.strip().upper()) if name is not None else None
                if bit is None and name is not None and name.strip().lower().startswith("0x"):
                    bit = self.integer(item, f"{what} bit", 0, 0xFFFF)
                elif bit is None and name is not None:
                    self.error(
                        item,
                        f"unknown {what} bit {shorten(name)!r}",
                        f"known bits: {' '.join(acsbits.BIT_NAMES)} (or a hex value)",
                    )
                if bit is None:
                    return None
                value |= bit
        if value is not None and cap is not None and value & ~cap:
            extra = " ".join(acsbits.bit_names(value & ~cap))
            self.error(
                node,
                f"{what} sets {extra}, which the capability does not have",
                f"cap is [{_spell(acsbits.bit_names(cap))}]; hardware keeps unimplemented bits at 0",
            )
            return None
        return value

    def pool(self, node: Node) -> P2PPool | None:
        if isinstance(node, yaml.ScalarNode):
            size = self.size(node, "p2pmem size")
            return P2PPool(size, size) if size is not None else None
        keys = self.mapping(node, "p2pmem", POOL_KEYS)
        if keys is None:
            return None
        if "size" not in keys:
            self.error(node, "p2pmem without 'size'", "write e.g. p2pmem: {size: 256MiB}")
            return None
        size = self.size(keys["size"][1], "p2pmem size")
        available = self.size(avail_node, "p2pmem available") if (avail_node := given(keys, "available")) else size
        published = self.boolean(pub_node, "published") if (pub_node := given(keys, "published")) else True
        allocate = self.boolean(alloc_node, "allocate") if (alloc_node := given(keys, "allocate")) else True
        if size is None or available is None or published is None or allocate is None:
            return None
        if available > size:
            self.error(
                keys["available"][1],
                f"p2pmem available ({format_size(available)}) exceeds its size ({format_size(size)})",
                "available cannot exceed size",
            )
            return None
        return P2PPool(size, available, published, allocate)

    def size(self, node: Node, what: str) -> int | None:
        size = self.parsed(node, what, parse_size, "write bytes or a number with a unit, e.g. 256MiB")
        if size is not None and size > MAX_POOL_BYTES:
            self.error(
                node,
                f"{what} {shorten(node.value)} is absurd",
                f"more than {format_size(MAX_POOL_BYTES)}, larger than any BAR; check the unit",
            )
            return None
        return size


def parse_int(raw: str, lo: int | None = None, hi: int | None = None) -> int:
    """Decimal or 0x-hex text to an int within [lo, hi]; ValueError says what is wrong."""
    text = raw.strip()
    if text.isascii() and text.isdigit() and len(text) < 20:  # the common case, without the regex
        value = int(text)
    elif not _INT_RE.match(text):
        raise ValueError(f"{shorten(raw)!r} is not a whole number: expected decimal or 0x hex")
    else:
        value = int(text, 16) if text.lower().lstrip("+-").startswith("0x") else int(text, 10)
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        bounds = f"{lo if lo is not None else '-∞'} to {hi if hi is not None else '∞'}"
        raise ValueError(f"{shorten(text)} is out of range: expected {bounds}")
    return value


def _spell(values) -> str:
    return ", ".join(str(v) for v in values)


def given(keys: dict[str, tuple[Node, Node]], key: str) -> Node | None:
    """The value node of ``key``; None when the key is absent or its value empty, ``~`` or ``null``."""
    pair = keys.get(key)
    return pair[1] if pair is not None and not is_null(pair[1]) else None


def is_null(node: Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == _NULL_TAG


def describe_node(node: Node) -> str:
    if isinstance(node, yaml.MappingNode):
        return "a mapping"
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if is_null(node):
        return "an empty value"
    return f"the value {shorten(node.value)!r}"


def shorten(text: str, limit: int = 40) -> str:
    """Quote at most ``limit`` characters of user text in a message, so one bad value cannot flood the terminal."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def did_you_mean(word: str, choices: Collection[str]) -> str:
    close = difflib.get_close_matches(word.lower(), list(choices), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else f"expected one of: {', '.join(sorted(choices))}"
