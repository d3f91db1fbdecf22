"""Sysfs snapshots in tar archives (.tar, .tar.gz, .tar.bz2, .tar.xz), read into memory without extracting.

Nothing touches the disk, so a hostile archive cannot write anywhere; still, members with absolute paths or ``..``
are refused, because no snapshot tool writes them and they mean the archive is not what it claims. Sizes are
capped before any data is decompressed (the headers declare them), so a decompression bomb stops early.
"""

from __future__ import annotations

import bz2
import errno
import io
import lzma
import tarfile
import zlib
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.units import format_size
from .sysfs_files import MAX_READ, Kind

MAX_MEMBERS = 1_000_000  # a 10,000-function machine's snapshot has a few hundred thousand entries
MAX_TOTAL_BYTES = 256 << 20  # the uncompressed archive; a 2,000-function snapshot with 4 KiB configs is ~60 MiB
MAX_KEPT_FILE = 1 << 20  # files larger than this are listed but their bytes are not kept (none is a sysfs attribute)

# Leading bytes of the archive formats tarfile reads: bzip2, gzip, xz, and "ustar" at offset 257 for plain tar.
COMPRESSED_MAGIC = (b"BZh", b"\x1f\x8b", b"\xfd7zXZ\x00")
TAR_MAGIC_OFFSET = 257


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
        if rel in self._dirs:
            return
        parent, _, name = rel.rpartition("/")
        self._add_dir(parent)
        self._dirs[parent][name] = Kind.DIR
        self._dirs[rel] = {}

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
    """Load an archive's sys/ and proc/ members; InputError for anything that is not a sane tar archive."""
    where = Location(str(path))
    files = TarFiles(str(path))
    try:
        data = _decompress(path, where)
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as tar:
            _load_members(tar, files, where)
    except InputError:
        raise
    except tarfile.CompressionError as exc:
        raise InputError(Diagnostic(f"cannot decompress archive: {exc}", where)) from None
    except tarfile.ReadError as exc:
        raise InputError(
            Diagnostic(f"not a readable tar archive ({exc})", where, "expected .tar, .tar.gz, .tar.bz2 or .tar.xz")
        ) from None
    except (tarfile.TarError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(Diagnostic(f"corrupt or truncated archive ({exc or type(exc).__name__})", where)) from None
    except OSError as exc:
        # bz2 reports bad data as a plain OSError; a missing or unreadable file lands here too.
        raise InputError(Diagnostic(f"cannot read archive: {exc.strerror or exc}", where)) from None
    if files.empty:
        raise InputError(Diagnostic("archive is empty", where, "expected a snapshot holding sys/ (and proc/)"))
    return files


def _decompress(path: Path, where: Location) -> bytes:
    """The whole uncompressed archive, decompressed here rather than by tarfile's stream mode (several times
    faster), with the size capped as it grows so a bomb stops at the limit."""
    with open(path, "rb") as stream:
        raw = stream.read(MAX_TOTAL_BYTES + 1)
    if len(raw) > MAX_TOTAL_BYTES:
        raise _too_big(where)
    if raw.startswith(b"BZh"):
        make = bz2.BZ2Decompressor
    elif raw.startswith(b"\x1f\x8b"):
        make = lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # noqa: E731 - gzip framing
    elif raw.startswith(b"\xfd7zXZ\x00"):
        make = lzma.LZMADecompressor
    else:
        return raw
    out = bytearray()
    pending = raw
    while pending:  # concatenated streams (pbzip2, gzip members) follow one another
        dec = make()
        out += dec.decompress(pending, MAX_TOTAL_BYTES + 1 - len(out))
        if len(out) > MAX_TOTAL_BYTES:
            raise _too_big(where)
        if not dec.eof:
            raise InputError(Diagnostic("truncated archive: the compressed stream ends early", where))
        pending = dec.unused_data.lstrip(b"\0")
    return bytes(out)


def _too_big(where: Location) -> InputError:
    return InputError(
        Diagnostic(f"archive unpacks to more than {format_size(MAX_TOTAL_BYTES)}; not a sysfs snapshot", where)
    )


def _load_members(tar: tarfile.TarFile, files: TarFiles, where: Location) -> None:
    count = 0
    total = 0
    for member in tar:
        count += 1
        if count > MAX_MEMBERS:
            raise InputError(Diagnostic(f"archive has more than {MAX_MEMBERS:,} members; not a sysfs snapshot", where))
        rel = _safe_name(member.name, where)
        if rel is None:
            continue
        if member.isdir():
            files._add_dir(rel)
        elif member.issym():
            files._links[rel] = member.linkname
            files._add_leaf(rel, Kind.LINK)
        elif member.isfile():
            total += member.size
            if total > MAX_TOTAL_BYTES:
                raise InputError(
                    Diagnostic(f"archive holds more than {format_size(MAX_TOTAL_BYTES)} of files; not a sysfs snapshot", where)
                )
            files._files[rel] = _member_bytes(tar, member)
            files._add_leaf(rel, Kind.FILE)
        elif member.islnk():
            target = _safe_name(member.linkname, where)
            files._files[rel] = files._files.get(target) if target is not None else None
            files._add_leaf(rel, Kind.FILE)
        else:
            files._add_leaf(rel, Kind.OTHER)


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes | None:
    if member.size > MAX_KEPT_FILE:
        return None
    stream = tar.extractfile(member)
    return stream.read() if stream is not None else None


def _safe_name(name: str, where: Location) -> str | None:
    """The member's path relative to the archive root, or None for the root itself."""
    if name.startswith("/"):
        raise InputError(Diagnostic(f"member {name!r} has an absolute path; refusing the archive", where))
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InputError(Diagnostic(f"member {name!r} climbs out with '..'; refusing the archive", where))
    return "/".join(parts) or None
