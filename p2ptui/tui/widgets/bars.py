"""The one-line bars around the fabric screen: title with host facts and the EXPERT badge, and the selection."""

from __future__ import annotations

from textual.containers import Horizontal
from textual.content import Content
from textual.widgets import Static

from ...fabric.model import Fabric
from ...present.device import host_parts
from ...present.rows import plain
from ..selection import Selection


class TitleBar(Horizontal):
    """Fabric name and host facts; the EXPERT badge stays visible while expert mode is on."""

    def __init__(self, title: str, subtitle: str = "", id: str | None = None):
        super().__init__(id=id)
        self._title = title
        self._subtitle = subtitle

    def compose(self):
        yield Static(
            Content.assemble(("p2ptui ", "bold $text-accent"), (self._title, "bold"), ("  " + self._subtitle, "dim")),
            id="title-text",
        )
        yield NotesBadge(Content(""), id="notes-badge")
        yield Static(Content(" WHAT-IF "), id="whatif-badge")
        yield Static(Content(" EXPERT "), id="expert-badge")

    def set_expert(self, on: bool) -> None:
        self.query_one("#expert-badge").set_class(on, "-on")

    def set_whatif(self, describe: str | None) -> None:
        """A what-if in force is as visible as expert mode: the verdict is not the booted machine's."""
        badge = self.query_one("#whatif-badge", Static)
        badge.set_class(describe is not None, "-on")
        badge.tooltip = f"What-if in force: {describe}; w → As booted returns" if describe else None

    def set_notes(self, count: int) -> None:
        badge = self.query_one("#notes-badge", NotesBadge)
        badge.update(Content(f" {count} load note{'s' if count != 1 else ''} (n) "))
        badge.set_class(count > 0, "-on")


class NotesBadge(Static):
    """How many load notes the fabric has; a click opens them, like n."""

    async def on_click(self) -> None:
        await self.screen.run_action("notes")


def fabric_title_bar(fabric: Fabric) -> TitleBar:
    return TitleBar(fabric.name, plain(host_parts(fabric.host)), id="title-bar")


class SelectionBar(Static):
    """Who is exporter and who imports, in words, with the keys that change it. Importers that do not fit the
    width are counted ("… +3 more"), never cut silently."""

    def on_mount(self) -> None:
        self._shown: tuple[Fabric, Selection] | None = None

    def show(self, fabric: Fabric, selection: Selection) -> None:
        self._shown = (fabric, selection)
        self.update(selection_content(fabric, selection, self.size.width or 120), layout=False)

    def on_resize(self) -> None:
        shown = getattr(self, "_shown", None)  # a resize may come before on_mount
        if shown is not None:
            self.show(*shown)


def selection_content(fabric: Fabric, selection: Selection, width: int) -> Content:
    exporter = fabric.get(selection.exporter)
    importers = [fabric.device(b) for b in selection.importers]
    parts: list[tuple[str, str]] = [("exporter ", "dim")]
    parts.append((f" {exporter.name} ", "bold reverse $text-accent") if exporter else ("none (e)", "dim"))
    parts.append(("   importers ", "dim"))
    if not importers:
        parts.append(("none (i)", "dim"))
        return Content.assemble(*parts)
    used = sum(len(t) for t, _ in parts) + 2  # the padding
    for i, dev in enumerate(importers):
        chip = ("  " if i else "") + f" {dev.name} "
        rest = len(importers) - i - 1
        more = f"  … +{rest} more" if rest else ""
        if used + len(chip) + len(more) > width and i:
            parts.append((f"  … +{len(importers) - i} more", "dim"))
            break
        parts.append((chip, "bold reverse $text-primary"))
        used += len(chip)
    return Content.assemble(*parts)
