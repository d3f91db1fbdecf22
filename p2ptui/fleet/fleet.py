"""A fleet directory diffed against one reference: per node the drift, nodes that drifted alike grouped together.

A fleet directory holds one FABRIC per node (``NODE.tar.gz`` from ``fleet collect``, or any sysfs tarball or YAML
fabric), and ``collect.json`` when collect wrote it. Identical files are read once and diffed once: a healthy fleet
is mostly identical snapshots, since the collector leaves out everything that changes by itself (IRQs, resources,
timestamps). Distinct files are read in parallel worker processes when there are many.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.model import Fabric
from ..formats.input_paths import os_problem, special_kind
from ..sources import open_fabric
from .align import FabricTree
from .drift import Drift, DriftKind, DriftOptions, node_drift
from .snapshots import read_manifest

FABRIC_SUFFIXES = (".tar.gz", ".tgz", ".tar.bz2", ".tbz2", ".tar.xz", ".txz", ".tar", ".yaml", ".yml")
PARALLEL_FROM = 16  # distinct files; below this, worker processes cost more than they save


@dataclass
class Member:
    node: str
    path: Path | None
    digest: str = ""
    error: str = ""  # why it has no fabric: unreadable, or not collected


@dataclass
class DriftGroup:
    nodes: list[str]
    drifts: list[Drift]  # as the first node has them; the others' differ at most in ``here``
    here: dict[str, list[str]] = field(default_factory=dict)  # node → each drift's own address

    @property
    def kinds(self) -> Counter:
        return Counter(d.kind for d in self.drifts)


@dataclass
class FleetDiff:
    reference: str  # a node name or a fabric file
    reference_why: str
    nodes: list[str]  # every node with a fabric
    matching: list[str]  # nodes without drift
    groups: list[DriftGroup]  # largest first
    unavailable: dict[str, str]  # node → why it could not be compared
    fabrics: dict[str, Fabric] = field(default_factory=dict)  # node → its fabric (nodes with equal files share one)
    reference_fabric: Fabric | None = None

    def marked(self, node: str) -> set[str]:
        """The node's own addresses of every device its drift names (both ends of a changed P2P pair)."""
        for group in self.groups:
            if node in group.nodes:
                return {a.strip() for here in group.here[node] for a in here.split("→") if a.strip()}
        return set()

    @property
    def drifted(self) -> list[str]:
        return [n for g in self.groups for n in g.nodes]

    def kind_counts(self) -> dict[DriftKind, int]:
        """Nodes per kind of drift."""
        counts: Counter = Counter()
        for g in self.groups:
            for kind in {d.kind for d in g.drifts}:
                counts[kind] += len(g.nodes)
        return {k: counts[k] for k in DriftKind if counts[k]}


def fleet_members(directory: Path) -> list[Member]:
    """The node fabrics in ``directory`` (and nodes collect.json knows but that have no snapshot)."""
    where = Location(str(directory))
    if not directory.is_dir():
        hint = "give the -o DIR of fleet collect"
        raise InputError(Diagnostic("not a fleet directory (not a directory)", where, hint))
    members: dict[str, Member] = {}
    names: dict[str, str] = {}  # node → its file's name
    for path in sorted(directory.iterdir()):
        if path.name.startswith("."):
            continue
        for suffix in FABRIC_SUFFIXES:
            if path.name.endswith(suffix) and len(path.name) > len(suffix):
                node = path.name[: -len(suffix)]
                if node in names:
                    raise InputError(Diagnostic(f"two fabrics for node {node}: {names[node]} and {path.name}", where))
                names[node] = path.name
                # A node's file that is no regular file is named as the node's failure, not silently left out
                # (a FIFO is never opened: reading it would block).
                why = _not_a_node_file(path)
                members[node] = Member(node, None if why else path, error=why)
                break
    for node, entry in read_manifest(directory).items():
        if node not in members and isinstance(entry, dict):
            members[node] = Member(node, None, error=f"not collected: {entry.get('reason', 'no snapshot')}")
    if not any(m.path for m in members.values()):
        raise InputError(
            Diagnostic(
                "no node fabrics here (NODE.tar.gz, NODE.yaml)",
                where,
                "collect them with p2ptui fleet collect NODESET -o DIR",
            )
        )
    return [members[n] for n in sorted(members, key=_natural)]


