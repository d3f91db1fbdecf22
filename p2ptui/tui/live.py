"""Where "This machine" comes from: the sources' live sysfs scan, when that source exists in this build."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

from ..fabric.model import Fabric

LiveScan = Callable[[], Fabric]


def default_live_scan() -> tuple[LiveScan | None, str]:
    """The scanner and, when there is none, why (shown on the disabled launcher entry)."""
    if importlib.util.find_spec("p2ptui.sources.detect") is None:
        return None, "live sysfs scanning is not part of this build yet"

    def scan() -> Fabric:
        from ..sources import open_fabric

        return open_fabric("local")

    return scan, ""
