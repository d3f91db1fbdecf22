"""Shown over everything while the terminal is smaller than the layouts are made for, instead of broken frames;
it goes away by itself when the terminal grows again."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Static

MIN_WIDTH, MIN_HEIGHT = 80, 24


def too_small(width: int, height: int) -> bool:
    return width < MIN_WIDTH or height < MIN_HEIGHT


class TooSmallScreen(Screen[None]):
    BINDINGS = [Binding("q", "app.quit", "Quit", id="quit")]

    def compose(self) -> ComposeResult:
        yield Static(id="too-small-text")

    def on_mount(self) -> None:
        self._say()

    def on_resize(self) -> None:
        self._say()

    def _say(self) -> None:
        width, height = self.app.size
        self.query_one(Static).update(
            Content.assemble(
                ("Terminal too small", "bold $text-error"),
                (f"\n\n{width} × {height}; p2ptui needs at least {MIN_WIDTH} × {MIN_HEIGHT}.", ""),
                ("\nEnlarge the window (or make the font smaller); q quits.", "dim"),
            )
        )
