"""The paths of a real file copy, examined before anything is opened for writing, each problem one InputError
naming the path ("path: what is wrong").

* Every ``stat`` failure is said in words (a link loop, a file used as a directory, a name too long, a directory
  that may not be searched), never a traceback.
* An output (the destination, and the source that ``--check`` writes) is examined the way the copy will use it: a
  regular file is written to a temporary file in its directory and renamed into place, so that directory must be
  searchable and writable, on a filesystem mounted read-write. A symbolic link is refused as an output unless it
  names a block device (``/dev/disk/by-id/...``): renaming the finished copy into place would replace the link, not
  the file it points to, so the error names that file for the user to give instead.
* "The same file" is decided by identity, not by name: ``(st_dev, st_ino)`` after following links - hard links and
  bind mounts included - or, for block devices, the device number (two nodes for one disk).
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass

from ..errors import Diagnostic, InputError, Location

# Why a path cannot be used, for the errors stat and open report on a path; the rest say strerror.
_REASONS = {
    errno.ELOOP: "too many levels of symbolic links (a link loop?)",
    errno.ENOTDIR: "a part of the path is not a directory",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EACCES: "permission denied (a directory on the way may not be searched)",
    errno.EROFS: "read-only file system",
    errno.ENOSPC: "no space left on the device",
    errno.EISDIR: "is a directory",
}


@dataclass(frozen=True)
class Examined:
    """A copy path as examined: ``st`` follows links (None: the file does not exist yet)."""

    path: str
    st: os.stat_result | None

    @property
    def exists(self) -> bool:
        return self.st is not None

    @property
    def block_device(self) -> bool:
        return self.st is not None and stat.S_ISBLK(self.st.st_mode)


def reason(exc: OSError) -> str:
    """An OSError on a path in words: what is wrong with it."""
    return _REASONS.get(exc.errno or 0) or exc.strerror or str(exc)


def path_error(path: str, role: str, exc: OSError, hint: str = "") -> InputError:
    return InputError(Diagnostic(f"{role}: {reason(exc)}", Location(path), hint))


def examine_source(path: str, role: str = "source") -> Examined:
    """The file a copy reads; InputError for a path that cannot be examined. A missing file is not an error here
    (``Examined.exists``): the caller knows whether ``--check`` will create it."""
    try:
        return Examined(path, os.stat(path))
    except FileNotFoundError:
        _check_dangling(path, role)
        return Examined(path, None)
    except OSError as exc:
        raise path_error(path, role, exc) from None


def examine_output(path: str, role: str = "destination") -> Examined:
    """A file the copy writes: absent, a regular file, or a block device (through links for those only); its
    directory must take a temporary file and a rename unless it is a block device."""
    if path.endswith(os.sep):
        raise InputError(Diagnostic(f"{role}: the name ends with a slash", Location(path), "name a file"))
    try:
        lst = os.lstat(path)
    except FileNotFoundError:
        check_directory(path, role)
        return Examined(path, None)
    except OSError as exc:
        raise path_error(path, role, exc) from None
    st = lst
    if stat.S_ISLNK(lst.st_mode):
        target = _link_target(path)
        try:
            st = os.stat(path)
        except FileNotFoundError:
            raise InputError(
                Diagnostic(
                    f"{role}: is a symbolic link to {target}, which does not exist",
                    Location(path),
                    "name the file to write, not a link",
                )
            ) from None
        except OSError as exc:
            raise path_error(path, role, exc) from None
        if not stat.S_ISBLK(st.st_mode):
            raise InputError(
                Diagnostic(
                    f"{role}: is a symbolic link (to {target}); the copy renames the finished file into place, which "
                    "would replace the link and not the file it points to",
                    Location(path),
                    f"give {os.path.realpath(path)} itself if that is the file to replace",
                )
            )
    if stat.S_ISDIR(st.st_mode):
        raise InputError(Diagnostic(f"{role}: is a directory", Location(path), "name a file or a block device"))
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISSOCK(st.st_mode):
        kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "a socket"
        raise InputError(Diagnostic(f"{role}: is {kind}, not a regular file or a block device", Location(path)))
    if stat.S_ISREG(st.st_mode):
        check_directory(path, role)
        _check_replaceable(path, st, role)
    return Examined(path, st)


def check_directory(path: str, role: str) -> None:
    """The directory of ``path`` can take a new file and a rename: it exists, is a directory, may be searched and
    written, on a filesystem mounted read-write."""
    directory = os.path.dirname(path) or os.curdir
    try:
        st = os.stat(directory)
    except FileNotFoundError:
        raise InputError(Diagnostic(f"{role}: the directory {directory} does not exist", Location(path))) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"{role}: directory {directory}: {reason(exc)}", Location(path))) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(Diagnostic(f"{role}: {directory} is not a directory", Location(path)))
    if os.access(directory, os.W_OK | os.X_OK):
        return
    try:
        read_only = bool(os.statvfs(directory).f_flag & os.ST_RDONLY)
    except OSError:
        read_only = False
    if read_only:
        raise InputError(Diagnostic(f"{role}: directory {directory} is on a read-only file system", Location(path)))
    raise InputError(
        Diagnostic(
            f"{role}: no permission to create files in directory {directory}",
            Location(path),
            "the copy writes a temporary file there and renames it into place",
        )
    )


def _check_replaceable(path: str, st: os.stat_result, role: str) -> None:
    """The rename may replace the existing file: in a sticky directory (/tmp) only its owner, the directory's owner
    or root may, and finding out after the whole copy would waste it."""
    directory = os.path.dirname(path) or os.curdir
    dir_st = os.stat(directory)
    if dir_st.st_mode & stat.S_ISVTX and os.geteuid() not in (0, st.st_uid, dir_st.st_uid):
        raise InputError(
            Diagnostic(
                f"{role}: belongs to another user in the sticky directory {directory}, so it cannot be replaced",
                Location(path),
                "write to another name",
            )
        )


def same_file(a: Examined, b: Examined) -> bool:
    """Whether two examined paths are one file: by identity when both exist, else by their resolved names (a file
    that --check creates and a destination naming it some other way)."""
    if a.st is not None and b.st is not None:
        if a.block_device and b.block_device:
            return a.st.st_rdev == b.st.st_rdev
        return (a.st.st_dev, a.st.st_ino) == (b.st.st_dev, b.st.st_ino)
    return os.path.realpath(a.path) == os.path.realpath(b.path)


def identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


def _check_dangling(path: str, role: str) -> None:
    """ENOENT through a link that points nowhere says so, rather than "does not exist"."""
    try:
        lst = os.lstat(path)
    except OSError:
        return
    if stat.S_ISLNK(lst.st_mode):
        raise InputError(
            Diagnostic(f"{role}: is a symbolic link to {_link_target(path)}, which does not exist", Location(path))
        )


def _link_target(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "(unreadable)"
