"""Pick the source for a FABRIC argument from what it is, not what it is called.

``local`` is this machine; ``-`` is standard input (read whole, bounded, then detected like a file); a bundled
fabric's name works when no such path exists; any path is offered to each source's ``sniff(path, head)`` in order,
and the first that claims it loads it (the contract is in p2ptui/sources/__init__.py). Order matters only where two
formats could look alike: precise sniffs go first: the YAML fabric (it names its format), p2ptui's JSON (an object
with its keys), sysfs (directories and tar archives), hwloc and NCCL XML (by root element); lspci's text last, as
its sniff accepts any line shaped like lspci output.

A path is checked before anything opens it: FIFOs, sockets and devices are refused (opening a FIFO would wait for
a writer forever), and every stat or open error is one line naming the path.
"""

from __future__ import annotations

import importlib
import stat
from pathlib import Path
from types import ModuleType

from ..errors import Diagnostic, InputError, Location
from ..fabric import Fabric
from ..formats import load_fabric
from ..formats.gallery import bundled, find_bundled
from ..formats.input_paths import check_input, display
from .stdin_input import STDIN, load_stdin
from .text_safety import printable_fabric

# The readers by module name, imported only when a sniff reaches them: a YAML fabric or a bundled name never pays
# for the sysfs, lspci, hwloc and NCCL readers (start-up time of every command). ``SOURCES`` gives the modules.
SOURCE_NAMES = ("yaml_source", "json_source", "sysfs", "hwloc", "nccl", "lspci")
LOCAL = "local"  # this machine's live sysfs (sysfs.LOCAL is this name)
HEAD_BYTES = 64 << 10
KNOWN_FORMATS = (
    "a p2ptui YAML or JSON fabric, a sysfs root directory or tarball snapshot, lspci -tv / -vvv output, "
    "hwloc XML, NCCL topology XML, a bundled fabric's name, 'local', or '-' for standard input"
)


def detect_source(path: Path, head: bytes) -> ModuleType | None:
    """The first source that claims ``path``; None when none does."""
    for name in SOURCE_NAMES:
        module = _source(name)
        if module.sniff(path, head):
            return module
    return None


def _source(name: str) -> ModuleType:
    return importlib.import_module(f"{__package__}.{name}")


def __getattr__(name: str) -> tuple[ModuleType, ...]:
    if name == "SOURCES":  # every reader, in sniff order (imports them all)
        return tuple(_source(n) for n in SOURCE_NAMES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_fabric(ref: str) -> Fabric:
    """Load what ``ref`` names: ``local``, ``-``, an existing path in any known format, else a bundled fabric.
    Text a name or file carries that is not valid Unicode (file names in other encodings) comes back escaped."""
    if ref == LOCAL:
        return printable_fabric(_source("sysfs").load_local())
    if ref == STDIN:
        return printable_fabric(load_stdin(_load_detected, HEAD_BYTES, KNOWN_FORMATS))
    st = check_input(ref)
    if st is None:
        return _bundled(ref)
    path = Path(ref)
    if stat.S_ISDIR(st.st_mode):
        head = b""
    else:
        try:
            with open(path, "rb") as stream:
                head = stream.read(HEAD_BYTES)
        except OSError as exc:
            raise InputError(Diagnostic(f"cannot read: {exc.strerror or exc}", Location(display(ref)))) from None
        if not head:
            raise InputError(Diagnostic("file is empty", Location(display(ref), 1, 1), f"expected {KNOWN_FORMATS}"))
    return printable_fabric(_load_detected(path, head, display(ref)))


def _load_detected(path: Path, head: bytes, shown: str) -> Fabric:
    module = detect_source(path, head)
    if module is None:
        raise InputError(Diagnostic("unrecognised format", Location(shown), f"p2ptui reads {KNOWN_FORMATS}"))
    return module.load(path)


def _bundled(ref: str) -> Fabric:
    named = find_bundled(ref)
    if named is not None:
        return load_fabric(named)
    names = ", ".join(e.name for e in bundled())
    raise InputError(
        Diagnostic(
            "no such file, and no bundled fabric of that name", Location(display(ref)), f"bundled: {names}; or 'local'"
        )
    )
