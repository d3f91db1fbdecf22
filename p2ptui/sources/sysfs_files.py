"""Read-only access to a sysfs root, wherever it lives: a directory on disk (the live ``/`` or a copy) or the
members of a tarball held in memory (tarball.py). The sysfs reader only ever lists directories, reads small files
and reads link texts; it never follows a link to a directory, so link loops cannot trap it.

Paths are relative, '/'-separated and start at the fake root: ``sys/devices/pci0000:00``, ``proc/cpuinfo``.
Errors are OSError subclasses, as the os module raises them, so one ``except OSError`` covers both backings.
"""

from __future__ import annotations

import errno
import os
import stat
from enum import Enum
from pathlib import Path
from typing import Protocol

MAX_READ = 64 << 10  # no sysfs attribute the reader wants is larger; config space is 4 KiB


class Kind(Enum):
    FILE = "file"
    DIR = "dir"
    LINK = "link"
    OTHER = "other"


class SysfsFiles(Protocol):
    """The four operations the reader needs."""

    def show(self, rel: str) -> str:
        """How to name ``rel`` in messages (an absolute path, or archive:member)."""
        ...

    def entries(self, rel: str) -> list[tuple[str, Kind]]:
        """Names and kinds (links not followed) in directory ``rel``; OSError if it cannot be listed."""
        ...

    def read(self, rel: str, limit: int = MAX_READ) -> bytes:
        """At most ``limit`` bytes of file ``rel``; OSError if absent or unreadable."""
        ...

    def readlink(self, rel: str) -> str:
        """The text of symlink ``rel``; OSError if it is not one."""
        ...

    def kind(self, rel: str) -> Kind | None:
        """What ``rel`` is without following a final link; None if absent."""
        ...

    def declared_size(self, rel: str) -> int | None:
        """The size the file claims (stat), to tell a short read from a short file; None when unknown."""
        ...


class DirFiles:
    """A sysfs root on disk. Real sysfs attributes are regular files that stat as 4096 bytes whatever they hold."""

    def __init__(self, root: Path):
        self.root = root
        self._base = os.fspath(root)

    def _abs(self, rel: str) -> str:
        return os.path.join(self._base, rel) if rel else self._base

    def show(self, rel: str) -> str:
        return self._abs(rel)

    def entries(self, rel: str) -> list[tuple[str, Kind]]:
        out = []
        with os.scandir(self._abs(rel)) as it:
            for entry in it:
                out.append((entry.name, _entry_kind(entry)))
        return out

    def read(self, rel: str, limit: int = MAX_READ) -> bytes:
        fd = os.open(self._abs(rel), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        try:
            return os.read(fd, limit)
        finally:
            os.close(fd)

    def readlink(self, rel: str) -> str:
        return os.readlink(self._abs(rel))

    def kind(self, rel: str) -> Kind | None:
        try:
            st = os.lstat(self._abs(rel))
        except OSError:
            return None
        return _mode_kind(st.st_mode)

    def declared_size(self, rel: str) -> int | None:
        try:
            return os.stat(self._abs(rel)).st_size
        except OSError:
            return None


def _entry_kind(entry: os.DirEntry) -> Kind:
    try:
        if entry.is_symlink():
            return Kind.LINK
        if entry.is_dir(follow_symlinks=False):
            return Kind.DIR
        if entry.is_file(follow_symlinks=False):
            return Kind.FILE
    except OSError:
        pass
    return Kind.OTHER


def _mode_kind(mode: int) -> Kind:
    if stat.S_ISLNK(mode):
        return Kind.LINK
    if stat.S_ISDIR(mode):
        return Kind.DIR
    if stat.S_ISREG(mode):
        return Kind.FILE
    return Kind.OTHER


class PrefixFiles:
    """Views a bare sysfs mount (a directory holding devices/, bus/, class/) as a root whose ``sys/`` it is;
    ``proc/`` is absent then, so host facts from procfs are reported missing."""

    def __init__(self, inner: SysfsFiles):
        self.inner = inner

    def _map(self, rel: str) -> str:
        if rel == "sys":
            return ""
        if rel.startswith("sys/"):
            return rel[4:]
        raise FileNotFoundError(errno.ENOENT, "not part of a bare sysfs mount", rel)

    def show(self, rel: str) -> str:
        try:
            return self.inner.show(self._map(rel))
        except FileNotFoundError:
            return rel

    def entries(self, rel: str) -> list[tuple[str, Kind]]:
        if rel == "":
            return [("sys", Kind.DIR)]
        return self.inner.entries(self._map(rel))

    def read(self, rel: str, limit: int = MAX_READ) -> bytes:
        return self.inner.read(self._map(rel), limit)

    def readlink(self, rel: str) -> str:
        return self.inner.readlink(self._map(rel))

    def kind(self, rel: str) -> Kind | None:
        if rel == "":
            return Kind.DIR
        try:
            return self.inner.kind(self._map(rel))
        except FileNotFoundError:
            return None

    def declared_size(self, rel: str) -> int | None:
        try:
            return self.inner.declared_size(self._map(rel))
        except FileNotFoundError:
            return None


class SubFiles:
    """A subdirectory of another tree as a root of its own (snapshots nest theirs: ``name/sys/...``)."""

    def __init__(self, inner: SysfsFiles, prefix: str):
        self.inner = inner
        self.prefix = prefix

    def _map(self, rel: str) -> str:
        return f"{self.prefix}/{rel}" if rel else self.prefix

    def show(self, rel: str) -> str:
        return self.inner.show(self._map(rel))

    def entries(self, rel: str) -> list[tuple[str, Kind]]:
        return self.inner.entries(self._map(rel))

    def read(self, rel: str, limit: int = MAX_READ) -> bytes:
        return self.inner.read(self._map(rel), limit)

    def readlink(self, rel: str) -> str:
        return self.inner.readlink(self._map(rel))

    def kind(self, rel: str) -> Kind | None:
        return self.inner.kind(self._map(rel))

    def declared_size(self, rel: str) -> int | None:
        return self.inner.declared_size(self._map(rel))
