"""Where fabrics come from: a FABRIC argument names a bundled fabric, a file or directory in any supported format
(detected from its content), or ``local`` for this machine's live sysfs."""

from .detect import SOURCES, detect_source, open_fabric

__all__ = ["SOURCES", "detect_source", "open_fabric"]
