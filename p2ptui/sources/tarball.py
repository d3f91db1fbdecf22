"""Sysfs snapshots in tar archives (.tar, .tar.gz, .tar.bz2, .tar.xz), read into memory without extracting.

Nothing touches the disk, so a hostile archive cannot write anywhere; still, members with absolute paths or ``..``
are refused, because no snapshot tool writes them and they mean the archive is not what it claims.

The archive is decompressed and its member headers decoded as a stream, in one pass, here rather than by
``tarfile``: tarfile builds a TarInfo object per member through several layers of Python, which made a
38,000-member snapshot three times slower to read than the same tree as a directory. A stream also bounds what
a hostile archive costs: reading stops at the end-of-archive marker (a decompression bomb of zeros is an empty
archive after 1 KiB), sizes declared in headers are capped before their data is decompressed, and at most
``MAX_TOTAL_BYTES`` are ever decompressed, a chunk at a time, without being kept. Headers follow POSIX ustar,
with GNU long names (``L``/``K``) and pax extended headers (``x``), which is what GNU tar, bsdtar and Python's
tarfile write.
"""

from __future__ import annotations

import bz2
import errno
import lzma
import os
import stat
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import Diagnostic, InputError, Location
from ..fabric.units import format_size
from .sysfs_files import MAX_READ, Kind

MAX_MEMBERS = 1_000_000  # a 10,000-function machine's snapshot has a few hundred thousand entries
MAX_TOTAL_BYTES = 256 << 20  # the uncompressed archive; a 2,000-function snapshot with 4 KiB configs is ~60 MiB
MAX_KEPT_FILE = 1 << 20  # files larger than this are listed but their bytes are not kept (none is a sysfs attribute)
MAX_EXTENDED_HEADER = 1 << 20  # a GNU long name or pax header: a path, a few attributes
CHUNK = 1 << 20  # compressed bytes read, and uncompressed bytes produced, per step

# Leading bytes of the archive formats read here: bzip2, gzip, xz, and "ustar" at offset 257 for plain tar.
COMPRESSED_MAGIC = (b"BZh", b"\x1f\x8b", b"\xfd7zXZ\x00")
TAR_MAGIC_OFFSET = 257
BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)


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
    try:
        with open(path, "rb") as stream:
            if not stat.S_ISREG(os.fstat(stream.fileno()).st_mode):
                raise InputError(Diagnostic("not a regular file, so not a tarball snapshot", where))
            _load_members(_Blocks(_Inflater(stream, where)), files, where)
    except InputError:
        raise
    except (EOFError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(Diagnostic(f"corrupt or truncated archive ({exc or type(exc).__name__})", where)) from None
    except OSError as exc:
        # bz2 reports bad data as a plain OSError; an unreadable file lands here too.
        raise InputError(Diagnostic(f"cannot read archive: {exc.strerror or exc}", where)) from None
    if files.empty:
        raise InputError(Diagnostic("archive is empty", where, "expected a snapshot holding sys/ (and proc/)"))
    return files


class _Decompressor(Protocol):
    """What zlib's, bz2's and lzma's decompressor objects have in common, as used here."""

    @property
    def eof(self) -> bool: ...

    @property
    def unused_data(self) -> bytes: ...

    def decompress(self, data: bytes, max_length: int, /) -> bytes: ...


class _Inflater:
    """The archive's uncompressed bytes, a chunk at a time, never more than MAX_TOTAL_BYTES in all. Concatenated
    compressed streams (pbzip2, several gzip members) follow one another, as the command-line tools read them."""

    def __init__(self, stream: BinaryIO, where: Location):
        self._raw = stream
        self._where = where
        self._input = stream.read(CHUNK)
        self._read = len(self._input)
        self._make = _decompressor_for(self._input)
        self._dec = self._make() if self._make is not None else None
        self.produced = 0

    def more(self) -> bytes:
        """The next uncompressed bytes; b"" at the end of the input."""
        out = self._next()
        self.produced += len(out)
        if self.produced > MAX_TOTAL_BYTES:
            raise _too_big(self._where)
        return out

    def _next(self) -> bytes:
        if self._dec is None:  # a plain tar
            out, self._input = self._input, b""
            return out or self._read_raw()
        while True:
            dec = self._dec
            if dec.eof:
                rest = dec.unused_data.lstrip(b"\0")
                while not rest:
                    rest = self._read_raw()
                    if not rest:
                        return b""
                    rest = rest.lstrip(b"\0")
                assert self._make is not None  # a compressed archive: the decompressor came from it
                self._dec, self._input = self._make(), rest
                continue
            out = dec.decompress(self._input, CHUNK)
            self._input = getattr(dec, "unconsumed_tail", b"")  # zlib hands unused input back; bz2 and xz keep it
            if out:
                return out
            if dec.eof:
                continue
            if not self._input and getattr(dec, "needs_input", True):
                self._input = self._read_raw()
                if not self._input:
                    raise InputError(Diagnostic("truncated archive: the compressed stream ends early", self._where))

    def _read_raw(self) -> bytes:
        data = self._raw.read(CHUNK)
        self._read += len(data)
        if self._read > MAX_TOTAL_BYTES:
            raise _too_big(self._where)
        return data


def _decompressor_for(head: bytes) -> Callable[[], _Decompressor] | None:
    if head.startswith(b"BZh"):
        return bz2.BZ2Decompressor
    if head.startswith(b"\x1f\x8b"):
        return lambda: zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)  # gzip framing
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMADecompressor
    return None


