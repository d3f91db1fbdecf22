"""The kernel's verdict as rows: the headline (certain, or the outcomes it depends on), per client the map type,
distance and topo -m class, the path hop by hop with the common device and each hop's ACS, the IOMMU story; then
the kernel's messages, the ACS fix with its cost, and (for ``p2ptui check``) the gate.

The TUI's verdict pane shows :func:`verdict_rows`; ``p2ptui check`` prints :func:`check_rows`, which are the same
rows between a header naming the provider and kernel and the gate's answers. Every fact comes from the records the
P2P core computed (``Verdict``, ``ClientVerdict`` and its ``Hop`` records, ``AcsFix``, ``GateDecision``).
"""

from __future__ import annotations

from ..engine.backends import REAL
from ..errors import InputError
from ..fabric import acs as acsbits
from ..fabric.model import Fabric, IommuMode
from ..p2p.fix import AcsFix, acs_fix
from ..p2p.gate import ExpertMode, GateDecision, gate_acs_whatif, gate_transfer
from ..p2p.profiles import KernelProfile
from ..p2p.verdict import ClientVerdict, Hop, HopRole, MapType, Verdict
from .rows import Part, Row, rows_text

MAP_ROLE = {MapType.BUS_ADDR: "ok", MapType.THRU_HOST_BRIDGE: "warn", MapType.NOT_SUPPORTED: "bad"}
MAP_MARK = {MapType.BUS_ADDR: "✔", MapType.THRU_HOST_BRIDGE: "◐", MapType.NOT_SUPPORTED: "✘"}


def refusal_rows(error: InputError) -> list[Row]:
    """A verdict p2ptui declines to weigh (too many unknown facts combine), as the rows `check` prints it in words:
    the same message and hint the CLI gives on its error line."""
    rows: list[Row] = [("verdict", [("? not weighed", "warn")])]
    for d in error.diagnostics:
        rows.append(("why", [(d.message, "")]))
        if d.hint:
            rows.append(("", [(d.hint, "muted")]))
    return rows


def summary(v: Verdict) -> list[Part]:
    """One line: certain (supported or not), or the facts it depends on."""
    if v.p2pdma_absent:
        kernel = v.profile.kernel if v.profile is not None else "?"
        return [("✘ P2PDMA is not in this kernel", "bad"), (f"  ({kernel}; it arrived in v4.20): no P2P", "muted")]
    if not v.certain:
        return [
            ("? depends on ", "warn"),
            ("; ".join(u.label for u in v.depends_on), "warn"),
            (f"  ({len(v.outcomes)} outcomes; worst distance {v.distance})", "muted"),
        ]
    if v.supported:
        return [("✔ P2P supported", "ok"), (f"  distance {v.distance}", "key")]
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


def hop_acs_parts(hop: Hop) -> list[Part]:
    """What the kernel saw at one hop: the live ACS control, or why it is unknown, and whether it redirects."""
    parts: list[Part] = []
    if hop.unknown:
        text = {
            None: "ACS unknown",
            "outcome": "ACS unknown (the verdict depends on it)",
            "--assume": f"ACS unknown, assumed {'set' if hop.redirects else 'clear'}",
        }[hop.assumed]
        parts.append((text, "warn"))
    elif hop.acs_present and hop.acs_ctrl is not None:
        parts.append((f"ACS {acsbits.describe(hop.acs_ctrl)}", "muted"))
    if hop.redirects and hop.assumed != "outcome":
        parts.append(("← redirect" if not parts else "  ← redirect", "bad"))
    elif hop.ignored:
        parts.append(
            ("(redirect ignored: no common device)" if not parts else "  (redirect ignored: no common device)", "muted")
        )
    return parts


def hop_rows(fabric: Fabric, cv: ClientVerdict) -> list[Row]:
    """The path as a table, one hop a row: the common device marked, the host bridges where the path leaves the
    tree, each hop's ACS."""
    top = len(cv.provider_chain) if cv.common is None else None
    rows: list[Row] = []
    for k, hop in enumerate(cv.hops):
        if top is not None and k == top:
            rows.extend(("", [(f"== host bridge {name} ==", "warn")]) for name in _host_bridges(fabric, cv))
        dev = hop.device
        common = hop.role is HopRole.COMMON
        # No column padding: the TUI's pane is narrow and wraps each row under its own value column.
        parts: list[Part] = [
            (dev.name, "accent" if common else "name"),
            (" (common)" if common else "", "accent"),
            (f"  {dev.bdf.short()}  {dev.kind.label}", "muted"),
        ]
        acs = hop_acs_parts(hop)
        rows.append(("  hops" if k == 0 else "", parts + ([("  ", "")] + acs if acs else [])))
    return rows


