"""Where fabrics come from: a FABRIC argument names a bundled fabric, a file or directory in any supported format
(detected from its content), or ``local`` for this machine's live sysfs."""

from types import ModuleType

from .detect import detect_source, open_fabric


def __getattr__(name: str) -> tuple[ModuleType, ...]:
    if name == "SOURCES":  # imports every reader: looked up only when asked for (detect.SOURCE_NAMES says why)
        from . import detect

        return detect.SOURCES
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["SOURCES", "detect_source", "open_fabric"]