class _Blocks:
    """Exact-length reads over the inflater's chunks."""

    def __init__(self, source: _Inflater):
        self._more = source.more
        self._buf = b""
        self._pos = 0
        self.offset = 0  # bytes consumed so far, for messages

    def take(self, n: int) -> bytes:
        """The next ``n`` bytes, or fewer at the end of the input."""
        end = self._pos + n
        if end > len(self._buf):
            parts = [self._buf[self._pos :]]
            have = len(parts[0])
            while have < n:
                chunk = self._more()
                if not chunk:
                    break
                parts.append(chunk)
                have += len(chunk)
            self._buf, self._pos, end = b"".join(parts), 0, n
        out = self._buf[self._pos : end]
        self._pos = min(end, len(self._buf))
        self.offset += len(out)
        return out

    def skip(self, n: int) -> bool:
        """Pass over ``n`` bytes without keeping them; False when the input ends first."""
        self.offset += n
        while n > 0:
            avail = len(self._buf) - self._pos
            if avail >= n:
                self._pos += n
                return True
            n -= avail
            self._buf, self._pos = self._more(), 0
            if not self._buf:
                return False
        return True


def _too_big(where: Location) -> InputError:
    return InputError(
        Diagnostic(f"archive unpacks to more than {format_size(MAX_TOTAL_BYTES)}; not a sysfs snapshot", where)
    )


def _load_members(blocks: _Blocks, files: TarFiles, where: Location) -> None:
    count = 0
    total = 0
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    while True:
        at = blocks.offset
        header = blocks.take(BLOCK)
        if not header or header == _ZERO_BLOCK:
            break  # the end-of-archive marker (a missing one is forgiven, as tar does)
        if len(header) < BLOCK:
            raise _corrupt("truncated archive: it ends inside a member header", where)
        _check_sum(header, at, where)
        typeflag = header[156:157]
        size = _number(header[124:136], "size", at, where)
        if typeflag in (b"L", b"K", b"x", b"g"):
            data = _extended(blocks, size, at, where)
            if typeflag == b"L":
                long_name = _text(data.split(b"\0", 1)[0])
            elif typeflag == b"K":
                long_link = _text(data.split(b"\0", 1)[0])
            elif typeflag == b"x":
                pax = _pax_records(data, at, where)
            continue  # a global pax header (g) sets defaults no snapshot relies on
        name = long_name if long_name is not None else _name(header)
        linkname = long_link if long_link is not None else _text(header[157:257].split(b"\0", 1)[0])
        name, linkname = pax.get("path", name), pax.get("linkpath", linkname)
        if "size" in pax:
            size = _pax_size(pax["size"], at, where)
        long_name = long_link = None
        pax = {}
        count += 1
        if count > MAX_MEMBERS:
            raise InputError(Diagnostic(f"archive has more than {MAX_MEMBERS:,} members; not a sysfs snapshot", where))
        has_data = typeflag in (b"0", b"\0", b"7") or typeflag not in _KNOWN_TYPES
        if has_data:
            total += size
            if total > MAX_TOTAL_BYTES:
                raise InputError(
                    Diagnostic(
                        f"archive holds more than {format_size(MAX_TOTAL_BYTES)} of files; not a sysfs snapshot", where
                    )
                )
        rel = _safe_name(name, where)
        if has_data:
            kept = _member_data(blocks, size, name, where)
        if rel is None:
            continue
        if typeflag == b"5":
            files._add_dir(rel)
        elif typeflag == b"2":
            files._links[rel] = linkname
            files._add_leaf(rel, Kind.LINK)
        elif typeflag in (b"0", b"\0", b"7"):
            files._files[rel] = kept
            files._add_leaf(rel, Kind.FILE)
        elif typeflag == b"1":
            target = _safe_name(linkname, where)
            files._files[rel] = files._files.get(target) if target is not None else None
            files._add_leaf(rel, Kind.FILE)
        else:
            files._add_leaf(rel, Kind.OTHER)


