"""The commands that open the Textual TUI: bare ``p2ptui``, ``p2ptui FABRIC``, ``demo`` and ``screenshot``.

Textual is imported only inside the functions that start it, so the rest of the CLI (and scripts that import
p2ptui.cli) never load it. Without a terminal on stdout (pipes, CI) nothing interactive starts: bare ``p2ptui``
prints the help and the gallery, ``p2ptui FABRIC`` prints the tree as ``show`` does.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, InputError
from ..fabric.model import Fabric
from ..sources import open_fabric
from . import fabric_commands
from .arguments import path_argument

OPEN_COMMAND = "open"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(OPEN_COMMAND, help="open a fabric in the TUI (same as 'p2ptui FABRIC')")
    p.add_argument(
        "fabric", type=path_argument, metavar="FABRIC", help="fabric file, snapshot, dump, bundled name, or 'local'"
    )
    p.set_defaults(run=cmd_open)

    p = sub.add_parser("demo", help="play a scripted tour of the TUI, with captions; ends by itself")
    p.add_argument("--fast", action="store_true", help="no pauses between steps (for tests)")
    p.add_argument("--headless", action="store_true", help="run without a terminal and print the captions")
    p.set_defaults(run=cmd_demo)

    p = sub.add_parser("screenshot", help="write SVG screenshots of every screen (the demo's steps)")
    p.add_argument(
        "--out",
        type=path_argument,
        default="screenshots",
        metavar="DIR",
        help="output directory (default: screenshots)",
    )
    p.add_argument("--size", default="120x40", metavar="WxH", help="terminal size (default: 120x40)")
    p.set_defaults(run=cmd_screenshot)


def route_fabric_argument(parser: argparse.ArgumentParser, argv: list[str]) -> list[str]:
    """``p2ptui FABRIC`` means ``p2ptui open FABRIC``: a first positional that is no command names a fabric."""
    commands: set[str] = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            commands.update(action.choices)
    # Top-level options with a value (--pci-ids FILE): the value is no fabric.
    valued = {s for action in parser._actions if action.nargs != 0 for s in action.option_strings}
    skip = False
    for i, arg in enumerate(argv):
        if skip or arg.startswith("-"):
            skip = not skip and arg in valued
            continue
        if arg in commands:
            return argv
        return argv[:i] + [OPEN_COMMAND] + argv[i:]
    return argv


def interactive() -> bool:
    return sys.stdout.isatty() and sys.stdin.isatty()


def bare(parser: argparse.ArgumentParser) -> int:
    """Bare ``p2ptui``: the launcher in a terminal, the help and the gallery otherwise."""
    if not interactive():
        return fabric_commands.welcome(parser)
    launch()
    return 0


def cmd_open(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)  # bad input fails here, as a CLI error, before any screen opens
    if not interactive():
        from .tree import render_fabric

        print(render_fabric(fabric))
        print("(not a terminal: printed the tree; run in a terminal for the TUI)", file=sys.stderr)
        return 0
    launch(fabric)
    return 0


def launch(fabric: Fabric | None = None, **options: Any) -> None:
    """Start the TUI: the CLI's one import of p2ptui.tui (import-linter's layers contract names it)."""
    from ..tui import make_app

    make_app(fabric, **options).run()


def cmd_demo(args: argparse.Namespace) -> int:
    from ..tui import play

    stdout = sys.stdout  # the CLI's guarded stream: Textual redirects print() while it runs, past that guard

    def caption(line: str) -> None:
        stdout.write(line + "\n")
        stdout.flush()  # a full or closed standard output fails here, as an OutputError (exit 2), not at exit

    return play(fast=args.fast, headless=args.headless or not interactive(), out=caption)


def cmd_screenshot(args: argparse.Namespace) -> int:
    from ..tui import write_screenshots  # checks the size's range and the output directory before the tour

    for path in write_screenshots(Path(args.out), _screen_size(args.size)):
        print(path)
    return 0


def _screen_size(text: str) -> tuple[int, int]:
    parts = text.lower().split("x")
    try:
        if len(parts) != 2 or not all(part.strip().isdecimal() for part in parts):
            raise ValueError(text)
        width, height = (int(part) for part in parts)
    except ValueError:  # also from int() of thousands of digits
        raise InputError(Diagnostic(f"--size {text!r}: expected WIDTHxHEIGHT, e.g. 120x40")) from None
    return width, height
