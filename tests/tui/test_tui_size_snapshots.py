"""The three screens that matter most at the three terminal sizes we design for: the fabric screen, the matrix,
and the transfers panel with two transfers (virtual clock, so the meters and ETAs are the same every run)."""

import pytest
from tui_helpers import build_app, select, start_two_transfers

from p2ptui.tui.clock import VirtualClock

SIZES = [(80, 24), (120, 40), (200, 60)]
IDS = ["80x24", "120x40", "200x60"]


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_fabric_screen(snap_compare, size):
    async def run_before(pilot):
        await select(pilot, "nvme0", "mlx5_0", reveal=True)

    assert snap_compare(build_app("nvmeof-target-iommu"), terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_matrix(snap_compare, size):
    assert snap_compare(build_app("kernel-scenarios"), terminal_size=size, press=["m", "down", "right", "enter"])


@pytest.mark.parametrize("size", SIZES, ids=IDS)
def test_transfers_panel_with_two_transfers(snap_compare, size):
    clock = VirtualClock()

    async def run_before(pilot):
        await start_two_transfers(pilot, clock)
        pilot.app.screen.transfers.focus()
        await pilot.pause()

    assert snap_compare(build_app("kernel-scenarios", clock=clock), terminal_size=size, run_before=run_before)