def _not_a_node_file(path: Path) -> str:
    """Why ``path`` cannot hold a node's fabric ('' when it is a regular file)."""
    try:
        st = path.stat()
    except OSError as exc:
        return f"{path.name}: " + ("dangling symbolic link" if path.is_symlink() else os_problem(exc))
    if stat.S_ISDIR(st.st_mode):
        return f"{path.name}: is a directory, not a file"
    kind = special_kind(st)
    return f"{path.name}: is {kind}, not a file" if kind else ""


def _natural(name: str) -> tuple:
    """node2 before node10."""
    import re

    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


def load_fabrics(members: list[Member]) -> dict[str, Fabric]:
    """Digest → fabric for every readable member; members that fail get their ``error``."""
    by_digest: dict[str, list[Member]] = {}
    for m in members:
        if m.path is None:
            continue
        try:
            m.digest = hashlib.sha256(m.path.read_bytes()).hexdigest()
        except OSError as exc:
            m.error = f"unreadable: {exc.strerror or exc}"
            continue
        by_digest.setdefault(m.digest, []).append(m)
    firsts = [group[0] for group in by_digest.values()]
    paths = [str(m.path) for m in firsts]
    if len(paths) >= PARALLEL_FROM and (os.cpu_count() or 1) > 1:
        with ProcessPoolExecutor(max_workers=min(os.cpu_count() or 1, 8)) as pool:
            results = list(pool.map(_load_one, paths, chunksize=max(1, len(paths) // 32)))
    else:
        results = [_load_one(p) for p in paths]
    fabrics: dict[str, Fabric] = {}
    for first, result in zip(firsts, results, strict=True):
        if isinstance(result, str):
            for m in by_digest[first.digest]:
                m.error = result
        else:
            fabrics[first.digest] = result
    return fabrics


def _load_one(path: str) -> Fabric | str:
    try:
        return open_fabric(path)
    except InputError as exc:
        return f"unreadable: {exc.diagnostics[0]}"


def diff_fleet(directory: Path, reference: str | None = None, options: DriftOptions | None = None) -> FleetDiff:
    options = options or DriftOptions()
    members = fleet_members(directory)
    fabrics = load_fabrics(members)
    trees = {digest: FabricTree(f) for digest, f in fabrics.items()}
    ok = [m for m in members if not m.error]
    if not ok:
        raise InputError(Diagnostic("no node fabric here could be read", Location(str(directory))))
    ref_name, ref_tree, why = _reference(ok, trees, reference)
    drifts: dict[str, list[Drift]] = {}
    for digest, tree in trees.items():
        drifts[digest] = [] if tree is ref_tree else node_drift(ref_tree, tree, options)
    groups: dict[tuple, DriftGroup] = {}
    matching = []
    for m in ok:
        found = drifts[m.digest]
        if not found:
            matching.append(m.node)
            continue
        key = tuple(d.key for d in found)
        group = groups.setdefault(key, DriftGroup([], found))
        group.nodes.append(m.node)
        group.here[m.node] = [d.here for d in found]
    ordered = sorted(groups.values(), key=lambda g: (-len(g.nodes), _natural(g.nodes[0])))
    return FleetDiff(
        ref_name,
        why,
        [m.node for m in ok],
        matching,
        ordered,
        {m.node: m.error for m in members if m.error},
        {m.node: fabrics[m.digest] for m in ok},
        ref_tree.fabric,
    )


def _reference(ok: list[Member], trees: dict[str, FabricTree], reference: str | None) -> tuple[str, FabricTree, str]:
    by_node = {m.node: m for m in ok}
    if reference is not None:
        if reference in by_node:
            return reference, trees[by_node[reference].digest], "given"
        fabric = open_fabric(reference)  # InputError (exit 2) when it is neither a node nor a fabric
        return reference, FabricTree(fabric), "given"
    shapes = Counter(trees[m.digest].shape for m in ok)
    shape, count = shapes.most_common(1)[0]
    alike = [m for m in ok if trees[m.digest].shape == shape]
    digest = Counter(m.digest for m in alike).most_common(1)[0][0]
    first = next(m for m in alike if m.digest == digest)
    return first.node, trees[digest], f"the most common shape: {count} of {len(ok)} nodes"
