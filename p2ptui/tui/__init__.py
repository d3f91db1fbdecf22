"""The Textual TUI. Only this package imports textual; the core stays usable without it.

Importing the package itself loads nothing from Textual (tools that walk every package, like the layering test,
import it); ``make_app`` and friends load the app on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import P2PApp, TuiOptions, make_app
    from .demo import play, write_screenshots

# What the CLI's launcher (cli/tui_commands.py, the one CLI module allowed to import this package) may use, and the
# module each lives in.
_EXPORTS = {
    "P2PApp": "app",
    "TuiOptions": "app",
    "make_app": "app",
    "play": "demo",
    "write_screenshots": "demo",
}
__all__ = ["P2PApp", "TuiOptions", "make_app", "play", "write_screenshots"]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        from importlib import import_module

        return getattr(import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(name)
