"""Line up two nodes' PCI trees by what the devices are and where they sit, never by bus number.

A node's tree is a networkx DiGraph: a virtual root, its root buses, then every function below the bridge (or, for
a VF, the PF) above it. Each vertex is labelled with its identity: kind, vendor:device and physical slot name. The
tree's shape is networkx's Weisfeiler-Lehman hash of the labelled graph, so nodes built alike share one shape
whatever their BIOS numbered. Alignment walks both trees from the root: children with the same label are paired by
their position under the parent (device/function number: the switch port), and where one side has more of a label
than the other, networkx's maximum-weight matching pairs those whose subtrees look alike; the rest are missing or
extra.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import networkx as nx

from ..fabric.bdf import BDF
from ..fabric.model import Device, Fabric
from ..p2p.matrix import PairMatrix, pair_matrix

ROOT = "host"
Vertex = str | BDF  # ROOT and ``rootbusN`` by name, devices by address
HASH_DIGEST = 16


def _rb_vertex(index: int) -> str:
    return f"rootbus{index}"


def device_label(dev: Device) -> str:
    """What a device is, independent of its address: kind, PCI IDs, slot name, and whether it is a VF."""
    vf = "|vf" if dev.is_vf else ""
    return f"{dev.kind.value}|{dev.ids}|{dev.slot or ''}{vf}"


@dataclass(eq=False)
class FabricTree:
    """A fabric as a labelled rooted tree (vertices: ROOT, ``rootbusN``, device addresses)."""

    fabric: Fabric
    graph: nx.DiGraph[Vertex] = field(init=False)

    def __post_init__(self) -> None:
        g: nx.DiGraph[Vertex] = nx.DiGraph()
        g.add_node(ROOT, label="host")
        for i in range(len(self.fabric.root_buses)):
            g.add_node(_rb_vertex(i), label="rootbus")
            g.add_edge(ROOT, _rb_vertex(i))
        rb_index = {rb.bus_id: i for i, rb in enumerate(self.fabric.root_buses)}
        for dev in self.fabric.devices:
            g.add_node(dev.bdf, label=device_label(dev))
        for dev in self.fabric.devices:
            up = self.fabric.upstream_bridge(dev)
            parent = up.bdf if up is not None else _rb_vertex(rb_index[self.fabric.root_bus_of(dev).bus_id])
            g.add_edge(parent, dev.bdf)
        self.graph = g

    @cached_property
    def shape(self) -> str:
        """The labelled tree's Weisfeiler-Lehman hash: equal for trees built alike, whatever their bus numbers."""
        return _wl_hash(self.graph)

    @cached_property
    def p2p_matrix(self) -> PairMatrix:
        """Every endpoint pair's verdict, under the fabric's own profile: worked out once for a reference that every
        node of a fleet is compared with (with unknown facts it weighs ~140 completions)."""
        return pair_matrix(self.fabric)

    def label(self, vertex) -> str:
        return self.graph.nodes[vertex]["label"]

    def children(self, vertex) -> list:
        return list(self.graph.successors(vertex))

    def subtree_shape(self, vertex) -> str:
        """The hash of the subtree below ``vertex`` (computed when a matching needs it)."""
        cache = self.__dict__.setdefault("_subtree_shapes", {})
        if vertex not in cache:
            nodes = nx.descendants(self.graph, vertex) | {vertex}
            cache[vertex] = _wl_hash(self.graph.subgraph(nodes))
        return cache[vertex]


def _wl_hash(graph: nx.DiGraph) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # networkx notes its directed hashes changed in 3.5
        depth = max(nx.dag_longest_path_length(graph), 1)
        return nx.weisfeiler_lehman_graph_hash(graph, node_attr="label", iterations=depth + 1, digest_size=HASH_DIGEST)


@dataclass
class Alignment:
    """Reference vertex → node vertex for every pair found; the rest of each side is missing or extra."""

    ref: FabricTree
    node: FabricTree
    pairs: dict = field(default_factory=dict)
    missing: list = field(default_factory=list)  # reference vertices with no partner, tops of subtrees only
    extra: list = field(default_factory=list)  # node vertices with no partner, tops of subtrees only
    extra_parent: dict = field(default_factory=dict)  # node vertex → the reference vertex its parent is paired with

    def device_pairs(self) -> list[tuple[Device, Device]]:
        rf, nf = self.ref.fabric, self.node.fabric
        return [(rf.device(r), nf.device(n)) for r, n in self.pairs.items() if isinstance(r, BDF)]


def align(ref: FabricTree, node: FabricTree) -> Alignment:
    out = Alignment(ref, node)
    stack = [(ROOT, ROOT)]
    while stack:
        r, n = stack.pop()
        out.pairs[r] = n
        for rc, nc in _pair_children(ref, node, r, n, out):
            stack.append((rc, nc))
    return out


def _position(vertex) -> tuple:
    """Where a child sits under its parent: device and function number (the switch port), or root bus order."""
    if isinstance(vertex, BDF):
        return (vertex.device, vertex.function)
    return (int(vertex.removeprefix("rootbus")),) if isinstance(vertex, str) and vertex.startswith("rootbus") else ()


def _pair_children(ref: FabricTree, node: FabricTree, r, n, out: Alignment) -> list[tuple]:
    by_label_r: dict[str, list] = {}
    by_label_n: dict[str, list] = {}
    for c in ref.children(r):
        by_label_r.setdefault(ref.label(c), []).append(c)
    for c in node.children(n):
        by_label_n.setdefault(node.label(c), []).append(c)
    pairs: list[tuple] = []
    for label in sorted(by_label_r.keys() | by_label_n.keys()):
        rs = sorted(by_label_r.get(label, []), key=_position)
        ns = sorted(by_label_n.get(label, []), key=_position)
        if len(rs) == len(ns):
            pairs.extend(zip(rs, ns, strict=True))
            continue
        matched = _match(ref, node, rs, ns)
        pairs.extend(matched)
        used_r = {a for a, _ in matched}
        used_n = {b for _, b in matched}
        out.missing.extend(c for c in rs if c not in used_r)
        for c in ns:
            if c not in used_n:
                out.extra.append(c)
                out.extra_parent[c] = r
    return pairs


def _match(ref: FabricTree, node: FabricTree, rs: list, ns: list) -> list[tuple]:
    """Pair same-label children when the counts differ: alike subtrees first, then the same port position."""
    g: nx.Graph[tuple[str, Vertex]] = nx.Graph()  # ("r", reference vertex) and ("n", node vertex)
    for a in rs:
        for b in ns:
            weight = 1 + 10 * (_position(a) == _position(b)) + 100 * (ref.subtree_shape(a) == node.subtree_shape(b))
            g.add_edge(("r", a), ("n", b), weight=weight)
    matching = nx.max_weight_matching(g, maxcardinality=True)
    pairs = []
    for u, v in matching:
        a, b = (u, v) if u[0] == "r" else (v, u)
        pairs.append((a[1], b[1]))
    return sorted(pairs, key=lambda p: _position(p[0]))
