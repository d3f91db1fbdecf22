"""The fabric screen's transfers: the copy form (t), starting through the expert gate, the meter tick that feeds the
transfers panel and the tree's link colours, cancel, notes, and simulated hot-unplug.

A mixin so fabric.py keeps to the tree, the selection and the verdict. Engine errors (a refused pool, an unplugged
provider, an I/O error, even an engine bug) become notifications; nothing here lets one escape into Textual, where
it would close the app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from ...engine.backends import default as default_engine
from ...engine.transfer import TransferSpec
from ...errors import InputError
from ...p2p.gate import GateDecision
from ..operate import CopyFormValues, Operations, copy_choices, staging_note
from ..transfer_text import event_notice
from ..widgets.transfers_panel import TransfersPanel
from .base import AppScreen
from .copy_form import CopyForm, CopyRequest
from .notes import NotesScreen

if TYPE_CHECKING:
    from ...fabric.model import Device, Fabric
    from ...p2p.gate import Reason
    from ..decide import WhatIf
    from ..selection import Selection
    from ..widgets.fabric_tree import FabricTree

MAX_PANEL_LINES = 12
PANEL_SHARE = 0.4  # of the screen's height at most, so the tree and verdict keep room on a 24-row terminal


class OperatingMixin(AppScreen[None]):
    """The transfers part of the fabric screen, which provides what is declared below."""

    operations: Operations
    copy_values: CopyFormValues

    if TYPE_CHECKING:
        # The fabric screen's own: its fabric, selection and what-if, the tree's cursor, and how it says an action
        # is locked.
        fabric: Fabric
        selection: Selection
        whatif: WhatIf

        @property
        def fabric_tree(self) -> FabricTree: ...

        @property
        def highlighted_device(self) -> Device | None: ...

        def locked(self, title: str, reasons: tuple[Reason, ...]) -> None: ...

    def start_operations(self) -> None:
        options = self.app.options
        self.operations = Operations(self.fabric, options.clock, options.sim_speed, 1.0 / options.meter_hz)
        self.copy_values = CopyFormValues()
        # One timer repaints every meter, however fast the engine runs; paused in tests, which call tick() themselves.
        self.meter = self.set_interval(1.0 / options.meter_hz, self.tick, pause=True)
        self.meters_asleep = True  # until a copy starts: nothing to show, nothing to poll

    async def on_unmount(self) -> None:
        await self.operations.close()

    @property
    def transfers(self) -> TransfersPanel:
        return self.query_one(TransfersPanel)

    # -- the meter tick ---------------------------------------------------------------------------------------------
    def tick(self) -> None:
        """Poll both engines once and show what they report: panel, link colours, notifications. When nothing
        runs any more the meter timer sleeps (no idle CPU); a one-shot timer wakes it to clear finished transfers
        after ``clear_finished_after`` seconds."""
        ops = self.operations
        if not ops.active:
            return
        after = self.app.options.clear_finished_after
        if after is not None:
            ops.clear_finished(older_than=after)
        snap = ops.poll()
        for view, event in snap.events:
            notice = event_notice(view, event)
            if notice is not None:
                title, message, severity = notice
                self.notify(message, title=title, severity=severity, timeout=10 if severity == "error" else 5)
        for problem in snap.problems:
            self.notify(problem, title="Engine error", severity="error", timeout=15)
        self.fabric_tree.set_loads(snap.loads)
        panel = self.transfers
        panel.show(snap)
        if not ops.busy:
            self._sleep_meters(clear_after=after if snap.views else None)
        if not snap.views:
            panel.remove_class("-on")
            return
        cap = max(4, min(MAX_PANEL_LINES + 2, int(self.size.height * PANEL_SHARE)))
        self.panel_height = min(1 + 3 * len(snap.views) + 2, cap)
        height = panel.styles.height
        if self.maximized is not panel and (
            not panel.has_class("-on") or height is None or height.value != self.panel_height
        ):
            panel.styles.height = self.panel_height
        panel.add_class("-on")

    def _sleep_meters(self, clear_after: float | None) -> None:
        """Pause the meters; with ``clear_after`` (finished transfers still shown), wake once to clear them."""
        self.meters_asleep = True
        self.meter.pause()
        if clear_after is not None and self.app.options.auto_tick:
            # one tick later, when the last finished transfer is due to go (the tick clears it)
            self.set_timer(clear_after + 0.05, self.tick)

    def _wake_meters(self) -> None:
        self.meters_asleep = False
        if self.app.options.auto_tick:
            self.meter.resume()

    def action_clear_finished(self) -> None:
        gone = self.operations.clear_finished()
        if not gone:
            self.notify("No finished transfers to clear.", timeout=3)
            return
        self.tick()

    def watch_maximized(self, old, new) -> None:
        # The panel's height is set inline (it follows the number of transfers), which CSS cannot override.
        panel = self.transfers
        if new is panel:
            panel.styles.height = "1fr"
        elif old is panel:
            panel.styles.height = getattr(self, "panel_height", None)

    # -- starting ---------------------------------------------------------------------------------------------------
    def action_copy(self) -> None:
        choices = copy_choices(self.fabric, self.selection)
        if not choices:
            self.notify(
                "Mark an exporter (e) and at least one other device as importer (i) first: copies run "
                "between them and the exporter's P2P memory.",
                severity="warning",
            )
            return
        notes = [staging_note(self.fabric, self.selection)]
        if not self.whatif.empty:
            notes.append("Copies run on the fabric as booted; the what-if only changes the verdict.")
        note = "\n".join(n for n in notes if n)
        self.app.push_screen(CopyForm(choices, self.copy_values, self.gate, note), self._copy_done)

    def gate(self, spec: TransferSpec, engine: str) -> GateDecision | None:
        return self.operations.gate(spec, engine, self.app.expert)

    async def _copy_done(self, request: CopyRequest | None) -> None:
        if request is not None:
            await self.start_copy(request.spec, request.engine)

    async def start_copy(self, spec: TransferSpec, engine: str | None = None) -> int | None:
        """Ask the gate, then the engine (default: the registry's default); the transfer's number in the panel, or
        None (and a notification)."""
        engine = engine or default_engine()
        try:
            decision = self.gate(spec, engine)
            if decision is not None and not decision.permitted:
                self.locked("Copy locked", decision.reasons)
                return None
            number = await self.operations.start(spec, engine, self.app.expert)
            self.transfers.remove_class("-hidden")  # a new copy shows its panel even if p hid it
            self._wake_meters()
        except InputError as exc:
            self.notify("\n".join(str(d) for d in exc.diagnostics), title="Copy refused", severity="error", timeout=10)
            return None
        except Exception as exc:  # noqa: BLE001 - an engine bug is reported, the app stays up
            self.notify(f"{type(exc).__name__}: {exc}", title="Engine error", severity="error", timeout=15)
            return None
        self.tick()
        return number

    # -- the panel's requests ---------------------------------------------------------------------------------------
    def on_transfers_panel_clear_requested(self, _message: TransfersPanel.ClearRequested) -> None:
        self.action_clear_finished()

    async def on_transfers_panel_cancel_requested(self, message: TransfersPanel.CancelRequested) -> None:
        try:
            cancelled = await self.operations.cancel(message.number)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"{type(exc).__name__}: {exc}", title="Engine error", severity="error", timeout=15)
            return
        if not cancelled:
            self.notify(f"#{message.number} has already finished.", severity="warning", timeout=3)
        self.tick()

    def on_transfers_panel_notes_requested(self, message: TransfersPanel.NotesRequested) -> None:
        view = message.view
        notes = view.result.notes or ["(the engine assumed nothing for this transfer)"]
        # A modal you can scroll and copy, that stays on this screen: not a toast over the panel.
        self.app.push_screen(NotesScreen(f"#{view.number} {view.label}: what the engine assumed", notes))

    # -- fault injection --------------------------------------------------------------------------------------------
    def action_unplug(self) -> None:
        dev = self.highlighted_device
        if dev is None:
            self.notify("Move the cursor to a device to unplug it in the simulation.", severity="warning")
            return
        try:
            self.operations.unplug(dev.name)
        except Exception as exc:  # noqa: BLE001
            self.notify(f"{type(exc).__name__}: {exc}", title="Engine error", severity="error", timeout=15)
            return
        self.notify(
            f"{dev.name} hot-unplugged in the simulation: simulated transfers through it fail, new ones are "
            "refused. Real copies are not affected.",
            title="Unplug",
            severity="warning",
            timeout=6,
        )
        self.tick()

    def operating_actions(self) -> list[tuple[str, str, Callable[[], object]]]:
        return [
            (
                "Copy between the selected devices",
                "t · size, chunk, threads, engine; the gate is asked first",
                self.action_copy,
            ),
            ("Cancel the highlighted transfer", "k in the transfers panel", self.transfers.action_cancel_transfer),
            (
                "Clear finished transfers",
                "C · done, cancelled and failed copies leave the panel",
                self.action_clear_finished,
            ),
            ("Focus the transfers panel", "tab also gets there", self.transfers.focus),
            (
                "Unplug the highlighted device (simulation)",
                "simulated transfers through it fail: see how errors arrive",
                self.action_unplug,
            ),
        ]
