"""The one way p2ptui writes an output file: never through a link, never onto a device, never half a file.

Every writer (``save_fabric``, ``convert``, ``scan -o``, ``screenshot``) goes through :func:`write_output`, or
:func:`open_output` where the text is written a piece at a time (the TUI's matrix export); writers
that stream more than fits in memory (the real engine's file copies) use its :class:`TemporaryOutput` directly and
check the target their own way (engine/real_paths.py), under the same temporary-file-and-rename rules:

* The target must be absent or a regular file. A directory, device node, FIFO or socket is refused: renaming a file
  over ``/dev/full`` would delete the device node, and a FIFO would block forever.
* A symbolic link as the target is refused, not followed: a link planted in a shared directory must not redirect the
  write to a file of the victim's choosing, and replacing the link would silently turn it into a file. The error
  names where the link points, so a user who means that file can give it as the output. (Links among the parent
  directories are followed: choosing the directory is the user's business.)
* An existing regular file is replaced only when the caller says so (``--force`` on the command line).
* The data goes to a temporary file created exclusively (``tempfile.mkstemp``: ``O_EXCL``, random name) beside the
  target, is fsynced, takes the replaced file's mode (else the usual ``0666 & ~umask``) and is renamed over the
  target: a crash leaves the old file or the new one, never part of either. A replaced file is a new inode, so
  other hard links to it keep the old contents.
* Without overwrite the rename is a hard link, which fails if the name appeared meanwhile, so a file created by
  someone else between the check and the rename is not clobbered either.
* The temporary file is removed on every failure path; every OSError becomes an InputError naming the target.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from ..errors import Diagnostic, InputError, Location

FORCE_HINT = "use --force to replace it"
# Leaves room in NAME_MAX (255) for mkstemp's dot, random part and suffix.
_TEMP_PREFIX_CHARS = 200
# link() is not offered by every filesystem (FAT, some FUSE and network mounts); those get a re-check and a rename.
_NO_HARD_LINKS = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS, errno.EMLINK, errno.EXDEV}
_KINDS = (
    (stat.S_ISDIR, "is a directory"),
    (stat.S_ISCHR, "is a character device"),
    (stat.S_ISBLK, "is a block device"),
    (stat.S_ISFIFO, "is a FIFO"),
    (stat.S_ISSOCK, "is a socket"),
)


def check_target(path: str | os.PathLike, *, overwrite: bool) -> os.stat_result | None:
    """Refuse ``path`` as an output unless it is absent or (with ``overwrite``) a regular file.

    Returns the existing file's stat, or None when there is none. Callers use it to fail before slow work; the write
    itself checks again.
    """
    name = os.fspath(path)
    if name.endswith(os.sep):
        raise _refuse(name, "the name ends with a slash", "give a file name")
    try:
        st = os.lstat(name)
    except FileNotFoundError:
        _check_directory(name)
        return None
    except OSError as exc:
        raise _cannot_write(name, exc) from None
    if stat.S_ISLNK(st.st_mode):
        raise _refuse(
            name,
            "it is a symbolic link, and p2ptui does not write through links",
            f"give the file it points to, {_link_target(name)}, as the output if that is the one you mean",
        )
    for is_kind, what in _KINDS:
        if is_kind(st.st_mode):
            raise _refuse(name, f"it {what}, not a regular file", "give a file name")
    if not stat.S_ISREG(st.st_mode):
        raise _refuse(name, "it is not a regular file", "give a file name")
    if not overwrite:
        raise _refuse(name, "it already exists", FORCE_HINT)
    return st


def refuse_input_as_output(source: str | os.PathLike | None, output: str | os.PathLike, label: str) -> None:
    """Refuse ``output`` when it is the input ``source`` itself (same file, by a link or a hard link too): rewriting
    an input loses whatever the conversion drops, and ``--force`` does not change that. ``label`` names the input as
    the user gave it."""
    if source is None or not os.path.exists(output):
        return
    try:
        same = os.path.samefile(source, output)
    except OSError:
        return  # one of them cannot be examined; writing the output will report it
    if same:
        raise _refuse(os.fspath(output), f"it is the input {label} itself", "write to another file")


def write_output(path: str | os.PathLike, data: str | bytes, *, overwrite: bool) -> None:
    """Write ``data`` (str as UTF-8) to ``path`` atomically, under the rules in this module's docstring."""
    payload = data.encode("utf-8") if isinstance(data, str) else bytes(data)
    with _installed(path, overwrite) as output, os.fdopen(os.dup(output.fd), "wb") as stream:
        stream.write(payload)


