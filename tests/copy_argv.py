"""The argument list of a ``p2ptui copy`` command, for tests that run it in-process or as a subprocess."""

from __future__ import annotations

import os
from typing import Literal

Value = str | bytes | int | Literal[True] | os.PathLike[str] | os.PathLike[bytes]


def copy_argv(fabric: str = "nvmeof-target", **options: Value) -> list:
    """``copy FABRIC`` then each option in the order given: ``src_file=path`` is ``--src-file path``, ``json=True``
    the bare flag ``--json``. Paths and bytes stay as they are (os.fspath), so a file name that is not UTF-8 reaches
    a subprocess unchanged; numbers become text."""
    argv: list = ["copy", fabric]
    for name, value in options.items():
        argv.append("--" + name.replace("_", "-"))
        if value is True:
            continue
        argv.append(str(value) if isinstance(value, int) else os.fspath(value))
    return argv
