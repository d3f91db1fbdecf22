"""Writing a Fabric out, in the format the file name's extension asks for: YAML, JSON, Graphviz DOT or GraphML.

YAML is the model's own format (load_fabric reads it back to an equal Fabric); JSON is the flat, scriptable model
of ``show --json``; DOT draws the tree (``dot -Tsvg fabric.dot``), one cluster per root bus; GraphML is the fabric
as a graph for graph tools (graphml.py). A new output format is a ``dumps_X(fabric) -> str`` and a row in FORMATS
and in write_fabric's table.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric import Fabric
from ..fabric.acs import AcsSource, describe
from ..fabric.model import Device, Link, RootBus
from ..fabric.units import human_size
from .export import fabric_to_dict
from .graphml import dumps_graphml
from .safe_write import write_output
from .yaml_save import dumps_fabric

FORMATS = {".yaml": "yaml", ".yml": "yaml", ".json": "json", ".dot": "dot", ".gv": "dot", ".graphml": "graphml"}


def format_for(path: str | os.PathLike) -> str:
    """The output format ``path``'s extension names; InputError for any other extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise InputError(
            Diagnostic(
                f"cannot tell the output format from the extension {suffix or '(none)'!r}",
                Location(str(path)),
                f"use one of {', '.join(FORMATS)}",
            )
        )
    return FORMATS[suffix]


def dumps_json(fabric: Fabric) -> str:
    return json.dumps(fabric_to_dict(fabric), indent=2) + "\n"


def dumps_dot(fabric: Fabric) -> str:
    lines = [
        f"digraph {_quote(fabric.name)} {{",
        f'  graph [rankdir=LR, fontname="monospace", label={_quote(_graph_label(fabric))}, labelloc=t];',
        '  node [shape=box, fontname="monospace", fontsize=10];',
        "  edge [arrowhead=none];",
    ]
    below: dict[tuple[int, int], list[Device]] = {rb.bus_id: [] for rb in fabric.root_buses}
    for dev in fabric.devices:  # grouped in one pass: a scan per root bus was quadratic on machines with hundreds
        below[fabric.root_bus_of(dev).bus_id].append(dev)
    for index, rb in enumerate(fabric.root_buses):
        anchor = _root_id(rb)
        lines.append(f"  subgraph cluster_{index} {{")
        lines.append(f"    label={_quote(_root_label(rb))};")
        lines.append(f"    {_quote(anchor)} [shape=ellipse, label={_quote(rb.host_bridge)}];")
        members = below[rb.bus_id]
        for dev in members:
            lines.append(f"    {_quote(str(dev.bdf))} [label={_quote(_device_label(dev))}{_style(dev)}];")
        for dev in members:
            up = _quote(str(dev.parent)) if dev.parent is not None else _quote(anchor)
            lines.append(f"    {up} -> {_quote(str(dev.bdf))};")
            if dev.physfn is not None:
                lines.append(f'    {_quote(str(dev.physfn))} -> {_quote(str(dev.bdf))} [style=dashed, label="VF"];')
        lines.append("  }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def write_fabric(fabric: Fabric, path: str | os.PathLike, *, overwrite: bool = True) -> str:
    """Write ``fabric`` to ``path`` in the format its extension names; returns that format.

    The write goes through safe_write (atomic, no links or devices, an existing file only with ``overwrite``)."""
    fmt = format_for(path)
    text = {"yaml": dumps_fabric, "json": dumps_json, "dot": dumps_dot, "graphml": dumps_graphml}[fmt](fabric)
    write_output(path, text, overwrite=overwrite)
    return fmt


def _graph_label(fabric: Fabric) -> str:
    host = fabric.host
    cpu = " ".join(str(x) for x in (host.cpu_vendor, host.cpu_model) if x) or "unknown CPU"
    return (
        f"{fabric.name}\n{fabric.description}\n{cpu}, IOMMU {host.iommu.value}" if fabric.description else fabric.name
    )


def _root_id(rb: RootBus) -> str:
    return f"root {rb}"


def _root_label(rb: RootBus) -> str:
    numa = f", NUMA {rb.numa_node}" if rb.numa_node is not None else ""
    return f"root bus {rb}{numa}"


def _device_label(dev: Device) -> str:
    parts = [f"{dev.name}  {dev.bdf}", f"{dev.kind.label}  [{dev.ids}]"]
    if dev.product:
        parts.append(dev.product if len(dev.product) <= 48 else dev.product[:45] + "...")
    if dev.link is not None:
        parts.append(_link_text(dev.link))
    if dev.acs.source is AcsSource.HARDWARE:
        parts.append(f"ACS ctrl {describe(dev.acs.ctrl)}")
    elif dev.acs.source is AcsSource.UNKNOWN and dev.kind.is_bridge:
        parts.append("ACS unknown")
    if dev.pool is not None:
        parts.append(f"p2pmem {human_size(dev.pool.size)}")
    return "\n".join(parts)


def _link_text(link: Link) -> str:
    if link.gen is None and link.width is None and (link.max_gen is not None or link.max_width is not None):
        # Only the capability is known (NCCL files): say so rather than print an unknown current link.
        return f"link up to gen{link.max_gen or '?'} x{link.max_width or '?'}"
    return f"link {link.describe()}"


def _style(dev: Device) -> str:
    if dev.kind.is_bridge:
        return ", style=rounded"
    if dev.pool is not None:
        return ", style=bold"
    return ""


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as centred line breaks."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{escaped}"'
