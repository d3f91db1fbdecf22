"""Turning expert mode on: this fabric's concrete pitfalls, and an explicit confirmation (escape and No refuse)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Static


class ExpertConfirm(ModalScreen[bool]):
    BINDINGS = [Binding("escape", "refuse", "No", show=False)]

    def __init__(self, pitfalls: list[tuple[str, str]]) -> None:
        super().__init__(id="expert-confirm")
        self.pitfalls = pitfalls

    def compose(self) -> ComposeResult:
        with Vertical(id="expert-box") as box:
            box.border_title = "Turn on expert mode?"
            yield Static(
                Content.assemble(
                    (
                        "Expert mode unlocks actions the kernel or p2ptui's gate would otherwise refuse: "
                        "simulating P2P that Linux calls NOT_SUPPORTED, what-ifs that give up ACS isolation, "
                        "real copies that overwrite "
                        "data. It lasts for this session only. On this fabric:",
                        "",
                    ),
                ),
                id="expert-intro",
            )
            with VerticalScroll(id="expert-pitfalls"):
                yield Static(_table(self.pitfalls))
            with Horizontal(id="expert-buttons"):
                yield Button("No, stay safe", id="expert-no", variant="primary")
                yield Button("Yes, I understand", id="expert-yes", variant="error")

    def on_mount(self) -> None:
        self.query_one("#expert-no", Button).focus()  # the safe choice is the default

    @on(Button.Pressed, "#expert-yes")
    def confirm(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#expert-no")
    def action_refuse(self) -> None:
        self.dismiss(False)


def _table(pitfalls: list[tuple[str, str]]) -> Table:
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=16, no_wrap=True, style="bold")
    grid.add_column(ratio=1)
    for topic, text in pitfalls:
        grid.add_row(Text("⚠ " + topic), Text(text))
    return grid
