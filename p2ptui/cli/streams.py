"""The CLI's standard streams, set up once for every command.

* Output to a stream whose encoding cannot show p2ptui's characters (``PYTHONIOENCODING=ascii``, a Latin-1
  locale) degrades instead of failing: tree lines become ASCII as ``lspci -t`` draws them on a C locale (``+-``,
  ``\\-``, ``|``), arrows and signs their ASCII spelling (``->``, ``x``, ``>=``), anything else a ``\\u`` escape.
* A file name that is not UTF-8 (Python carries its bytes as lone surrogates) is shown with ``\\xNN`` escapes on
  any stream, never as raw bytes and never as a traceback.
* Standard error that cannot be written (closed before p2ptui started, or a terminal gone with SIGHUP) is not a
  reason to fail a command: what is written there is dropped, and the exit code still tells.

Both are done with one codec error handler on the two streams, so no command has to care.
"""

from __future__ import annotations

import codecs
import sys
from collections.abc import Callable

TYPE_CHECKING = False  # typing costs a tenth of ``p2ptui --version``: annotations only (cli/main.py says why)
if TYPE_CHECKING:
    from typing import Any, TextIO

ERRORS = "p2ptui-degrade"

# ASCII for the characters p2ptui prints; the tree's as lspci -t draws it without UTF-8.
ASCII = {
    "├": "+",
    "└": "\\",
    "│": "|",
    "─": "-",
    "→": "->",
    "←": "<-",
    "↔": "<->",
    "×": "x",
    "≥": ">=",
    "≤": "<=",
    "≈": "~",
    "…": "...",
    "–": "-",
    "—": "-",
    "−": "-",
    "µ": "u",
    "∞": "inf",
    "Σ": "sum",
    "§": "S",
    "·": ".",
    "°": " deg",
    "✓": "ok",
    "✗": "x",
    "✔": "ok",
    "✘": "x",
    "◐": "~",
    "↓": "v",
    "⇡": "^",
    "≠": "!=",
    "◈": "*",
}
_SURROGATE_BYTES = range(0xDC80, 0xDD00)  # surrogateescape: byte 0x80..0xff of a name that is not UTF-8


def _degrade(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeEncodeError):
        raise error
    out = []
    for char in error.object[error.start : error.end]:
        code = ord(char)
        if char in ASCII:
            out.append(ASCII[char])
        elif code in _SURROGATE_BYTES:
            out.append(f"\\x{code - 0xDC00:02x}")
        else:
            out.append(char.encode("ascii", "backslashreplace").decode("ascii"))
    return "".join(out), error.end


codecs.register_error(ERRORS, _degrade)


class QuietStream:
    """Standard error while the CLI runs: a write that fails (or a stream closed before start, ``None``) is dropped."""

    def __init__(self, stream: TextIO | None):
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            if self.stream is not None:
                self.stream.write(text)
        except (OSError, ValueError):
            pass
        return len(text)

    def flush(self) -> None:
        try:
            if self.stream is not None:
                self.stream.flush()
        except (OSError, ValueError):
            pass

    def isatty(self) -> bool:
        try:
            return self.stream is not None and self.stream.isatty()
        except (OSError, ValueError):
            return False

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)


def prepare() -> Callable[[], None]:
    """Set up sys.stdout and sys.stderr for a CLI run; returns what puts them back (for in-process callers)."""
    stderr = sys.stderr
    restores = [_degrading(sys.stdout), _degrading(stderr)]
    sys.stderr = QuietStream(stderr)

    def restore() -> None:
        sys.stderr = stderr
        for undo in restores:
            undo()

    return restore


def _degrading(stream: TextIO | None) -> Callable[[], None]:
    reconfigure = getattr(stream, "reconfigure", None)
    errors = getattr(stream, "errors", None)
    if reconfigure is None or errors is None:
        return lambda: None
    try:
        reconfigure(errors=ERRORS)
    except (OSError, ValueError):
        return lambda: None

    def undo() -> None:
        try:
            reconfigure(errors=errors)
        except (OSError, ValueError):
            pass

    return undo
