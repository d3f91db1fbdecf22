"""The fleet: nodes grouped by drift from the reference, counts per kind, sortable; Enter opens a node's tree with
the drifted devices marked, and from there the full fabric screen. Renders p2ptui.fleet's records only."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Static, Tree
from textual.widgets.tree import TreeNode

from ...fabric.bdf import BDF
from ...fabric.model import Device, Fabric
from ...fleet.drift import DriftKind
from ...fleet.fleet import FleetDiff
from ...fleet.report import fold
from ..widgets.bars import TitleBar

MATCHING = "matching"
MARK = "⚠"


class FleetScreen(Screen[None]):
    BINDING_GROUP_TITLE = "Fleet"
    BINDINGS = [
        Binding("enter", "open_group", "Open a node", id="fleet-open", tooltip="The group's first node, drift marked"),
        Binding("s", "sort", "Sort", id="fleet-sort", tooltip="Cycle the sort: nodes per group, name, each kind"),
    ]

    def __init__(self, diff: FleetDiff, label: str = "") -> None:
        super().__init__(id="fleet")
        self.diff = diff
        self.label = label
        self.kinds = [k for k in DriftKind if k in diff.kind_counts()]
        self.sort_keys = ["count", "nodes", *[k.value for k in self.kinds]]
        self.sort_index = 0

    def compose(self) -> ComposeResult:
        d = self.diff
        subtitle = f"{len(d.nodes)} nodes · reference {d.reference} ({d.reference_why})"
        yield TitleBar(f"fleet · {self.label or d.reference}", subtitle, id="title-bar")
        counts = d.kind_counts()
        summary = [
            (f"{len(d.matching)} match the reference", "$text-success bold"),
            (f"   {len(d.drifted)} drifted in {len(d.groups)} groups", "$text-warning bold" if d.groups else ""),
        ]
        summary += [(f"   {k.value} {n}", "dim") for k, n in counts.items()]
        if d.unavailable:
            summary.append((f"   {len(d.unavailable)} not compared: {fold(list(d.unavailable))}", "$text-error"))
        yield Static(Content.assemble(*summary), id="fleet-summary")
        yield DataTable(id="fleet-groups", cursor_type="row", zebra_stripes=True)
        yield Static("", id="fleet-detail")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_column("nodes", key="nodes")
        table.add_column("count", key="count")
        for kind in self.kinds:
            table.add_column(kind.value, key=kind.value)
        for i, group in enumerate(self.diff.groups):
            kinds = group.kinds
            table.add_row(fold(group.nodes), len(group.nodes), *[kinds.get(k, 0) for k in self.kinds], key=str(i))
        if self.diff.matching:
            table.add_row(fold(self.diff.matching), len(self.diff.matching), *[0] * len(self.kinds), key=MATCHING)
        table.focus()
        self._sort()

    def action_sort(self) -> None:
        self.sort_index = (self.sort_index + 1) % len(self.sort_keys)
        self._sort()

    @on(DataTable.HeaderSelected)
    def _header(self, event: DataTable.HeaderSelected) -> None:
        self.sort_index = self.sort_keys.index(str(event.column_key.value))
        self._sort()

    def _sort(self) -> None:
        key = self.sort_keys[self.sort_index]
        self.query_one(DataTable).sort(key, reverse=key != "nodes")
        self.notify(f"sorted by {key}", timeout=1)

    @on(DataTable.RowHighlighted)
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        self.query_one("#fleet-detail", Static).update(self._detail(str(event.row_key.value)))

    def _detail(self, key: str) -> Content:
        if key == MATCHING:
            return Content.from_markup("[dim]these nodes match the reference: no drift[/]")
        group = self.diff.groups[int(key)]
        lines = [(f"{fold(group.nodes)}: {len(group.drifts)} drifts\n", "bold")]
        for d in group.drifts:
            lines += [(f"{d.kind.value:<8}", "$text-warning"), (f" {d.subject}: {d.detail}\n", "")]
        return Content.assemble(*lines)

    @on(DataTable.RowSelected)
    def _selected(self, event: DataTable.RowSelected) -> None:
        self._open(str(event.row_key.value))

    def action_open_group(self) -> None:
        table = self.query_one(DataTable)
        if table.row_count:
            self._open(str(table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value))

    def _open(self, key: str) -> None:
        node = self.diff.matching[0] if key == MATCHING else self.diff.groups[int(key)].nodes[0]
        drifts = [] if key == MATCHING else self.diff.groups[int(key)].drifts
        lines = [f"{d.kind.value}: {d.subject}: {d.detail}" for d in drifts]
        self.app.push_screen(FleetNodeScreen(node, self.diff.fabrics[node], self.diff.marked(node), lines))


class FleetNodeScreen(Screen[None]):
    """One node's tree with every device its drift names marked; ``o`` opens the full fabric screen."""

    BINDING_GROUP_TITLE = "Fleet node"
    BINDINGS = [
        Binding("o", "open_fabric", "Explore", id="fleet-node-open", tooltip="This node's fabric: verdicts, matrix"),
        Binding("escape", "back", "Back", id="fleet-node-back", tooltip="Back to the fleet"),
    ]

    def __init__(self, node: str, fabric: Fabric, marked: set[str], drift_lines: list[str]) -> None:
        super().__init__(id="fleet-node")
        self.node = node
        self.fabric = fabric
        self.marked = marked
        self.drift_lines = drift_lines

    def compose(self) -> ComposeResult:
        yield TitleBar(
            f"fleet · {self.node}", f"{len(self.fabric)} functions · {len(self.marked)} marked", id="title-bar"
        )
        yield Tree(self.node, id="fleet-node-tree")
        text = "\n".join(self.drift_lines) or "no drift: this node matches the reference"
        yield Static(text, id="fleet-node-drift")
        yield Footer()

    def on_mount(self) -> None:
        tree = self.query_one(Tree)
        nodes: dict[BDF | None, TreeNode[None]] = {}  # a device's parent bridge, None under a root bus
        for _, dev in self.fabric.walk():
            parent = nodes.get(dev.parent, tree.root)
            nodes[dev.bdf] = parent.add(self._label(dev), expand=True, allow_expand=bool(self.fabric.children(dev)))
        tree.root.expand()
        tree.focus()

    def _label(self, dev: Device) -> Text:
        link = self.fabric.uplink(dev)
        parts = [(f"{dev.bdf.short()} ", "dim"), (f"{dev.name}", "bold"), (f" {dev.kind.value} [{dev.ids}]", "dim")]
        if link is not None:
            parts.append((f"  {link.describe()}", ""))
        if str(dev.bdf) in self.marked:
            return Text.assemble((f"{MARK} ", "bold red"), *parts, ("  drift", "red"))
        return Text.assemble(*parts)

    def action_open_fabric(self) -> None:
        from .fabric import FabricScreen

        self.app.push_screen(FabricScreen(self.fabric))

    def action_back(self) -> None:
        self.dismiss(None)
