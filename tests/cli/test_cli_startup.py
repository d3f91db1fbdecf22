"""Start-up: each command imports only its own module; --help still lists every command with its module's help."""

import argparse
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

from p2ptui.cli.main import COMMANDS, build_parser, main

ROOT = Path(__file__).resolve().parents[2]


def _imported_after(argv: list[str]) -> set[str]:
    """The modules a fresh interpreter holds after running ``p2ptui ARGV`` (output discarded)."""
    code = (
        "import io, json, sys, contextlib\n"
        "from p2ptui.cli.main import main\n"
        "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
        f"    main({argv!r})\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return set(json.loads(done.stdout))


def test_the_table_says_what_each_module_registers():
    # Wide enough that argparse never wraps a command's help; a long name puts its help on the next line.
    full = argparse.ArgumentParser(formatter_class=lambda prog: argparse.HelpFormatter(prog, width=10_000))
    sub = full.add_subparsers(metavar="COMMAND")
    for module in sorted({c.module for c in COMMANDS}):
        importlib.import_module(f"p2ptui.cli.{module}").register(sub)
    assert sorted(sub.choices) == sorted(c.name for c in COMMANDS)
    listed = dict(re.findall(r"^    (\S+)\s+(.+)$", full.format_help(), re.MULTILINE))
    assert listed == {c.name: c.help for c in COMMANDS}


def test_help_lists_every_command_in_table_order(capsys):
    try:
        main(["--help"])
    except SystemExit as exc:
        assert exc.code == 0
    text = capsys.readouterr().out
    positions = [text.index(f"\n    {c.name}") for c in COMMANDS]
    assert positions == sorted(positions)


def test_a_command_parser_has_its_full_arguments_and_the_others_only_their_names():
    parser = build_parser("show")
    args = parser.parse_args(["show", "nvmeof-target", "--json"])
    assert args.json and args.fabric == "nvmeof-target" and callable(args.run)


def test_version_imports_no_command_and_no_core():
    mods = _imported_after(["--version"])
    allowed = {"p2ptui.cli", "p2ptui.cli.main", "p2ptui.cli.streams"}  # streams: encodings set before any output
    assert not {m for m in mods if m.startswith("p2ptui.") and m not in allowed}
    assert not {m for m in mods if m.startswith(("asyncio", "numpy", "yaml", "textual", "typing", "dataclasses"))}


def test_show_of_a_yaml_fabric_imports_no_numpy_engine_tui_or_other_reader():
    mods = _imported_after(["show", "nvmeof-target"])
    assert "p2ptui.cli.fabric_commands" in mods
    unwanted = ("numpy", "textual", "p2ptui.engine", "p2ptui.tui", "p2ptui.p2p", "p2ptui.cli.copy_command")
    assert not {m for m in mods if m.startswith(unwanted)}
    readers = {"p2ptui.sources." + r for r in ("sysfs", "hwloc", "nccl", "lspci", "tarball")}
    assert not mods & readers
