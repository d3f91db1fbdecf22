"""Every exporter/importer pair of endpoints, colour-coded: the kernel's verdict with distance, or topo -m classes.

Made for big machines: type a device's name (or "gpu15 gpu14" for a row and a column) to jump, k narrows to one
kind of device, Enter previews the pair's verdict beside the grid and a second Enter selects it; the status line
always says where the cursor is.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Input, Static
from textual.worker import Worker, WorkerState

from ...errors import InputError
from ...fabric.bdf import BDF
from ...fabric.kinds import DeviceKind
from ...fabric.model import Device, Fabric
from ...p2p.matrix import PairMatrix
from ...p2p.profiles import KernelProfile
from ...present.verdict import verdict_rows
from .. import decide, export
from ..commands import FabricCommands
from ..selection import Selection
from ..widgets.bars import TitleBar
from ..widgets.footer import KeyFooter
from ..widgets.pair_grid import UNCERTAIN_MARK, PairGrid
from ..widgets.verdict_panel import VerdictPanel
from .base import AppScreen

LEGENDS = {
    "verdict": Content.assemble(
        # Short enough for one line at 120 columns, so no mark wraps away from its meaning.
        ("B4", "$text-success bold"),
        (" BUS_ADDR, distance 4  ", "dim"),
        ("T8", "$text-warning bold"),
        (" THRU_HOST_BRIDGE  ", "dim"),
        ("✘", "$text-error bold"),
        (" NOT_SUPPORTED  ", "dim"),
        (f"B4{UNCERTAIN_MARK}", "bold"),
        (" depends on facts not read  ", "dim"),
        ("▐B4▌", "reverse bold"),
        (" cursor", "dim"),
    ),
    "topo": Content.assemble(
        ("PIX", "$text-success bold"),
        (" one bridge  ", "dim"),
        ("PXB", "$text-success bold"),
        (" several bridges  ", "dim"),
        ("PHB", "$text-warning bold"),
        (" a host bridge  ", "dim"),
        ("NODE", "$text-warning bold"),
        (" host bridges, same NUMA  ", "dim"),
        ("SYS", "$text-error bold"),
        (" across NUMA nodes  ", "dim"),
        ("X", "dim bold"),
        (" self", "dim"),
    ),
}
# The kinds k cycles through, in this order, when the matrix has them.
FILTER_KINDS = (
    DeviceKind.GPU,
    DeviceKind.NIC,
    DeviceKind.NVME,
    DeviceKind.FPGA,
    DeviceKind.ACCELERATOR,
    DeviceKind.OTHER,
)
TERMS = re.compile(r"\s*(?:→|->|>|\s)\s*")


def best_match(devices: list[Device], indices: list[int], term: str) -> int | None:
    """Position in ``indices`` of the device ``term`` names best: the exact name or address, then a name that
    starts with it, then one that contains it."""
    term = term.lower()
    if not term:
        return None
    starts = contains = None
    for pos, i in enumerate(indices):
        dev = devices[i]
        name = dev.name.lower()
        if name == term or str(dev.bdf) == term or dev.bdf.short() == term:
            return pos
        if starts is None and name.startswith(term):
            starts = pos
        elif contains is None and term in name:
            contains = pos
    return starts if starts is not None else contains


class MatrixScreen(AppScreen[tuple[BDF, BDF] | None]):
    COMMANDS = {FabricCommands}
    BINDING_GROUP_TITLE = "Matrix"
    BINDINGS = [
        Binding(
            "enter",
            "choose",
            "Preview / select",
            id="matrix-choose",
            tooltip="First Enter previews the pair's verdict beside the grid; a second selects it "
            "(exporter = row, importer = column)",
        ),
        Binding(
            "slash",
            "find",
            "Find",
            id="matrix-find",
            tooltip="Type a device's name (row), or two names (row and column): the cursor follows",
        ),
        Binding("k", "next_kind", "Kind", id="matrix-kind", tooltip="Show only GPUs, NICs, NVMe, … or all"),
        Binding(
            "v",
            "toggle_view",
            "Verdict / topo -m",
            id="matrix-view",
            tooltip="Switch between the kernel's map type with distance and nvidia-smi topo -m classes",
        ),
        Binding(
            "s",
            "export",
            "Export",
            id="matrix-export",
            tooltip="Save what the matrix shows (the kind filter applies) as CSV and JSON in the export directory",
        ),
        Binding(
            "escape",
            "back",
            "Back",
            id="matrix-back",
            tooltip="Close the preview or the find field; else back to the tree with the selection unchanged",
        ),
    ]

    def __init__(self, fabric: Fabric, profile: KernelProfile, label: str) -> None:
        super().__init__(id="matrix")
        self.fabric = fabric
        self.profile = profile
        self.matrix = decide.matrix(fabric, profile)
        self.label = label
        self.kinds = [k for k in FILTER_KINDS if any(d.kind is k for d in self.matrix.rows)]
        self.kind: DeviceKind | None = None
        self.previewing: tuple[int, int] | None = None

    def compose(self) -> ComposeResult:
        n = len(self.matrix.rows)
        yield TitleBar(f"{self.fabric.name} · matrix", f"{n} × {n} endpoints · {self.label}", id="title-bar")
        yield Static(LEGENDS["verdict"], id="matrix-legend")
        with Horizontal(id="matrix-main"):
            yield PairGrid(self.matrix, id="grid")
            yield VerdictPanel(id="matrix-preview")
        yield Input(
            placeholder="device name or address; two for row and column (gpu15 gpu14); enter keeps, esc closes",
            id="matrix-jump",
        )
        yield Static("", id="matrix-status")
        yield KeyFooter()

    @property
    def grid(self) -> PairGrid:
        return self.query_one(PairGrid)

    @property
    def preview(self) -> VerdictPanel:
        return self.query_one("#matrix-preview", VerdictPanel)

    @property
    def jump(self) -> Input:
        return self.query_one("#matrix-jump", Input)

    def on_mount(self) -> None:
        self.grid.focus()
        self.preview.display = False
        self.jump.display = False
        self.watch(self.app, "expert", lambda on: self.query_one(TitleBar).set_expert(on))
        self._status()

    # -- view and filter ----------------------------------------------------------------------------------------------
    def action_toggle_view(self) -> None:
        grid = self.grid
        grid.mode = "topo" if grid.mode == "verdict" else "verdict"
        self.query_one("#matrix-legend", Static).update(LEGENDS[grid.mode])

    def action_next_kind(self) -> None:
        cycle: list[DeviceKind | None] = [None, *self.kinds]
        self.kind = cycle[(cycle.index(self.kind) + 1) % len(cycle)]
        m = self.matrix
        rows = [i for i, d in enumerate(m.rows) if self.kind is None or d.kind is self.kind]
        cols = [j for j, d in enumerate(m.cols) if self.kind is None or d.kind is self.kind]
        self.grid.show_only(rows, cols)
        shown = "all endpoints" if self.kind is None else f"{self.kind.label}s only"
        self.notify(f"Matrix: {shown} ({len(rows)}); k for the next kind", timeout=2)
        self._status()

    def action_export(self) -> None:
        grid = self.grid
        shown = export.sub_matrix(self.matrix, grid.rows, grid.cols)
        stem = "-".join(
            x for x in ("p2ptui-matrix", _slug(self.fabric.name), self.kind.value if self.kind else "") if x
        )
        self._export(shown, export.export_dir(self.app.options.export_dir), stem)

    @work(thread=True, group="export", exit_on_error=False)
    def _export(self, shown: PairMatrix, directory: Path, stem: str) -> tuple[list[str], str]:
        """In a thread: a large matrix can take seconds to write (tens of MB of CSV), and the screen keeps answering
        meanwhile. The paths written and the size, for the notification (_export_done)."""
        return export.write_matrix_files(shown, directory, stem), f"{len(shown.rows)} × {len(shown.cols)}"

    @on(Worker.StateChanged)
    def _export_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group != "export":
            return
        if event.state is WorkerState.SUCCESS and worker.result is not None:
            written, size = worker.result
            self.notify("\n".join(written), title=f"Matrix exported ({size})", timeout=8)
        elif event.state is WorkerState.ERROR:
            error = worker.error
            if isinstance(error, InputError):
                reason = "; ".join(map(str, error.diagnostics))
            else:  # a bug, not the user's doing: say what it was rather than pass it off as a file problem
                reason = f"{type(error).__name__}: {error}"
            self.notify(reason, title="Export failed", severity="error")

    # -- palette ----------------------------------------------------------------------------------------------------
    def palette_actions(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [
            ("Find a device", "/ · or just type its name: the cursor follows", self.action_find),
            ("Next kind", "k · GPUs, NICs, NVMe, … all", self.action_next_kind),
            ("Verdict / topo -m", "v · the kernel's map type or nvidia-smi classes", self.action_toggle_view),
            ("Export the matrix", "s · CSV and JSON of what is shown", self.action_export),
        ]

    def jump_to(self, bdf: BDF) -> None:
        """The palette's device hit: the cursor to that exporter's row (its column too when it imports)."""
        grid = self.grid
        r = next((pos for pos, i in enumerate(grid.rows) if self.matrix.rows[i].bdf == bdf), None)
        c = next((pos for pos, j in enumerate(grid.cols) if self.matrix.cols[j].bdf == bdf), None)
        if r is None and c is None:
            self.notify("That device is not an endpoint shown in the matrix (k changes the kind).", severity="warning")
            return
        grid.move_to(grid.cursor[0] if r is None else r, grid.cursor[1] if c is None else c)
        grid.focus()

    # -- find -------------------------------------------------------------------------------------------------------
    def action_find(self, text: str = "") -> None:
        jump = self.jump
        jump.display = True
        jump.value = text
        jump.cursor_position = len(text)
        jump.focus()

    def on_key(self, event) -> None:
        """Typing a name on the grid starts a find with what was typed (bound keys keep their meaning)."""
        if self.focused is not self.grid or event.key in self.active_bindings:
            return
        if event.character and (event.character.isalnum() or event.character in "_-.:"):
            event.stop()
            event.prevent_default()
            if self.jump.display:  # the field is taking focus: keys typed meanwhile still go into it, in order
                self.jump.insert_text_at_cursor(event.character)
            else:
                self.action_find(event.character)

    @on(Input.Changed, "#matrix-jump")
    def _find_changed(self, event: Input.Changed) -> None:
        terms = [t for t in TERMS.split(event.value.strip()) if t]
        if not terms:
            return
        grid = self.grid
        r = best_match(self.matrix.rows, grid.rows, terms[0])
        c = best_match(self.matrix.cols, grid.cols, terms[1]) if len(terms) > 1 else None
        if r is not None or c is not None:
            grid.move_to(grid.cursor[0] if r is None else r, grid.cursor[1] if c is None else c)

    @on(Input.Submitted, "#matrix-jump")
    def _find_done(self) -> None:
        self._close_find()

    def _close_find(self) -> None:
        self.jump.display = False
        self.grid.focus()

    # -- cursor, preview, choosing ----------------------------------------------------------------------------------
    @on(PairGrid.Moved)
    def _moved(self, event: PairGrid.Moved) -> None:
        self._status()
        if self.preview.display:
            self._preview(event.row, event.col)

    def _status(self) -> None:
        status = self.query_one("#matrix-status", Static)
        grid = self.grid
        pair = grid.pair
        if pair is None:
            status.update("no endpoints of this kind", layout=False)
            return
        m = self.matrix
        r, c = pair
        if m.certain_at(r, c):
            verdict = [(f"   {m.map_type_at(r, c).value}", "bold"), (f"  distance {int(m.distance[r, c])}", "")]
        else:  # every outcome the unknown facts allow, best first
            outcomes = " or ".join(f"{t.value} {d}" for t, d in m.outcomes_at(r, c))
            verdict = [("   depends: ", "bold $text-warning"), (outcomes, "")]
        action = "enter selects this pair" if self.preview.display else "enter previews the verdict"
        status.update(
            Content.assemble(
                ("exporter ", "dim"),
                (m.rows[r].name, "bold"),
                (" → importer ", "dim"),
                (m.cols[c].name, "bold"),
                *verdict,
                (f"  topo -m {m.topo_at(r, c).value}", "dim"),
                (f"   row {grid.cursor[0] + 1}/{len(grid.rows)} col {grid.cursor[1] + 1}/{len(grid.cols)}", "dim"),
                (f"   {action}", "dim"),
            ),
            layout=False,
        )  # one line, fixed height: no layout pass per keypress

    def _preview(self, r: int, c: int) -> None:
        m = self.matrix
        exporter, importer = m.rows[r], m.cols[c]
        self.previewing = (r, c)
        verdict = decide.verdict(self.fabric, Selection(exporter.bdf, (importer.bdf,)), self.profile)
        if verdict is None:
            self.preview.show(None)
            return
        self.preview.show(
            verdict_rows(self.fabric, verdict, decide.fix(self.fabric, verdict)),
            f"{exporter.name} → {importer.name} · enter selects",
        )
        self.preview.scroll_home(animate=False)

    @on(PairGrid.Chosen)
    def _chosen(self, event: PairGrid.Chosen) -> None:
        if self.preview.display and self.previewing == (event.row, event.col):
            self.dismiss((self.matrix.rows[event.row].bdf, self.matrix.cols[event.col].bdf))
            return
        self.preview.display = True
        self._preview(event.row, event.col)
        self._status()

    def action_choose(self) -> None:
        if self.jump.display:
            self._close_find()
        self.grid.action_choose()

    def action_back(self) -> None:
        if self.jump.display:
            self._close_find()
        elif self.preview.display:
            self.preview.display = False
            self.previewing = None
            self._status()
        else:
            self.dismiss(None)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-") or "fabric"
