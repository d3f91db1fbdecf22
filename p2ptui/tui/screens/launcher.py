"""What bare ``p2ptui`` opens: this machine (live scan) and the bundled fabrics, one Enter away."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import Worker, WorkerState

from ...errors import InputError
from ...fabric.gallery import GalleryEntry, bundled
from ...fabric.model import Fabric
from ..widgets.bars import TitleBar

LIVE_ID = "live"
NAME_WIDTH = 20


class LauncherScreen(Screen):
    BINDINGS = [
        Binding("r", "rescan", "Rescan this machine", tooltip="Scan /sys/bus/pci again"),
    ]

    def __init__(self) -> None:
        super().__init__(id="launcher")
        self.entries: dict[str, GalleryEntry] = {e.name: e for e in bundled()}

    def compose(self) -> ComposeResult:
        yield TitleBar("choose a fabric", "PCIe peer-to-peer DMA explorer", id="title-bar")
        yield OptionList(*self._options(), id="fabrics")
        yield Static(
            Content.assemble(
                ("Enter", "bold"), (" opens the highlighted fabric.  ", "dim"),
                ("p2ptui FABRIC", "bold"),
                (" opens a file directly: YAML fabric, sysfs snapshot, lspci dump, hwloc or NCCL XML.", "dim"),
            ),
            id="launcher-hint",
        )
        yield Footer()

    def _options(self) -> list[Option | None]:
        options: list[Option | None] = [self._live_option()]
        options.append(None)
        for entry in self.entries.values():
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
        self.query_one(OptionList).focus()
        app = self.app
        if app.live_scan is not None and app.live_fabric is None and not app.live_scan_error:
            self._scan()

    # -- live scan --------------------------------------------------------------------------------------------------
    @work(thread=True, group="live-scan", exclusive=True, exit_on_error=False)
    def _scan(self) -> Fabric:
        return self.app.live_scan()

    def action_rescan(self) -> None:
        if self.app.live_scan is None:
            self.notify(f"This machine: {self.app.live_scan_reason}", severity="warning")
            return
        self.app.live_fabric = None
        self.app.live_scan_error = ""
        self._refresh_live()
        self._scan()

    def _refresh_live(self) -> None:
        options = self.query_one(OptionList)
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
            if event.state is WorkerState.SUCCESS:
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


def _reason(error: BaseException | None) -> str:
    if isinstance(error, InputError):
        return "; ".join(str(d) for d in error.diagnostics)
    return str(error) or type(error).__name__
