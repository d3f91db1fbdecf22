"""The scripted tour behind ``p2ptui demo``, ``p2ptui screenshot`` and the walkthrough tests.

One list of steps, each a caption and what to do: open a fabric from the launcher, select an exporter and two
importers, read why the kernel refuses one, hit the expert gate, turn expert mode on, open the matrix. Textual is
imported only when a tour runs, so importing this module keeps the core Textual-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEMO_FABRIC = "kernel-scenarios"
CAPTION_SECONDS = 3.0  # human pace: time to read a caption and look at the screen


@dataclass(frozen=True)
class Step:
    slug: str
    caption: str
    run: Callable[[Any], Awaitable[None]]  # receives a textual Pilot


async def _wait(pilot, condition, what: str, tries: int = 500) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.01)
    raise RuntimeError(f"demo: {what} did not happen")


async def _open(pilot) -> None:
    from textual.widgets import OptionList

    from .tui.screens.fabric import FabricScreen

    options = pilot.app.screen.query_one(OptionList)
    options.highlighted = options.get_option_index(DEMO_FABRIC)
    await pilot.press("enter")
    await _wait(pilot, lambda: isinstance(pilot.app.screen, FabricScreen), "opening the fabric")


async def _mark(pilot, name: str, key: str) -> None:
    screen = pilot.app.screen
    screen.jump_to(screen.fabric.find(name).bdf)
    await pilot.pause()
    await pilot.press(key)
    await pilot.pause()


async def _select(pilot) -> None:
    await _mark(pilot, "nvme-a", "e")
    await _mark(pilot, "rnic0", "i")
    await _mark(pilot, "dsa0", "i")


async def _verdict(pilot) -> None:
    pilot.app.screen.query_one("#verdict").focus()  # draws attention to the panel
    await pilot.pause()


async def _gate(pilot) -> None:
    await pilot.press("x")
    await pilot.pause()


async def _expert(pilot) -> None:
    await pilot.press("tab", "enter")  # from "No, stay safe" to "Yes, I understand"
    await pilot.pause()
    pilot.app.clear_notifications()
    await pilot.pause()


async def _matrix(pilot) -> None:
    await pilot.press("m", "down", "right")
    await pilot.pause()


async def _topo(pilot) -> None:
    await pilot.press("v")
    await pilot.pause()


STEPS: list[Step] = [
    Step("launcher", "p2ptui opens on a launcher: this machine and the bundled fabrics.", lambda pilot: pilot.pause()),
    Step("fabric", f"Open '{DEMO_FABRIC}': host bridges, root ports, switches and endpoints, with links, pools, "
         "ACS and IOMMU groups.", _open),
    Step("select", "Exporter nvme-a (e), importers rnic0 and dsa0 (i): the verdict updates at once.", _select),
    Step("verdict", "rnic0 is BUS_ADDR through the switch; dsa0 sits on another root bus whose first device the "
         "kernel does not whitelist: NOT_SUPPORTED, in the kernel's own words.", _verdict),
    Step("gate", "Expert mode (x) lists this fabric's pitfalls and asks first; No is the default.", _gate),
    Step("expert", "Confirmed: the EXPERT badge stays visible for the rest of the session.", _expert),
    Step("matrix", "The matrix (m): every exporter/importer pair, colour-coded, with distances.", _matrix),
    Step("topo", "v switches to nvidia-smi topo -m classes; enter would select a pair.", _topo),
]


def _app(size: tuple[int, int]):
    from .tui import make_app

    return make_app(None, theme="textual-dark", animations=False, live_scan=None, auto_tick=False, seed=7)


def play(fast: bool = False, headless: bool = False, size: tuple[int, int] = (120, 40),
         steps: list[Step] | None = None, out: Callable[[str], None] = print) -> int:
    """Play the tour and end by itself; ``fast`` skips the reading pauses, ``headless`` needs no terminal."""
    steps = steps or STEPS
    app = _app(size)

    async def tour(pilot) -> None:
        for n, step in enumerate(steps, 1):
            await step.run(pilot)
            caption = f"[{n}/{len(steps)}] {step.caption}"
            out(caption)
            pilot.app.notify(caption, title="p2ptui demo", timeout=CAPTION_SECONDS)
            if not fast:
                await asyncio.sleep(CAPTION_SECONDS)
            await pilot.pause()
        pilot.app.exit()

    app.run(headless=headless, size=size if headless else None, auto_pilot=tour)
    return 0 if app.return_code in (0, None) else 1


def write_screenshots(directory: Path, size: tuple[int, int] = (120, 40)) -> list[Path]:
    """Replay the tour headless and save one SVG per step (``NN-slug.svg``) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    async def shoot(pilot) -> None:
        for n, step in enumerate(STEPS, 1):
            await step.run(pilot)
            await pilot.pause()
            name = f"{n:02d}-{step.slug}.svg"
            pilot.app.save_screenshot(name, str(directory))
            written.append(directory / name)
        pilot.app.exit()

    _app(size).run(headless=True, size=size, auto_pilot=shoot)
    return written
