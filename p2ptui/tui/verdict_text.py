"""The verdict in words, as (key, styled parts) rows: per importer the map type, distance, the path hop by hop with
the common device, ACS hits, the IOMMU story and the topo -m class; then the kernel's messages and the ACS fix with
its cost.

Explanations only: every fact comes from the Verdict (and AcsFix) the P2P core computed.
"""

from __future__ import annotations

from collections.abc import Callable

from ..fabric.model import Device, IommuMode
from ..p2p.fix import AcsFix
from ..p2p.profiles import KernelProfile
from ..p2p.verdict import ClientVerdict, MapType, Verdict
from .describe import Row
from .styled import Part

MAP_ROLE = {MapType.BUS_ADDR: "ok", MapType.THRU_HOST_BRIDGE: "warn", MapType.NOT_SUPPORTED: "bad"}
MAP_MARK = {MapType.BUS_ADDR: "✔", MapType.THRU_HOST_BRIDGE: "◐", MapType.NOT_SUPPORTED: "✘"}


def summary(v: Verdict) -> list[Part]:
    """One line: certain (supported or not), or the facts it depends on."""
    if v.p2pdma_absent:
        kernel = v.profile.kernel if v.profile is not None else "?"
        return [("✘ P2PDMA is not in this kernel", "bad"), (f"  ({kernel}; it arrived in v4.20)", "muted")]
    if not v.certain:
        return [
            ("? depends on ", "warn"),
            ("; ".join(u.label for u in v.depends_on), "warn"),
            (f"  ({len(v.outcomes)} outcomes)", "muted"),
        ]
    if v.supported:
        return [("✔ P2P supported", "ok"), (f"  distance {v.distance}", "key")]
    return _refused(v)


def _refused(v: Verdict) -> list[Part]:
    refused = [c.client.name for c in v.clients if c.map_type is MapType.NOT_SUPPORTED and c.client is not None]
    why = f"  refused for {', '.join(refused)}" if refused else ""
    return [("✘ P2P not supported", "bad"), (f"  distance {v.distance}", "key"), (why, "bad")]


def outcome_rows(v: Verdict) -> list[Row]:
    """Under a "depends" headline: each outcome with the assumptions that give it, then what is unknown and how to
    learn it."""
    rows: list[Row] = []
    for o in v.outcomes:
        parts: list[Part] = []
        for k, cv in enumerate(o.verdict.clients):
            parts += [(", " if k else "", "muted"), map_type_part(cv), (f" {cv.distance}", "key")]
        parts.append(("  if " + o.when, "muted"))
        rows.append(("  outcome", parts))
    for u in v.depends_on:
        rows.append(("  unknown", [(u.label, "warn"), (f": {u.why}; learn it: {u.how}", "muted")]))
    return rows


def map_type_part(cv: ClientVerdict) -> Part:
    return (f"{MAP_MARK[cv.map_type]} {cv.map_type.value}", MAP_ROLE[cv.map_type])


def path_parts(cv: ClientVerdict) -> list[Part]:
    """provider → … → [common] → … → client; without a common device the path crosses the host bridge."""
    parts: list[Part] = []
    path = cv.path
    hits = {d.bdf for d in cv.acs_redirect}
    for i, dev in enumerate(path):
        if i:
            parts.append((" → ", "muted"))
            if cv.common is None and i == len(cv.provider_chain):
                parts += [("host bridge", "warn"), (" → ", "muted")]
        common = cv.common is not None and dev.bdf == cv.common.bdf
        role = "accent" if common else "bad" if dev.bdf in hits else ("name" if i in (0, len(path) - 1) else "")
        parts.append((f"[{dev.name}]" if common else dev.name, role))
    return parts


def iommu_story(cv: ClientVerdict, prof: KernelProfile) -> str:
    if cv.map_type is MapType.BUS_ADDR:
        where = f" at {cv.common.name}" if cv.common is not None else ""
        return f"bus address (CPU physical + bus offset); TLPs turn around{where}, the IOMMU never sees them"
    if cv.map_type is MapType.THRU_HOST_BRIDGE:
        if prof.iommu is IommuMode.TRANSLATED:
            return "mapped like RAM: an IOVA through the IOMMU (dma-iommu); traffic goes up to the root complex"
        if prof.iommu is IommuMode.PASSTHROUGH:
            return "mapped like RAM: identity IOVA = CPU physical (iommu=pt); traffic goes up to the root complex"
        if prof.iommu is IommuMode.UNKNOWN:
            return (
                "mapped like RAM: an IOVA if an IOMMU translates, else the CPU physical address (the IOMMU mode is "
                "unknown); traffic goes up to the root complex"
            )
        return "mapped like RAM: the CPU physical address (dma-direct); traffic goes up to the root complex"
    return "no mapping: dma_map fails with -EREMOTEIO (6.0+); the driver must bounce through host memory"


