"""All pairs of endpoints as a scrolling grid: exporters down, importers across, one coloured cell per pair.

Drawn line by line (Textual's Line API) straight from the P2P core's PairMatrix arrays, so a 4,096 × 4,096 matrix
costs only the cells on screen: nothing is built per cell. A kind filter shows a sub-grid (index lists into the
full matrix). The header row (importer names) and the label column (exporter names) stay put while the cells
scroll, and the cursor's row label and column header are highlighted so the cursor is found at a glance.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.cells import cell_len, set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from ...p2p.matrix import MAP_TYPES, PairMatrix
from ...p2p.topo import TOPO_CLASSES
from ..styled import ThemeStyles

CELL_MIN, CELL_MAX = 5, 8  # columns per cell: wide enough for "B12?" and for short names in the header
LABEL_MAX = 18
MAP_CELL = {"BUS_ADDR": ("B", "ok"), "THRU_HOST_BRIDGE": ("T", "warn"), "NOT_SUPPORTED": ("✘", "bad")}
TOPO_ROLE = {"X": "muted", "PIX": "ok", "PXB": "ok", "PHB": "warn", "NODE": "warn", "SYS": "bad"}
UNCERTAIN_MARK = "?"  # a verdict that depends on facts the source could not read
HEADER_ROWS = 1


@dataclass(frozen=True)
class Look:
    """The Rich styles one frame of the grid is drawn with."""

    base: Style
    muted: Style
    key: Style
    roles: dict[str, Style]


def clip(text: str, width: int) -> str:
    """``text`` in exactly ``width`` cells, ending in "…" when it had to be cut."""
    if cell_len(text) <= width:
        return set_cell_size(text, width)
    return set_cell_size(text, width - 1) + "…" if width > 0 else ""


class PairGrid(ThemeStyles, ScrollView, can_focus=True):
    BINDINGS = [
        Binding("up", "move(-1, 0)", show=False),
        Binding("down", "move(1, 0)", show=False),
        Binding("left", "move(0, -1)", show=False),
        Binding("right", "move(0, 1)", show=False),
        Binding("pageup", "page(-1)", show=False),
        Binding("pagedown", "page(1)", show=False),
        Binding("home", "row_edge(-1)", show=False),
        Binding("end", "row_edge(1)", show=False),
        Binding("ctrl+home", "corner(-1)", show=False),
        Binding("ctrl+end", "corner(1)", show=False),
    ]

    cursor: reactive[tuple[int, int]] = reactive((0, 0), always_update=True)
    mode: reactive[str] = reactive("verdict")

    class Chosen(Message):
        """The cell under the cursor was activated (Enter or a click); row and column index the full matrix."""

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
        self._map_values = [m.value for m in MAP_TYPES]
        self._topo_values = [t.value for t in TOPO_CLASSES]
        self.certain = getattr(matrix, "certain", None)  # per-cell bool array, when the core provides it
        self.rows: list[int] = list(range(len(matrix.rows)))
        self.cols: list[int] = list(range(len(matrix.cols)))
        longest = max((len(d.name) for d in matrix.cols), default=3)
        self.cell_width = min(CELL_MAX, max(CELL_MIN, longest + 1))
        self.label_width = 0
        self._styles: dict[str, Style] = {}
        self._drawn: tuple[int, int] | None = None  # where the cursor was last drawn
        self._look: Look | None = None
        self._layout()

    # -- what is shown ------------------------------------------------------------------------------------------------
    def show_only(self, rows: Sequence[int], cols: Sequence[int]) -> None:
        """Show these rows and columns of the full matrix (a kind filter); the cursor stays on its pair if it can."""
        here = self.pair
        self.rows, self.cols = list(rows), list(cols)
        self._layout()
        r = self.rows.index(here[0]) if here and here[0] in self.rows else 0
        c = self.cols.index(here[1]) if here and here[1] in self.cols else 0
        self.scroll_to(0, 0, animate=False)
        self._drawn = None
        self.cursor = (r, c)

    def _layout(self) -> None:
        names = (len(self.matrix.rows[r].name) for r in self.rows)
        self.label_width = min(LABEL_MAX, max(names, default=4)) + 1
        # One cell of slack: the view scrolls by whole cells, and the last column must be reachable whatever
        # part-cell is left over at the right edge.
        self.virtual_size = Size(
            self.label_width + self.cell_width * (len(self.cols) + 1), len(self.rows) + HEADER_ROWS
        )
        self.refresh()

    @property
    def pair(self) -> tuple[int, int] | None:
        """The cursor's (row, column) in the full matrix, or None when the view is empty."""
        r, c = self.cursor
        if not self.rows or not self.cols:
            return None
        return self.rows[min(r, len(self.rows) - 1)], self.cols[min(c, len(self.cols) - 1)]

    def cell(self, r: int, c: int) -> tuple[str, str]:
        """Text and role of one cell, by full-matrix indices."""
        m = self.matrix
        if self.mode == "topo":
            name = self._topo_values[int(m.topo[r, c])]
            return name, TOPO_ROLE.get(name, "")
        letter, role = MAP_CELL[self._map_values[int(m.map_type[r, c])]]
        text = letter if letter == "✘" else f"{letter}{int(m.distance[r, c])}"
        if self.certain is not None and not bool(self.certain[r, c]):
            text += UNCERTAIN_MARK
        return text, role

    # -- drawing ------------------------------------------------------------------------------------------------------
    @property
    def cells_on_screen(self) -> tuple[int, int]:
        """How many rows and columns of cells fit on screen now."""
        region = self.scrollable_content_region  # without the scrollbars, which would hide the last row
        return max(1, region.height - HEADER_ROWS), max(1, (region.width - self.label_width) // self.cell_width)

    def render_lines(self, crop: Region) -> list[Strip]:
        # The styles are worked out once per frame, not once per line: the widget's own style walks the DOM.
        self._look = self._make_look()
        return super().render_lines(crop)

    def _make_look(self) -> Look:
        base = self.rich_style  # the widget's own colours under every cell: bare segments show the terminal's
        return Look(
            base=base,
            muted=base + self._styles.get("muted", Style()),
            key=base + self._styles.get("key", Style()) + Style(reverse=True),
            roles={role: base + style for role, style in self._styles.items()},
        )

    def render_line(self, y: int) -> Strip:
        look = self._look if self._look is not None else self._make_look()
        base = look.base
        width = self.size.width
        cw = self.cell_width
        scroll_x, scroll_y = self.scroll_offset
        col0 = scroll_x // cw
        ncols = max(0, (width - self.label_width) // cw)
        view_cols = range(col0, min(col0 + ncols, len(self.cols)))
        cr, cc = self.cursor
        if y == 0:
            names = [clip(self.matrix.cols[self.cols[c]].name, cw - 1) for c in view_cols]
            at = cc - col0  # the cursor's column header, highlighted; the others in one muted run each side
            segments = [Segment(" " * self.label_width, base)]
            if 0 <= at < len(names):
                segments += [
                    Segment("".join(f"{n} " for n in names[:at]), look.muted),
                    Segment(names[at], look.key),
                    Segment(" ", base),
                    Segment("".join(f"{n} " for n in names[at + 1 :]), look.muted),
                ]
            else:
                segments.append(Segment("".join(f"{n} " for n in names), look.muted))
            return self._strip(segments, width, base)
        r = scroll_y + y - HEADER_ROWS
        if r >= len(self.rows):
            return Strip.blank(width, base)
        full_r = self.rows[r]
        label = clip(self.matrix.rows[full_r].name, self.label_width - 1) + " "
        segments = [Segment(label, look.key if r == cr else base)]
        cells = self.row_cells(full_r, [self.cols[c] for c in view_cols])
        pad = cw - 1
        # Neighbouring cells of one role make one segment (the gap after a cell takes its colour, which a space
        # does not show): a few segments a line instead of two a cell keeps a full-screen scroll cheap to
        # composite, filter and write.
        run: list[str] = []
        run_role = ""
        for c, (text, role) in zip(view_cols, cells, strict=False):
            if r == cr and c == cc:
                if run:
                    segments.append(Segment("".join(run), look.roles.get(run_role, base)))
                    run = []
                style = look.roles.get(role, base) + Style(reverse=True, bold=True)
                segments += [Segment(f"{text:^{pad}}", style), Segment(" ", base)]
                continue
            if role != run_role and run:
                segments.append(Segment("".join(run), look.roles.get(run_role, base)))
                run = []
            run_role = role
            run.append(f"{text:^{pad}} ")
        if run:
            segments.append(Segment("".join(run), look.roles.get(run_role, base)))
        return self._strip(segments, width, base)

    @staticmethod
    def _strip(segments: list[Segment], width: int, base: Style) -> Strip:
        """The line padded to the widget's width; every text above is clipped to its cells, so the length is known
        without measuring it again."""
        used = sum(len(s.text) for s in segments)
        if used < width:
            segments.append(Segment(" " * (width - used), base))
            return Strip(segments, width)
        return Strip(segments).adjust_cell_length(width, base)

    def row_cells(self, r: int, cols: list[int]) -> list[tuple[str, str]]:
        """Text and role of the cells of full-matrix row ``r`` in these columns: one numpy gather per row, not one
        array access per cell, which keeps a 200-column frame of a 4,096-endpoint matrix cheap."""
        m = self.matrix
        if self.mode == "topo":
            names = [self._topo_values[t] for t in m.topo[r, cols].tolist()]
            return [(name, TOPO_ROLE.get(name, "")) for name in names]
        out = []
        certain = self.certain[r, cols].tolist() if self.certain is not None else None
        for i, (code, dist) in enumerate(zip(m.map_type[r, cols].tolist(), m.distance[r, cols].tolist(), strict=False)):
            letter, role = MAP_CELL[self._map_values[code]]
            text = letter if letter == "✘" else f"{letter}{dist}"
            if certain is not None and not certain[i]:
                text += UNCERTAIN_MARK
            out.append((text, role))
        return out

    # -- cursor -------------------------------------------------------------------------------------------------------
    def action_move(self, dr: int, dc: int) -> None:
        self.move_to(self.cursor[0] + dr, self.cursor[1] + dc)

    def action_page(self, direction: int) -> None:
        """A page is what is on screen: the cursor moves by the rows visible, and the view with it."""
        self.move_to(self.cursor[0] + direction * self.cells_on_screen[0], self.cursor[1])

    def action_row_edge(self, direction: int) -> None:
        self.move_to(self.cursor[0], 0 if direction < 0 else len(self.cols) - 1)

    def action_corner(self, direction: int) -> None:
        self.move_to(0, 0) if direction < 0 else self.move_to(len(self.rows) - 1, len(self.cols) - 1)

    def move_to(self, r: int, c: int) -> None:
        r = min(max(r, 0), max(0, len(self.rows) - 1))
        c = min(max(c, 0), max(0, len(self.cols) - 1))
        self.cursor = (r, c)

    def watch_cursor(self, cursor: tuple[int, int]) -> None:
        r, c = cursor
        x, y = self.scroll_offset
        rows_visible, cols_visible = self.cells_on_screen
        if r < y:
            y = r
        elif r >= y + rows_visible:
            y = r - rows_visible + 1
        col0 = x // self.cell_width
        if c < col0:
            col0 = c
        elif c >= col0 + cols_visible:
            col0 = c - cols_visible + 1
        drawn, self._drawn = self._drawn, cursor
        if drawn is not None and (col0 * self.cell_width, y) == tuple(self.scroll_offset):
            # The view did not move: repaint only the header and the two rows the cursor left and entered.
            self.refresh_lines(y)  # the header is drawn on the first screen line
            for row in {drawn[0], r}:
                self.refresh_lines(row + HEADER_ROWS)
        else:
            self.scroll_to(col0 * self.cell_width, y, animate=False, immediate=True)
            self.refresh()
        pair = self.pair
        if pair is not None:
            self.post_message(self.Moved(*pair))

    def cursor_on_screen(self) -> bool:
        """Whether the cursor's cell is drawn in full inside the view (tests and the status line rely on it)."""
        r, c = self.cursor
        x, y = self.scroll_offset
        rows_visible, cols_visible = self.cells_on_screen
        col0 = x // self.cell_width
        return y <= r < y + rows_visible and col0 <= c < col0 + cols_visible

    def on_resize(self) -> None:
        self._drawn = None
        self.cursor = self.cursor  # keep the cursor in view at the new size

    def watch_mode(self) -> None:
        self.refresh()

    def action_choose(self) -> None:
        pair = self.pair
        if pair is not None:
            self.post_message(self.Chosen(*pair))

    def on_click(self, event) -> None:
        offset = event.get_content_offset(self)
        if offset is None or offset.y < HEADER_ROWS or offset.x < self.label_width:
            return
        x, y = self.scroll_offset
        r = y + offset.y - HEADER_ROWS
        c = x // self.cell_width + (offset.x - self.label_width) // self.cell_width
        if r < len(self.rows) and c < len(self.cols):
            self.cursor = (r, c)
            self.action_choose()  # a click is an Enter: the first previews, a second on the same pair selects
