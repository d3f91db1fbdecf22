"""``p2ptui convert IN OUT``: read a fabric from any source and write it as YAML, JSON or Graphviz DOT."""

from __future__ import annotations

import argparse
import sys

from ..sources import open_fabric
from ..sources.writers import FORMATS, format_for, write_fabric


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a fabric (YAML, sysfs, lspci, hwloc or NCCL XML) to YAML, JSON or Graphviz DOT",
        description="Read IN (anything FABRIC accepts) and write it to OUT; OUT's extension picks the format: "
        f"{', '.join(FORMATS)}. YAML output loads back as the same fabric.",
    )
    p.add_argument("input", metavar="IN", help="the fabric to read")
    p.add_argument("output", metavar="OUT", help="the file to write (.yaml, .yml, .json, .dot or .gv)")
    p.set_defaults(run=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    format_for(args.output)  # a bad extension is reported before reading a possibly large input
    fabric = open_fabric(args.input)
    fmt = write_fabric(fabric, args.output)
    print(f"{args.output}: {fmt}, {fabric.name}: {len(fabric.root_buses)} root buses, {len(fabric)} functions")
    for note in fabric.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
