"""The presentation layer's two shapes and its plain skin.

A part is ``(text, role)``: the role names what the text means, never a colour, and the TUI maps it to the theme
(``tui/styled.py``). A row is ``(key, parts)``: a fact's name in a fixed column, then its value; a key of "" continues
the row above. The CLI prints rows with :func:`rows_text`, which is exactly the text the TUI's grid shows.
"""

from __future__ import annotations

from collections.abc import Iterable

Part = tuple[str, str]  # (text, role); the role "" is plain text
Row = tuple[str, list[Part]]

# Every role the layer uses, with what it means; tui/styled.py gives each a style.
ROLES: dict[str, str] = {
    "": "plain text",
    "name": "a device's or bridge's name",
    "key": "a number the reader looks for first (a distance)",
    "muted": "context: addresses, IDs, explanations",
    "ok": "works: P2P supported, a published pool, a healthy link",
    "warn": "works worse or is not known: through the host bridge, slowed link, unknown facts",
    "bad": "refused, broken or risky: not supported, ACS redirect, narrowed link, AER errors, conflicts",
    "accent": "the device the answer turns on: the common bridge, the fix",
    "primary": "a highlighted choice",
    "exporter": "the exporter's badge",
    "importer": "an importer's badge",
    "locked": "a refusal the user cannot override",
}

KEY_WIDTH = 12  # the key column of the detail and verdict panes, and of the CLI's rows


def plain(parts: Iterable[Part]) -> str:
    return "".join(text for text, _ in parts)


def row_text(row: Row, key_width: int = KEY_WIDTH) -> str:
    """One row as one line: the key padded to its column, a space, the value; no trailing blanks."""
    key, parts = row
    return f"{key:<{key_width}} {plain(parts)}".rstrip()


def rows_text(rows: Iterable[Row], key_width: int = KEY_WIDTH) -> str:
    """The CLI skin: rows as lines of plain text."""
    return "\n".join(row_text(row, key_width) for row in rows)
