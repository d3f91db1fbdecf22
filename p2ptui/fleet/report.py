"""A fleet diff as text lines and as JSON-ready data (what ``p2ptui fleet diff`` prints)."""

from __future__ import annotations

from ClusterShell.NodeSet import NodeSet

from .drift import DriftKind
from .fleet import DriftGroup, FleetDiff

KIND_WIDTH = max(len(k.value) for k in DriftKind)


def fold(nodes: list[str]) -> str:
    """``node[003,017-019]``: ClusterShell's folding, the syntax Slurm and clush read back."""
    return str(NodeSet.fromlist(nodes)) if nodes else ""


def render_diff(diff: FleetDiff) -> list[str]:
    lines = [f"reference: {diff.reference} ({diff.reference_why})"]
    total = len(diff.nodes)
    drifted = len(diff.drifted)
    match = f"{len(diff.matching)} match the reference" + (f" ({fold(diff.matching)})" if diff.matching else "")
    groups = len(diff.groups)
    lines.append(
        f"{total} nodes compared: {match}, {drifted} drifted"
        + (f" in {groups} group{'s' if groups != 1 else ''}" if groups else "")
    )
    counts = diff.kind_counts()
    if counts:
        kinds = (f"{k.value} {n} node{'s' if n != 1 else ''}" for k, n in counts.items())
        lines.append("drift by kind: " + ", ".join(kinds))
    for group in diff.groups:
        lines.append("")
        lines.extend(_group_lines(group))
    if diff.unavailable:
        lines.append("")
        by_reason: dict[str, list[str]] = {}
        for node, why in diff.unavailable.items():
            by_reason.setdefault(why, []).append(node)
        for why, nodes in by_reason.items():
            lines.append(f"not compared: {fold(nodes)}: {why}")
    return lines


def _group_lines(group: DriftGroup) -> list[str]:
    n = len(group.nodes)
    lines = [f"{fold(group.nodes)} ({n} node{'s' if n != 1 else ''})"]
    single = group.here[group.nodes[0]] if n == 1 else None
    for i, d in enumerate(group.drifts):
        here = f" (here {single[i]})" if single and single[i] else ""
        lines.append(f"  {d.kind.value:<{KIND_WIDTH}}  {d.subject}: {d.detail}{here}")
    return lines


def diff_to_dict(diff: FleetDiff) -> dict:
    return {
        "reference": diff.reference,
        "reference_why": diff.reference_why,
        "nodes": len(diff.nodes),
        "matching": fold(diff.matching),
        "drifted": fold(diff.drifted),
        "kinds": {k.value: n for k, n in diff.kind_counts().items()},
        "groups": [
            {
                "nodes": fold(g.nodes),
                "count": len(g.nodes),
                "drifts": [
                    {
                        "kind": d.kind.value,
                        "subject": d.subject,
                        "detail": d.detail,
                        "here": {node: g.here[node][i] for node in g.nodes},
                    }
                    for i, d in enumerate(g.drifts)
                ],
            }
            for g in diff.groups
        ],
        "not_compared": diff.unavailable,
    }
