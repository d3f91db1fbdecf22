"""Every transfer, live: a summary line (aggregate rate, counts, busiest resources), then three lines per transfer
(rate, sparkline, progress, ETA / route / P2P vs bounce and bytes verified).

Drawn line by line (Textual's Line API) from the latest Snapshot, so 64 transfers updating at 4 Hz cost only the
lines on screen, and no widget is mounted or laid out per transfer.
"""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ..operate import Snapshot, TransferView
from ..styled import Part, ThemeStyles, fit_parts
from ..transfer_text import summary_line, transfer_lines

LINES_PER_TRANSFER = 3


class TransfersPanel(ThemeStyles, ScrollView, can_focus=True):
    BINDING_GROUP_TITLE = "Transfers panel (tab or click to reach it)"
    BINDINGS = [
        Binding("up", "move(-1)", show=False),
        Binding("down", "move(1)", show=False),
        Binding("k", "cancel_transfer", "Cancel copy", id="cancel-transfer", tooltip="Cancel the highlighted transfer"),
        Binding("delete", "cancel_transfer", "Cancel copy", show=False),
        Binding(
            "c",
            "clear_finished",
            "Clear finished",
            id="clear-finished",
            tooltip="Take done, cancelled and failed transfers off the panel (C does it anywhere)",
        ),
        Binding(
            "enter",
            "notes",
            "Notes",
            id="transfer-notes",
            tooltip="What the engine assumed for the highlighted transfer (defaults, fallbacks, labels)",
        ),
    ]

    cursor: reactive[int] = reactive(0)

    class CancelRequested(Message):
        def __init__(self, number: int) -> None:
            super().__init__()
            self.number = number

    class ClearRequested(Message):
        pass

    class NotesRequested(Message):
        def __init__(self, view: TransferView) -> None:
            super().__init__()
            self.view = view

    def __init__(self, id: str | None = None) -> None:
        super().__init__(id=id)
        self.snapshot = Snapshot([])
        self._styles: dict[str, Style] = {}
        self._lines: list[list[Part]] = []
        self.border_title = "Transfers"

    @property
    def views(self) -> list[TransferView]:
        return self.snapshot.views

    @property
    def selected(self) -> TransferView | None:
        views = self.views
        return views[self.cursor] if 0 <= self.cursor < len(views) else None

    def show(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot
        if self.cursor >= len(snapshot.views):
            self.cursor = max(0, len(snapshot.views) - 1)
        self._rebuild()

    def _rebuild(self) -> None:
        width = self.scrollable_content_region.width or 120  # the meters stretch with the panel
        lines = [summary_line(self.snapshot, width)]
        for i, view in enumerate(self.views):
            lines += transfer_lines(view, i == self.cursor, width)
        self._lines = lines
        self.virtual_size = Size(self.size.width, len(lines))
        self.refresh()

    @property
    def text(self) -> str:
        """The panel as plain text, one line per line (tests read it)."""
        return "\n".join("".join(t for t, _ in line) for line in self._lines)

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        # The summary stays put; the transfers scroll under it.
        index = 0 if y == 0 else self.scroll_offset.y + y
        if index >= len(self._lines):
            return Strip.blank(width, self.rich_style)
        # The widget's own colours under every segment: bare segments would show the terminal's default background.
        base = self.rich_style
        parts = fit_parts(self._lines[index], width)  # cut with an ellipsis, never silently
        segments = [Segment(text, base + self._styles.get(role, Style())) for text, role in parts]
        return Strip(segments).adjust_cell_length(width, base)

    def on_resize(self) -> None:
        self._rebuild()

    # -- cursor and keys --------------------------------------------------------------------------------------------
    def action_move(self, delta: int) -> None:
        if self.views:
            self.cursor = min(max(self.cursor + delta, 0), len(self.views) - 1)

    def watch_cursor(self, cursor: int) -> None:
        top = 1 + cursor * LINES_PER_TRANSFER  # first line of the transfer, in content lines
        visible = max(1, self.scrollable_content_region.height - 1)
        y = self.scroll_offset.y
        if top - 1 < y:
            y = top - 1
        elif top - 1 + LINES_PER_TRANSFER > y + visible:
            y = top - 1 + LINES_PER_TRANSFER - visible
        self.scroll_to(0, max(0, y), animate=False)
        self._rebuild()

    def action_cancel_transfer(self) -> None:
        view = self.selected
        if view is not None:
            self.post_message(self.CancelRequested(view.number))

    def action_clear_finished(self) -> None:
        self.post_message(self.ClearRequested())

    def action_notes(self) -> None:
        view = self.selected
        if view is not None:
            self.post_message(self.NotesRequested(view))

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1:
            return
        index = (self.scroll_offset.y + offset.y - 1) // LINES_PER_TRANSFER
        if index < len(self.views):
            self.cursor = index
