"""The footer every screen uses: Textual's Footer with Help, Quit and the palette key pinned to the right edge, so
they stay visible however many keys the screen has and however narrow the terminal is (the others are cut first)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
from textual.screen import Screen
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

PINNED_ACTIONS = ("help", "quit")
COMPACT_BELOW = 120  # columns: narrower terminals get the footer's compact spacing


class KeyFooter(Footer):
    DEFAULT_CSS = """
    KeyFooter #pinned-keys {
        dock: right;
        width: auto;
        background: $footer-background;
    }
    KeyFooter #pinned-keys FooterKey.-command-palette {
        dock: none;
        padding-right: 1;
    }
    """

    def __init__(self) -> None:
        super().__init__()
        # Textual's Footer starts empty and fills in after the screen's first refresh, so every screen's first
        # frame had no keys. The screen's bindings are known when the footer is composed: show them at once.
        self.set_reactive(Footer._bindings_ready, True)
        self._composed_for: tuple | None = None

    def bindings_changed(self, screen: Screen) -> None:
        # Textual rebuilds the footer whenever any binding may have changed (every focus change, the first one
        # included), and a rebuild shows a half-built footer for a frame or two: rebuild only when the keys
        # shown would differ.
        if self._composed_for == self._shown_keys():
            return
        super().bindings_changed(screen)

    def _shown_keys(self) -> tuple:
        """What the footer would show: each shown binding's key, action, text and whether it is enabled."""
        return tuple(
            (key, active.binding.action, active.binding.description, active.enabled)
            for key, active in self.screen.active_bindings.items()
            if active.binding.show
        )

    def compose(self) -> ComposeResult:
        self._composed_for = self._shown_keys()
        pinned: list[FooterKey] = []
        for widget in super().compose():
            if isinstance(widget, FooterKey) and (
                widget.action in PINNED_ACTIONS or widget.has_class("-command-palette")
            ):
                pinned.append(widget)
            else:
                yield widget
        # Docked widgets overlap; one docked group holds all pinned keys side by side.
        yield HorizontalGroup(*pinned, id="pinned-keys")

    def on_resize(self) -> None:
        self.compact = self.app.size.width < COMPACT_BELOW
