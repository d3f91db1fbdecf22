"""The one Pilot helper module for the TUI tests: the app as the tests build it, the screen as plain text, and the
steps every test takes (go to a device, select, open the copy form, start, wait)."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable
from pathlib import Path
from weakref import WeakKeyDictionary

from rich.console import Console
from textual.message import Message
from textual.notifications import Notification, Notify

from p2ptui.fabric import Fabric
from p2ptui.sources import open_fabric
from p2ptui.tui import P2PApp, make_app

SIZE = (120, 40)
# Copies of gallery fabrics, so edits to the gallery do not move the snapshots; other names come from the gallery.
FIXTURES = Path(__file__).parent / "fabrics"

# A fabric whose names and product hold markup brackets, which must show literally, and a downtrained link.
ODD = """
format: p2ptui-fabric/1
name: odd names
host: {cpu: intel, kernel: "6.12", iommu: off}
root_complexes:
  - bus: 0000:00
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 8086:2020}
      - bdf: 00:01.0
        kind: root_port
        link: gen4 x16
        acs: {cap: [SV, RR, CR, UF, EC], ctrl: [SV, RR, CR]}
        children:
          - {bdf: 01:00.0, kind: nvme, name: "nvme[0]", product: "[link down] [/dev/nvme0n1]", link: {gen: 3, width: 2, max_gen: 4, max_width: 4},
             p2pmem: 256MiB, iommu_group: 7}
"""


def fixture_fabric(name: str):
    path = FIXTURES / f"{name}.yaml"
    return open_fabric(str(path) if path.exists() else name)


def build_app(fabric: str | Fabric | None = "nvmeof-target", **options) -> P2PApp:
    """The app on a fabric (a name, a path, or a loaded Fabric; None: the launcher). Deterministic: fixed theme, no
    animation, no live scan, meters stepped by hand on a virtual clock."""
    options.setdefault("theme", "textual-dark")
    options.setdefault("animations", False)
    options.setdefault("live_scan", None)
    options.setdefault("auto_tick", False)
    options.setdefault("seed", 7)
    return make_app(fixture_fabric(fabric) if isinstance(fabric, str) else fabric, **options)


def screen_text(app: P2PApp) -> str:
    """What the terminal shows, as text (the same render export_screenshot turns into SVG). Textual exports the
    screen only as SVG; this mirrors App.export_screenshot line for line with a text export instead, and is the one
    place the tests reach into Textual's compositor."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        record=True,
        color_system="truecolor",
        legacy_windows=False,
        safe_box=False,
    )
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


# Every notification each running app posted, in order, read through run_test's public message hook: Textual keeps
# the ones on screen privately and drops them on a wall-clock timeout, which a loaded machine would make flaky.
_posted: WeakKeyDictionary[P2PApp, list[Notification]] = WeakKeyDictionary()


def run(body: Callable[..., Awaitable[None]], app: P2PApp | None = None, size: tuple[int, int] = SIZE) -> P2PApp:
    """Run ``body(pilot)`` against ``app`` headless (pytest-asyncio is not a dependency)."""
    app = app or build_app()
    posted = _posted.setdefault(app, [])

    def record(message: Message) -> None:
        if isinstance(message, Notify):
            posted.append(message.notification)

    async def main() -> None:
        async with app.run_test(size=size, notifications=True, message_hook=record) as pilot:
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


async def to_device(pilot, name: str) -> None:
    """Put the tree's cursor on a device (loading and expanding the path to it)."""
    screen = pilot.app.screen
    target = screen.fabric.find(name)
    screen.jump_to(target.bdf)
    # The tree moves its cursor after its next refresh, and the detail pane follows the highlight message that
    # move posts: a single pause is sometimes not enough for both (a loaded machine showed it).
    for _ in range(50):
        await pilot.pause()
        panes = screen.query("DetailPane")
        if screen.fabric_tree.highlighted is target and all(pane.item is target for pane in panes):
            return
    raise AssertionError(f"the cursor did not reach {name}")


async def mark(pilot, name: str, key: str) -> None:
    """Go to a device and press a selection key on it (e: exporter, i: importer)."""
    await to_device(pilot, name)
    await pilot.press(key)
    await pilot.pause()


async def select(pilot, exporter: str, *importers: str, reveal: bool = False) -> None:
    """Set the whole selection at once by device names; ``reveal`` also puts the cursor on the exporter."""
    screen = pilot.app.screen
    screen.select(screen.fabric.find(exporter).bdf, tuple(screen.fabric.find(i).bdf for i in importers))
    if reveal:
        screen.jump_to(screen.fabric.find(exporter).bdf)
    await pilot.pause()


async def open_form(pilot, choice: str | None = None, **fields: str):
    """Press t and fill the copy form; the form."""
    from textual.widgets import Select

    from p2ptui.tui.screens.copy_form import CopyForm

    await pilot.press("t")
    await pilot.pause()
    form = pilot.app.screen
    assert isinstance(form, CopyForm)
    if choice is not None:
        form.query_one("#cp-choice", Select).value = choice
    for name, value in fields.items():
        form.query_one(f"#cp-{name}").value = value
    await pilot.pause()
    return form


async def press_start(pilot, form) -> None:
    button = form.query_one("#cp-start")
    # A pressed button flashes (class -active) until a 0.2 s wall-clock timer ends it: a screenshot taken after the
    # press showed the flash or not depending on the machine's load. The flash is decoration: off in the tests.
    button.active_effect_duration = 0
    button.press()
    await pilot.pause()
    await pilot.pause()


async def start_two_transfers(pilot, clock) -> None:
    """On kernel-scenarios: a staged 16 GiB copy alone for 2 s, then an 8 GiB direct write sharing nvme-a's link,
    1.5 s more; the meters stepped on the virtual clock."""
    await select(pilot, "nvme-a", "rnic0", "nvme-b", reveal=True)
    await press_start(pilot, await open_form(pilot, choice="staged:rnic0:nvme-b", size="16 GiB"))
    screen = pilot.app.screen
    for _ in range(8):
        clock.advance(0.25)
        screen.tick()
    await press_start(pilot, await open_form(pilot, choice="write:nvme-b", size="8 GiB"))
    for _ in range(6):
        clock.advance(0.25)
        screen.tick()
    pilot.app.clear_notifications()
    await pilot.pause()


async def wait_for(pilot, condition: Callable[[], object], tries: int = 300) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError("condition never became true")


def notifications(app: P2PApp) -> list[Notification]:
    """Every notification the app has posted while ``run`` ran it, oldest first (clear_notifications does not
    forget them: it only takes them off the screen)."""
    return list(_posted.get(app, ()))


def messages(app: P2PApp, severity: str | None = None) -> list[str]:
    """The text of the notifications posted so far, optionally of one severity."""
    return [n.message for n in notifications(app) if severity is None or n.severity == severity]