@contextmanager
def open_output(path: str | os.PathLike, *, overwrite: bool) -> Iterator[TextIO]:
    """``path`` as a UTF-8 text stream, for output written a piece at a time (the matrix as CSV or JSON) under the
    same rules as write_output: what is written goes to the temporary file, which is renamed into place when the
    ``with`` block ends. An exception in the block, or a failed write, leaves no temporary file and ``path`` as it
    was; an OSError comes out as InputError naming ``path``."""
    with _installed(path, overwrite) as output, open(os.dup(output.fd), "w", encoding="utf-8", newline="") as stream:
        yield stream


@contextmanager
def _installed(path: str | os.PathLike, overwrite: bool) -> Iterator[TemporaryOutput]:
    """A checked target's TemporaryOutput, committed when the block ends and discarded when it fails."""
    name = os.fspath(path)
    existing = check_target(name, overwrite=overwrite)
    output = TemporaryOutput(name, existing=existing, overwrite=overwrite)
    try:
        yield output
        output.commit()
    except BaseException as exc:  # Ctrl-C too: no temporary file may outlive a failed write
        left = output.discard()
        if isinstance(exc, OSError):
            raise _cannot_write(name, exc, left) from None
        raise


class TemporaryOutput:
    """The new contents of ``target``, being written to a temporary file beside it (same directory, so the same
    filesystem; created exclusively with a random name) until :meth:`commit` renames it into place.

    For writers that stream (the real engine's file copies) as well as for :func:`write_output`. ``existing`` is the
    target's stat when it is being replaced (its owner and mode are kept; when ``overwrite``, the rename replaces only
    that same file: a target replaced meanwhile is refused). :meth:`discard` removes the temporary file and is safe to
    call at any time, from any thread, any number of times: after a commit it does nothing."""

    def __init__(
        self,
        target: str | os.PathLike,
        *,
        existing: os.stat_result | None,
        overwrite: bool,
        exists_hint: str = FORCE_HINT,
    ):
        self.target = os.fspath(target)
        self.existing = existing
        self.overwrite = overwrite
        self.exists_hint = exists_hint
        self.directory = os.path.dirname(self.target) or os.curdir
        prefix = f".{os.path.basename(self.target)[:_TEMP_PREFIX_CHARS]}."
        try:
            self.fd, self.path = tempfile.mkstemp(prefix=prefix, suffix=".tmp", dir=self.directory)
        except OSError as exc:
            raise _cannot_write(self.target, exc) from None
        self._state = "open"  # open -> committed | discarded

    def commit(self) -> None:
        """Flush the data, give it the replaced file's owner and mode, and rename it into place. Raises the OSError
        of a failed step, or InputError when the target name is taken; the temporary file is then still there (for
        the caller to :meth:`discard`)."""
        _set_owner_and_mode(self.fd, self.existing)
        os.fsync(self.fd)
        if self.overwrite and self.existing is not None:
            self._check_unchanged()
        _install(self.path, self.target, self.overwrite, self.exists_hint)
        self._state = "committed"
        self._close()
        _sync_directory(self.directory)

    def discard(self) -> str | None:
        """Remove the temporary file unless it was committed; its name if it could not be removed."""
        if self._state != "open":
            return None
        self._state = "discarded"
        self._close()
        return _remove(self.path)

    def remove_name(self) -> None:
        """Remove the temporary file's name only, leaving its descriptor to whoever still writes through it: for a
        process about to exit at once (a second Ctrl-C), where closing the descriptor under a writer would be
        unsafe. The data goes when the last descriptor does."""
        if self._state == "open":
            _remove(self.path)

    @property
    def committed(self) -> bool:
        return self._state == "committed"

    def _close(self) -> None:
        fd, self.fd = self.fd, -1
        if fd >= 0:
            try:
                os.close(fd)
            except OSError:
                pass

    def _check_unchanged(self) -> None:
        """The name still holds the file that was checked: a file swapped in meanwhile (a hard link to another file
        the user never confirmed) is not replaced."""
        assert self.existing is not None
        try:
            now = os.lstat(self.target)
        except FileNotFoundError:
            return  # gone meanwhile: nothing is lost by putting the new file there
        if (now.st_dev, now.st_ino) != (self.existing.st_dev, self.existing.st_ino):
            raise _refuse(
                self.target,
                "it was replaced by another file while the new one was being written",
                "check who else writes there, and try again",
            )


