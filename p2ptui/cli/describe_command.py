"""describe: a fabric's or a device's facts as the TUI's detail pane shows them, one "key value" line per row.

The rows come from the presentation layer (p2ptui/present/device.py); the ACS redirect state is derived under the
same kernel profile the TUI uses when it opens the fabric (the fabric's own, or the flags given here).
"""

from __future__ import annotations

import argparse
import json

from ..p2p.fabric_state import acs_redirect_states
from ..present.device import device_rows, fabric_rows
from ..present.rows import Row, rows_text
from ..sources import open_fabric
from .arguments import path_argument
from .p2p_commands import _device, _profile, _profile_flags


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("describe", help="a fabric's or its devices' facts, as the TUI's detail pane shows them")
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
    p.add_argument("devices", metavar="DEVICE", nargs="*", help="devices to describe (name or BDF; none: the fabric)")
    _profile_flags(p)
    p.set_defaults(run=cmd_describe)


def cmd_describe(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    profile = _profile(fabric, args)
    devices = [_device(fabric, ref, "device") for ref in args.devices]
    if devices:
        redirect = acs_redirect_states(fabric, profile)
        blocks = [device_rows(fabric, dev, redirect[dev.bdf]) for dev in devices]
    else:
        blocks = [fabric_rows(fabric)]
    if args.json:
        print(json.dumps([rows_json(rows) for rows in blocks], indent=2))
    else:
        print("\n\n".join(rows_text(rows) for rows in blocks))
    return 0


def rows_json(rows: list[Row]) -> list[dict]:
    """Rows as JSON: each with its key and its parts' text and role (what the TUI styles)."""
    return [{"key": key, "parts": [{"text": t, "role": r} for t, r in parts if t]} for key, parts in rows]