def _host_bridges(fabric: Fabric, cv: ClientVerdict) -> list[str]:
    a = fabric.root_bus_of(cv.provider_chain[-1])
    b = fabric.root_bus_of(cv.client_chain[-1])
    return [a.host_bridge] if a.bus_id == b.bus_id else [a.host_bridge, b.host_bridge]


def client_head(cv: ClientVerdict) -> Row:
    """One line per client under the headline: its map type, distance, topo -m class and address."""
    if cv.client is None:
        name = cv.foreign.name if cv.foreign is not None else "(not PCI)"
        return (name, [map_type_part(cv), (f"  distance {cv.distance}", "key"), ("  not a PCI device", "muted")])
    head: list[Part] = [map_type_part(cv), (f"  distance {cv.distance}", "key")]
    if cv.topo is not None:
        head.append((f"  topo -m {cv.topo.value}", "muted"))
    return (cv.client.name, head + [(f"  ({cv.client.bdf})", "muted")])


def client_rows(fabric: Fabric, cv: ClientVerdict, prof: KernelProfile) -> list[Row]:
    """A client's path in detail, under its name."""
    if cv.client is None:
        return []
    rows: list[Row] = [("", []), (cv.client.name, [])]
    if not cv.hops:  # a kernel without P2PDMA walks nothing
        return rows + [("", [("no P2PDMA in this kernel: no path walked", "muted")])]
    if not cv.evaluated:
        rows.append(("", [("the kernel stopped before this client", "warn")]))
    rows.append(("  path", path_parts(cv)))
    if cv.common is not None:
        why = "turns around here" if cv.map_type is MapType.BUS_ADDR else "ACS redirect sends it up to the root complex"
        rows.append(("  common", [(cv.common.name, "accent"), (f" ({cv.common.kind.label}): {why}", "muted")]))
    else:
        rows.append(("  common", [("none: the path leaves the PCIe tree through the host bridge", "warn")]))
    rows.extend(hop_rows(fabric, cv))
    if cv.acs_redirect:
        hits = ", ".join(d.name for d in cv.acs_redirect)
        rows.append(("  ACS hits", [(hits, "bad"), (" redirect P2P up to the root complex", "muted")]))
    deciding = [h.device.name for h in cv.hops if h.assumed == "outcome"]
    if deciding:
        rows.append(("  ACS ?", [(", ".join(deciding), "warn"), (" unknown: the verdict depends on it", "muted")]))
    elif cv.acs_unknown:
        rows.append(("  ACS ?", [(", ".join(d.name for d in cv.acs_unknown), "warn"), (" not readable", "muted")]))
    rows.append(("  IOMMU", [(iommu_story(cv, prof), "")]))
    return rows


def fix_rows(fix: AcsFix) -> list[Row]:
    after = ", ".join(cv.map_type.value for cv in fix.after.clients)
    result = "fixes the path" if fix.works else "does NOT fix the path"
    rows: list[Row] = [
        ("fix", [(fix.option, "accent")]),  # alone on its line: copied from the terminal as it is
        ("", [("add it to the kernel command line and reboot", "muted")]),
        (
            "  result",
            [(f"after the reboot: {after}, distance {fix.after.distance} ", ""), (f"({result})", _ok(fix.works))],
        ),
    ]
    rows.extend(("  cost", [(line, "warn")]) for line in fix.cost)
    rows.extend(("  note", [(note, "muted")]) for note in fix.notes)
    return rows


