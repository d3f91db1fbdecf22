"""What if this machine ran another kernel, CPU, IOMMU mode or command line, or what if an unknown fact (ACS, CPU,
IOMMU, kernel) were this? A form; the verdict shows both."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select, Static

from ...errors import InputError
from ...fabric.model import Fabric
from ..decide import WhatIf, profile

IOMMU_CHOICES = [("off", "off"), ("passthrough (iommu=pt)", "passthrough"), ("translated", "translated")]


class WhatIfScreen(ModalScreen[WhatIf | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", show=False)]

    def __init__(self, fabric: Fabric, current: WhatIf | None) -> None:
        super().__init__(id="whatif")
        self.fabric = fabric
        self.current = current or WhatIf()

    def compose(self) -> ComposeResult:
        host = self.fabric.host
        with Vertical(id="whatif-form") as form:
            form.border_title = "What if… (empty = as booted)"
            yield Label(Content.assemble(("Kernel", "bold"), (f"   booted: {host.kernel or 'unknown'}", "dim")))
            yield Input(self.current.kernel or "", placeholder="e.g. 5.4, 6.12, latest", id="wi-kernel")
            cpu = host.cpu_vendor or "unknown"
            if host.cpu_family is not None:
                cpu += f":{host.cpu_family:#x}"
            yield Label(Content.assemble(("CPU", "bold"), (f"   booted: {cpu}", "dim")))
            yield Input(self.current.cpu or "", placeholder="e.g. intel, amd, amd:0x17", id="wi-cpu")
            yield Label(Content.assemble(("IOMMU", "bold"), (f"   booted: {host.iommu.value}", "dim")))
            yield Select(IOMMU_CHOICES, value=self.current.iommu or Select.NULL, prompt="as booted", id="wi-iommu")
            yield Label(Content.assemble(("Kernel command line", "bold")))
            cmdline = self.current.cmdline if self.current.cmdline is not None else host.cmdline
            yield Input(cmdline, placeholder="e.g. pci=disable_acs_redir=0000:19:00.0", id="wi-cmdline")
            unknown = ", ".join(sorted(f.value for f in profile(self.fabric).unknown)) or "none"
            yield Label(Content.assemble(("Assume", "bold"), (f"   unknown here: {unknown}", "dim")))
            yield Input(
                ", ".join(self.current.assume),
                placeholder="e.g. acs-clear, cpu=amd:0x19, iommu=on, kernel=6.8",
                id="wi-assume",
            )
            yield Static("", id="wi-error")
            with Horizontal(id="wi-buttons"):
                yield Button("Cancel", id="wi-cancel")
                yield Button("As booted", id="wi-reset")
                yield Button("Apply", variant="primary", id="wi-apply")

    def on_mount(self) -> None:
        self.query_one("#wi-kernel", Input).focus()

    def read(self) -> WhatIf:
        def text(widget_id: str) -> str | None:
            value = self.query_one(widget_id, Input).value.strip()
            return value or None

        iommu = self.query_one("#wi-iommu", Select).value
        cmdline = self.query_one("#wi-cmdline", Input).value.strip()
        assume = tuple(w.strip() for w in self.query_one("#wi-assume", Input).value.split(",") if w.strip())
        return WhatIf(
            kernel=text("#wi-kernel"),
            cpu=text("#wi-cpu"),
            iommu=None if iommu is Select.NULL else str(iommu),
            cmdline=None if cmdline == self.fabric.host.cmdline.strip() else cmdline,
            assume=assume,
        )

    @on(Button.Pressed, "#wi-apply")
    @on(Input.Submitted)
    def apply(self) -> None:
        whatif = self.read()
        try:
            profile(self.fabric, whatif)
        except InputError as exc:
            self.query_one("#wi-error", Static).update(
                Content.styled("; ".join(d.message for d in exc.diagnostics), "$text-error")
            )
            return
        self.dismiss(whatif)

    @on(Button.Pressed, "#wi-reset")
    def reset(self) -> None:
        self.dismiss(WhatIf())

    @on(Button.Pressed, "#wi-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
