"""The main screen: the switch tree, the highlighted device, the selection and the kernel's verdict on it, and the
transfers started from the selection (copy form, live panel, link colours in the tree)."""

from __future__ import annotations

from collections.abc import Callable

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Input, Static, Tree

from ...errors import InputError
from ...fabric.bdf import BDF
from ...fabric.model import Device, Fabric, RootBus
from ...p2p.gate import Reason
from ...present.verdict import compare_rows, refusal_rows, verdict_rows
from .. import decide, export
from ..commands import FabricCommands
from ..decide import WhatIf
from ..selection import Selection
from ..widgets.bars import SelectionBar, TitleBar, fabric_title_bar
from ..widgets.detail_pane import DetailPane
from ..widgets.fabric_tree import FabricTree
from ..widgets.footer import KeyFooter
from ..widgets.transfers_panel import TransfersPanel
from ..widgets.verdict_panel import VerdictPanel
from .expert import ExpertConfirm
from .matrix import MatrixScreen
from .notes import NotesScreen
from .operating import OperatingMixin
from .whatif import WhatIfScreen


class FabricScreen(OperatingMixin):
    COMMANDS = {FabricCommands}
    BINDING_GROUP_TITLE = "Fabric"
    HELP_WIDGETS = (TransfersPanel,)
    BINDINGS = [
        Binding(
            "e",
            "mark_exporter",
            "Exporter",
            id="exporter",
            tooltip="Use the highlighted device's P2P memory (the provider)",
        ),
        Binding(
            "i",
            "toggle_importer",
            "Importer",
            id="importer",
            tooltip="Add or remove the highlighted device as a DMA client; several are allowed",
        ),
        Binding("c", "clear_selection", "Clear", id="clear", tooltip="Forget the exporter and importers"),
        Binding(
            "f",
            "find_provider",
            "Find provider",
            id="find",
            tooltip="The kernel's pick of a published P2P pool for the importers, ties shown",
        ),
        Binding("m", "matrix", "Matrix", id="matrix", tooltip="Every pair of endpoints, colour-coded"),
        Binding(
            "w",
            "what_if",
            "What-if",
            id="whatif",
            tooltip="Another kernel, CPU, IOMMU mode or command line: verdict before and after",
        ),
        Binding(
            "t",
            "copy",
            "Copy",
            id="copy",
            tooltip="Launch a copy between the selected devices; the expert gate is asked before it starts",
        ),
        Binding(
            "x",
            "expert",
            "Expert",
            id="expert",
            tooltip="Turn expert mode on (after a confirmation listing this fabric's pitfalls) or off",
        ),
        Binding(
            "slash",
            "filter",
            "Filter",
            id="filter",
            tooltip="Show only devices whose name, address, kind, IDs or product match (commas: alternatives, "
            "e.g. 'gpu, nic'), with their ancestors; esc clears",
        ),
        Binding(
            "ctrl+p",
            "jump",
            "Jump",
            id="jump",
            show=False,
            tooltip="Go to a device by name or address, or run any action (the command palette)",
        ),
        Binding("o", "open_launcher", "Open…", id="open", show=False, tooltip="Choose another fabric"),
        Binding(
            "escape", "clear_filter", "Clear filter", id="clear-filter", show=False, tooltip="Clear the tree's filter"
        ),
        Binding(
            "y",
            "copy_verdict",
            "Copy verdict",
            id="copy-verdict",
            show=False,
            tooltip="The verdict as `p2ptui check` prints it, to the clipboard (OSC 52: works over SSH)",
        ),
        Binding(
            "Y",
            "copy_device",
            "Copy device",
            id="copy-device",
            show=False,
            tooltip="The highlighted device's details as text, to the clipboard",
        ),
        Binding(
            "C",
            "clear_finished",
            "Clear finished",
            id="clear-finished-transfers",
            show=False,
            tooltip="Take done, cancelled and failed transfers off the panel (they also go by themselves)",
        ),
        Binding(
            "l",
            "links",
            "Link load",
            id="links",
            show=False,
            tooltip="The links the simulated transfers load, busiest first, with their history as a plot",
        ),
        Binding(
            "n",
            "notes",
            "Load notes",
            id="notes",
            show=False,
            tooltip="What the source could not say about this fabric (the header counts them)",
        ),
        Binding(
            "z",
            "zoom",
            "Zoom",
            id="zoom",
            show=False,
            tooltip="Maximise the focused pane (tree, device, verdict, transfers) or restore it; esc restores",
        ),
        Binding(
            "d",
            "toggle_detail",
            "Device pane",
            id="toggle-detail",
            show=False,
            tooltip="Hide or show the device pane, giving its rows to the verdict",
        ),
        Binding(
            "p",
            "toggle_transfers",
            "Transfers pane",
            id="toggle-transfers",
            show=False,
            tooltip="Hide or show the transfers panel (it comes back when a copy starts)",
        ),
    ]
    ALLOW_IN_MAXIMIZED_VIEW = "#title-bar, Footer"
    # Textual focuses the first focusable widget when a screen opens: that was the hidden filter field, for a
    # frame or two before on_mount moved focus to the tree (and the footer showed the field's keys meanwhile).
    AUTO_FOCUS = "#tree"

    selection: reactive[Selection] = reactive(Selection, init=False, bindings=True)
    whatif: reactive[WhatIf] = reactive(WhatIf, init=False)

    def __init__(self, fabric: Fabric) -> None:
        super().__init__()  # no id: opening another fabric from the launcher overlaps the old screen's removal
        self.fabric = fabric
        self.booted = decide.profile(fabric)
        self.profile = self.booted  # the what-if's profile while one is set
        self._redirect = decide.acs_redirect_fn(fabric, self.booted)

    def acs_redirect(self, dev: Device) -> bool | None:
        return self._redirect(dev)

    # -- layout -----------------------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield fabric_title_bar(self.fabric)
        with Horizontal(id="main"):
            with Vertical(id="tree-box"):
                yield Input(placeholder="filter: name, address, kind, vendor… (gpu, nic)", id="tree-filter")
                if not self.fabric.devices:
                    yield Static(empty_fabric_text(self.fabric), id="empty-fabric")
                yield FabricTree(self.fabric, role_of=self._role_of, acs_redirect=self.acs_redirect, id="tree")
            with Vertical(id="side"):
                yield SelectionBar(id="selection-bar")
                yield DetailPane(self.fabric, acs_redirect=self.acs_redirect, id="detail")
                yield VerdictPanel(id="verdict")
        yield TransfersPanel(id="transfers")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.query_one("#tree-filter").display = False
        self.query_one("#title-bar", TitleBar).set_notes(len(self.fabric.notes))
        if not self.fabric.devices:
            self.fabric_tree.display = False
        self.query_one(FabricTree).focus()
        # The tree put its cursor on its first line while mounting: describe it now, so the first frame is whole
        # (the highlight message would fill the pane a frame later).
        self.query_one(DetailPane).show(self.fabric_tree.highlighted)
        self.query_one(SelectionBar).show(self.fabric, self.selection)
        self.watch(self.app, "expert", self._expert_changed)
        self.start_operations()

    def _expert_changed(self, on: bool) -> None:
        self.query_one("#title-bar", TitleBar).set_expert(on)

    @property
    def fabric_tree(self) -> FabricTree:
        return self.query_one(FabricTree)

    def _role_of(self, bdf: BDF) -> str:
        return self.selection.role_of(bdf)

    # -- the highlighted device ------------------------------------------------------------------------------------
    @on(Tree.NodeHighlighted)
    def _highlighted(self, event: Tree.NodeHighlighted) -> None:
        self.query_one(DetailPane).show(event.node.data)

    @property
    def highlighted_device(self) -> Device | None:
        item = self.fabric_tree.highlighted
        return item if isinstance(item, Device) else None

    def _endpoint_under_cursor(self, what: str) -> Device | None:
        item = self.fabric_tree.highlighted
        if isinstance(item, RootBus) or item is None:
            self.notify(f"Move the cursor to an endpoint to choose it as {what}.", severity="warning")
            return None
        if not item.kind.is_endpoint:
            self.notify(f"{item.name} is a {item.kind.label}; only endpoints do P2P DMA.", severity="warning")
            return None
        return item

    # -- selection --------------------------------------------------------------------------------------------------
    def action_mark_exporter(self) -> None:
        dev = self._endpoint_under_cursor("exporter")
        if dev is not None:
            self.selection = self.selection.with_exporter(dev.bdf)
            if dev.pool is None:
                self.notify(
                    f"{dev.name} has no P2P memory pool: the verdict still applies, but nothing can be "
                    "allocated from it.",
                    severity="warning",
                )

    def action_toggle_importer(self) -> None:
        dev = self._endpoint_under_cursor("importer")
        if dev is not None:
            self.selection = self.selection.toggle_importer(dev.bdf)

    def action_clear_selection(self) -> None:
        self.selection = Selection()

    def select(self, exporter: BDF | None, importers: tuple[BDF, ...] = ()) -> None:
        """Set the whole selection at once (the matrix, find-provider and the demo use this)."""
        self.selection = Selection(exporter, tuple(dict.fromkeys(importers)))

    def watch_selection(self, old: Selection, new: Selection) -> None:
        self.fabric_tree.relabel(old.touched(new))
        self.query_one(SelectionBar).show(self.fabric, new)
        self.show_verdict()
        self.selection_changed(new)

    def selection_changed(self, selection: Selection) -> None:
        """Hook for panels that follow the selection."""

    # -- the verdict ------------------------------------------------------------------------------------------------
    def show_verdict(self, new_subject: bool = True) -> None:
        panel = self.query_one(VerdictPanel)
        if new_subject:  # the headline first, whatever was scrolled to for the previous selection
            panel.scroll_home(animate=False)
        try:
            before = decide.verdict(self.fabric, self.selection, self.booted)
            after = before if self.profile is self.booted else decide.verdict(self.fabric, self.selection, self.profile)
        except InputError as exc:  # too many unknown facts combine for these importers
            panel.show(refusal_rows(exc), "Verdict")
            return
        if before is None:
            panel.show(None)
            return
        if self.profile is self.booted:
            panel.show(
                verdict_rows(self.fabric, before, decide.fix(self.fabric, before)),
                f"Verdict · {self.booted.label}",
            )
            return
        assert after is not None  # the same complete selection as ``before``, under the what-if's profile
        rows = compare_rows(before, after, self.whatif.describe()) + [("", [])]
        rows += verdict_rows(self.fabric, after, decide.fix(self.fabric, after))
        panel.show(rows, f"Verdict · what-if · {self.profile.label}")

    def action_what_if(self) -> None:
        self.app.push_screen(WhatIfScreen(self.fabric, self.whatif), self._what_if_done)

    def _what_if_done(self, whatif: WhatIf | None) -> None:
        if whatif is None:
            return
        if not whatif.empty:
            # Giving up ACS isolation is gated: a what-if that clears redirect bits needs expert mode.
            cleared = decide.redirect_devices(self.fabric, self.booted) - decide.redirect_devices(
                self.fabric, decide.profile(self.fabric, whatif)
            )
            if cleared:
                from ...p2p.gate import gate_acs_whatif

                devices = [self.fabric.device(b) for b in sorted(cleared)]
                decision = gate_acs_whatif(self.fabric, devices, self.app.expert)
                if not decision.permitted:
                    self.locked("What-if locked", decision.reasons)
                    return
        self.whatif = whatif

    def locked(self, title: str, reasons: tuple[Reason, ...]) -> None:
        """Say why an action is locked and what would unlock it."""
        text = "\n".join(r.text for r in reasons)
        if not self.app.expert and any(r.unlock is not None for r in reasons):
            text += "\nPress x to turn on expert mode, then try again."
        self.notify(text, title=title, severity="error", timeout=12)

    def watch_whatif(self, whatif: WhatIf) -> None:
        self.profile = self.booted if whatif.empty else decide.profile(self.fabric, whatif)
        self._redirect = decide.acs_redirect_fn(self.fabric, self.profile)
        self.fabric_tree.relabel()
        self.query_one(DetailPane).refresh_item()
        self.show_verdict()
        self.query_one("#title-bar", TitleBar).set_whatif(None if whatif.empty else whatif.describe())
        if not whatif.empty:
            self.notify(
                f"What-if: {whatif.describe()}. The tree's ACS marks and the verdict follow it; w → As booted returns.",
                timeout=4,
            )

    # -- expert mode --------------------------------------------------------------------------------------------
    def action_expert(self) -> None:
        if self.app.expert:
            self.app.expert = False
            self.notify("Expert mode off.", timeout=3)
            return
        self.app.push_screen(ExpertConfirm(decide.pitfalls(self.fabric, self.profile)), self._expert_done)

    def _expert_done(self, confirmed: bool | None) -> None:
        self.app.expert = bool(confirmed)
        if confirmed:
            self.notify(
                "Expert mode on for this session: locked actions now run (simulated ones are labelled).",
                title="EXPERT",
                severity="warning",
                timeout=6,
            )

    # -- find provider, matrix ----------------------------------------------------------------------------------
    def action_find_provider(self) -> None:
        importers = [self.fabric.device(b) for b in self.selection.importers]
        if not importers:
            self.notify(
                "Mark one or more importers (i) first: the search looks for the pool closest to them.",
                severity="warning",
            )
            return
        try:
            search = decide.find(self.fabric, importers, self.profile, self.app.options.seed)
        except InputError as exc:
            self.notify(str(exc), title="Find provider", severity="warning", timeout=10)
            return
        chosen = search.chosen
        if chosen is None:  # nothing found
            self.notify(
                "No published P2P pool is usable by all these importers.",
                title="Find provider",
                severity="error",
                timeout=8,
            )
            return
        ties = ", ".join(d.name for d in search.ties)
        self.notify(
            f"{chosen.name} chosen (distance {search.distance}); {len(search.ties)} tied: {ties}"
            if len(search.ties) > 1
            else f"{chosen.name} (distance {search.distance}), no tie",
            title="Find provider",
            timeout=8,
        )
        self.select(chosen.bdf, self.selection.importers)

    def action_matrix(self) -> None:
        label = self.profile.label if self.whatif.empty else f"what-if: {self.whatif.describe()}"
        self.app.push_screen(MatrixScreen(self.fabric, self.profile, label), self._matrix_done)

    def _matrix_done(self, pair: tuple[BDF, BDF] | None) -> None:
        if pair is not None:
            self.select(pair[0], (pair[1],))
            self.jump_to(pair[1])

    # -- palette, navigation ------------------------------------------------------------------------------------
    def palette_actions(self) -> list[tuple[str, str, Callable[[], object]]]:
        """Commands the palette offers on this screen: the same actions as the keys."""
        return [
            ("Mark as exporter", "e · the highlighted device's P2P memory is used", self.action_mark_exporter),
            (
                "Toggle importer",
                "i · add or remove the highlighted device as a DMA client",
                self.action_toggle_importer,
            ),
            ("Clear selection", "c · forget exporter and importers", self.action_clear_selection),
            ("Find provider", "f · the kernel's choice of pool for the importers", self.action_find_provider),
            ("Open the matrix", "m · every pair of endpoints", self.action_matrix),
            ("What-if", "w · another kernel, CPU, IOMMU or command line", self.action_what_if),
            ("Toggle expert mode", "x · confirmed, lists this fabric's pitfalls", self.action_expert),
            ("Open another fabric", "o · back to the launcher", self.action_open_launcher),
            ("Copy the verdict", "y · as `p2ptui check` prints it, to the clipboard", self.action_copy_verdict),
            ("Copy the device's details", "Y · the highlighted device, as text", self.action_copy_device),
            ("Load notes", "n · what the source could not say", self.action_notes),
            ("Link load", "l · busiest links with their history: where is the bottleneck", self.action_links),
            ("Filter the tree", "/ · by name, address, kind, vendor", self.action_filter),
            *self.operating_actions(),
        ]

    def jump_to(self, bdf: BDF) -> None:
        self.fabric_tree.reveal(bdf)
        self.fabric_tree.focus()

    def action_jump(self) -> None:
        self.app.action_command_palette()

    # -- filter -------------------------------------------------------------------------------------------------------
    @property
    def filter_input(self) -> Input:
        return self.query_one("#tree-filter", Input)

    def action_filter(self) -> None:
        field = self.filter_input
        field.display = True
        field.focus()

    @on(Input.Changed, "#tree-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        count = self.fabric_tree.set_filter(event.value)
        self.fabric_tree.border_title = (
            f"filter “{self.fabric_tree.filter}”: {count} match{'es' if count != 1 else ''}"
            if self.fabric_tree.filter
            else None
        )

    @on(Input.Submitted, "#tree-filter")
    def _filter_done(self) -> None:
        self.fabric_tree.focus()  # the filter stays; / changes it, esc in the field clears it

    def action_clear_filter(self) -> None:
        self.clear_filter()

    def clear_filter(self) -> bool:
        """Close the filter field and show every device again; False when there was nothing to clear."""
        field = self.filter_input
        if not field.display and not self.fabric_tree.filter:
            return False
        field.value = ""
        field.display = False
        self.fabric_tree.set_filter("")
        self.fabric_tree.border_title = None
        self.fabric_tree.focus()
        return True

    def action_open_launcher(self) -> None:
        self.app.show_launcher()

    # -- taking the answer away --------------------------------------------------------------------------------------
    def action_copy_verdict(self) -> None:
        try:
            verdict = decide.verdict(self.fabric, self.selection, self.profile)
        except InputError as exc:
            self.notify(str(exc), severity="warning", timeout=10)
            return
        if verdict is None:
            self.notify(
                "Choose an exporter (e) and an importer (i) first: then y copies the verdict.", severity="warning"
            )
            return
        self.app.copy_to_clipboard(export.verdict_text(self.fabric, verdict, self.app.expert))
        self.notify("The verdict, as `p2ptui check` prints it, is on the clipboard.", timeout=3)

    def action_copy_device(self) -> None:
        dev = self.highlighted_device
        if dev is None:
            self.notify("Move the cursor to a device first.", severity="warning")
            return
        self.app.copy_to_clipboard(export.device_text(self.fabric, dev, self.acs_redirect(dev)))
        self.notify(f"{dev.name}'s details are on the clipboard.", timeout=3)

    def action_links(self) -> None:
        from .links import LinkLoadScreen

        options = self.app.options
        self.app.push_screen(
            LinkLoadScreen(self.fabric.name, self.operations, 1.0 / options.meter_hz, options.auto_tick)
        )

    def action_notes(self) -> None:
        self.app.push_screen(NotesScreen(f"Load notes · {self.fabric.name}", self.fabric.notes))

    # -- panes ------------------------------------------------------------------------------------------------------
    def action_zoom(self) -> None:
        if self.maximized is not None:
            self.minimize()
            return
        pane = self.focused
        while pane is not None and pane.id not in ("tree", "detail", "verdict", "transfers"):
            pane = pane.parent if isinstance(pane.parent, Widget) else None
        if pane is None or not pane.display:
            self.notify("Focus a pane first (tab), then z maximises it.", severity="warning", timeout=3)
            return
        self.maximize(pane, container=False)

    def action_toggle_detail(self) -> None:
        detail = self.query_one(DetailPane)
        detail.display = not detail.display

    def action_toggle_transfers(self) -> None:
        panel = self.transfers
        if not panel.views:
            self.notify("No transfers yet: t starts a copy.", timeout=3)
            return
        panel.set_class(not panel.has_class("-hidden"), "-hidden")


def empty_fabric_text(fabric: Fabric) -> Content:
    """What to show instead of an empty tree: that the file holds no PCI devices, and what the source said."""
    parts: list[tuple[str, str]] = [
        ("No PCI devices in this fabric.", "bold"),
        ("\nThere is nothing to choose or copy between. ", ""),
    ]
    if fabric.notes:
        parts.append(("The source says:\n", ""))
        parts += [(f"\n• {note}", "$text-warning") for note in fabric.notes]
    else:
        parts.append(("The source gave no reason.", "dim"))
    return Content.assemble(*parts)
