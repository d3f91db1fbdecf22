"""Where is the bottleneck: every link (and other engine resource) the simulated transfers load, busiest first,
with the busiest ones' history as a plot. Reads what the fabric screen's meter tick collected; polls nothing."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from ...present.device import load_role
from ..operate import LinkLoad, Operations
from ..widgets.bars import TitleBar
from ..widgets.footer import KeyFooter

PLOTTED = 5  # the busiest links drawn in the plot; the table lists all


class LinkPlot(PlotextPlot):
    """Plotext divides by the plot's size: nothing is drawn while the widget has no room (being laid out or
    torn down)."""

    def render(self):
        if self.size.width < 12 or self.size.height < 6:
            return ""
        return super().render()


class LinkLoadScreen(Screen[None]):
    BINDING_GROUP_TITLE = "Link load"
    BINDINGS = [Binding("escape", "back", "Back", id="links-back"), Binding("l", "back", "Back", show=False)]

    def __init__(self, fabric_name: str, operations: Operations, interval: float, live: bool) -> None:
        super().__init__()
        self.fabric_name = fabric_name
        self.operations = operations
        self.sample_interval = interval
        self.live = live  # redraw on a timer (False in tests, which call refresh_view)

    def compose(self) -> ComposeResult:
        yield TitleBar(
            f"{self.fabric_name} · link load", "simulated transfers: share of each link in use", id="title-bar"
        )
        yield Static("", id="links-empty")
        yield DataTable(id="links-table", cursor_type="row", zebra_stripes=True)
        yield LinkPlot(id="links-plot")
        yield KeyFooter()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("link", "now", "peak", "last samples")
        self.refresh_view()
        if self.live:
            self.set_interval(self.sample_interval, self.refresh_view)

    def refresh_view(self) -> None:
        links = self.operations.links()
        empty = self.query_one("#links-empty", Static)
        empty.display = not links
        empty.update("No simulated transfer has loaded a link yet: start copies (t) on the fabric screen.")
        table = self.query_one(DataTable)
        row = table.cursor_row
        table.clear()
        for link in links:
            table.add_row(Text(link.name), _percent(link.share), _percent(link.peak), Text(_spark(link)), key=link.key)
        if links:
            table.move_cursor(row=min(row, len(links) - 1))
        self._plot(links[:PLOTTED])

    def _plot(self, links: list[LinkLoad]) -> None:
        plot = self.query_one(LinkPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        plt.title("busiest links: % of capacity over the last samples")
        plt.xlabel(f"seconds ago (one sample every {self.sample_interval:g} s)")
        plt.ylim(0, 100)
        for link in links:
            n = len(link.history)
            xs = [round((i - n + 1) * self.sample_interval, 2) for i in range(n)]
            plt.plot(xs, [100 * v for v in link.history], label=link.name, marker="braille")
        plot.refresh()

    def action_back(self) -> None:
        self.app.pop_screen()


def _percent(share: float) -> Text:
    colour = {"ok": "green", "warn": "yellow", "bad": "red"}[load_role(share)]
    return Text(f"{share:5.0%}", style=colour, justify="right")


def _spark(link: LinkLoad, width: int = 24) -> str:
    bars = " ▁▂▃▄▅▆▇█"
    return "".join(bars[max(0, min(8, round(8 * v)))] for v in link.history[-width:])
