"""Snapshots of operating: the copy form, allowed and locked. 120x40, seeded, no animation or blinking. (The
transfers panel with two transfers is in test_tui_size_snapshots.py, at three sizes.)"""

from tui_helpers import SIZE, build_app, open_form, press_start, select


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
