"""Vendor and device names from the system's PCI ID database (``pci.ids``), the file lspci names devices from.

Format (pciutils, pci.ids header): a vendor line is ``vvvv  Vendor name``; the device lines that follow it are
``<TAB>dddd  Device name`` (subsystem lines have two tabs); ``#`` starts a comment; the class section at the end
starts with ``C cc  Class name`` lines, which no vendor pattern matches.

The file is about 1.3 MB and a process asks for a handful of names, so nothing is parsed up front: the text is read
once, and a name is found by a plain string search for its line: the vendor's line ``\nvvvv  `` in the whole
text, a device's ``\n<TAB>dddd  `` only inside its vendor's block. Answers are cached for the process. Only lspci
text without IDs needs the reverse (names to IDs), which reads every vendor line once.

Where the database is: ``--pci-ids FILE`` (the CLI), else the ``P2PTUI_PCI_IDS`` environment variable (empty: no
database), else the first of the usual paths that exists. Without a database every name is None, and views show
the IDs alone.
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, InputError

ENV_VAR = "P2PTUI_PCI_IDS"
SEARCH_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")

# Anchored on the newline before the line rather than ^ with MULTILINE: a pattern that starts with a literal lets
# the regex engine skip ahead with a fast string search, about ten times faster on this file.
_VENDOR_LINE = re.compile(rb"\n([0-9a-f]{4})  ([^\n]*[^\s])")
_DEVICE_LINE = re.compile(rb"\n\t([0-9a-f]{4})  ([^\n]*[^\s])")


@dataclass
class PciIds:
    """One pci.ids file, looked into on demand. Kept as bytes: the IDs are ASCII, a bytes search is a plain memory
    search, and only the names found are decoded (the file is UTF-8)."""

    data: bytes  # starts with a newline, so every line, the first too, follows one
    path: str = ""
    _vendors: dict[int, tuple[str, int, int] | None] = field(default_factory=dict, repr=False)
    _by_name: dict[str, int] | None = field(default=None, repr=False)
    _devices: dict[tuple[int, int], str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, path: str | os.PathLike) -> PciIds:
        """The database in ``path`` (``.gz`` is read compressed); OSError when it cannot be read, or is no regular
        file: a FIFO would block the read and a device such as /dev/zero never end it."""
        if not stat.S_ISREG(os.stat(path).st_mode):
            raise OSError(errno.EINVAL, "not a regular file (a named pipe, socket or device)", str(path))
        if str(path).endswith(".gz"):
            with gzip.open(path) as f:
                raw = f.read()
        else:
            raw = Path(path).read_bytes()
        return cls(b"\n" + raw, str(path))

    def _line_rest(self, start: int) -> tuple[str, int]:
        """The text from ``start`` to the end of its line, decoded and stripped, and where the line ends."""
        end = self.data.find(b"\n", start)
        end = len(self.data) if end < 0 else end
        return self.data[start:end].decode("utf-8", errors="replace").strip(), end

    def _vendor(self, vendor_id: int) -> tuple[str, int, int] | None:
        """(name, start, end) of the vendor's line and block of device lines, found by a plain search."""
        if vendor_id not in self._vendors:
            found = None
            at = self.data.find(b"\n%04x  " % vendor_id)
            if at >= 0:
                name, line_end = self._line_rest(at + 7)
                # The block ends at the next vendor line; the last one's runs on into the class section, whose
                # lines (<TAB>cc, <TAB><TAB>pp) never look like a device line (<TAB>dddd).
                after = _VENDOR_LINE.search(self.data, line_end)
                found = (name, line_end, after.start() if after else len(self.data))
            self._vendors[vendor_id] = found
        return self._vendors[vendor_id]

    @property
    def vendor_count(self) -> int:
        return len(_VENDOR_LINE.findall(self.data))

    def vendor(self, vendor_id: int | None) -> str | None:
        if vendor_id is None:
            return None
        entry = self._vendor(vendor_id)
        return entry[0] if entry else None

    def device(self, vendor_id: int | None, device_id: int | None) -> str | None:
        if vendor_id is None or device_id is None:
            return None
        key = (vendor_id, device_id)
        if key not in self._devices:
            entry = self._vendor(vendor_id)
            name = None
            if entry is not None:
                at = self.data.find(b"\n\t%04x  " % device_id, entry[1], entry[2])
                if at >= 0:
                    name = self._line_rest(at + 8)[0] or None
            self._devices[key] = name
        return self._devices[key]

    def vendor_prefix(self, text: str) -> tuple[int, str] | None:
        """The vendor whose name ``text`` starts with (followed by a space or the end), longest name first: how
        lspci without ``-n`` writes "Vendor Device". The first call reads every vendor line."""
        if self._by_name is None:
            by_name: dict[str, int] = {}
            for m in _VENDOR_LINE.finditer(self.data):
                by_name.setdefault(m[2].decode("utf-8", errors="replace"), int(m[1], 16))
            self._by_name = by_name
        cuts = [len(text)] + [m.start() for m in re.finditer(" ", text)][::-1]
        for cut in cuts:
            vid = self._by_name.get(text[:cut])
            if vid is not None:
                return vid, text[:cut]
        return None

    def device_by_name(self, vendor_id: int, name: str) -> int | None:
        """The device ID whose name is exactly ``name`` under this vendor; None when none is, or several are."""
        entry = self._vendor(vendor_id)
        if entry is None or not name:
            return None
        wanted = name.encode("utf-8")
        ids = {int(m[1], 16) for m in _DEVICE_LINE.finditer(self.data, entry[1], entry[2]) if m[2] == wanted}
        return ids.pop() if len(ids) == 1 else None


