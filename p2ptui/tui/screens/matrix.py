"""Every exporter/importer pair of endpoints, colour-coded: the kernel's verdict with distance, or topo -m classes."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...fabric.bdf import BDF
from ...fabric.model import Fabric
from ...p2p.profiles import KernelProfile
from ..decide import matrix
from ..widgets.bars import TitleBar
from ..widgets.pair_grid import PairGrid

LEGENDS = {
    "verdict": Content.assemble(
        # Short enough for one line at 120 columns, so no mark wraps away from its meaning.
        ("B4", "$text-success bold"), (" BUS_ADDR at distance 4: switch-local   ", "dim"),
        ("T8", "$text-warning bold"), (" THRU_HOST_BRIDGE: via the root complex   ", "dim"),
        ("✘", "$text-error bold"), (" NOT_SUPPORTED: refused", "dim"),
    ),
    "topo": Content.assemble(
        ("PIX", "$text-success bold"), (" one bridge  ", "dim"), ("PXB", "$text-success bold"),
        (" several bridges  ", "dim"), ("PHB", "$text-warning bold"), (" a host bridge  ", "dim"),
        ("NODE", "$text-warning bold"), (" host bridges, same NUMA  ", "dim"),
        ("SYS", "$text-error bold"), (" across NUMA nodes  ", "dim"), ("X", "dim bold"), (" self", "dim"),
    ),
}


class MatrixScreen(Screen[tuple[BDF, BDF] | None]):
    BINDING_GROUP_TITLE = "Matrix"
    BINDINGS = [
        Binding("v", "toggle_view", "Verdict / topo -m", id="matrix-view",
                tooltip="Switch between the kernel's map type with distance and nvidia-smi topo -m classes"),
        Binding("enter", "choose", "Select pair", id="matrix-choose", tooltip="Exporter = row, importer = column"),
        Binding("escape", "back", "Back", id="matrix-back", tooltip="Back to the tree"),
    ]

    def __init__(self, fabric: Fabric, profile: KernelProfile, label: str) -> None:
        super().__init__(id="matrix")
        self.fabric = fabric
        self.matrix = matrix(fabric, profile)
        self.label = label

    def compose(self) -> ComposeResult:
        n = len(self.matrix.rows)
        yield TitleBar(f"{self.fabric.name} · matrix", f"{n} × {n} endpoints · {self.label}", id="title-bar")
        yield Static(LEGENDS["verdict"], id="matrix-legend")
        yield PairGrid(self.matrix, id="grid")
        yield Static("", id="matrix-status")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(PairGrid).focus()
        self.watch(self.app, "expert", lambda on: self.query_one(TitleBar).set_expert(on))
        self._status(0, 0)

    def action_toggle_view(self) -> None:
        grid = self.query_one(PairGrid)
        grid.mode = "topo" if grid.mode == "verdict" else "verdict"
        self.query_one("#matrix-legend", Static).update(LEGENDS[grid.mode])

    @on(PairGrid.Moved)
    def _moved(self, event: PairGrid.Moved) -> None:
        self._status(event.row, event.col)

    def _status(self, r: int, c: int) -> None:
        m = self.matrix
        if not m.rows:
            self.query_one("#matrix-status", Static).update("no endpoints")
            return
        mt = m.map_type_at(r, c).value
        self.query_one("#matrix-status", Static).update(Content.assemble(
            ("exporter ", "dim"), (m.rows[r].name, "bold"), ("  importer ", "dim"), (m.cols[c].name, "bold"),
            (f"   {mt}", "bold"), (f"  distance {int(m.distance[r, c])}", ""), (f"  topo -m {m.topo_at(r, c).value}", "dim"),
            ("   enter selects this pair", "dim"),
        ))

    @on(PairGrid.Chosen)
    def _chosen(self, event: PairGrid.Chosen) -> None:
        self.dismiss((self.matrix.rows[event.row].bdf, self.matrix.cols[event.col].bdf))

    def action_choose(self) -> None:
        self.query_one(PairGrid).action_choose()

    def action_back(self) -> None:
        self.dismiss(None)
