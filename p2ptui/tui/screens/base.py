"""The base of the project's screens: ``self.app`` typed as the project's app, so a screen reads the app's options,
expert flag and live scan with the type checker's help instead of through a plain ``App``."""

from __future__ import annotations

from typing import TYPE_CHECKING, TypeVar

from textual.screen import Screen

if TYPE_CHECKING:
    from textual import getters

    from ..app import P2PApp

ResultT = TypeVar("ResultT")


class AppScreen(Screen[ResultT]):
    if TYPE_CHECKING:
        # A declaration for the type checker only, as Textual declares its own ``app``: at run time Textual's
        # property answers (the app module imports the screens, so the screens cannot import it back at run time).
        # Every screen here runs inside P2PApp: make_app builds every instance, tests included.
        app = getters.app(P2PApp)