_UNSET = object()
_chosen: str | None | object = _UNSET  # a path from --pci-ids, "" for none, or _UNSET (environment, usual paths)
_loaded: dict[str | None, PciIds | None] = {}
_resolved: dict[tuple[object, str | None], str | None] = {}


def use_file(path: str | None) -> None:
    """Take the database from ``path`` (None: back to the environment and the usual paths). A file that cannot be
    read, or holds no vendor line, is an InputError naming it."""
    global _chosen
    if path is None:
        _chosen = _UNSET
        return
    if path:
        _checked(path, f"--pci-ids {path}")
    _chosen = path


def database() -> PciIds | None:
    """The PCI ID database this process names devices from, read on first use; None when there is none."""
    key = (_chosen, os.environ.get(ENV_VAR))  # what decides the path: asked once per device, so no stat each time
    if key not in _resolved:
        _resolved[key] = _path()
    path = _resolved[key]
    if path not in _loaded:
        try:
            _loaded[path] = PciIds.read(path) if path else None
        except OSError:
            _loaded[path] = None  # it vanished since it was chosen: names are optional, IDs still say everything
    return _loaded[path]


def check_environment() -> None:
    """An InputError when ``P2PTUI_PCI_IDS`` names a file that is no database, so the CLI says so once, up front."""
    value = os.environ.get(ENV_VAR)
    if value and _chosen is _UNSET:
        _checked(value, f"{ENV_VAR}={value}")


def _path() -> str | None:
    if _chosen is not _UNSET:
        return _chosen or None  # type: ignore[return-value]
    value = os.environ.get(ENV_VAR)
    if value is not None:
        return value or None
    return next((p for p in SEARCH_PATHS if os.path.isfile(p)), None)


def _checked(path: str, what: str) -> None:
    try:
        db = PciIds.read(path)
    except OSError as exc:
        raise InputError(Diagnostic(f"{what}: cannot read the PCI ID database: {exc.strerror or exc}")) from None
    if _VENDOR_LINE.search(db.data) is None:  # the first vendor line is near the top: no full scan
        raise InputError(
            Diagnostic(f"{what}: not a PCI ID database", hint="pci.ids has lines like '10de  NVIDIA Corporation'")
        )
    _loaded[path] = db