def ensure_directory(path: str | os.PathLike) -> Path:
    """Create the output directory ``path`` (and its parents) unless it exists; InputError if it cannot be one.

    A link to a directory is accepted: the files written inside are each checked by write_output.
    """
    name = os.fspath(path)
    try:
        os.makedirs(name, exist_ok=True)
    except FileExistsError:
        raise InputError(
            Diagnostic(
                "cannot create the directory: it exists and is not a directory",
                Location(name),
                "give a directory for the output files",
            )
        ) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot create the directory: {_reason(exc)}", Location(name))) from None
    return Path(name)


def _install(temp: str, target: str, overwrite: bool, exists_hint: str = FORCE_HINT) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise _refuse(target, "it already exists", exists_hint) from None
    except OSError as exc:
        if exc.errno not in _NO_HARD_LINKS:
            raise
        if os.path.lexists(target):
            raise _refuse(target, "it already exists", exists_hint) from None
        os.replace(temp, target)
        return
    _remove(temp)  # the output is in place under its own name; a leftover second name would be harmless


def _set_owner_and_mode(fd: int, existing: os.stat_result | None) -> None:
    """Give the new file the replaced file's owner and mode, else 0666 & ~umask instead of mkstemp's 0600.

    Best effort: FAT and some network filesystems refuse chmod, and an unprivileged user cannot give files away;
    neither is a reason to lose the output (the file is then the writer's, as with any editor's save)."""
    mode = 0o666 & ~_umask() if existing is None else stat.S_IMODE(existing.st_mode)
    try:
        if existing is not None and (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
            os.fchown(fd, existing.st_uid, existing.st_gid)  # root replacing a user's file leaves it theirs
    except OSError:
        pass
    try:
        os.fchmod(fd, mode)  # after fchown, which clears set-id bits
    except OSError:
        pass


def _umask() -> int:
    """The process umask, read without changing it (os.umask can only set it, which races with other threads)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _sync_directory(directory: str) -> None:
    """Make the rename itself durable; some filesystems cannot fsync a directory, and the data is safe regardless."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(temp: str) -> str | None:
    """Remove ``temp``; returns its name if it could not be removed, so the error can say so."""
    try:
        os.unlink(temp)
    except FileNotFoundError:
        return None
    except OSError:
        return temp
    return None


def _check_directory(name: str) -> None:
    """Fail early, and name the real reason, when the target's directory is missing or not a directory."""
    directory = os.path.dirname(name) or os.curdir
    try:
        st = os.stat(directory)
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot write: directory {directory}: {_reason(exc)}", Location(name))) from None
    if not stat.S_ISDIR(st.st_mode):
        raise InputError(Diagnostic(f"cannot write: {directory} is not a directory", Location(name)))


def _link_target(name: str) -> str:
    try:
        return os.readlink(name)
    except OSError:
        return "(unreadable)"


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)


def _refuse(name: str, message: str, hint: str = "") -> InputError:
    return InputError(Diagnostic(f"cannot write: {message}", Location(name), hint))


def _cannot_write(name: str, exc: OSError, left: str | None = None) -> InputError:
    hint = f"the temporary file {left} could not be removed" if left else ""
    return InputError(Diagnostic(f"cannot write: {_reason(exc)}", Location(name), hint))
