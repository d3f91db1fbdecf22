"""One node's snapshot: from the collector's output lines to a checked ``NODE.tar.gz`` in the fleet directory.

The collector's stream is a header line, base64 lines of a (usually gzipped) tar archive, and an end line; anything
else is garbage, and a stream without the end line was cut short. The archive must load as a fabric, through the
same sysfs reader every p2ptui command uses, before it replaces a node's previous snapshot; an archive equal to the
stored one is left alone, so a rerun rewrites only what changed.
"""

from __future__ import annotations

import binascii
import gzip
import json
import os
import re
import tempfile
import zlib
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..formats.safe_write import write_output
from ..sources import sysfs

BEGIN = b"P2PTUI-COLLECT 1"
END = b"P2PTUI-COLLECT-END"
NOTES_MEMBER = "p2ptui-collect.txt"
SUFFIX = ".tar.gz"
MANIFEST = "collect.json"
MAX_ARCHIVE = 256 << 20  # as the tarball reader's cap
NODE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]*")


class Status(StrEnum):
    NEW = "new"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    FAILED = "failed"


@dataclass
class NodeResult:
    node: str
    status: Status
    reason: str = ""  # why it failed
    devices: int = 0
    notes: list[str] = field(default_factory=list)  # what the collector could not read (a partial snapshot)
    path: Path | None = None

    @property
    def partial(self) -> bool:
        return bool(self.notes)


def check_node_name(node: str) -> None:
    """A node name becomes a file name and a word in a command template: host name characters only."""
    if not NODE_NAME.fullmatch(node):
        raise InputError(
            Diagnostic(
                f"node name {node!r} is not a host name",
                hint="letters, digits, '.', '_' and '-', not starting with '.' or '-'",
            )
        )


def snapshot_path(out_dir: Path, node: str) -> Path:
    return out_dir / f"{node}{SUFFIX}"


@dataclass
class Archive:
    tar: bytes  # the plain tar archive
    gzipped: bytes | None  # as the node compressed it (gzip -n: the same bytes for the same archive)


def decode_stream(lines: list[bytes]) -> Archive:
    """The tar archive in the collector's output; ValueError saying what is wrong with it."""
    try:
        start = next(i for i, line in enumerate(lines) if line.strip() == BEGIN)
    except StopIteration:
        first = next((ln for ln in lines if ln.strip()), b"")
        shown = first[:60].decode("utf-8", "replace")
        raise ValueError(
            f"garbage output: no collector header (first line {shown!r})"
            if first
            else "garbage output: nothing on standard output"
        ) from None
    body = lines[start + 1 :]
    try:
        stop = next(i for i, line in enumerate(body) if line.strip() == END)
    except StopIteration:
        raise ValueError("partial output: the stream ended before the collector's end mark") from None
    try:
        data = binascii.a2b_base64(b"".join(line.strip() for line in body[:stop]), strict_mode=True)
    except binascii.Error as exc:
        raise ValueError(f"garbage output: the archive is not base64 ({exc})") from None
    gzipped = None
    if data.startswith(b"\x1f\x8b"):
        gzipped = data
        dec = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
        try:
            data = dec.decompress(data, MAX_ARCHIVE + 1)
        except zlib.error as exc:
            raise ValueError(f"garbage output: the archive is not valid gzip ({exc})") from None
        if len(data) > MAX_ARCHIVE:
            raise ValueError("garbage output: the archive unpacks to more than 256 MiB")
        if not dec.eof:
            raise ValueError("partial output: the compressed archive is cut short")
    if not data:
        raise ValueError("garbage output: an empty archive")
    return Archive(data, gzipped)


def store_snapshot(node: str, archive: Archive, out_dir: Path) -> NodeResult:
    """Check the archive loads as a fabric, then write it as ``out_dir/NODE.tar.gz`` unless an equal one is there."""
    try:
        devices, notes = _check(archive.gzipped or archive.tar, out_dir)
    except InputError as exc:
        return NodeResult(node, Status.FAILED, f"bad snapshot: {exc.diagnostics[0].message}")
    target = snapshot_path(out_dir, node)
    status = Status.NEW
    if target.exists():
        status = Status.UPDATED
        try:
            if gzip.decompress(target.read_bytes()) == archive.tar:
                return NodeResult(node, Status.UNCHANGED, devices=devices, notes=notes, path=target)
        except (OSError, EOFError, zlib.error):
            pass  # an unreadable old snapshot is replaced
    try:
        write_output(target, archive.gzipped or gzip.compress(archive.tar, mtime=0), overwrite=True)
    except InputError as exc:
        return NodeResult(node, Status.FAILED, f"cannot write {target}: {exc.diagnostics[0].message}")
    return NodeResult(node, status, devices=devices, notes=notes, path=target)


def _check(data: bytes, out_dir: Path) -> tuple[int, list[str]]:
    """Read the archive with the sysfs reader (from a private temporary file beside the snapshots): its number of
    functions, and the lines of the collector's own notes (what it could not read)."""
    fd, temp = tempfile.mkstemp(prefix=".p2ptui-check.", suffix=".tar", dir=out_dir)
    try:
        with os.fdopen(fd, "wb") as stream:
            stream.write(data)
        files, _ = sysfs.open_root(Path(temp))
        fabric = sysfs.read_fabric(files, "check", False, temp)
        try:
            text = files.read(NOTES_MEMBER).decode("utf-8", "replace")
        except OSError:
            text = ""
        return len(fabric), [line for line in text.splitlines() if line.strip()]
    finally:
        os.unlink(temp)


def write_manifest(out_dir: Path, results: list[NodeResult]) -> Path:
    """``collect.json``: each node's last collection (merged with earlier runs for nodes not in this one)."""
    path = out_dir / MANIFEST
    entries: dict[str, dict] = {}
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(old, dict) and isinstance(old.get("nodes"), dict):
            entries.update(old["nodes"])
    except (OSError, ValueError):
        pass
    for r in results:
        entry: dict = {"status": r.status.value}
        if r.status is Status.FAILED:
            entry["reason"] = r.reason
            previous = snapshot_path(out_dir, r.node)
            entry["snapshot"] = previous.name if previous.exists() else None
        else:
            entry.update(snapshot=snapshot_path(out_dir, r.node).name, devices=r.devices, notes=r.notes)
        entries[r.node] = entry
    text = json.dumps({"format": "p2ptui-fleet-collect/1", "nodes": dict(sorted(entries.items()))}, indent=2)
    write_output(path, text + "\n", overwrite=True)
    return path


def read_manifest(out_dir: Path) -> dict[str, dict]:
    """The nodes of ``collect.json``, or {} when there is none; InputError when it is not what collect writes."""
    path = out_dir / MANIFEST
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(Diagnostic(f"not a collect manifest ({exc})", Location(str(path)))) from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), dict):
        raise InputError(Diagnostic("not a collect manifest (no 'nodes' table)", Location(str(path))))
    return data["nodes"]
