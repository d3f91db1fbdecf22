"""The footer every screen uses: Textual's Footer with Help, Quit and the palette key pinned to the right edge, so
they stay visible however many keys the screen has and however narrow the terminal is (the others are cut first)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import HorizontalGroup
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

    def compose(self) -> ComposeResult:
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
