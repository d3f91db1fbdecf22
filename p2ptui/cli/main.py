"""Argument parsing and the one place where errors become messages and exit codes.

Exit codes: 0 success, 1 a negative answer (e.g. P2P not supported), 2 bad input or output that cannot be written
(a full disk, a closed standard output, an existing file without --force), 128 + the signal for a copy cancelled by
SIGINT, SIGTERM or SIGHUP (signals.py). Input and output errors print one line
per problem and never a traceback unless --debug is given. Output piped into ``head`` that stops reading early is
not an error.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import os
import sys
from collections.abc import Callable, Iterable

from .. import __version__
from . import streams

# Start-up: this module is all ``p2ptui --version`` and ``--help`` import. typing, dataclasses (via p2ptui.errors)
# traceback, asyncio (via signals.py) and the fabric package (via pciids) cost as much as Python's own start, so they
# are imported where needed, not here.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TextIO

    from ..errors import InputError

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_OUTPUT = EXIT_INPUT  # like an unwritable -o file: the place the user chose for the output does not work


class Command:
    """One subcommand: its name, the p2ptui.cli module whose ``register(sub)`` adds its full parser, and the
    one-line help ``p2ptui --help`` lists. Only the module of the command being run is imported, so a command
    never pays for another's imports (numpy, the engine, Textual, the readers)."""

    __slots__ = ("help", "module", "name")

    def __init__(self, name: str, module: str, help: str) -> None:
        self.name, self.module, self.help = name, module, help

    def __repr__(self) -> str:
        return f"Command({self.name!r}, {self.module!r})"


# A new command is one row here (the test in tests/cli/test_cli_startup.py checks the help matches the module's).
COMMANDS: tuple[Command, ...] = (
    Command("fabrics", "fabric_commands", "list the bundled sample fabrics"),
    Command("show", "fabric_commands", "print a fabric's tree (like lspci -tv) with links, ACS and P2P pools"),
    Command("validate", "fabric_commands", "check a fabric file and report every problem with its line"),
    Command("describe", "describe_command", "a fabric's or its devices' facts, as the TUI's detail pane shows them"),
    Command(
        "scan",
        "source_commands",
        "read this machine's PCI tree from sysfs (or a sysfs root or snapshot) and write it as a YAML fabric",
    ),
    Command(
        "convert",
        "convert_command",
        "convert a fabric (YAML, sysfs, lspci, hwloc or NCCL XML) to YAML, JSON, Graphviz DOT or GraphML",
    ),
    Command("open", "tui_commands", "open a fabric in the TUI (same as 'p2ptui FABRIC')"),
    Command("demo", "tui_commands", "play a scripted tour of the TUI, with captions; ends by itself"),
    Command("screenshot", "tui_commands", "write SVG screenshots of every screen (the demo's steps)"),
    Command("check", "p2p_commands", "what Linux decides for P2P between a provider and its clients, and why"),
    Command("find-provider", "p2p_commands", "the P2P provider Linux would pick for these clients (find_many)"),
    Command("matrix", "matrix_command", "map type, distance and nvidia-smi class for every pair of P2P endpoints"),
    Command("copy", "copy_command", "copy over a fabric: simulate it, or move and verify real bytes"),
    Command("fleet", "fleet_command", "collect many nodes' fabrics over ClusterShell and show how they drift"),
)
OPEN_COMMAND = "open"  # what ``p2ptui FABRIC`` runs
VALUE_OPTIONS = frozenset({"--pci-ids"})  # top-level options followed by a value (build_parser adds them)


class OutputError(Exception):
    """Standard output could not be written. Not an OSError, so no command's own OSError handling swallows it."""

    def __init__(self, error: OSError):
        super().__init__(error.strerror or str(error))
        self.error = error


