"""The Textual TUI. Only this package imports textual; the core stays usable without it.

Importing the package itself loads nothing from Textual (tools that walk every package, like the layering test,
import it); ``make_app`` and friends load the app on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import P2PApp, TuiOptions, make_app

__all__ = ["P2PApp", "TuiOptions", "make_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import app

        return getattr(app, name)
    raise AttributeError(name)