# Types whose size field says nothing about data that follows (links, devices, FIFOs, directories); any other
# type is skipped over by its size, as tar does for types it does not know.
_KNOWN_TYPES = frozenset({b"0", b"\0", b"7", b"1", b"2", b"3", b"4", b"5", b"6"})


def _member_data(blocks: _Blocks, size: int, name: str, where: Location) -> bytes | None:
    padded = -size % BLOCK
    if size <= MAX_KEPT_FILE:
        data = blocks.take(size)
        if len(data) < size or not blocks.skip(padded):
            raise _corrupt(f"truncated archive: member {name!r} ends early", where)
        return data
    if not blocks.skip(size + padded):
        raise _corrupt(f"truncated archive: member {name!r} ends early", where)
    return None


def _extended(blocks: _Blocks, size: int, at: int, where: Location) -> bytes:
    if size > MAX_EXTENDED_HEADER:
        raise _corrupt(f"extended header at byte {at} declares {size} bytes; not a sysfs snapshot", where)
    data = blocks.take(size)
    if len(data) < size or not blocks.skip(-size % BLOCK):
        raise _corrupt("truncated archive: it ends inside an extended header", where)
    return data


def _check_sum(header: bytes, at: int, where: Location) -> None:
    stored = _number(header[148:156], "checksum", at, where)
    # The sum of the header's bytes with the checksum field read as spaces; some old tars summed signed bytes.
    unsigned = sum(header) - sum(header[148:156]) + 8 * 0x20
    if stored != unsigned and stored != unsigned - 256 * sum(1 for b in header if b > 127):
        raise _corrupt(f"bad checksum in the member header at byte {at}: not a tar archive, or a damaged one", where)


def _number(field: bytes, what: str, at: int, where: Location) -> int:
    """A header number: octal digits (NUL- or space-terminated), or GNU's base-256 for large values."""
    if field[:1] == b"\x80":
        return int.from_bytes(field[1:], "big")
    if field[:1] == b"\xff":
        raise _corrupt(f"negative {what} in the member header at byte {at}", where)
    digits = field.split(b"\0", 1)[0].strip(b" ")
    if digits.strip(b"01234567"):
        raise _corrupt(f"malformed {what} in the member header at byte {at}", where)
    return int(digits, 8) if digits else 0


def _name(header: bytes) -> str:
    name = header[:100].split(b"\0", 1)[0]
    if header[257:263] == b"ustar\0":  # POSIX ustar splits long paths into prefix and name; GNU's format does not
        prefix = header[345:500].split(b"\0", 1)[0]
        if prefix:
            name = prefix + b"/" + name
    return _text(name)


def _text(raw: bytes) -> str:
    # Names that are not UTF-8 are kept byte for byte (as os.fsdecode does) and shown escaped where printed.
    return raw.decode("utf-8", "surrogateescape")


def _pax_records(data: bytes, at: int, where: Location) -> dict[str, str]:
    """``LENGTH KEY=VALUE\\n`` records (POSIX pax); LENGTH counts the whole record."""
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data) and data[pos] != 0:
        space = data.find(b" ", pos, pos + 20)
        length_text = data[pos:space] if space > pos else b""
        if not length_text.isdigit() or int(length_text) <= space - pos + 1:
            raise _corrupt(f"malformed pax header at byte {at}", where)
        end = pos + int(length_text)
        record = data[space + 1 : end]
        key, equals, value = record.partition(b"=")
        if end > len(data) or not equals or not record.endswith(b"\n"):
            raise _corrupt(f"malformed pax header at byte {at}", where)
        records[_text(key)] = _text(value[:-1])
        pos = end
    return records


def _pax_size(text: str, at: int, where: Location) -> int:
    if not (text.isascii() and text.isdigit()) or len(text) > 20:
        raise _corrupt(f"malformed pax size at byte {at}", where)
    return int(text)


def _corrupt(message: str, where: Location) -> InputError:
    return InputError(Diagnostic(message, where))


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
