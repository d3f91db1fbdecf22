"""What bare ``p2ptui`` opens: this machine (live scan) and the bundled fabrics, one Enter away."""

from __future__ import annotations

from collections.abc import Callable

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option, OptionDoesNotExist
from textual.worker import Worker, WorkerState

from ...errors import InputError
from ...fabric.model import Fabric
from ...formats.gallery import GalleryEntry, bundled
from ..widgets.bars import TitleBar
from ..widgets.footer import KeyFooter
from .base import AppScreen

LIVE_ID = "live"
NAME_WIDTH = 20


class LauncherScreen(AppScreen[None]):
    BINDINGS = [
        Binding("r", "rescan", "Rescan this machine", tooltip="Scan /sys/bus/pci again"),
        Binding("slash", "find", "Find", id="launcher-find", tooltip="Type to narrow the list (letters start it)"),
        Binding(
            "escape",
            "back",
            "Back",
            id="launcher-back",
            tooltip="Clear the find field, or go back to the fabric the launcher was opened from",
        ),
    ]

    def __init__(self, came_back_to: Screen | None = None) -> None:
        super().__init__(id="launcher")
        self.entries: dict[str, GalleryEntry] = {e.name: e for e in bundled()}
        self.came_back_to = came_back_to  # the fabric screen below, when opened with o

    def compose(self) -> ComposeResult:
        yield TitleBar("choose a fabric", "PCIe peer-to-peer DMA explorer", id="title-bar")
        yield Input(placeholder="find a fabric by name or description", id="launcher-find")
        yield OptionList(*self._options(), id="fabrics")
        yield Static(
            Content.assemble(
                ("Enter", "bold"),
                (" opens the highlighted fabric.  ", "dim"),
                ("p2ptui FABRIC", "bold"),
                (" opens a file directly: YAML fabric, sysfs snapshot, lspci dump, hwloc or NCCL XML.", "dim"),
            ),
            id="launcher-hint",
        )
        yield KeyFooter()

    def _options(self, query: str = "") -> list[Option | None]:
        words = query.lower().split()
        options: list[Option | None] = (
            [self._live_option()] if not words or _matches("this machine local", words) else []
        )
        entries = [e for e in self.entries.values() if _matches(f"{e.name} {e.title} {e.description}", words)]
        if options and entries:
            options.append(None)
        for entry in entries:
            options.append(Option(_entry_prompt(entry.name, entry.title, entry.description), id=entry.name))
        return options

    def _live_option(self) -> Option:
        app = self.app
        if app.live_scan is None:
            detail, disabled = f"unavailable: {app.live_scan_reason}", True
        elif app.live_fabric is not None:
            n = len(app.live_fabric)
            detail, disabled = f"live scan of /sys/bus/pci: {n} device{'s' if n != 1 else ''}", False
        elif app.live_scan_error:
            detail, disabled = f"scan failed: {app.live_scan_error}", True
        else:
            detail, disabled = "scanning /sys/bus/pci …", True
        return Option(_entry_prompt("This machine", detail, ""), id=LIVE_ID, disabled=disabled)

    def on_mount(self) -> None:
        self.query_one("#launcher-find").display = False
        self.query_one(OptionList).focus()
        app = self.app
        if app.live_scan is not None and app.live_fabric is None and not app.live_scan_error:
            self._scan(app.live_scan)

    # -- find, back -------------------------------------------------------------------------------------------------
    def action_find(self, text: str = "") -> None:
        field = self.query_one("#launcher-find", Input)
        field.display = True
        field.value = text
        field.cursor_position = len(text)
        field.focus()

    def on_key(self, event) -> None:
        """Typing on the list starts a find with what was typed (bound keys keep their meaning)."""
        if not isinstance(self.focused, OptionList) or event.key in self.active_bindings:
            return
        if event.character and (event.character.isalnum() or event.character in "-_"):
            event.stop()
            event.prevent_default()
            self.action_find(event.character)

    @on(Input.Changed, "#launcher-find")
    def _find_changed(self, event: Input.Changed) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        options.add_options(self._options(event.value))
        first = next((i for i in range(options.option_count) if not options.get_option_at_index(i).disabled), None)
        options.highlighted = first

    @on(Input.Submitted, "#launcher-find")
    def _find_submitted(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.open_option(options.get_option_at_index(options.highlighted).id)

    def action_back(self) -> None:
        field = self.query_one("#launcher-find", Input)
        if field.display:
            field.value = ""
            field.display = False
            self.query_one(OptionList).focus()
        elif self.came_back_to is not None:
            self.app.pop_screen()

    # -- live scan --------------------------------------------------------------------------------------------------
    @work(thread=True, group="live-scan", exclusive=True, exit_on_error=False)
    def _scan(self, scan: Callable[[], Fabric]) -> Fabric:  # the app's live scan
        return scan()

    def action_rescan(self) -> None:
        scan = self.app.live_scan
        if scan is None:
            self.notify(f"This machine: {self.app.live_scan_reason}", severity="warning")
            return
        self.app.live_fabric = None
        self.app.live_scan_error = ""
        self._refresh_live()
        self._scan(scan)

    def _refresh_live(self) -> None:
        options = self.query_one(OptionList)
        try:
            options.get_option(LIVE_ID)
        except OptionDoesNotExist:  # a find hides it: it is rebuilt when the find changes
            return
        live = self._live_option()
        options.replace_option_prompt(LIVE_ID, live.prompt)
        if live.disabled:
            options.disable_option(LIVE_ID)
        else:
            options.enable_option(LIVE_ID)

    @on(Worker.StateChanged)
    def _worker_done(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.group == "live-scan":
            if event.state is WorkerState.SUCCESS:
                self.app.live_fabric = worker.result
            elif event.state is WorkerState.ERROR:
                self.app.live_scan_error = _reason(worker.error)
            else:
                return
            self._refresh_live()
        elif worker.group == "load":
            self.query_one(OptionList).loading = event.state is WorkerState.RUNNING
            if event.state is WorkerState.SUCCESS and isinstance(worker.result, Fabric):  # what _load returns
                self.app.show_fabric(worker.result)
            elif event.state is WorkerState.ERROR:
                self.notify(_reason(worker.error), title="Cannot open this fabric", severity="error", timeout=10)

    # -- opening ----------------------------------------------------------------------------------------------------
    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.open_option(event.option.id)

    def open_option(self, option_id: str | None) -> None:
        if option_id == LIVE_ID:
            if self.app.live_fabric is not None:
                self.app.show_fabric(self.app.live_fabric)
            return
        entry = self.entries.get(option_id or "")
        if entry is not None:
            self._load(entry)

    @work(thread=True, group="load", exclusive=True, exit_on_error=False)
    def _load(self, entry: GalleryEntry) -> Fabric:
        from ...sources import open_fabric

        return open_fabric(str(entry.path))


def _entry_prompt(name: str, title: str, description: str) -> Table:
    """Name in a fixed column, title and wrapped description beside it (Text: data is never markup)."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(width=NAME_WIDTH, no_wrap=True)
    grid.add_column(ratio=1)
    body = Text(title, style="bold")
    if description:
        body.append("\n" + description, style="dim")
    grid.add_row(Text(name, style="bold"), body)
    return grid


def _matches(text: str, words: list[str]) -> bool:
    text = text.lower()
    return all(w in text for w in words)


def _reason(error: BaseException | None) -> str:
    if isinstance(error, InputError):
        return "; ".join(str(d) for d in error.diagnostics)
    return str(error) or type(error).__name__
