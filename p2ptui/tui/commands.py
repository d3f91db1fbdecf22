"""The command palette on the fabric screen: jump to any device by name or address, and run the screen's actions.

Hits call the same methods as the key bindings, so a palette command and its key can never disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content
from textual.fuzzy import Matcher

from ..fabric.bdf import BDF
from ..fabric.model import Fabric

PaletteAction = tuple[str, str, Callable[[], object]]  # title, help, what it runs


@runtime_checkable
class PaletteScreen(Protocol):
    """A screen the palette serves: its fabric's devices to jump to, and its actions (the fabric and matrix
    screens)."""

    fabric: Fabric

    def palette_actions(self) -> list[PaletteAction]: ...

    def jump_to(self, bdf: BDF) -> None: ...


class FabricCommands(Provider):
    async def search(self, query: str) -> Hits:
        screen = self.screen
        if not isinstance(screen, PaletteScreen):
            return
        fabric = screen.fabric
        matcher = self.matcher(query)
        for title, help_text, callback in screen.palette_actions():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, highlight(matcher, title), callback, text=title, help=help_text)
        for dev in fabric.devices:
            candidate = f"{dev.name}  {dev.bdf}"
            score = matcher.match(candidate)
            if score > 0:
                help_text = f"{dev.kind.label}" + (f" · {dev.product}" if dev.product else "")
                yield Hit(
                    score,
                    highlight(matcher, candidate),
                    partial(screen.jump_to, dev.bdf),
                    text=candidate,
                    help=help_text,
                )

    async def discover(self) -> Hits:
        screen = self.screen
        if not isinstance(screen, PaletteScreen):
            return
        for title, help_text, callback in screen.palette_actions():
            yield DiscoveryHit(Content(title), callback, text=title, help=help_text)


def highlight(matcher: Matcher, candidate: str) -> Content:
    """Matcher.highlight parses the candidate as markup, which device names must never be; this does not."""
    content = Content(candidate)
    score, offsets = matcher.fuzzy_search.match(matcher.query, candidate)
    if score:
        for offset in offsets:
            if not candidate[offset].isspace():
                content = content.stylize(matcher.match_style or "underline", offset, offset + 1)
    return content
