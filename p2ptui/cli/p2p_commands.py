"""check and find-provider (matrix: matrix_command.py): what Linux's P2PDMA code decides, in words or JSON."""

from __future__ import annotations

import argparse
import json

from ..engine.backends import REAL
from ..errors import Diagnostic, InputError
from ..fabric import acs as acsbits
from ..fabric.endpoints import p2p_endpoints
from ..fabric.model import Device, Fabric
from ..p2p import report
from ..p2p.fix import acs_fix
from ..p2p.gate import ExpertMode, gate_acs_whatif, gate_transfer
from ..p2p.messages import NonPciClient
from ..p2p.profiles import ASSUME_HELP, KernelProfile, profile_for
from ..p2p.providers import find_provider
from ..p2p.verdict import ClientVerdict, HopRole, MapType, Verdict, check
from ..sources import open_fabric

EXIT_SUPPORTED, EXIT_NOT_SUPPORTED, EXIT_DEPENDS = 0, 1, 3
NONPCI_PREFIX = "nonpci:"
MAP_LETTER = {MapType.BUS_ADDR: "B", MapType.THRU_HOST_BRIDGE: "H", MapType.NOT_SUPPORTED: "N"}


def _profile_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--kernel",
        metavar="V",
        help="kernel whose rules apply: 4.20, 5.2, 5.4, 5.9, 5.14, 6.1, 6.12, "
        "7.1, latest, or a uname -r string (default: the fabric's)",
    )
    p.add_argument(
        "--cpu", metavar="VENDOR[:FAMILY]", help="intel, amd, amd:0x19 ...; FAMILY 0 to 0xfff (default: the fabric's)"
    )
    p.add_argument("--cmdline", metavar="STR", help="kernel command line, e.g. 'pci=disable_acs_redir=0000:02:00.0'")
    p.add_argument("--iommu", choices=("off", "pt", "on"), help="IOMMU mode (default: the fabric's)")
    p.add_argument(
        "--assume",
        metavar="FACT",
        action="append",
        default=[],
        help=f"fill a fact the fabric does not give (repeatable): {ASSUME_HELP}",
    )
    p.add_argument("--json", action="store_true", help="machine-readable output (fields in the README, JSON output)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("check", help="what Linux decides for P2P between a provider and its clients, and why")
    p.add_argument("fabric", metavar="FABRIC")
    p.add_argument("provider", metavar="PROVIDER", help="device whose P2P memory is used (name or BDF)")
    p.add_argument(
        "clients",
        metavar="CLIENT",
        nargs="+",
        help="devices that DMA to it (name or BDF; nonpci:NAME for a device that is not PCI)",
    )
    _profile_flags(p)
    p.add_argument("--expert", action="store_true", help="expert mode for the gate (off unless given)")
    p.set_defaults(run=cmd_check)

    p = sub.add_parser("find-provider", help="the P2P provider Linux would pick for these clients (find_many)")
    p.add_argument("fabric", metavar="FABRIC")
    p.add_argument("clients", metavar="CLIENT", nargs="+", help="devices that will use the memory")
    p.add_argument("--seed", type=int, help="seed for the kernel's random choice among ties")
    _profile_flags(p)
    p.set_defaults(run=cmd_find_provider)


def _profile(fabric: Fabric, args: argparse.Namespace) -> KernelProfile:
    return profile_for(
        fabric, kernel=args.kernel, cpu=args.cpu, cmdline=args.cmdline, iommu=args.iommu, assume=args.assume
    )


def _device(fabric: Fabric, ref: str, what: str) -> Device:
    try:
        return fabric.find(ref)
    except KeyError:
        ends = p2p_endpoints(fabric)
        names = ", ".join(d.name for d in ends[:12])
        more = " ..." if len(ends) > 12 else ""
        problem = Diagnostic(f"{what} {ref!r} is not in fabric {fabric.name!r}", hint=f"endpoints: {names}{more}")
        raise InputError(problem) from None


def _client(fabric: Fabric, ref: str) -> Device | NonPciClient:
    if ref.startswith(NONPCI_PREFIX):
        name = ref[len(NONPCI_PREFIX) :]
        if not name.strip():
            # The name is what the kernel's message prefix shows; an empty one would print "platform : ...".
            hint = "write nonpci:NAME, e.g. nonpci:dma0chan0 for a platform DMA engine"
            raise InputError(Diagnostic(f"client {ref!r} has no name", hint=hint))
        return NonPciClient(name=name)
    return _device(fabric, ref, "client")


def cmd_check(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    profile = _profile(fabric, args)
    provider = _device(fabric, args.provider, "provider")
    clients = [_client(fabric, ref) for ref in args.clients]
    verdict = check(fabric, provider, clients, profile)
    fix = acs_fix(fabric, verdict)
    expert = ExpertMode.from_cli(args.expert)
    gate = check_gates(fabric, verdict, fix, expert)
    if args.json:
        print(json.dumps(report.verdict_json(verdict, fix, gate, expert.enabled), indent=2))
    else:
        print(render_check(fabric, verdict, fix, gate, expert))
    if not verdict.certain:
        return EXIT_DEPENDS
    return EXIT_SUPPORTED if verdict.supported else EXIT_NOT_SUPPORTED


def _headline(verdict: Verdict) -> list[str]:
    """Certain or depends, first; for depends, each outcome with the assumptions that produce it."""
    if verdict.p2pdma_absent:
        kernel = verdict.profile.kernel if verdict.profile else "?"
        return [f"verdict (certain): P2PDMA is not in this kernel ({kernel}; it arrived in v4.20): no P2P"]
    if verdict.certain:
        ok = "P2P supported" if verdict.supported else "P2P NOT supported"
        return [f"verdict (certain): {ok}, distance {verdict.distance}"]
    lines = ["verdict: DEPENDS on " + "; ".join(u.label for u in verdict.depends_on)]
    for k, outcome in enumerate(verdict.outcomes, 1):
        v = outcome.verdict
        maps = ", ".join(f"{cv.map_type.value} {cv.distance}" for cv in v.clients)
        ok = "supported" if v.supported else "NOT supported"
        lines.append(f"  outcome {k}: {maps} (distance_many {v.distance}, P2P {ok}) if {outcome.when}")
    for u in verdict.depends_on:
        lines.append(f"  unknown: {u.label}: {u.why}; to learn it: {u.how}")
    return lines


def check_gates(fabric: Fabric, verdict: Verdict, fix, expert: ExpertMode) -> dict:
    """The gate's answers `check` reports: simulated and real transfers, and the ACS what-if when a fix exists."""
    provider = verdict.provider
    return {
        # Without a pool the simulator can still model direct DMA into the provider's BAR; real copies need p2pmem.
        "simulate": gate_transfer(fabric, verdict, expert, real=False, uses_pool=provider.pool is not None),
        REAL: gate_transfer(fabric, verdict, expert, real=True),
        "disable_acs_redir": gate_acs_whatif(fabric, fix.devices, expert) if fix else None,
    }


def check_text(fabric: Fabric, verdict: Verdict, expert: ExpertMode) -> str:
    """Exactly what `p2ptui check` prints for a verdict (the TUI copies this to the clipboard)."""
    fix = acs_fix(fabric, verdict)
    return render_check(fabric, verdict, fix, check_gates(fabric, verdict, fix, expert), expert)


def render_check(fabric, verdict: Verdict, fix, gate, expert: ExpertMode) -> str:
    profile = verdict.profile
    assert profile is not None
    prov = verdict.provider
    family = f" family {profile.cpu_family:#x}" if profile.cpu_family is not None else ""
    cpu = f"{profile.cpu_vendor or 'unknown CPU'}{family}"
    lines = [
        f"provider {prov.name} ({prov.bdf})",
        f"kernel: {profile.label}; CPU {cpu}; IOMMU {profile.iommu.value}",
        *_headline(verdict),
    ]
    if not verdict.certain:
        lines.append("worst outcome, path by path (what the gate judges by):")
    for cv in verdict.clients:
        lines.extend(_render_client(fabric, cv))
    ok = "P2P supported" if verdict.supported else "P2P NOT supported"
    if verdict.p2pdma_absent:
        ok = "no pci_p2pdma_distance_many in this kernel"
    lines.append(f"pci_p2pdma_distance_many: {verdict.distance}  ({ok}{'' if verdict.certain else ', worst outcome'})")
    lines.append("kernel messages:" if verdict.messages else "kernel messages: none")
    lines.extend(f"  {m}" for m in verdict.messages)
    if verdict.boot_messages:
        lines.append("at boot (ACS set-up):")
        lines.extend(f"  {m}" for m in verdict.boot_messages)
    if fix is not None:
        after = ", ".join(f"{cv.map_type.value}" for cv in fix.after.clients)
        lines.append(f"fix: add to the kernel command line: {fix.option}")
        lines.append(
            f"  after a reboot with it: {after}, distance {fix.after.distance} "
            f"({'fixes the path' if fix.works else 'does NOT fix the path'})"
        )
        lines.extend(f"  cost: {c}" for c in fix.cost)
        lines.extend(f"  note: {n}" for n in fix.notes)
    lines.append(f"gate (expert mode {'on' if expert.enabled else 'off'}):")
    for key, label in (
        ("simulate", "simulated transfer"),
        (REAL, "real transfer"),
        ("disable_acs_redir", "what-if without ACS redirect"),
    ):
        decision = gate.get(key)
        if decision is None:
            continue
        state = decision.decision.value + ("" if decision.permitted else " (not permitted now)")
        lines.append(f"  {label}: {state}")
        if decision.label:
            lines.append(f"    label: {decision.label}")
        lines.extend(f"    [{r.decision.value}] {r.text}" for r in decision.reasons)
        if decision.unlock_hint:
            lines.append(f"    {decision.unlock_hint}")
    lines.extend(f"note: {n}" for n in verdict.notes)
    return "\n".join(lines)


def _render_client(fabric: Fabric, cv: ClientVerdict) -> list[str]:
    if cv.client is None:
        name = cv.foreign.name if cv.foreign else "non-PCI device"
        return [f"client {name}: {cv.map_type.value}, distance {cv.distance} (not a PCI device)"]
    head = f"client {cv.client.name} ({cv.client.bdf}): {cv.map_type.value}, distance {cv.distance}"
    if not cv.hops:  # a kernel without P2PDMA walks nothing
        return [head + " (no P2PDMA in this kernel)"]
    if not cv.evaluated:
        head += " (the kernel stopped before this client)"
    out = [head]
    if cv.common is not None:
        why = (
            "turns around at the common device"
            if cv.map_type is MapType.BUS_ADDR
            else "ACS redirect sends it up to the root complex"
        )
        out.append(f"  path ({why}):")
    else:
        out.append("  path (no common upstream device: through the host bridge):")
    width = max(len(h.device.name) for h in cv.hops)
    top = len(cv.provider_chain) if cv.common is None else None
    for k, hop in enumerate(cv.hops):
        dev = hop.device
        if top is not None and k == top:
            out.extend(_host_bridges(fabric, cv))
        mark = "*" if hop.role is HopRole.COMMON else " "
        acs = ""
        if hop.unknown:
            acs = {
                None: "ACS unknown",
                "outcome": "ACS unknown (the verdict depends on it)",
                "--assume": f"ACS unknown, assumed {'set' if hop.redirects else 'clear'}",
            }[hop.assumed]
        elif hop.acs_present and hop.acs_ctrl is not None:
            acs = f"ACS {acsbits.describe(hop.acs_ctrl)}"
        if hop.redirects and hop.assumed != "outcome":
            acs += "  <- redirect"
        elif hop.ignored:
            acs += "  (redirect ignored: no common device)"
        role = "(common)" if mark == "*" else ""
        out.append(f"   {mark} {dev.name:<{width}}  {dev.bdf}  {dev.kind.label:<22} {role:<8} {acs}".rstrip())
    return out


def _host_bridges(fabric: Fabric, cv: ClientVerdict) -> list[str]:
    a = fabric.root_bus_of(cv.provider_chain[-1])
    b = fabric.root_bus_of(cv.client_chain[-1])
    if a.bus_id == b.bus_id:
        return [f"     == host bridge {a.host_bridge} =="]
    return [f"     == host bridge {a.host_bridge} ==", f"     == host bridge {b.host_bridge} =="]


def cmd_find_provider(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    profile = _profile(fabric, args)
    clients = [_client(fabric, ref) for ref in args.clients]
    search = find_provider(fabric, clients, profile, seed=args.seed)
    if args.json:
        print(json.dumps(report.search_json(search), indent=2))
    else:
        names = ", ".join(c.name if isinstance(c, (Device, NonPciClient)) else str(c) for c in clients)
        lines = [f"clients: {names}; {profile.label}", "candidates (published P2P memory, in the kernel's order):"]
        if not search.candidates:
            lines.append("  none: no published P2P memory in this fabric")
        best = {d.bdf for d in search.ties}
        mark = "  tie" if len(best) > 1 else "  best"
        for c in search.candidates:
            score = str(c.distance) if c.distance >= 0 else "-1 (not usable)"
            if not c.certain:
                score += "? (depends on unknown facts: " + " / ".join(str(d) for d in c.outcomes) + ")"
            lines.append(f"  {c.provider.name:<16} {c.provider.bdf}  {score}{mark if c.provider.bdf in best else ''}")
        if search.chosen is not None:
            how = f"random among {len(search.ties)} tied" if len(search.ties) > 1 else "the only best"
            seed = f", seed {search.seed}" if search.seed is not None else ""
            chosen = search.chosen
            lines.append(f"chosen: {chosen.name} ({chosen.bdf}), distance {search.distance} ({how}{seed})")
        else:
            lines.append("chosen: none (pci_p2pmem_find_many returns NULL)")
        lines.extend(f"kernel: {m}" for m in search.messages)
        print("\n".join(lines))
    return EXIT_SUPPORTED if search.found else EXIT_NOT_SUPPORTED
