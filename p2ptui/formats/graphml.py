"""The fabric as a GraphML graph for graph tools (networkx, Gephi, yEd, igraph): functions and root buses as nodes,
PCIe links and SR-IOV parenthood as directed edges.

Node ids are BDFs (``0000:03:00.0``) and ``root 0000:00`` for a root bus. Every device node carries the scalar facts
of the JSON model (formats/export.py) under the same names, nested ones flattened with ``_`` (``p2pmem_size``,
``aer_fatal``); ACS bit lists are space-separated names. An edge from a bridge (or root bus) to a function has
``relation=link`` and the function's upstream link (``gen``, ``width``, ...); an edge from a PF to one of its VFs
has ``relation=sriov``. GraphML has no null, so an unknown fact is simply absent. Entries the source could not place
in the tree (Fabric.unplaced) are not nodes; the graph's ``unplaced`` attribute counts them.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from ..fabric.model import Device, Fabric, RootBus
from .export import device_to_dict, fabric_to_dict

if TYPE_CHECKING:
    import networkx as nx

# Tree facts the edges already say (parent) or that only restate the graph (siblings, root bus, upstream bridge).
_LEFT_TO_EDGES = {"parent", "physfn", "link", "siblings", "root_bus", "upstream_bridge"}


def fabric_graph(fabric: Fabric) -> nx.DiGraph[str]:
    """A networkx DiGraph of the fabric (networkx is imported here: only this writer and fleet alignment use it)."""
    import networkx as nx

    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.graph.update(_scalars(_graph_facts(fabric)))
    for rb in fabric.root_buses:
        graph.add_node(_root_id(rb), kind="root_bus", **_scalars(_root_facts(fabric, rb)))
    for dev in fabric.devices:
        facts = {k: v for k, v in device_to_dict(fabric, dev).items() if k not in _LEFT_TO_EDGES}
        graph.add_node(str(dev.bdf), **_scalars(facts))
    for dev in fabric.devices:
        above = str(dev.parent) if dev.parent is not None else _root_id(fabric.root_bus_of(dev))
        graph.add_edge(above, str(dev.bdf), relation="link", **_scalars(_link_facts(dev)))
        if dev.physfn is not None:
            graph.add_edge(str(dev.physfn), str(dev.bdf), relation="sriov")
    return graph


def dumps_graphml(fabric: Fabric) -> str:
    import networkx as nx

    buffer = io.BytesIO()
    nx.write_graphml(fabric_graph(fabric), buffer, encoding="utf-8", prettyprint=True)
    return buffer.getvalue().decode("utf-8")


def _root_id(rb: RootBus) -> str:
    return f"root {rb}"


def _graph_facts(fabric: Fabric) -> dict:
    whole = fabric_to_dict(fabric)
    facts = {"name": whole["name"], "description": whole["description"], **whole["host"]}
    facts["notes"] = "\n".join(whole["notes"])
    facts["unplaced"] = len(whole["unplaced"])
    return facts


def _root_facts(fabric: Fabric, rb: RootBus) -> dict:
    rep = fabric.representative(rb)
    return {
        "bus": str(rb),
        "host_bridge": rb.host_bridge,
        "numa_node": rb.numa_node,
        # floats always: GraphML types an attribute once per file, and a cap may be written 7 on one bus, 7.1 on another
        "p2p_read_gbps": float(rb.p2p_read) if rb.p2p_read is not None else None,
        "p2p_write_gbps": float(rb.p2p_write) if rb.p2p_write is not None else None,
        "representative": str(rep.bdf) if rep is not None else None,
    }


def _link_facts(dev: Device) -> dict:
    return device_to_dict(None, dev)["link"] or {}


def _scalars(facts: dict, prefix: str = "") -> dict[str, str | int | float | bool]:
    """GraphML attribute values: nested mappings flattened with ``_``, lists space-joined, None left out."""
    out: dict[str, str | int | float | bool] = {}
    for key, value in facts.items():
        name = f"{prefix}{key}"
        if value is None:
            continue
        if isinstance(value, dict):
            out.update(_scalars(value, f"{name}_"))
        elif isinstance(value, list | tuple):
            out[name] = " ".join(str(item) for item in value)
        else:
            out[name] = value
    return out
