"""The kernel's verdict for the current selection, refreshed on every change; before/after under a what-if."""

from __future__ import annotations

from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ...present.rows import Row, row_text
from ..styled import palette_from
from .detail_pane import render_rows

HINT = Content.assemble(
    ("Choose an exporter with ", "dim"),
    ("e", "bold"),
    (" and one or more importers with ", "dim"),
    ("i", "bold"),
    (": the kernel's verdict appears here.", "dim"),
)


class VerdictPanel(VerticalScroll):
    def __init__(self, id: str | None = None):
        super().__init__(id=id)
        self.border_title = "Verdict"
        self._title = "Verdict"
        self.rows: list[Row] = []

    def compose(self):
        yield Static(HINT, id="verdict-body")

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.show(self.rows, self._title))

    def show(self, rows: list[Row] | None, title: str = "Verdict") -> None:
        self.rows = rows or []
        self._title = title
        self.border_title = Content(title)
        body = self.query_one("#verdict-body", Static)
        body.update(render_rows(self.rows, palette_from(self.app.theme_variables)) if self.rows else HINT)

    @property
    def text(self) -> str:
        """The panel as plain text, one row a line, as the CLI prints rows (tests and the demo's captions read it)."""
        return "\n".join(row_text(row) for row in self.rows)
