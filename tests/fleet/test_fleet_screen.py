"""The fleet screen: groups with counts per kind, sorting, and a node's tree with its drifted devices marked."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable
from tui_helpers import build_app, run, screen_text, wait_for

from p2ptui.fleet.fleet import diff_fleet
from p2ptui.fleet.synth import amd_host, dgx_spec, write_node
from p2ptui.sources.sysfs_synth import tar_root
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.fleet import FleetNodeScreen, FleetScreen

KNOBS = {"n1": {}, "n2": {}, "n3": {"shift": 8, "redirect_port": 0}, "n4": {"shift": 4, "narrow_gpu": 5}, "n5": {}}


@pytest.fixture(scope="module")
def diff(tmp_path_factory):
    base = tmp_path_factory.mktemp("fleet")
    (base / "fleet").mkdir()
    for node, knobs in KNOBS.items():
        tar_root(write_node(base / "roots" / node, dgx_spec(**knobs), amd_host()), base / "fleet" / f"{node}.tar.gz")
    return diff_fleet(base / "fleet")


def app_for(diff):
    return build_app(None, fleet=diff)


def test_groups_counts_and_sorting(diff):
    async def body(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FleetScreen))
        table = pilot.app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        rows = [table.get_row_at(i) for i in range(3)]
        # Columns: nodes, count, then one per kind of drift found (link, acs, p2p); the largest group first.
        assert rows[0] == ["n[1-2,5]", 3, 0, 0, 0]
        assert sorted(rows[1:]) == [["n3", 1, 0, 1, 3], ["n4", 1, 1, 0, 0]]
        text = screen_text(pilot.app)
        assert "3 match the reference" in text and "2 drifted in 2 groups" in text
        await pilot.press("s")  # by name
        assert [table.get_row_at(i)[0] for i in range(3)] == ["n3", "n4", "n[1-2,5]"]
        await pilot.press("s")  # by link drifts, most first
        assert table.get_row_at(0)[0] == "n4"
        await pilot.press("s")  # by ACS drifts
        assert table.get_row_at(0)[0] == "n3"

    run(body, app_for(diff))


def test_enter_opens_the_node_with_drift_marked_then_the_fabric(diff):
    async def body(pilot):
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FleetScreen))
        table = pilot.app.screen.query_one(DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        index = next(i for i in range(3) if table.get_row_at(i)[0] == "n4")
        table.move_cursor(row=index)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FleetNodeScreen))
        assert pilot.app.screen.marked == {"0000:88:00.0"}
        text = screen_text(pilot.app)
        assert "⚠ 88:00.0 gpu5" in text and "link: gpu5 0000:84:00.0: link gen4 x8, reference gen4 x16" in text
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FabricScreen))
        assert pilot.app.screen.fabric is diff.fabrics["n4"]

    run(body, app_for(diff))
