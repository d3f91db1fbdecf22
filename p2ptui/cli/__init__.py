"""The ``p2ptui`` command: a thin client of the core, like the TUI."""

from .main import main

__all__ = ["main"]
