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
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from .. import __version__
from ..errors import InputError
from ..fabric import pciids
from . import (
    convert_command,
    copy_command,
    fabric_commands,
    matrix_command,
    p2p_commands,
    signals,
    source_commands,
    streams,
    tui_commands,
)

EXIT_OK = 0
EXIT_INPUT = 2
EXIT_OUTPUT = EXIT_INPUT  # like an unwritable -o file: the place the user chose for the output does not work

COMMAND_MODULES = (
    fabric_commands, source_commands, convert_command, tui_commands, p2p_commands, matrix_command, copy_command,
)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="p2ptui",
        description="Explore and operate PCIe peer-to-peer DMA fabrics: switch trees, the kernel's P2P verdict, "
        "transfers. FABRIC is a YAML fabric, a sysfs root or tarball snapshot, lspci output, hwloc or NCCL XML, a "
        "bundled fabric's name (see 'p2ptui fabrics'), or 'local' for this machine.",
    )
    parser.add_argument("--version", action="version", version=f"p2ptui {__version__}")
    parser.add_argument("--debug", action="store_true", help="show a traceback for errors")
    parser.add_argument("--pci-ids", metavar="FILE", help="PCI ID database for vendor and device names (default: "
                        f"${pciids.ENV_VAR}, else {', '.join(pciids.SEARCH_PATHS)}; '' for none)")  # fmt: skip
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    restore_streams = streams.prepare()  # encodings that cannot show every character, a standard error that is gone
    stdout = sys.stdout
    sys.stdout = GuardedStdout(stdout)  # type: ignore[assignment]
    debug = False
    try:
        parser = build_parser()
        argv = tui_commands.route_fabric_argument(parser, list(sys.argv[1:] if argv is None else argv))
        args = parser.parse_args(argv)  # --help and --version write to standard output too
        debug = args.debug
        pciids.use_file(args.pci_ids)
        pciids.check_environment()
        code = tui_commands.bare(parser) if args.command is None else args.run(args)
        sys.stdout.flush()  # inside the try: output held in the buffer fails here, not silently at exit
        return code
    except InputError as exc:
        if debug:
            traceback.print_exc()
        _print_diagnostics(exc)
        return EXIT_INPUT
    except OutputError as exc:
        if debug:
            traceback.print_exc()
        _discard_stdout(stdout)
        _say(f"p2ptui: error: cannot write the output: {exc}")
        return signals.exit_status(EXIT_OUTPUT)  # after a SIGHUP the terminal is gone: the signal decides
    except BrokenPipeError:
        # Output piped into head and the like: not an error of ours.
        _discard_stdout(stdout)
        return signals.exit_status(EXIT_OK)
    except KeyboardInterrupt:
        return 130
    finally:
        sys.stdout = stdout
        restore_streams()
        signals.forget()


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
    if stream is None or stream is not sys.__stdout__:
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
