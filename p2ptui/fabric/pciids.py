"""Vendor and device names from the system's PCI ID database (``pci.ids``), the file lspci names devices from.

Format (pciutils, pci.ids header): a vendor line is ``vvvv  Vendor name``; the device lines that follow it are
``<TAB>dddd  Device name`` (subsystem lines have two tabs); ``#`` starts a comment; the class section at the end
starts with ``C cc  Class name`` lines, which no vendor pattern matches.

The file is about 1.3 MB and a process asks for a handful of names, so nothing is parsed up front: the text is read
once, one regex pass indexes the vendor lines (the blocks between them), and a device is looked up only inside its
vendor's block. Answers are cached for the process.

Where the database is: ``--pci-ids FILE`` (the CLI), else the ``P2PTUI_PCI_IDS`` environment variable (empty: no
database), else the first of the usual paths that exists. Without a database every name is None, and views show
the IDs alone.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import Diagnostic, InputError

ENV_VAR = "P2PTUI_PCI_IDS"
SEARCH_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids", "/usr/share/pci.ids")

_VENDOR_LINE = re.compile(r"^([0-9a-f]{4})  (.+?)\s*$", re.MULTILINE)


@dataclass
class PciIds:
    """One pci.ids file's text, indexed on demand."""

    text: str
    path: str = ""
    _vendors: dict[int, tuple[str, int, int]] | None = field(default=None, repr=False)  # id -> (name, start, end)
    _by_name: dict[str, int] | None = field(default=None, repr=False)
    _devices: dict[tuple[int, int], str | None] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, path: str | os.PathLike) -> PciIds:
        """The database in ``path`` (``.gz`` is read compressed); OSError when it cannot be read."""
        if str(path).endswith(".gz"):
            with gzip.open(path) as f:
                raw = f.read()
        else:
            raw = Path(path).read_bytes()
        return cls(raw.decode("utf-8", errors="replace"), str(path))

    def _index(self) -> dict[int, tuple[str, int, int]]:
        if self._vendors is None:
            found = [(int(m[1], 16), m[2], m.start(), m.end()) for m in _VENDOR_LINE.finditer(self.text)]
            vendors: dict[int, tuple[str, int, int]] = {}
            for k, (vid, name, _, end) in enumerate(found):
                # A block runs to the next vendor line, the last one to the end (its class section has no 4-digit IDs).
                stop = found[k + 1][2] if k + 1 < len(found) else len(self.text)
                vendors.setdefault(vid, (name, end, stop))
            self._vendors = vendors
        return self._vendors

    @property
    def vendor_count(self) -> int:
        return len(self._index())

    def vendor(self, vendor_id: int | None) -> str | None:
        if vendor_id is None:
            return None
        entry = self._index().get(vendor_id)
        return entry[0] if entry else None

    def device(self, vendor_id: int | None, device_id: int | None) -> str | None:
        if vendor_id is None or device_id is None:
            return None
        key = (vendor_id, device_id)
        if key not in self._devices:
            entry = self._index().get(vendor_id)
            name = None
            if entry is not None:
                block = re.compile(rf"^\t{device_id:04x}  (.+?)\s*$", re.MULTILINE)
                m = block.search(self.text, entry[1], entry[2])
                name = m[1] if m else None
            self._devices[key] = name
        return self._devices[key]

    def vendor_prefix(self, text: str) -> tuple[int, str] | None:
        """The vendor whose name ``text`` starts with (followed by a space or the end), longest name first: how
        lspci without ``-n`` writes "Vendor Device"."""
        if self._by_name is None:
            by_name: dict[str, int] = {}
            for vid, (name, _, _) in self._index().items():
                by_name.setdefault(name, vid)
            self._by_name = by_name
        cuts = [len(text)] + [m.start() for m in re.finditer(" ", text)][::-1]
        for cut in cuts:
            vid = self._by_name.get(text[:cut])
            if vid is not None:
                return vid, text[:cut]
        return None

    def device_by_name(self, vendor_id: int, name: str) -> int | None:
        """The device ID whose name is exactly ``name`` under this vendor; None when none is, or several are."""
        entry = self._index().get(vendor_id)
        if entry is None or not name:
            return None
        pattern = re.compile(rf"^\t([0-9a-f]{{4}})  {re.escape(name)}\s*$", re.MULTILINE)
        ids = {int(m[1], 16) for m in pattern.finditer(self.text, entry[1], entry[2])}
        return ids.pop() if len(ids) == 1 else None


_UNSET = object()
_chosen: str | None | object = _UNSET  # a path from --pci-ids, "" for none, or _UNSET (environment, usual paths)
_loaded: dict[str | None, PciIds | None] = {}


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
    path = _path()
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
    if db.vendor_count == 0:
        raise InputError(Diagnostic(f"{what}: not a PCI ID database", hint="pci.ids has lines like '10de  NVIDIA "
                                    "Corporation'"))  # fmt: skip
    _loaded[path] = db
