"""``p2ptui scan``: read this machine's PCI tree from sysfs (or a sysfs root / snapshot) and write it as YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..formats import dumps_fabric, save_fabric
from ..formats.input_paths import check_input, display
from ..formats.safe_write import check_target, refuse_input_as_output
from ..sources import sysfs
from ..sources.text_safety import printable_fabric
from .arguments import path_argument


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "scan",
        help="read this machine's PCI tree from sysfs (or a sysfs root or snapshot) and write it as a YAML fabric",
        description="Read the PCI tree, link states, ACS registers, P2P pools and host facts from sysfs and write "
        "them as a YAML fabric. Without root, config space shows only 64 bytes, so ACS is left unknown (said on "
        "stderr). Notes about what could not be read go to stderr.",
    )
    p.add_argument(
        "root",
        nargs="?",
        default=sysfs.LOCAL,
        type=path_argument,
        metavar="ROOT",
        help="'local' (default: this machine), a directory holding sys/ (and proc/), or a tarball snapshot of one",
    )
    p.add_argument(
        "-o",
        "--output",
        type=path_argument,
        metavar="OUT",
        help="write the YAML here (atomically) instead of standard output; an existing file only with --force",
    )
    p.add_argument("-f", "--force", action="store_true", help="replace OUT if it is an existing regular file")
    p.set_defaults(run=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    to_file = bool(args.output) and args.output != "-"
    if to_file:  # before the scan, which can take a while
        refuse_input_as_output(None if args.root == sysfs.LOCAL else args.root, args.output, args.root)
        check_target(args.output, overwrite=args.force)
    if args.root != sysfs.LOCAL and check_input(args.root) is None:  # FIFOs and devices refused before opening
        raise InputError(Diagnostic("no such file or directory", Location(display(args.root)), sysfs.ROOT_HINT))
    # Names that are not UTF-8 (the snapshot's file name ends up in the description) are written escaped.
    fabric = printable_fabric(sysfs.load_local() if args.root == sysfs.LOCAL else sysfs.load(Path(args.root)))
    if to_file:
        save_fabric(fabric, args.output, overwrite=args.force)
    else:
        sys.stdout.write(dumps_fabric(fabric))
    for note in fabric.notes:
        print(f"p2ptui: note: {note}", file=sys.stderr)
    where = f" -> {display(args.output)}" if to_file else ""
    buses = len(fabric.root_buses)
    print(
        f"p2ptui: scanned {len(fabric)} PCI functions on {buses} root bus{'es' if buses != 1 else ''}{where}",
        file=sys.stderr,
    )
    return 0
