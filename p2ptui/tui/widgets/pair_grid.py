"""All pairs of endpoints as a scrolling grid: exporters down, importers across, one coloured cell per pair.

Drawn line by line (Textual's Line API) from the P2P core's PairMatrix, so a 1,024 × 1,024 matrix costs only the
cells on screen. The header row and the label column stay put while the cells scroll.
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

from ...p2p.matrix import PairMatrix
from ..styled import ThemeStyles

CELL = 5
LABEL_MAX = 18
MAP_CELL = {"BUS_ADDR": ("B", "ok"), "THRU_HOST_BRIDGE": ("T", "warn"), "NOT_SUPPORTED": ("✘", "bad")}
TOPO_ROLE = {"X": "muted", "PIX": "ok", "PXB": "ok", "PHB": "warn", "NODE": "warn", "SYS": "bad"}


class PairGrid(ThemeStyles, ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up", "move(-1, 0)", show=False),
        Binding("down", "move(1, 0)", show=False),
        Binding("left", "move(0, -1)", show=False),
        Binding("right", "move(0, 1)", show=False),
        Binding("pageup", "move(-10, 0)", show=False),
        Binding("pagedown", "move(10, 0)", show=False),
        Binding("enter", "choose", "Select pair", show=False),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0))
    mode: reactive[str] = reactive("verdict")

    class Chosen(Message):
        def __init__(self, row: int, col: int) -> None:
            super().__init__()
            self.row, self.col = row, col

    class Moved(Message):
        def __init__(self, row: int, col: int) -> None:
            super().__init__()
            self.row, self.col = row, col

    def __init__(self, matrix: PairMatrix, id: str | None = None) -> None:
        super().__init__(id=id)
        self.matrix = matrix
        self.map_names = matrix.map_names()
        self.topo_names = matrix.topo_names()
        n = len(matrix.rows)
        self.label_width = min(LABEL_MAX, max((len(f"{i} {d.name}") for i, d in enumerate(matrix.rows)), default=4)) + 1
        self.virtual_size = Size(self.label_width + CELL * len(matrix.cols), n + 1)
        self._styles: dict[str, Style] = {}

    def cell(self, r: int, c: int) -> tuple[str, str]:
        if self.mode == "topo":
            name = self.topo_names[r][c]
            return name, TOPO_ROLE.get(name, "")
        letter, role = MAP_CELL[self.map_names[r][c]]
        if letter == "✘":
            return "✘", role
        return f"{letter}{int(self.matrix.distance[r, c])}", role

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        scroll_x, scroll_y = self.scroll_offset
        col0 = scroll_x // CELL
        ncols = max(0, (width - self.label_width) // CELL)
        cols = range(col0, min(col0 + ncols, len(self.matrix.cols)))
        # The widget's own colours under every cell: bare segments would show the terminal's default background.
        base = self.rich_style
        muted = base + self._styles.get("muted", Style())
        key = base + self._styles.get("key", Style())
        if y == 0:
            segments = [Segment(" " * self.label_width, base)]
            for c in cols:
                segments.append(Segment(f"{c:>{CELL - 1}} ", key if c == self.cursor[1] else muted))
            return Strip(segments).adjust_cell_length(width, base)
        r = scroll_y + y - 1
        if r >= len(self.matrix.rows):
            return Strip.blank(width, base)
        label = f"{r} {self.matrix.rows[r].name}"[: self.label_width - 1]
        segments = [Segment(f"{label:<{self.label_width}}", key if r == self.cursor[0] else base)]
        for c in cols:
            text, role = self.cell(r, c)
            style = base + self._styles.get(role, Style())
            if (r, c) == self.cursor:
                style = style + Style(reverse=True, bold=True)
            segments.append(Segment(f"{text:^{CELL - 1}}", style))
            segments.append(Segment(" ", base))
        return Strip(segments).adjust_cell_length(width, base)

    # -- cursor -----------------------------------------------------------------------------------------------------
    def action_move(self, dr: int, dc: int) -> None:
        r = min(max(self.cursor[0] + dr, 0), len(self.matrix.rows) - 1)
        c = min(max(self.cursor[1] + dc, 0), len(self.matrix.cols) - 1)
        self.cursor = (r, c)

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        r, c = cursor
        x, y = self.scroll_offset
        region = self.scrollable_content_region  # without the scrollbars, which would hide the last row
        rows_visible = max(1, region.height - 1)
        cols_visible = max(1, (region.width - self.label_width) // CELL)
        if r < y:
            y = r
        elif r >= y + rows_visible:
            y = r - rows_visible + 1
        col0 = x // CELL
        if c < col0:
            x = c * CELL
        elif c >= col0 + cols_visible:
            x = (c - cols_visible + 1) * CELL
        self.scroll_to(x, y, animate=False)
        self.refresh()
        self.post_message(self.Moved(r, c))

    def watch_mode(self) -> None:
        self.refresh()

    def action_choose(self) -> None:
        self.post_message(self.Chosen(*self.cursor))

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < 1 or offset.x < self.label_width:
            return
        x, y = self.scroll_offset
        r, c = y + offset.y - 1, x // CELL + (offset.x - self.label_width) // CELL
        if r < len(self.matrix.rows) and c < len(self.matrix.cols):
            self.cursor = (r, c)
            self.action_choose()
