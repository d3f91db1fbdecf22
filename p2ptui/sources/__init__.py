"""Where fabrics come from: a FABRIC argument names a bundled fabric, a file or directory in any supported format
(detected from its content), or ``local`` for this machine's live sysfs.

The source contract: a reader is a module here with ``sniff(path: Path, head: bytes) -> bool`` (is this file mine?
``head`` is its first 64 KiB; no exceptions) and ``load(path: Path) -> Fabric`` (InputError naming file:line for
bad input). A new importer is such a module plus its name in detect.SOURCE_NAMES, in sniff order: precise sniffs
first. It builds the model through assemble.py and shares the bounds of fabric/limits.py; output formats are
p2ptui.formats' job.
"""

from types import ModuleType

from .detect import detect_source, open_fabric


def __getattr__(name: str) -> tuple[ModuleType, ...]:
    if name == "SOURCES":  # imports every reader: looked up only when asked for (detect.SOURCE_NAMES says why)
        from . import detect

        return detect.SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SOURCES", "detect_source", "open_fabric"]
