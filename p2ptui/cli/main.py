"""Argument parsing and the one place where errors become messages and exit codes.

Exit codes: 0 success, 1 a negative answer (e.g. P2P not supported), 2 bad input. Input errors print one line per
problem and never a traceback unless --debug is given.
"""

from __future__ import annotations

import argparse
import sys
import traceback

from .. import __version__
from ..errors import InputError
from . import convert_command, copy_command, fabric_commands, p2p_commands, source_commands, tui_commands

EXIT_OK = 0
EXIT_INPUT = 2

COMMAND_MODULES = (fabric_commands, source_commands, convert_command, tui_commands, p2p_commands, copy_command)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2ptui",
        description="Explore and operate PCIe peer-to-peer DMA fabrics: switch trees, the kernel's P2P verdict, "
        "transfers. FABRIC is a YAML fabric, a sysfs root or tarball snapshot, lspci output, hwloc or NCCL XML, a "
        "bundled fabric's name (see 'p2ptui fabrics'), or 'local' for this machine.",
    )
    parser.add_argument("--version", action="version", version=f"p2ptui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = tui_commands.route_fabric_argument(parser, list(sys.argv[1:] if argv is None else argv))
    args = parser.parse_args(argv)
    try:
        if args.command is None:
            return tui_commands.bare(parser)
        return args.run(args)
    except InputError as exc:
        if args.debug:
            traceback.print_exc()
        for diagnostic in exc.diagnostics:
            if diagnostic.location is not None:
                hint = f" ({diagnostic.hint})" if diagnostic.hint else ""
                print(f"{diagnostic.location}: error: {diagnostic.message}{hint}", file=sys.stderr)
            else:
                print(f"p2ptui: error: {diagnostic}", file=sys.stderr)
        return EXIT_INPUT
    except BrokenPipeError:
        # Output piped into head and the like: not an error of ours.
        sys.stderr.close()
        return EXIT_OK
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
