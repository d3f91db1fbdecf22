"""Launch a copy from the selection: which copy, size, chunk, threads, engine, check and serial. The expert gate is
asked before anything starts; a refusal keeps the form open and says why and what unlocks it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select, Static

from ...engine.backends import backend
from ...engine.backends import names as engine_names
from ...engine.transfer import TransferSpec
from ...errors import InputError
from ...p2p.gate import GateDecision
from ..operate import CopyChoice, CopyFormValues, build_spec
from ..styled import palette_from, to_text
from ..transfer_text import gate_rows


def engine_choices() -> list[tuple[Text, str]]:
    """Every registered engine with its one-line summary."""
    return [(Text(f"{name:<5} {backend(name).summary}"), name) for name in engine_names()]


Gate = Callable[[TransferSpec, str], GateDecision | None]


@dataclass(frozen=True)
class CopyRequest:
    spec: TransferSpec
    engine: str


class CopyForm(ModalScreen[CopyRequest | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, choices: list[CopyChoice], values: CopyFormValues, gate: Gate, note: str = "") -> None:
        super().__init__(id="copy")
        self.choices = {c.key: c for c in choices}
        self.values = values  # shared with the caller: what was typed survives closing the form
        if values.choice not in self.choices:
            values.choice = choices[0].key
        self.gate = gate
        self.note = note
        self.decision: GateDecision | None = None
        self.gate_shown = False
        self.errors: list[str] = []  # what the error line says, one problem each

    def compose(self) -> ComposeResult:
        v = self.values
        with Vertical(id="copy-form") as form:
            form.border_title = "Copy from the selection"
            with Horizontal(classes="cp-row"):
                yield Label("Copy", classes="cp-key")
                yield Select(
                    [(Text(c.text), c.key) for c in self.choices.values()],
                    value=v.choice,
                    allow_blank=False,
                    compact=True,
                    id="cp-choice",
                )
            with Horizontal(classes="cp-row"):
                yield Label("Size", classes="cp-key")
                yield Input(v.size, compact=True, id="cp-size")
                yield Label("Chunk", classes="cp-key cp-inner")
                yield Input(v.chunk, compact=True, id="cp-chunk")
                yield Label("Threads", classes="cp-key cp-inner")
                yield Input(v.threads, compact=True, id="cp-threads")
            with Horizontal(classes="cp-row"):
                yield Label("Engine", classes="cp-key")
                yield Select(engine_choices(), value=v.engine, allow_blank=False, compact=True, id="cp-engine")
            with Horizontal(classes="cp-row"):
                yield Label("Check", classes="cp-key")
                yield Checkbox("seeded data, digest compared after the copy (real engine)", v.check, id="cp-check")
            with Horizontal(classes="cp-row"):
                yield Label("Serial", classes="cp-key")
                yield Checkbox(
                    "staged: one chunk per thread, read then written (p2pmem-test's loop)", v.serial, id="cp-serial"
                )
            if self.note:
                yield Static(Content.styled(self.note, "dim"), id="cp-note")
            yield Static("", id="cp-gate")
            yield Static("", id="cp-error")
            with Horizontal(id="cp-buttons"):
                yield Button("Cancel", compact=True, id="cp-cancel")
                yield Button("Start", variant="primary", compact=True, id="cp-start")

    def on_mount(self) -> None:
        self.query_one("#cp-size", Input).focus()
        self._preview()

    # -- reading ----------------------------------------------------------------------------------------------------
    def read(self) -> CopyFormValues:
        v = self.values
        v.choice = str(self.query_one("#cp-choice", Select).value)
        v.size = self.query_one("#cp-size", Input).value
        v.chunk = self.query_one("#cp-chunk", Input).value
        v.threads = self.query_one("#cp-threads", Input).value
        v.engine = str(self.query_one("#cp-engine", Select).value)
        v.check = self.query_one("#cp-check", Checkbox).value
        v.serial = self.query_one("#cp-serial", Checkbox).value
        return v

    def _evaluate(self) -> TransferSpec | None:
        """Read the fields and ask the gate; the spec, or None with ``errors`` saying why not."""
        values = self.read()
        try:
            spec = build_spec(values, self.choices[values.choice])
            self.decision = self.gate(spec, values.engine)
        except InputError as exc:
            self.errors = [str(d) for d in exc.diagnostics]
            return None
        except Exception as exc:  # noqa: BLE001 - the engine's bug is shown here, never closes the app
            self.errors = [f"engine error: {type(exc).__name__}: {exc}"]
            return None
        self.errors = []
        return spec

    @on(Select.Changed)
    @on(Checkbox.Changed)
    @on(Input.Changed)
    def _preview(self) -> None:
        """Show the gate's answer for the copy as it stands, when the fields make a valid copy."""
        self._show_gate(self._evaluate() is not None)

    def _show_gate(self, shown: bool = True) -> None:
        self.gate_shown = shown
        if not shown:
            self.query_one("#cp-gate", Static).update("")
            return
        palette = palette_from(self.app.theme_variables)
        grid = Table.grid(padding=(0, 1))
        grid.add_column(width=8, no_wrap=True)
        grid.add_column(ratio=1)
        for key, parts in gate_rows(self.decision, self.values.engine):
            grid.add_row(to_text([key], palette), to_text(parts, palette, wrap=True))
        self.query_one("#cp-gate", Static).update(grid)

    # -- buttons ----------------------------------------------------------------------------------------------------
    @on(Button.Pressed, "#cp-start")
    @on(Input.Submitted)
    def start(self) -> None:
        spec = self._evaluate()
        self.query_one("#cp-error", Static).update(Content.styled("\n".join(self.errors), "$text-error"))
        self._show_gate(spec is not None)
        if spec is None or (self.decision is not None and not self.decision.permitted):
            return
        self.dismiss(CopyRequest(spec, self.values.engine))

    @on(Button.Pressed, "#cp-cancel")
    def action_cancel(self) -> None:
        self.read()
        self.dismiss(None)

    @property
    def gate_text(self) -> str:
        """The gate's answer as plain text, one row a line (tests read it)."""
        if not self.gate_shown:
            return ""
        return "\n".join(
            key[0] + " " + "".join(t for t, _ in parts) for key, parts in gate_rows(self.decision, self.values.engine)
        )
