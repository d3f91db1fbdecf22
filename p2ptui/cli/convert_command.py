"""``p2ptui convert IN OUT``: read a fabric from any source and write it as YAML, JSON, Graphviz DOT or GraphML."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..formats.gallery import find_bundled
from ..formats.input_paths import display
from ..formats.safe_write import check_target, refuse_input_as_output
from ..formats.writers import FORMATS, format_for, write_fabric
from ..sources import open_fabric, sysfs
from ..sources.stdin_input import STDIN
from .arguments import path_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "convert",
        help="convert a fabric (YAML, sysfs, lspci, hwloc or NCCL XML) to YAML, JSON, Graphviz DOT or GraphML",
        description="Read IN (anything FABRIC accepts) and write it to OUT; OUT's extension picks the format: "
        f"{', '.join(FORMATS)}. YAML output loads back as the same fabric. OUT is written atomically; an existing "
        "OUT is replaced only with --force, and never when it is IN itself, a link, a directory or a device.",
    )
    p.add_argument("input", type=path_argument, metavar="IN", help="the fabric to read")
    p.add_argument(
        "output",
        type=path_argument,
        metavar="OUT",
        help="the file to write (.yaml, .yml, .json, .dot, .gv or .graphml)",
    )
    p.add_argument("-f", "--force", action="store_true", help="replace OUT if it is an existing regular file")
    p.set_defaults(run=cmd_convert)


def cmd_convert(args: argparse.Namespace) -> int:
    # Everything about OUT is checked before reading a possibly large input.
    format_for(args.output)
    refuse_input_as_output(_input_path(args.input), args.output, args.input)
    check_target(args.output, overwrite=args.force)
    fabric = open_fabric(args.input)
    fmt = write_fabric(fabric, args.output, overwrite=args.force)
    print(f"{display(args.output)}: {fmt}, {fabric.name}: {len(fabric.root_buses)} root buses, {len(fabric)} functions")
    for note in fabric.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0


def _input_path(ref: str) -> Path | None:
    """The file or directory IN reads, as open_fabric resolves it (a bundled name when no such path exists)."""
    if ref in (sysfs.LOCAL, STDIN):
        return None
    if os.path.lexists(ref):
        return Path(ref)
    return find_bundled(ref)
