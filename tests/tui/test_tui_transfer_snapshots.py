"""Snapshots of operating: the copy form (allowed and locked) and the transfers panel mid-run. 120x40, seeded,
no animation or blinking, and meters stepped on a virtual clock, so every run draws the same SVG."""

from p2ptui.tui.clock import VirtualClock
from tui_helpers import open_form, press_start, select
from tui_helpers import SIZE, build_app


def test_copy_form(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme-a", "rnic0", "nvme-b")
        await open_form(pilot, threads="4")

    assert snap_compare(build_app("kernel-scenarios"), terminal_size=SIZE, run_before=run_before)


def test_copy_form_locked_by_the_gate(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme-a", "rnic0", "dsa0")
        await press_start(pilot, await open_form(pilot))

    assert snap_compare(build_app("kernel-scenarios"), terminal_size=SIZE, run_before=run_before)


def test_transfers_mid_run(snap_compare):
    clock = VirtualClock()

    async def run_before(pilot):
        await select(pilot, "nvme-a", "rnic0", "nvme-b")
        await press_start(pilot, await open_form(pilot, choice="staged:rnic0:nvme-b", size="16 GiB"))
        screen = pilot.app.screen
        for _ in range(8):  # the staged copy alone for 2 s, then sharing nvme-a's link
            clock.advance(0.25)
            screen.tick()
        await press_start(pilot, await open_form(pilot, choice="write:nvme-b", size="8 GiB"))
        for _ in range(6):
            clock.advance(0.25)
            screen.tick()
        screen.transfers.focus()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(build_app("kernel-scenarios", clock=clock), terminal_size=SIZE, run_before=run_before)
