"""Where fabrics come from: FABRIC arguments name a bundled fabric or a file."""

from .resolve import open_fabric

__all__ = ["open_fabric"]