class GuardedStdout:
    """sys.stdout while the CLI runs. A failed write or flush raises OutputError, which tells a full disk or a closed
    standard output apart from any other OSError (those are bugs and keep their traceback). ``None`` stands for a
    standard output that was closed before Python started (``>&-``), which Python leaves as sys.stdout = None and
    print() then silently skips."""

    def __init__(self, stream: TextIO | None):
        self.stream = stream

    def write(self, text: str) -> int:
        return self._guard(lambda stream: stream.write(text))

    def writelines(self, lines: Iterable[str]) -> None:
        self._guard(lambda stream: stream.writelines(lines))

    def flush(self) -> None:
        self._guard(lambda stream: stream.flush())

    def isatty(self) -> bool:
        return self.stream is not None and self.stream.isatty()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def _guard(self, call: Callable[[TextIO], Any]) -> Any:
        if self.stream is None:
            raise OutputError(OSError(errno.EBADF, os.strerror(errno.EBADF)))
        try:
            return call(self.stream)
        except BrokenPipeError:
            raise  # the reader went away: handled as a quiet success
        except OSError as exc:
            raise OutputError(exc) from exc


def command_module(name: str) -> Any:
    """The module that implements command ``name`` (imported now)."""
    row = next(c for c in COMMANDS if c.name == name)
    return importlib.import_module(f"{__package__}.{row.module}")


def _positionals(argv: list[str]):
    """(index, word) of argv's words that are no option and no top-level option's value (--pci-ids FILE)."""
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
        elif arg in VALUE_OPTIONS:
            skip = True
        elif not arg.startswith("-"):
            yield i, arg


def selected_command(argv: list[str]) -> str | None:
    """The command ``argv`` runs: its first word that is no option nor an option's value, or None for bare
    ``p2ptui``. A first word that is no command names a fabric: ``p2ptui FABRIC`` is ``p2ptui open FABRIC``."""
    names = {c.name for c in COMMANDS}
    for _, arg in _positionals(argv):
        return arg if arg in names else OPEN_COMMAND
    return None


def route_fabric_argument(argv: list[str]) -> list[str]:
    """argv with ``open`` inserted before a first positional that is no command."""
    names = {c.name for c in COMMANDS}
    for i, arg in _positionals(argv):
        return argv if arg in names else argv[:i] + [OPEN_COMMAND] + argv[i:]
    return argv


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser, with the full arguments of ``command`` (whose module is imported) and a name and help line for
    every other command: enough for ``--help`` and for routing, without importing what those commands need."""
    parser = argparse.ArgumentParser(
        prog="p2ptui",
        description="Explore and operate PCIe peer-to-peer DMA fabrics: switch trees, the kernel's P2P verdict, "
        "transfers. FABRIC is a YAML fabric, a sysfs root or tarball snapshot, lspci output, hwloc or NCCL XML, a "
        "bundled fabric's name (see 'p2ptui fabrics'), or 'local' for this machine.",
    )
    parser.add_argument("--version", action="version", version=f"p2ptui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    parser.add_argument(
        "--pci-ids",
        metavar="FILE",
        help="PCI ID database for vendor and device names (default: "
        "$P2PTUI_PCI_IDS, else the system's pci.ids; '' for none)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = next((c.module for c in COMMANDS if c.name == command), None)
    for row in COMMANDS:
        if row.name in sub.choices:
            continue  # registered with a sibling from the same module
        if row.module == wanted:  # at its module's first row, so --help keeps the table's order
            importlib.import_module(f"{__package__}.{row.module}").register(sub)
        else:
            sub.add_parser(row.name, help=row.help, add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    restore_streams = streams.prepare()  # encodings that cannot show every character, a standard error that is gone
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)
    debug = False
    try:
        argv = route_fabric_argument(list(sys.argv[1:] if argv is None else argv))
        command = selected_command(argv)
        if command == "fleet":  # ``p2ptui fleet DIR`` opens the fleet screen
            argv = command_module(command).route_fleet_directory(argv)
        parser = build_parser(command)
        args = parser.parse_args(argv)  # --help and --version write to standard output too
        debug = args.debug
        from ..fabric import pciids  # a command runs: the fabric package is needed anyway

        _refuse_special_database(args.pci_ids, os.environ.get(pciids.ENV_VAR))
        pciids.use_file(args.pci_ids)
        pciids.check_environment()
        code = command_module(OPEN_COMMAND).bare(parser) if args.command is None else args.run(args)
        sys.stdout.flush()  # inside the try: output held in the buffer fails here, not silently at exit
        return code
    except OutputError as exc:
        if debug:
            _print_traceback()
        _discard_stdout(stdout)
        _say(f"p2ptui: error: cannot write the output: {exc}")
        return _signal_status(EXIT_OUTPUT)  # after a SIGHUP the terminal is gone: the signal decides
    except BrokenPipeError:
        # Output piped into head and the like: not an error of ours.
        _discard_stdout(stdout)
        return _signal_status(EXIT_OK)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if not _is_input_error(exc):
            raise  # a bug: keeps its traceback
        if debug:
            _print_traceback()
        _print_diagnostics(exc)  # type: ignore[arg-type]
        return EXIT_INPUT
    finally:
        sys.stdout = stdout
        restore_streams()
        signals = _loaded("signals")
        if signals is not None:
            signals.forget()


def _refuse_special_database(option: str | None, environment: str | None) -> None:
    """An InputError when the PCI ID database named by --pci-ids (else $P2PTUI_PCI_IDS) is a FIFO, socket or device:
    pciids reads the whole file, so a FIFO would block and /dev/zero never end. Other problems (no such file, a
    directory, no database inside) are pciids' to tell."""
    from ..errors import Diagnostic, InputError
    from ..fabric.pciids import ENV_VAR
    from ..formats.input_paths import display, special_kind

    what, path = (f"--pci-ids {option}", option) if option is not None else (f"{ENV_VAR}={environment}", environment)
    if not path:
        return
    try:
        st = os.stat(path)
    except (OSError, ValueError):
        return
    kind = special_kind(st)
    if kind is not None:
        raise InputError(Diagnostic(f"{display(what)}: cannot read the PCI ID database: it is {kind}, not a file"))


