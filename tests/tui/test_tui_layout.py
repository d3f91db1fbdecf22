"""The layout at real terminal sizes: 80×24 to 200×60, a clear message below that, panes that zoom and hide,
dialogs that fit, and panes that start at the top for each new subject."""

import re

from tui_helpers import (
    build_app,
    run,
    screen_text,
    select,
    start_two_transfers,
    to_device,
)

from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.too_small import TooSmallScreen
from p2ptui.tui.screens.whatif import WhatIfScreen
from p2ptui.tui.widgets.detail_pane import DetailPane
from p2ptui.tui.widgets.transfers_panel import TransfersPanel

HEAD = re.compile(r"#(\d)\s.*?(\d+\.\d+ GB/s).*?(━+)\s*(\d+%)\s+ETA (\d+\.\d+ s)")


def transfers_at(size):
    clock = VirtualClock()
    seen = {}

    async def body(pilot):
        await start_two_transfers(pilot, clock)
        seen["text"] = screen_text(pilot.app)
        seen["panel"] = pilot.app.screen.query_one(TransfersPanel).region

    run(body, build_app("kernel-scenarios", clock=clock), size=size)
    return seen


def test_at_80x24_every_transfer_shows_rate_bar_percent_and_eta_and_the_footer_help_and_quit():
    seen = transfers_at((80, 24))
    heads = [m for line in seen["text"].splitlines() if (m := HEAD.search(line))]
    assert [m.group(1) for m in heads] == ["1", "2"]
    assert all(len(m.group(3)) >= 8 for m in heads)
    footer = seen["text"].splitlines()[-1]
    assert "? Help" in footer and "q Quit" in footer


def test_at_200x60_the_meters_use_the_width():
    seen = transfers_at((200, 60))
    heads = [m for line in seen["text"].splitlines() if (m := HEAD.search(line))]
    assert len(heads) == 2
    assert all(len(m.group(3)) >= 50 for m in heads)  # the progress bar alone takes a quarter of the width
    assert seen["panel"].width == 200


def test_a_terminal_too_small_says_so_and_the_screen_returns_when_it_grows():
    async def body(pilot):
        assert isinstance(pilot.app.screen, TooSmallScreen)
        text = screen_text(pilot.app)
        assert "Terminal too small" in text and "60 × 20" in text and "80 × 24" in text
        await pilot.resize_terminal(100, 30)
        await pilot.pause()
        assert isinstance(pilot.app.screen, FabricScreen)
        await pilot.resize_terminal(70, 30)
        await pilot.pause()
        assert isinstance(pilot.app.screen, TooSmallScreen)

    run(body, build_app("kernel-scenarios"), size=(60, 20))


def test_z_maximises_the_focused_pane_and_d_hides_the_detail_pane():
    async def body(pilot):
        screen = pilot.app.screen
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is screen.fabric_tree
        assert screen.fabric_tree.region.height >= 20
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is None
        detail = screen.query_one(DetailPane)
        await pilot.press("d")
        await pilot.pause()
        assert not detail.display
        await pilot.press("d")
        await pilot.pause()
        assert detail.display

    run(body, build_app(), size=(80, 24))


def test_the_transfers_panel_zooms_and_hides():
    clock = VirtualClock()

    async def body(pilot):
        await start_two_transfers(pilot, clock)
        screen = pilot.app.screen
        screen.transfers.focus()
        await pilot.press("z")
        await pilot.pause()
        assert screen.maximized is screen.transfers
        assert screen.transfers.region.height > 12
        await pilot.press("escape")
        await pilot.pause()
        assert screen.maximized is None
        screen.fabric_tree.focus()
        await pilot.press("p")
        await pilot.pause()
        assert not screen.transfers.display
        await pilot.press("p")
        await pilot.pause()
        assert screen.transfers.display

    run(body, build_app("kernel-scenarios", clock=clock), size=(80, 24))


def test_the_detail_pane_starts_at_the_top_for_each_device():
    async def body(pilot):
        screen = pilot.app.screen
        detail = screen.query_one(DetailPane)
        await to_device(pilot, "nvme0")
        detail.scroll_end(animate=False)
        await pilot.pause()
        assert detail.scroll_y > 0
        await to_device(pilot, "mlx5_0")
        assert detail.scroll_y == 0

    run(body, build_app(), size=(80, 24))


def test_the_verdict_starts_at_the_top_for_each_selection():
    async def body(pilot):
        screen = pilot.app.screen
        verdict = screen.query_one("#verdict")
        await select(pilot, "nvme0", "mlx5_0")
        verdict.scroll_end(animate=False)
        await pilot.pause()
        assert verdict.scroll_y > 0
        await select(pilot, "nvme0", "mlx5_0", "nvme2")
        assert verdict.scroll_y == 0

    run(body, build_app("nvmeof-target-iommu"), size=(80, 24))


def test_the_what_if_dialog_fits_80x24_and_scrolls_to_its_buttons():
    async def body(pilot):
        await pilot.press("w")
        await pilot.pause()
        form = pilot.app.screen
        assert isinstance(form, WhatIfScreen)
        box = form.query_one("#whatif-form")
        assert box.region.y >= 0 and box.region.bottom <= 24 and box.region.right <= 80
        apply = form.query_one("#wi-apply")
        box.scroll_to_widget(apply, animate=False)
        await pilot.pause()
        assert box.region.contains_region(apply.region)

    run(body, build_app(), size=(80, 24))
