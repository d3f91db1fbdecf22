"""Every attribute of the highlighted device (or root complex), ACS bits decoded."""

from __future__ import annotations

from rich.table import Table
from textual.containers import VerticalScroll
from textual.content import Content
from textual.widgets import Static

from ...fabric.model import Device, Fabric, RootBus
from ...present.device import AcsRedirect, device_rows, fabric_rows, hardware_acs_redirect, root_bus_rows
from ...present.rows import KEY_WIDTH, Row
from ..styled import palette_from, to_text


class DetailPane(VerticalScroll):
    def __init__(self, fabric: Fabric, *, acs_redirect: AcsRedirect = hardware_acs_redirect, id: str | None = None):
        super().__init__(id=id)
        self.fabric = fabric
        self.acs_redirect = acs_redirect
        self.item: Device | RootBus | None = None
        self.border_title = "Device"

    def compose(self):
        yield Static(Content("Move the cursor in the tree to see a device."), id="detail-body", markup=False)

    def show(self, item: Device | RootBus | None) -> None:
        if item is not self.item:  # a new device starts at its name, not where the last one was scrolled to
            # At once, not after the next refresh (the default): a deferred scroll raced the new body's layout.
            self.scroll_home(animate=False, immediate=True)
        self.item = item
        body = self.query_one("#detail-body", Static)
        if item is None:
            body.update("")
            return
        if isinstance(item, RootBus):
            self.border_title = Content(f"Root complex {item.host_bridge}")
            # The root complex's pane also holds the whole fabric's facts: its notes, and the functions whose place
            # the source contradicts or could not give (those have no node of their own in the tree).
            rows = root_bus_rows(self.fabric, item) + [("", [])] + fabric_rows(self.fabric)
        else:
            self.border_title = Content(f"{item.name} · {item.bdf}")
            rows = device_rows(self.fabric, item, self.acs_redirect(item))
        body.update(render_rows(rows, palette_from(self.app.theme_variables)))

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.refresh_item())

    def refresh_item(self) -> None:
        self.show(self.item)


def render_rows(rows: list[Row], palette: dict[str, str], key_width: int = KEY_WIDTH) -> Table:
    """Keys in a fixed column; long values wrap under their own column, not under the keys."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(width=key_width, no_wrap=True, style="dim")
    grid.add_column(ratio=1)
    for key, parts in rows:
        grid.add_row(key, to_text(parts, palette, wrap=True))
    return grid