def verdict_rows(fabric: Fabric, v: Verdict, fix: AcsFix | None = None) -> list[Row]:
    """The verdict pane (and the middle of ``p2ptui check``)."""
    assert v.profile is not None, "a verdict from p2p.verdict.check carries its profile"
    # The answer first (headline, each client's map type, the kernel's own words, the fix), then each client's path
    # in detail: a small pane shows what matters without scrolling, and the command's output reads the same way.
    rows: list[Row] = [("verdict", summary(v))]
    rows.extend(outcome_rows(v))
    if not v.certain:
        rows.append(("", [("worst outcome, client by client (what the gate judges by):", "muted")]))
    rows.extend(client_head(cv) for cv in v.clients)
    if v.messages:
        for i, message in enumerate(v.messages):
            rows.append(("kernel log" if i == 0 else "", [(message, "warn" if "ACS" in message else "bad")]))
    else:
        rows.append(("kernel log", [("(nothing printed)", "muted")]))
    for i, message in enumerate(v.boot_messages):
        rows.append(("at boot" if i == 0 else "", [(message, "muted")]))
    if fix is not None:
        rows.extend(fix_rows(fix))
    rows.extend(("note", [(note, "muted")]) for note in v.notes)
    for cv in v.clients:
        rows.extend(client_rows(fabric, cv, v.profile))
    return rows


def compare_rows(before: Verdict, after: Verdict, label_after: str) -> list[Row]:
    """Per client, the map type and distance as booted and under the what-if."""
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


# -- p2ptui check ---------------------------------------------------------------------------------------------------
# The gate's actions in the order `check` reports them: (row key, what the action is).
GATE_ACTIONS = {
    "simulate": ("  simulated", "a simulated transfer"),
    REAL: ("  real", "a real transfer"),
    "disable_acs_redir": ("  what-if", "the what-if without ACS redirect"),
}


def check_gates(fabric: Fabric, verdict: Verdict, fix: AcsFix | None, expert: ExpertMode) -> dict:
    """The gate's answers `check` reports: simulated and real transfers, and the ACS what-if when a fix exists."""
    provider = verdict.provider
    return {
        # Without a pool the simulator can still model direct DMA into the provider's BAR; real copies need p2pmem.
        "simulate": gate_transfer(fabric, verdict, expert, real=False, uses_pool=provider.pool is not None),
        REAL: gate_transfer(fabric, verdict, expert, real=True),
        "disable_acs_redir": gate_acs_whatif(fabric, fix.devices, expert) if fix else None,
    }


def gate_rows(gate: dict[str, GateDecision | None], expert: ExpertMode) -> list[Row]:
    rows: list[Row] = [("gate", [(f"expert mode {'on' if expert.enabled else 'off'}", "muted")])]
    for action, (key, label) in GATE_ACTIONS.items():
        decision = gate.get(action)
        if decision is None:
            continue
        state = decision.decision.value + ("" if decision.permitted else " (not permitted now)")
        rows.append((key, [(state, _ok(decision.permitted)), (f"  {label}", "muted")]))
        if decision.label:
            rows.append(("", [(decision.label, "warn")]))
        rows.extend(("", [(f"[{r.decision.value}] ", _ok(not r.blocking)), (r.text, "")]) for r in decision.reasons)
        if decision.unlock_hint:
            rows.append(("", [(decision.unlock_hint, "muted")]))
    return rows


def check_rows(
    fabric: Fabric, verdict: Verdict, fix: AcsFix | None, gate: dict[str, GateDecision | None], expert: ExpertMode
) -> list[Row]:
    """What ``p2ptui check`` prints: provider and kernel, the verdict pane's rows, the gate."""
    profile = verdict.profile
    assert profile is not None, "a verdict from p2p.verdict.check carries its profile"
    prov = verdict.provider
    family = f" family {profile.cpu_family:#x}" if profile.cpu_family is not None else ""
    cpu = f"{profile.cpu_vendor or 'unknown CPU'}{family}"
    return [
        ("provider", [(prov.name, "name"), (f" ({prov.bdf})", "muted")]),
        ("kernel", [(profile.label, ""), (f"; CPU {cpu}; IOMMU {profile.iommu.value}", "muted")]),
        *verdict_rows(fabric, verdict, fix),
        ("", []),
        *gate_rows(gate, expert),
    ]


def check_text(fabric: Fabric, verdict: Verdict, expert: ExpertMode) -> str:
    """Exactly what ``p2ptui check`` prints for a verdict (the TUI copies this to the clipboard)."""
    fix = acs_fix(fabric, verdict)
    return rows_text(check_rows(fabric, verdict, fix, check_gates(fabric, verdict, fix, expert), expert))


def _ok(good: bool) -> str:
    return "ok" if good else "bad"
