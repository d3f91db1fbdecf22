"""FABRIC ``-``: a fabric piped into standard input (``sudo lspci -vvv | p2ptui show -``), in any format a file
may hold, detected by its content.

The input is read whole, up to MAX_STDIN_BYTES (one byte more shows it is larger), and handed to the same sources
as a file, through a private temporary copy; messages and the fabric's description name ``<stdin>``, never that
copy. A terminal on standard input is refused at once: nobody types a fabric, and waiting would look like a hang.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.model import Fabric
from ..formats.yaml_text import too_big
from .xml_input import MAX_TOPOLOGY_BYTES

STDIN = "-"
SHOWN = "<stdin>"
MAX_STDIN_BYTES = MAX_TOPOLOGY_BYTES
HINT = "pipe a fabric in, e.g. sudo lspci -vvv | p2ptui show -"

Loader = Callable[[Path, bytes, str], Fabric]


def load_stdin(load: Loader, head_bytes: int, known: str) -> Fabric:
    """The fabric on standard input; ``load(path, head, shown)`` detects and reads the copy at ``path``."""
    where = Location(SHOWN)
    data = _read_stdin(where)
    if not data:
        raise InputError(Diagnostic("standard input is empty", where, f"expected {known}; {HINT}"))
    with tempfile.TemporaryDirectory(prefix="p2ptui-stdin-") as tmp:
        copy = Path(tmp) / "stdin"  # the name gives a YAML fabric without one its default name, "stdin"
        copy.write_bytes(data)
        try:
            fabric = load(copy, data[:head_bytes], SHOWN)
        except InputError as exc:
            raise InputError([_relabel(d, str(copy)) for d in exc.diagnostics]) from None
    return dataclasses.replace(
        fabric,
        description=fabric.description.replace(str(copy), SHOWN),
        notes=tuple(n.replace(str(copy), SHOWN) for n in fabric.notes),
    )


def _read_stdin(where: Location) -> bytes:
    stream = getattr(sys.stdin, "buffer", None)
    if stream is None:
        raise InputError(Diagnostic("standard input is closed", where, HINT))
    try:
        interactive = os.isatty(stream.fileno())
    except (OSError, ValueError):  # not a file descriptor (an in-memory stream): not a terminal either
        interactive = False
    if interactive:
        raise InputError(Diagnostic("standard input is a terminal, not a fabric", where, HINT))
    try:
        data = stream.read(MAX_STDIN_BYTES + 1)
    except (OSError, ValueError) as exc:
        raise InputError(Diagnostic(f"cannot read standard input: {exc}", where)) from None
    if len(data) > MAX_STDIN_BYTES:
        raise InputError(too_big(None, SHOWN, "fabric", MAX_STDIN_BYTES))
    return data


def _relabel(diag: Diagnostic, copy: str) -> Diagnostic:
    loc = diag.location
    if loc is not None and loc.file.startswith(copy):
        loc = dataclasses.replace(loc, file=SHOWN + loc.file[len(copy) :])
    return Diagnostic(diag.message.replace(copy, SHOWN), loc, diag.hint.replace(copy, SHOWN))
