"""The first frame of a fabric is whole: what the screen shows is built while it mounts, not a frame or two later
(the highlight message, and the footer's first fill each used to cost a frame)."""

from __future__ import annotations

from tui_helpers import build_app, fixture_fabric, run

from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.widgets.detail_pane import DetailPane
from p2ptui.tui.widgets.fabric_tree import FabricTree


class RecordingFabricScreen(FabricScreen):
    """Notes what is in place when mounting ends: before any message posted while mounting has been handled, and so
    before Textual can paint the screen."""

    def on_mount(self) -> None:
        super().on_mount()
        footer_keys = {key.key for key in self.query("FooterKey")}
        self.at_mount = {
            "detail": self.query_one(DetailPane).item,
            "cursor": self.query_one(FabricTree).highlighted,
            "footer": footer_keys,
        }


def test_a_fabric_screen_is_complete_when_it_mounts():
    fabric = fixture_fabric("large-synthetic")

    async def body(pilot):
        screen = RecordingFabricScreen(fabric)
        await pilot.app.push_screen(screen)
        await pilot.pause()
        first = screen.at_mount
        assert first["cursor"] is fabric.root_buses[0]
        assert first["detail"] is first["cursor"]  # the device pane describes the cursor's line already
        assert {"e", "i", "m", "t", "question_mark", "q"} <= first["footer"]  # Help and Quit included

    run(body, build_app("nvmeof-target"))
