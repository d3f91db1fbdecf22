"""The Textual application: a client of the core (fabric, sources, verdict, gate, engine) like the CLI.

Built through ``make_app`` everywhere (``p2ptui``, ``p2ptui demo``, ``p2ptui screenshot``, the tests), with the clock,
the live scan and the meter timer injected, so tests and screenshots run on seeded data and a virtual clock.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import events
from textual.binding import Binding
from textual.geometry import Size
from textual.reactive import reactive

from ..fabric.model import Fabric
from .live import LiveScan, default_live_scan
from .screens.fabric import FabricScreen
from .screens.help import HelpScreen
from .screens.launcher import LauncherScreen
from .screens.too_small import TooSmallScreen, too_small
from .typeahead import TypeAhead

if TYPE_CHECKING:
    from ..fleet.fleet import FleetDiff

# The themes ctrl+t cycles through; every built-in theme works (ctrl+p → Theme lists them all).
THEME_CYCLE = ["textual-dark", "textual-light", "nord", "gruvbox", "tokyo-night", "solarized-light"]
AUTO = "auto"


@dataclass
class TuiOptions:
    theme: str = "textual-dark"
    animations: bool = True
    # "auto": this machine's sysfs when the source exists; None: no live scan (tests, screenshots).
    live_scan: LiveScan | str | None = AUTO
    clock: Callable[[], float] = time.monotonic  # drives meters and ETAs; tests pass a virtual clock
    meter_hz: float = 4.0
    sim_speed: float = 1.0  # simulated seconds per clock second: 1.0 paces the simulator in real time
    auto_tick: bool = True  # False: meters move only when tick() is called (tests, screenshots)
    seed: int | None = None  # provider ties are broken at random, as the kernel does; seeded in tests
    export_dir: str | None = None  # screenshots and matrix exports; None: the current directory
    clear_finished_after: float | None = 60.0  # clock seconds a finished transfer stays in the panel; None: kept
    fleet: FleetDiff | None = None  # p2ptui fleet DIR: open on the fleet screen with this drift report
    demo_pace: float = 0.0  # seconds the demo tour waits after each meter tick; 0: as soon as the app settles


class P2PApp(TypeAhead):
    CSS_PATH = "app.tcss"
    TITLE = "p2ptui"
    BINDINGS = [
        Binding("question_mark", "help", "Help", id="help", tooltip="Every key and what the tree's marks mean"),
        Binding("q", "quit", "Quit", id="quit", tooltip="Leave p2ptui"),
        Binding("ctrl+t", "next_theme", "Theme", id="theme", show=False, tooltip="Cycle through a few themes"),
    ]

    expert: reactive[bool] = reactive(False, bindings=True)

    def __init__(self, fabric: Fabric | None = None, options: TuiOptions | None = None) -> None:
        super().__init__()
        self.options = options or TuiOptions()
        self.initial_fabric = fabric
        self.live_scan: LiveScan | None
        live_scan = self.options.live_scan
        if live_scan is None:
            self.live_scan, self.live_scan_reason = None, "no live scan in this session"
        elif isinstance(live_scan, str):
            if live_scan != AUTO:
                raise ValueError(f"live_scan is {AUTO!r}, a scanner or None, not {live_scan!r}")
            self.live_scan, self.live_scan_reason = default_live_scan()
        else:
            self.live_scan, self.live_scan_reason = live_scan, ""
        self.live_fabric: Fabric | None = None
        self.live_scan_error = ""
        self.theme = self.options.theme
        if not self.options.animations:
            self.animation_level = "none"

    def on_mount(self) -> None:
        if self.options.fleet is not None:
            from .screens.fleet import FleetScreen

            self.push_screen(FleetScreen(self.options.fleet))
        elif self.initial_fabric is not None:
            self.push_screen(FabricScreen(self.initial_fabric))
        else:
            self.push_screen(LauncherScreen())
        self._check_size()

    def on_resize(self, event: events.Resize) -> None:
        self._check_size(event.size)

    def _check_size(self, size: Size | None = None) -> None:
        """Cover the screens with a plain "terminal too small" while the layouts cannot fit, and uncover them."""
        if len(self.screen_stack) < 2:  # resizes before the first screen is up: on_mount checks
            return
        small = too_small(*(size or self.size))
        cover = next((s for s in self.screen_stack if isinstance(s, TooSmallScreen)), None)
        if small and cover is None:
            self.push_screen(TooSmallScreen())
        elif not small and cover is self.screen:
            self.pop_screen()

    # -- screens ----------------------------------------------------------------------------------------------------
    def show_fabric(self, fabric: Fabric) -> None:
        if isinstance(self.screen, LauncherScreen) and self.screen.came_back_to is not None:
            self.pop_screen()  # the launcher opened over a fabric: the new fabric replaces that one
        self.switch_screen(FabricScreen(fabric))

    def show_launcher(self) -> None:
        """The launcher over the current fabric, so esc goes back to it as it was."""
        self.push_screen(LauncherScreen(came_back_to=self.screen))

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        sections = [(self.screen.BINDING_GROUP_TITLE or "This screen", self.screen.BINDINGS)]
        for widget in getattr(self.screen, "HELP_WIDGETS", ()):  # panels with keys of their own
            section = (widget.BINDING_GROUP_TITLE, widget.BINDINGS)
            # the focused panel's keys first: they are the ones that work right now
            sections.insert(0, section) if isinstance(self.focused, widget) else sections.append(section)
        sections.append(("Anywhere", self.BINDINGS))
        self.push_screen(HelpScreen(sections))

    def action_command_palette(self) -> None:
        # Textual's own placeholder says "Search for commands…"; here the palette finds devices first.
        from textual.command import CommandPalette

        # isinstance rather than CommandPalette.is_open(self), which Textual types for an App[object] only
        if self.use_command_palette and not isinstance(self.screen, CommandPalette):
            self.push_screen(
                CommandPalette(placeholder="Device name or address, an action, or a theme…", id="--command-palette")
            )

    def deliver_screenshot(
        self, filename: str | None = None, path: str | None = None, time_format: str | None = None
    ) -> str | None:
        """Save the screen as SVG where the user can find it (the export directory, never a ~/Downloads that may
        not exist on a server) and say where."""
        from textual._files import (
            generate_datetime_filename,  # Textual's own naming, as its Screenshot command
        )

        from ..errors import InputError
        from ..formats.safe_write import write_output
        from .export import export_dir

        name = filename or generate_datetime_filename(self.title, ".svg", time_format)
        target = (export_dir(path or self.options.export_dir) / name).resolve()
        try:
            write_output(target, self.export_screenshot(), overwrite=True)
        except InputError as exc:
            self.notify("; ".join(str(d) for d in exc.diagnostics), title="Screenshot not saved", severity="error")
            return None
        self.notify(str(target), title="Screenshot saved", timeout=6)
        return str(target)

    def action_next_theme(self) -> None:
        i = THEME_CYCLE.index(self.theme) if self.theme in THEME_CYCLE else -1
        self.theme = THEME_CYCLE[(i + 1) % len(THEME_CYCLE)]
        self.notify(f"Theme: {self.theme}  (ctrl+p → Theme lists all)", timeout=2)


def make_app(fabric: Fabric | None = None, **options) -> P2PApp:
    """The one way to build the app: production, demo, screenshots and tests."""
    return P2PApp(fabric, TuiOptions(**options))
