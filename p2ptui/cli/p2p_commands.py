"""check and find-provider (matrix: matrix_command.py): what Linux's P2PDMA code decides, in words or JSON.

``check`` prints the presentation layer's rows (p2ptui/present/verdict.py) plain: the TUI's verdict pane shows the
same rows styled."""

from __future__ import annotations

import argparse
import json

from ..errors import Diagnostic, InputError
from ..fabric.endpoints import p2p_endpoints
from ..fabric.model import Device, Fabric
from ..p2p import report
from ..p2p.fix import acs_fix
from ..p2p.gate import ExpertMode
from ..p2p.messages import NonPciClient
from ..p2p.profiles import ASSUME_HELP, KernelProfile, profile_for
from ..p2p.providers import find_provider
from ..p2p.verdict import MapType, check
from ..present.rows import rows_text
from ..present.verdict import check_gates, check_rows
from ..sources import open_fabric
from .arguments import path_argument

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
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
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
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
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
        print(rows_text(check_rows(fabric, verdict, fix, gate, expert)))
    if not verdict.certain:
        return EXIT_DEPENDS
    return EXIT_SUPPORTED if verdict.supported else EXIT_NOT_SUPPORTED


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
