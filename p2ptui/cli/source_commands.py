"""``p2ptui scan``: read this machine's PCI tree from sysfs (or a sysfs root / snapshot) and write it as YAML."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric import dumps_fabric, save_fabric
from ..sources import sysfs


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
        metavar="ROOT",
        help="'local' (default: this machine), a directory holding sys/ (and proc/), or a tarball snapshot of one",
    )
    p.add_argument("-o", "--output", metavar="OUT", help="write the YAML here instead of standard output")
    p.set_defaults(run=cmd_scan)


def cmd_scan(args: argparse.Namespace) -> int:
    fabric = sysfs.load_local() if args.root == sysfs.LOCAL else sysfs.load(Path(args.root))
    if args.output and args.output != "-":
        try:
            save_fabric(fabric, args.output)
        except OSError as exc:
            raise InputError(Diagnostic(f"cannot write: {exc.strerror or exc}", Location(args.output))) from None
    else:
        sys.stdout.write(dumps_fabric(fabric))
    for note in fabric.notes:
        print(f"p2ptui: note: {note}", file=sys.stderr)
    where = f" -> {args.output}" if args.output and args.output != "-" else ""
    buses = len(fabric.root_buses)
    print(
        f"p2ptui: scanned {len(fabric)} PCI functions on {buses} root bus{'es' if buses != 1 else ''}{where}",
        file=sys.stderr,
    )
    return 0
