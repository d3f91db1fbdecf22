"""The TUI's skin of the presentation layer (p2ptui/present): (text, role) parts rendered for the two places
Textual shows text.

Roles name what a piece of text means (ok, warn, bad, ...), never a colour, so every built-in theme works: each role
maps to a theme variable, and widgets rebuild their palette (palette_from) when the theme changes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from rich.cells import cell_len, set_cell_size
from rich.style import Style
from rich.text import Text
from textual.content import Content

from ..present.rows import Part

ROLE_STYLES: dict[str, str] = {
    "": "",
    "name": "bold",
    "key": "bold",
    "muted": "dim",
    "ok": "$text-success",
    "warn": "$text-warning",
    "bad": "$text-error",
    "accent": "$text-accent",
    "primary": "$text-primary",
    "exporter": "bold reverse $text-accent",
    "importer": "bold reverse $text-primary",
    "locked": "bold $text-error",
}

# Which theme variable gives each role's colour in Rich Text (tree labels); roles without a colour keep their
# text attributes only.
_ROLE_VARIABLE = {
    "ok": "text-success",
    "warn": "text-warning",
    "bad": "text-error",
    "accent": "text-accent",
    "primary": "text-primary",
    "exporter": "text-accent",
    "importer": "text-primary",
    "locked": "text-error",
}
_ROLE_ATTRIBUTES = {
    "name": "bold",
    "key": "bold",
    "muted": "dim",
    "exporter": "bold reverse",
    "importer": "bold reverse",
    "locked": "bold",
}


def to_content(parts: Iterable[Part]) -> Content:
    """Parts as Content for Static widgets; the text is never parsed as markup, so data may contain [ ]."""
    return Content.assemble(*((text, ROLE_STYLES.get(role, "")) for text, role in parts if text))


def palette_from(theme_variables: Mapping[str, str]) -> dict[str, str]:
    """Rich styles per role for the current theme (colours as #rrggbb, which Rich understands)."""
    palette: dict[str, str] = {}
    for role in ROLE_STYLES:
        colour = theme_variables.get(_ROLE_VARIABLE.get(role, ""), "")
        attributes = _ROLE_ATTRIBUTES.get(role, "")
        palette[role] = " ".join(x for x in (attributes, _rich_colour(colour)) if x)
    return palette


def to_text(parts: Iterable[Part], palette: Mapping[str, str], wrap: bool = False) -> Text:
    """Parts as Rich Text (Tree labels, panel grids); Text is never markup-parsed."""
    text = Text(no_wrap=not wrap, end="")
    for chunk, role in parts:
        if chunk:
            text.append(chunk, style=palette.get(role, "") or None)
    return text


def fit_parts(parts: Iterable[Part], width: int) -> list[Part]:
    """The parts cut to ``width`` cells, ending in "…" where something was cut (never silently mid-word)."""
    out: list[Part] = []
    used = 0
    items = [(t, r) for t, r in parts if t]
    total = sum(cell_len(t) for t, _ in items)
    if total <= width:
        return items
    room = max(0, width - 1)
    for text, role in items:
        if used + cell_len(text) <= room:
            out.append((text, role))
            used += cell_len(text)
            continue
        out.append((set_cell_size(text, room - used) if room > used else "", role))
        break
    out.append(("…", "muted"))
    return [(t, r) for t, r in out if t]


def _rich_colour(value: str) -> str:
    # Theme values are #RRGGBB or #RRGGBBAA; Rich wants six digits.
    if value.startswith("#") and len(value) in (7, 9):
        return value[:7]
    return ""


if TYPE_CHECKING:
    from textual.theme import Theme
    from textual.widget import Widget

    _WidgetMixinBase = Widget  # the mixin is only ever mixed into widgets: it uses their app and refresh
else:
    _WidgetMixinBase = object


class ThemeStyles(_WidgetMixinBase):
    """For widgets that paint lines themselves with Rich styles: the role → Style table from the theme's palette,
    rebuilt (and the widget repainted) whenever the theme changes."""

    _styles: dict[str, Style]

    def on_mount(self) -> None:
        self._set_styles()
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        self._set_styles()
        self.refresh()

    def _set_styles(self) -> None:
        self._styles = {
            role: Style.parse(style) if style else Style()
            for role, style in palette_from(self.app.theme_variables).items()
        }