def _loaded(name: str) -> Any:
    """The p2ptui.cli module ``name`` if something imported it, else None (then nothing it keeps track of happened:
    no signal handler was installed without signals.py)."""
    return sys.modules.get(f"{__package__}.{name}")


def _signal_status(code: int) -> int:
    signals = _loaded("signals")
    return code if signals is None else signals.exit_status(code)


def _is_input_error(exc: BaseException) -> bool:
    """Whether ``exc`` is bad input. p2ptui.errors is looked up, not imported: when no module imported it, nothing
    could have raised an InputError (and --version stays free of its import)."""
    errors = sys.modules.get(f"{__package__.rpartition('.')[0]}.errors")
    return errors is not None and isinstance(exc, errors.InputError)


def _print_traceback() -> None:
    import traceback

    traceback.print_exc()


def _print_diagnostics(exc: InputError) -> None:
    for diagnostic in exc.diagnostics:
        if diagnostic.location is not None:
            hint = f" ({diagnostic.hint})" if diagnostic.hint else ""
            _say(f"{diagnostic.location}: error: {diagnostic.message}{hint}")
        else:
            _say(f"p2ptui: error: {diagnostic}")


def _say(line: str) -> None:
    try:
        print(line, file=sys.stderr)
    except (OSError, ValueError, AttributeError):
        pass  # stderr is gone too (closed, full): the exit code is all that is left to tell


def _discard_stdout(stream: TextIO | None) -> None:
    """Point the process's standard output at /dev/null once writing it failed. What is still buffered cannot be
    written; without this, Python's flush at exit fails again, prints 'Exception ignored' and exits 120. Only the
    real standard output is touched: callers that replaced sys.stdout (tests) keep theirs."""
    real = sys.__stdout__  # None when Python started without one
    if stream is None or real is None or stream is not real:
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
    except OSError:
        return
    try:
        os.dup2(devnull, stream.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