def client_rows(cv: ClientVerdict, prof: KernelProfile, topo_of: Callable[[Device], str] | None) -> list[Row]:
    name = cv.client.name if cv.client is not None else "(not PCI)"
    head: list[Part] = [map_type_part(cv), (f"  distance {cv.distance}", "key")]
    if topo_of is not None and cv.client is not None:
        head.append((f"  topo -m {topo_of(cv.client)}", "muted"))
    rows: list[Row] = [(name, head)]
    if cv.client is not None:
        rows.append(("  path", path_parts(cv)))
        if cv.common is not None:
            rows.append(("  common", [(cv.common.name, "accent"), (f" ({cv.common.kind.label})", "muted")]))
        else:
            rows.append(("  common", [("none: the path leaves the PCIe tree", "warn")]))
    if cv.acs_redirect:
        rows.append(
            (
                "  ACS hits",
                [
                    (", ".join(d.name for d in cv.acs_redirect), "bad"),
                    (" redirect P2P up to the root complex", "muted"),
                ],
            )
        )
    deciding = [h.device.name for h in cv.hops if h.assumed == "outcome"]
    if deciding:
        rows.append(("  ACS ?", [(", ".join(deciding), "warn"), (" unknown: the verdict depends on it", "muted")]))
    elif cv.acs_unknown:
        rows.append(("  ACS ?", [(", ".join(d.name for d in cv.acs_unknown), "warn"), (" not readable", "muted")]))
    rows.append(("  IOMMU", [(iommu_story(cv, prof), "")]))
    return rows


def verdict_rows(
    v: Verdict, prof: KernelProfile, topo_of: Callable[[Device], str] | None = None, fix: AcsFix | None = None
) -> list[Row]:
    rows: list[Row] = [("verdict", summary(v))]
    if not v.certain:
        rows.extend(outcome_rows(v))
        rows.append(("", [("worst outcome, importer by importer (what the gate judges by):", "muted")]))
    for cv in v.clients:
        rows.append(("", []))
        rows.extend(client_rows(cv, prof, topo_of))
    rows.append(("", []))
    if v.messages:
        for i, message in enumerate(v.messages):
            rows.append(("kernel log" if i == 0 else "", [(message, "warn" if "ACS" in message else "bad")]))
    else:
        rows.append(("kernel log", [("(nothing printed)", "muted")]))
    if v.disable_acs_redir:
        rows.append(("fix", [(v.disable_acs_redir, "accent"), ("  kernel command line, reboot", "muted")]))
        if fix is not None:
            after = "every importer BUS_ADDR after the reboot" if fix.works else "still not switch-local after it"
            rows.append(("  result", [(after, "ok" if fix.works else "bad")]))
            rows.extend(("  cost", [(line, "warn")]) for line in fix.cost)
            rows.extend(("  note", [(note, "muted")]) for note in fix.notes)
    rows.extend(("note", [(note, "muted")]) for note in v.notes)
    return rows


def compare_rows(before: Verdict, after: Verdict, label_after: str) -> list[Row]:
    """Per importer, the map type and distance as booted and under the what-if."""
    rows: list[Row] = [
        ("what-if", [(label_after, "accent")]),
        ("overall", [*summary(before)[:1], ("  →  ", ""), *summary(after)[:1]]),
    ]
    for b, a in zip(before.clients, after.clients, strict=False):
        name = b.client.name if b.client is not None else "?"
        same = b.map_type is a.map_type and b.distance == a.distance
        rows.append(
            (
                name,
                [
                    map_type_part(b),
                    (f" d{b.distance}", "muted"),
                    ("  →  ", ""),
                    map_type_part(a),
                    (f" d{a.distance}", "muted"),
                    ("  (same)" if same else "", "muted"),
                ],
            )
        )
    return rows
