"""Commands about fabrics themselves: the gallery, showing and validating."""

from __future__ import annotations

import argparse
import json

from ..fabric.endpoints import p2p_endpoints
from ..formats.export import fabric_to_dict
from ..formats.gallery import bundled
from ..formats.input_paths import display
from ..sources import open_fabric
from .arguments import path_argument
from .tree import render_fabric


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fabrics", help="list the bundled sample fabrics")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(run=cmd_fabrics)

    p = sub.add_parser("show", help="print a fabric's tree (like lspci -tv) with links, ACS and P2P pools")
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
    p.add_argument("--json", action="store_true", help="the whole model as JSON")
    p.set_defaults(run=cmd_show)

    p = sub.add_parser("validate", help="check a fabric file and report every problem with its line")
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
    p.set_defaults(run=cmd_validate)


def cmd_fabrics(args: argparse.Namespace) -> int:
    entries = bundled()
    if args.json:
        print(json.dumps([{"name": e.name, "title": e.title, "description": e.description} for e in entries], indent=2))
        return 0
    width = max((len(e.name) for e in entries), default=0)
    for e in entries:
        print(f"{e.name:<{width}}  {e.description}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    if args.json:
        print(json.dumps(fabric_to_dict(fabric), indent=2))
    else:
        print(render_fabric(fabric))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    bridges = sum(1 for d in fabric.devices if d.kind.is_bridge)
    print(
        f"{display(args.fabric)}: ok: {fabric.name}, {len(fabric.root_buses)} root buses, {len(fabric)} functions "
        f"({len(p2p_endpoints(fabric))} P2P endpoints of {len(fabric.endpoints())} non-bridge functions, "
        f"{bridges} bridges, {len(fabric.providers(False))} P2P pools)"
    )
    return 0


def welcome(parser: argparse.ArgumentParser) -> int:
    """What bare ``p2ptui`` does until the TUI launcher exists: the help, then the gallery to try it on."""
    parser.print_help()
    print("\nbundled fabrics (try: p2ptui show NAME):")
    for e in bundled():
        print(f"  {e.name:<28} {e.description}")
    return 0
