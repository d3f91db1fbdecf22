"""A list of notes to read at leisure: what a source could not say about the fabric (its load notes), or what the
engine assumed for a transfer. Scrollable, and copied to the clipboard with c (OSC 52, so it works over SSH)."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static


def notes_text(title: str, notes: Sequence[str]) -> str:
    """The notes as plain text, as they are copied."""
    return "\n".join([title, *(f"- {n}" for n in notes)])


class NotesScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="notes-close"),
        Binding("c", "copy", "Copy all", id="notes-copy", tooltip="Copy every note to the clipboard as text"),
        Binding("n", "close", "Close", show=False),
    ]

    def __init__(self, title: str, notes: Sequence[str]) -> None:
        super().__init__()
        self.title_text = title
        self.notes = list(notes)

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="notes-box") as box:
            box.border_title = f"{self.title_text} · c copies · esc closes"
            grid = Table.grid(padding=(0, 1))
            grid.add_column(width=2, no_wrap=True)
            grid.add_column(ratio=1)
            for note in self.notes:
                grid.add_row(Text("•", style="bold"), Text(note))  # Text: notes are data, never markup
                grid.add_row("", "")
            yield Static(grid if self.notes else Text("No notes.", style="dim"), id="notes-body")

    def on_mount(self) -> None:
        self.query_one("#notes-box").focus()

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(notes_text(self.title_text, self.notes))
        self.notify(f"{len(self.notes)} note{'s' if len(self.notes) != 1 else ''} copied to the clipboard.", timeout=3)

    def action_close(self) -> None:
        self.dismiss(None)
