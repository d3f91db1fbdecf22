"""What a FABRIC path is, checked before anything opens it, with every failure one line naming the path.

Opening a named pipe blocks until some other process writes to it, a character device such as /dev/zero never
ends, and a socket cannot be opened at all: inputs are regular files (or directories, for sysfs roots); standard
input is read through ``-`` instead. Paths are shown with any bytes that are not UTF-8 escaped (``\\xff``), as a
terminal could not print them.
"""

from __future__ import annotations

import errno
import os
import stat

from ..errors import Diagnostic, InputError, Location

_SPECIAL = (
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)
_PROBLEMS = {
    errno.ELOOP: "symbolic link loop (too many levels of symbolic links)",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.ENAMETOOLONG: "file name too long",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}


def display(path: str | os.PathLike) -> str:
    """``path`` as text that any terminal and any UTF-8 writer accept: undecodable bytes become ``\\xNN``."""
    text = os.fspath(path)
    if isinstance(text, bytes):
        return text.decode("utf-8", "backslashreplace")
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeError:  # surrogates that did not come from undecodable bytes
        return text.encode("utf-8", "backslashreplace").decode("utf-8")


def os_problem(exc: OSError) -> str:
    """What an OSError means for the path it names, in a few words."""
    if exc.errno in _PROBLEMS:
        return _PROBLEMS[exc.errno]
    if exc.errno == errno.ENOENT:
        return "no such file or directory"
    return f"cannot read: {(exc.strerror or str(exc)).lower()}"


def check_input(ref: str | os.PathLike[str], allow_dir: bool = True) -> os.stat_result | None:
    """The stat of input ``ref`` (links followed); None when nothing exists there. InputError when it cannot be
    read as an input: a stat error, a dangling link, a FIFO, socket or device (or a directory with
    ``allow_dir=False``)."""
    where = Location(display(ref))
    try:
        st = os.stat(ref)
    except FileNotFoundError:
        if os.path.islink(ref):
            try:
                target = display(os.readlink(ref))
            except OSError:
                target = "?"
            raise InputError(
                Diagnostic(f"dangling symbolic link (its target {target} does not exist)", where)
            ) from None
        return None
    except (OSError, ValueError) as exc:  # ValueError: an embedded NUL byte
        message = os_problem(exc) if isinstance(exc, OSError) else "not a valid path (it contains a NUL byte)"
        raise InputError(Diagnostic(message, where)) from None
    if stat.S_ISDIR(st.st_mode) and not allow_dir:
        raise InputError(Diagnostic("is a directory, not a file", where))
    what = special_kind(st)
    if what is not None:
        hint = "to read standard input, pass '-' and pipe the fabric in" if what == "a named pipe" else ""
        raise InputError(Diagnostic(f"is {what}; p2ptui reads fabrics from files and directories", where, hint))
    return st


def special_kind(st: os.stat_result) -> str | None:
    """What ``st`` is when it is a FIFO, socket or device (``a named pipe``), else None: such a file is never
    opened, as reading it may block or never end."""
    return next((what for test, what in _SPECIAL if test(st.st_mode)), None)
