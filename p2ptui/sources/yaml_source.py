"""The YAML fabric source (p2ptui-fabric/1): a thin wrapper that lets detection pick p2ptui.formats.load_fabric."""

from __future__ import annotations

import re
from pathlib import Path

from ..fabric import Fabric
from ..formats import load_fabric

SUFFIXES = (".yaml", ".yml")
# The format tag or the one key every fabric has, at the start of a line: what no other input format writes.
_MARKER_RE = re.compile(rb"^(?:format:\s*['\"]?p2ptui-fabric/|root_complexes\s*:)", re.MULTILINE)


def sniff(path: Path, head: bytes) -> bool:
    if path.suffix.lower() in SUFFIXES:
        return True
    return b"\0" not in head and _MARKER_RE.search(head) is not None


def load(path: Path) -> Fabric:
    return load_fabric(path)
