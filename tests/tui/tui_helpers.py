"""Shared helpers for the TUI tests: the app as the tests build it, and the screen as plain text."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console

from p2ptui.sources import open_fabric
from p2ptui.tui import P2PApp, make_app

SIZE = (120, 40)
# Copies of gallery fabrics, so edits to the gallery do not move the snapshots; other names come from the gallery.
FIXTURES = Path(__file__).parent / "fabrics"


def fixture_fabric(name: str):
    path = FIXTURES / f"{name}.yaml"
    return open_fabric(str(path) if path.exists() else name)


def build_app(fabric: str | None = "nvmeof-target", **options) -> P2PApp:
    """Deterministic: fixed theme, no animation, no live scan, meters stepped by hand on a virtual clock."""
    options.setdefault("theme", "textual-dark")
    options.setdefault("animations", False)
    options.setdefault("live_scan", None)
    options.setdefault("auto_tick", False)
    options.setdefault("seed", 7)
    return make_app(fixture_fabric(fabric) if fabric else None, **options)


def screen_text(app: P2PApp) -> str:
    """What the terminal shows, as text (the same render export_screenshot turns into SVG)."""
    width, height = app.size
    console = Console(width=width, height=height, file=io.StringIO(), force_terminal=True, record=True,
                      color_system="truecolor", legacy_windows=False, safe_box=False)
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def run(body: Callable[..., Awaitable[None]], app: P2PApp | None = None, size: tuple[int, int] = SIZE) -> P2PApp:
    """Run ``body(pilot)`` against ``app`` headless (pytest-asyncio is not a dependency)."""
    app = app or build_app()

    async def main() -> None:
        async with app.run_test(size=size, notifications=True) as pilot:
            await pilot.pause()
            await body(pilot)

    asyncio.run(main())
    return app


async def wait_for_palette_hit(pilot, text: str, timeout: float = 5.0) -> None:
    """Wait until the command palette's highlighted hit mentions ``text``: its search runs in the background, so a
    fixed pause would pass or fail with the machine's speed."""
    from textual.command import CommandList

    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        options = pilot.app.screen.query(CommandList)
        if options:
            hit = options.first().highlighted_option
            if hit is not None and text.lower() in str(hit.prompt).lower():
                return
        if loop.time() > deadline:
            raise AssertionError(f"the command palette showed no hit for {text!r} within {timeout} s")
        await pilot.pause(0.02)
