"""Sysfs snapshots in tar archives (.tar, .tar.gz, .tar.bz2, .tar.xz), read into memory without extracting.

Nothing touches the disk, so a hostile archive cannot write anywhere; still, members with absolute paths or ``..``
are refused, because no snapshot tool writes them and they mean the archive is not what it claims.

The archive is read by libarchive (bsdtar's library, through libarchive-c) in one streaming pass: it decodes the
member headers in C, where ``tarfile`` builds each TarInfo through several layers of Python (20 µs a member:
a 38,000-member snapshot took 2-4 times as long as the same tree as a directory). Streaming also bounds what a
hostile archive costs: reading stops at the end-of-archive marker (a decompression bomb of zeros is an empty
archive after 1 KiB), and the member count, each member's declared size and their total are checked before the
data is decompressed. libarchive reads every tar dialect GNU tar, bsdtar and Python's tarfile write (ustar, GNU
long names, pax headers) behind any compression it knows.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.units import format_size
from .sysfs_files import MAX_READ, Kind

MAX_MEMBERS = 1_000_000  # a 10,000-function machine's snapshot has a few hundred thousand entries
MAX_TOTAL_BYTES = 256 << 20  # the uncompressed archive; a 2,000-function snapshot with 4 KiB configs is ~60 MiB
MAX_KEPT_FILE = 1 << 20  # files larger than this are listed but their bytes are not kept (none is a sysfs attribute)
CHUNK = 1 << 20  # compressed bytes libarchive reads from the file per step

# Leading bytes of the archive formats read here: bzip2, gzip, xz, and "ustar" at offset 257 for plain tar.
COMPRESSED_MAGIC = (b"BZh", b"\x1f\x8b", b"\xfd7zXZ\x00")
TAR_MAGIC_OFFSET = 257
BLOCK = 512  # tar's record: each member's header is one, and its data is padded to a whole number of them
_FILE_TYPE = {stat.S_IFDIR: Kind.DIR, stat.S_IFLNK: Kind.LINK, stat.S_IFREG: Kind.FILE}

# libarchive-c logs libarchive's warnings (a name it cannot convert, say); without a handler of ours, Python would
# print them on stderr under whatever the command prints. The archive's problems are reported as InputErrors.
logging.getLogger("libarchive").addHandler(logging.NullHandler())


def looks_like_tarball(head: bytes) -> bool:
    if head.startswith(COMPRESSED_MAGIC):
        return True
    # An archive without members is just its end marker: two zero blocks.
    return head[TAR_MAGIC_OFFSET : TAR_MAGIC_OFFSET + 5] == b"ustar" or head[:1024] == bytes(1024)


class TarFiles:
    """The members of one archive as a read-only tree (see sysfs_files.SysfsFiles)."""

    def __init__(self, label: str):
        self.label = label
        self._dirs: dict[str, dict[str, Kind]] = {"": {}}
        self._files: dict[str, bytes | None] = {}  # None: present, but too large to keep
        self._links: dict[str, str] = {}

    # -- building -----------------------------------------------------------------------------------------------
    def _add_dir(self, rel: str) -> None:
        # Iterative: a member path may have thousands of components, and recursion would overflow on them.
        missing = []
        while rel not in self._dirs:
            missing.append(rel)
            rel = rel.rpartition("/")[0]
        for path in reversed(missing):
            parent, _, name = path.rpartition("/")
            self._dirs[parent][name] = Kind.DIR
            self._dirs[path] = {}

    def _add_leaf(self, rel: str, kind: Kind) -> None:
        parent, _, name = rel.rpartition("/")
        self._add_dir(parent)
        self._dirs[parent][name] = kind

    @property
    def empty(self) -> bool:
        return not self._dirs[""]

    # -- SysfsFiles ---------------------------------------------------------------------------------------------
    def show(self, rel: str) -> str:
        return f"{self.label}:{rel}" if rel else self.label

    def entries(self, rel: str) -> list[tuple[str, Kind]]:
        try:
            return list(self._dirs[rel].items())
        except KeyError:
            raise _missing(rel, self._kind_of(rel)) from None

    def read(self, rel: str, limit: int = MAX_READ) -> bytes:
        if rel not in self._files:
            raise _missing(rel, self._kind_of(rel))
        data = self._files[rel]
        if data is None:
            raise OSError(errno.EFBIG, "file too large to keep in memory", rel)
        return data[:limit]

    def readlink(self, rel: str) -> str:
        try:
            return self._links[rel]
        except KeyError:
            raise OSError(errno.EINVAL, "not a symbolic link", rel) from None

    def kind(self, rel: str) -> Kind | None:
        return self._kind_of(rel)

    def declared_size(self, rel: str) -> int | None:
        data = self._files.get(rel)
        return len(data) if data is not None else None

    def _kind_of(self, rel: str) -> Kind | None:
        if rel in self._dirs:
            return Kind.DIR
        parent, _, name = rel.rpartition("/")
        return self._dirs.get(parent, {}).get(name)


def _missing(rel: str, kind: Kind | None) -> OSError:
    if kind is None:
        return FileNotFoundError(errno.ENOENT, "no such member", rel)
    if kind is Kind.DIR:
        return IsADirectoryError(errno.EISDIR, "is a directory", rel)
    return OSError(errno.EINVAL, f"is a {kind.value}, not what was asked for", rel)


def read_tarball(path: Path) -> TarFiles:
    """Load an archive's members; InputError for anything that is not a sane tar archive."""
    where = Location(str(path))
    files = TarFiles(str(path))
    libarchive = _libarchive(where)
    try:
        with open(path, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise InputError(Diagnostic("not a regular file, so not a tarball snapshot", where))
            with libarchive.fd_reader(stream.fileno(), format_name="tar", block_size=CHUNK) as archive:
                _load_members(archive, files, where)
    except InputError:
        raise
    except libarchive.ArchiveError as exc:
        raise InputError(Diagnostic(f"corrupt or truncated archive ({_reason(exc)})", where)) from None
    except OSError as exc:
        raise InputError(Diagnostic(f"cannot read archive: {exc.strerror or exc}", where)) from None
    if files.empty:
        raise InputError(Diagnostic("archive is empty", where, "expected a snapshot holding sys/ (and proc/)"))
    return files


def _libarchive(where: Location):
    """libarchive-c, imported when a tarball is read (directories and other sources do without it)."""
    try:
        import libarchive  # type: ignore[import-untyped]  # libarchive-c ships no type hints
    except (ImportError, OSError, AttributeError):  # the package, or the C library it loads, is missing
        raise InputError(
            Diagnostic(
                "cannot read tarball snapshots: libarchive is not installed",
                where,
                "install libarchive-c (pip) and libarchive (Debian: apt install libarchive13), or unpack the "
                "archive and give its directory",
            )
        ) from None
    return libarchive


def _reason(exc) -> str:
    msg = exc.msg.decode("utf-8", "replace") if isinstance(exc.msg, bytes) else exc.msg
    return str(msg or "libarchive gave no reason")


def _load_members(archive, files: TarFiles, where: Location) -> None:
    count = 0
    total = 0  # bytes of member data declared so far
    unpacked = 0  # and with their headers and padding: the archive's size unpacked, at least
    for entry in archive:
        count += 1
        if count > MAX_MEMBERS:
            raise InputError(Diagnostic(f"archive has more than {MAX_MEMBERS:,} members; not a sysfs snapshot", where))
        if archive.bytes_read > MAX_TOTAL_BYTES:  # compressed bytes read from the file
            raise _too_big(where)
        name = entry.pathname
        if isinstance(name, bytes):  # not UTF-8: kept byte for byte (as os.fsdecode does), shown escaped
            name = name.decode("utf-8", "surrogateescape")
        rel = _safe_name(name or "", where)
        kind = _FILE_TYPE.get(stat.S_IFMT(entry.filetype), Kind.OTHER)
        hard_link = entry.islnk if kind is not Kind.DIR and kind is not Kind.LINK else False
        if hard_link:  # libarchive leaves a hard link's type unset: it is the file it names
            kind = Kind.FILE
        # Sizes are checked as declared, before any of the member's data is decompressed.
        size = entry.size or 0
        total += size
        unpacked += BLOCK + size + -size % BLOCK
        if total > MAX_TOTAL_BYTES:
            raise InputError(
                Diagnostic(
                    f"archive holds more than {format_size(MAX_TOTAL_BYTES)} of files; not a sysfs snapshot", where
                )
            )
        if unpacked > MAX_TOTAL_BYTES:
            raise _too_big(where)
        if rel is None:
            continue
        if kind is Kind.DIR:
            files._add_dir(rel)
            continue
        if kind is Kind.LINK:
            files._links[rel] = _text(entry.linkpath)
        elif kind is Kind.FILE:
            if hard_link:  # the bytes of the member it names
                target_rel = _safe_name(_text(entry.linkpath), where)
                files._files[rel] = files._files.get(target_rel) if target_rel is not None else None
            elif size <= MAX_KEPT_FILE:
                files._files[rel] = b"".join(entry.get_blocks(max(size, 1))) if size else b""
            else:
                files._files[rel] = None  # listed, not kept; libarchive skips its data
        files._add_leaf(rel, kind)


def _text(raw: str | bytes | None) -> str:
    if isinstance(raw, bytes):
        return raw.decode("utf-8", "surrogateescape")
    return raw or ""


def _too_big(where: Location) -> InputError:
    return InputError(
        Diagnostic(f"archive unpacks to more than {format_size(MAX_TOTAL_BYTES)}; not a sysfs snapshot", where)
    )


def _safe_name(name: str, where: Location) -> str | None:
    """The member's path relative to the archive root, or None for the root itself."""
    if "//" not in name and "/." not in name and not name.startswith(("/", ".")):
        return name.rstrip("/") or None  # the common case: no component is empty, ".", or ".."
    if name.startswith("/"):
        raise InputError(Diagnostic(f"member {name!r} has an absolute path; refusing the archive", where))
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(Diagnostic(f"member {name!r} climbs out with '..'; refusing the archive", where))
    return "/".join(parts) or None
