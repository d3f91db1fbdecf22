"""The scripted tour behind ``p2ptui demo``, ``p2ptui screenshot`` and the walkthrough tests.

One list of steps, each a caption and what to do: open a fabric from the launcher, select an exporter and two
importers, read why the kernel refuses one, hit the expert gate, turn expert mode on, open the matrix, launch a
copy through the gate and watch two transfers share a link. Meters run on a virtual clock stepped by the tour
(paced in real time when a person watches), so screenshots are identical on every run. Textual is imported only
when a tour runs, so importing this module keeps the core Textual-free.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import Diagnostic, InputError
from ..formats.safe_write import check_target, ensure_directory, write_output
from .screens.too_small import MIN_HEIGHT, MIN_WIDTH

DEMO_FABRIC = "kernel-scenarios"
# Rich's SVG names the Fira Code web font first. Converters that use only the first family (cairosvg) and lack that
# font fall back to a proportional one, whose wider glyphs run into the next cell ("BUS_ADDRdistance"); a common
# installed monospace font first keeps every converter on a monospace font. Browsers take the first they have.
SVG_FONTS = '"DejaVu Sans Mono", "Fira Code", Menlo, Consolas, monospace'
_RICH_FONTS = ('font-family: "Fira Code";', "font-family: Fira Code, monospace;")
CAPTION_SECONDS = 3.0  # human pace: time to read a caption and look at the screen
# Screenshot terminal sizes (columns, rows). The minimum is the smallest terminal the TUI lays out (below it, it
# shows only "terminal too small", so the tour's steps have nothing to act on). The
# maximum is far beyond any real terminal yet cheap (500x200: about 9 s and 3.3 MB of SVG on a 2-core box), while a
# typo like 100000x100000 was reported running over a minute without finishing: Textual lays out every cell.
SCREEN_MIN = (MIN_WIDTH, MIN_HEIGHT)
SCREEN_MAX = (500, 200)


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

    from .screens.fabric import FabricScreen

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


async def _copy_form(pilot) -> None:
    from .screens.copy_form import CopyForm

    await pilot.press("escape", "t")  # back from the matrix; the copy form for the selection
    await _wait(pilot, lambda: isinstance(pilot.app.screen, CopyForm), "opening the copy form")
    pilot.app.screen.query_one("#cp-size").value = "12 GiB"
    pilot.app.screen.query_one("#cp-start").focus()
    await pilot.pause()


async def _meters(pilot) -> None:
    from .screens.copy_form import CopyForm

    await pilot.press("enter")  # Start: the staged copy the form showed, forced P2P in expert mode (SIMULATED)
    await _wait(pilot, lambda: not isinstance(pilot.app.screen, CopyForm), "starting the first copy")
    await _ticks(pilot, 6)
    await pilot.press("t")
    await _wait(pilot, lambda: isinstance(pilot.app.screen, CopyForm), "opening the copy form again")
    form = pilot.app.screen
    form.query_one("#cp-choice").value = "write:rnic0"  # rnic0 writes straight into nvme-a's memory
    form.query_one("#cp-start").focus()
    await pilot.pause()
    await pilot.press("enter")
    await _wait(pilot, lambda: not isinstance(pilot.app.screen, CopyForm), "starting the second copy")
    await _ticks(pilot, 10)
    pilot.app.clear_notifications()
    await pilot.pause()


async def _ticks(pilot, n: int) -> None:
    """Move the meters n ticks on the tour's virtual clock; at a person's pace unless the tour runs fast."""
    app = pilot.app
    step = 1.0 / app.options.meter_hz
    for _ in range(n):
        app.options.clock.advance(step)
        app.screen.tick()
        await pilot.pause(app.options.demo_pace or None)


STEPS: list[Step] = [
    Step("launcher", "p2ptui opens on a launcher: this machine and the bundled fabrics.", lambda pilot: pilot.pause()),
    Step(
        "fabric",
        f"Open '{DEMO_FABRIC}': host bridges, root ports, switches and endpoints, with links, pools, "
        "ACS and IOMMU groups.",
        _open,
    ),
    Step("select", "Exporter nvme-a (e), importers rnic0 and dsa0 (i): the verdict updates at once.", _select),
    Step(
        "verdict",
        "rnic0 is BUS_ADDR through the switch; dsa0 sits on another root bus whose first device the "
        "kernel does not whitelist: NOT_SUPPORTED, in the kernel's own words.",
        _verdict,
    ),
    Step("gate", "Expert mode (x) lists this fabric's pitfalls and asks first; No is the default.", _gate),
    Step("expert", "Confirmed: the EXPERT badge stays visible for the rest of the session.", _expert),
    Step("matrix", "The matrix (m): every exporter/importer pair, colour-coded, with distances.", _matrix),
    Step("topo", "v switches to nvidia-smi topo -m classes; enter would select a pair.", _topo),
    Step(
        "transfers",
        "Run transfers: t opens a copy form for the selection; the expert gate answers before anything "
        "starts (here: allowed in expert mode, labelled SIMULATED).",
        _copy_form,
    ),
    Step(
        "meters",
        "Two copies share nvme-a's x4 link: live rate, sparkline, progress, ETA, route, P2P vs bounce; "
        "the tree colours links by load.",
        _meters,
    ),
]


def _app(size: tuple[int, int], pace: float = 0.0):
    from . import make_app
    from .clock import VirtualClock

    return make_app(
        None,
        theme="textual-dark",
        animations=False,
        live_scan=None,
        auto_tick=False,
        seed=7,
        clock=VirtualClock(),
        demo_pace=pace,
    )


def play(
    fast: bool = False,
    headless: bool = False,
    size: tuple[int, int] = (120, 40),
    steps: list[Step] | None = None,
    out: Callable[[str], None] = print,
) -> int:
    """Play the tour and end by itself; ``fast`` skips the reading pauses, ``headless`` needs no terminal."""
    steps = steps or STEPS
    app = _app(size, pace=0.0 if fast else 0.25)

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


def monospace_first(svg: str) -> str:
    for declaration in _RICH_FONTS:
        svg = svg.replace(declaration, f"font-family: {SVG_FONTS};")
    return svg


def check_screen_size(size: tuple[int, int]) -> None:
    """InputError unless ``size`` is a terminal the tour can be drawn on in reasonable time and memory."""
    (low_w, low_h), (high_w, high_h) = SCREEN_MIN, SCREEN_MAX
    width, height = size
    if not (low_w <= width <= high_w and low_h <= height <= high_h):
        raise InputError(
            Diagnostic(
                f"screen size {width}x{height} is out of range",
                hint=f"width {low_w} to {high_w} and height {low_h} to {high_h}, e.g. 120x40",
            )
        )


def write_screenshots(directory: Path, size: tuple[int, int] = (120, 40)) -> list[Path]:
    """Replay the tour headless and save one SVG per step (``NN-slug.svg``) into ``directory``.

    Everything about the output is checked before the tour starts, and the files are written after it ends, outside
    Textual, so a problem is an InputError and not a crash inside the app. Earlier screenshots of the same names are
    replaced: regenerating them is what this is for.
    """
    check_screen_size(size)
    directory = ensure_directory(directory)
    paths = [directory / f"{n:02d}-{step.slug}.svg" for n, step in enumerate(STEPS, 1)]
    for path in paths:
        check_target(path, overwrite=True)
    shots: list[str] = []

    async def shoot(pilot) -> None:
        for step in STEPS:
            await step.run(pilot)
            await pilot.pause()
            shots.append(monospace_first(pilot.app.export_screenshot()))
        pilot.app.exit()

    _app(size).run(headless=True, size=size, auto_pilot=shoot)
    for path, svg in zip(paths, shots, strict=False):  # a tour that stopped early wrote fewer: keep what it saw
        write_output(path, svg, overwrite=True)
    return paths[: len(shots)]
