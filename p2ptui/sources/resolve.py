"""Turn a FABRIC argument into a Fabric. Kept for ``from p2ptui.sources.resolve import open_fabric``; the work,
picking the source from the content, is done in detect.py."""

from __future__ import annotations

from .detect import open_fabric

__all__ = ["open_fabric"]
