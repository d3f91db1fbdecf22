"""Every key, where it works, and what the tree's icons and marks mean."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Static

from ...present.device import (
    ACS_REDIRECT_MARK,
    CONFLICT_MARK,
    KIND_ICONS,
    POOL_MARK,
    ROOT_BUS_ICON,
    SPEED_BELOW_MAX_MARK,
    WIDTH_DEGRADED_MARK,
)

KeySection = tuple[str, Sequence[BindingType]]  # a screen's or widget's BINDINGS as Textual types them

TREE_KEYS: list[tuple[str, str, str]] = [
    ("↑ ↓ / click", "Move", "in the tree; the detail pane follows the cursor"),
    ("space / enter", "Expand", "open or close a bridge; children load as it opens"),
    ("shift+← / →", "Parent / next", "to the parent, or to the parent's next sibling"),
    ("ctrl+p", "Palette", "devices by name or address, every action, and Theme"),
    ("tab / shift+tab", "Focus", "move between panels"),
]


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape", "close", "Close", show=False),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def __init__(self, sections: Sequence[KeySection]) -> None:
        super().__init__(id="help")
        self.sections = sections

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help-body") as body:
            body.border_title = "Help · escape closes"
            for title, bindings in self.sections:
                rows = [(self.app.get_key_display(b), b.description, b.tooltip) for b in _unique(bindings)]
                yield Static(Content.styled(title, "bold $text-accent"), classes="help-title")
                yield Static(_key_table(rows), classes="help-keys")
            yield Static(Content.styled("Tree", "bold $text-accent"), classes="help-title")
            yield Static(_key_table(TREE_KEYS), classes="help-keys")
            yield Static(Content.styled("Tree legend", "bold $text-accent"), classes="help-title")
            yield Static(legend(), id="help-legend")

    def action_close(self) -> None:
        self.dismiss(None)


def _unique(bindings: Sequence[BindingType]) -> list[Binding]:
    seen: set[str] = set()
    out = []
    for item in bindings:
        binding = item if isinstance(item, Binding) else Binding(*item)  # (key, action[, description]) as Textual
        if binding.description and binding.action not in seen:
            seen.add(binding.action)
            out.append(binding)
    return out


def _key_table(rows: Sequence[tuple[str, str, str]]) -> Table:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(width=16, no_wrap=True)
    grid.add_column(width=14, no_wrap=True)
    grid.add_column(ratio=1)
    for key, what, why in rows:
        grid.add_row(Text(key, style="bold"), Text(what), Text(why or "", style="dim"))
    return grid


def legend() -> Content:
    rows = [Content.assemble((f"  {ROOT_BUS_ICON}  ", "$text-accent"), "root complex (host bridge) and its root bus")]
    for kind, icon in KIND_ICONS.items():
        rows.append(Content.assemble((f"  {icon}  ", "$text-accent"), kind.label))
    rows += [
        Content.assemble(("  gen3 x4", "dim"), "  link speed and width as trained (on the device below the link)"),
        Content.assemble(
            (f"  gen3 x8{WIDTH_DEGRADED_MARK}", "$text-error"), "  narrower than both ends can do: lanes lost, a fault"
        ),
        Content.assemble(
            (f"  gen1 x16{SPEED_BELOW_MAX_MARK}", "$text-warning"),
            "  slower than both ends can do: may be power saving while idle",
        ),
        Content.assemble((f"  {POOL_MARK}512 MiB", "$text-success"), "  P2P memory pool (dim: not published)"),
        Content.assemble((f"  {ACS_REDIRECT_MARK}", "$text-error"), "  ACS redirects P2P up to the root complex"),
        Content.assemble(("  ACS?", "dim"), "  ACS control not known from the registers alone"),
        Content.assemble(("  g35", "dim"), "  IOMMU group"),
        Content.assemble((f"  {CONFLICT_MARK}", "$text-error"), "  the source contradicts itself about its place"),
        Content.assemble(
            ("  ", ""),
            (" E ", "bold reverse $text-accent"),
            (" ", ""),
            (" I ", "bold reverse $text-primary"),
            "  exporter (P2P memory) and importers (DMA clients)",
        ),
        Content.assemble(
            ("  gen3 x4 73%", "$text-warning"), "  link load while transfers run: green < 60% ≤ amber < 90% ≤ red"
        ),
    ]
    return Content("\n").join(rows)
