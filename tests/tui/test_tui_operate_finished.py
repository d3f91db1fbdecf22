"""Operating, finished: finished transfers leave the panel (C, or by themselves after a while), the meter timer
sleeps when nothing runs, and the copy form offers only the copies the exporter can stage, with the gate shown
before Start."""

from tui_helpers import (
    FIXTURES,
    build_app,
    open_form,
    press_start,
    run,
    screen_text,
    select,
    start_two_transfers,
)

from p2ptui.sources import open_fabric
from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.operate import copy_choices, staging_note
from p2ptui.tui.selection import Selection


def test_an_exporter_without_a_pool_offers_direct_dma_only_and_says_why():
    fabric = open_fabric(str(FIXTURES / "kernel-scenarios.yaml"))
    exporter = fabric.find("rnic0")
    assert exporter.pool is None
    sel = Selection(exporter.bdf, (fabric.find("nvme-a").bdf, fabric.find("nvme-b").bdf))
    keys = [c.key for c in copy_choices(fabric, sel)]
    assert keys and not any(k.startswith("staged:") for k in keys)
    assert "rnic0 has no P2P memory pool" in staging_note(fabric, sel)
    with_pool = Selection(fabric.find("nvme-a").bdf, sel.importers[1:] + (exporter.bdf,))
    assert staging_note(fabric, with_pool) == ""

    async def body(pilot):
        await select(pilot, "rnic0", "nvme-a", "nvme-b")
        form = await open_form(pilot)
        assert "no P2P memory pool" in str(form.query_one("#cp-note").render())
        assert form.gate_text.startswith("gate allowed")  # the gate's answer before anything is started

    run(body, build_app("kernel-scenarios"))


async def run_to_the_end(pilot, clock, size="256 MiB") -> None:
    await select(pilot, "nvme-a", "rnic0", "nvme-b")
    await press_start(pilot, await open_form(pilot, choice="write:rnic0", size=size))
    screen = pilot.app.screen
    for _ in range(40):  # until it is done, and no further
        clock.advance(0.25)
        screen.tick()
        if screen.operations.last.views[0].state.finished:
            break
    assert screen.operations.last.views[0].state.finished


def test_c_clears_finished_transfers_and_the_panel_goes():
    clock = VirtualClock()

    async def body(pilot):
        await run_to_the_end(pilot, clock)
        screen = pilot.app.screen
        assert screen.transfers.display
        await pilot.press("C")
        await pilot.pause()
        assert screen.operations.last.views == [] and not screen.transfers.display

    run(body, build_app("kernel-scenarios", clock=clock, clear_finished_after=None))


def test_finished_transfers_go_by_themselves_after_the_configured_time():
    clock = VirtualClock()

    async def body(pilot):
        await run_to_the_end(pilot, clock)
        screen = pilot.app.screen
        clock.advance(4.0)
        screen.tick()
        assert len(screen.operations.last.views) == 1  # not yet: 5 s
        clock.advance(1.5)
        screen.tick()
        assert screen.operations.last.views == [] and not screen.transfers.display

    run(body, build_app("kernel-scenarios", clock=clock, clear_finished_after=5.0))


def test_the_meter_timer_sleeps_when_nothing_runs_and_wakes_for_a_copy():
    clock = VirtualClock()

    async def body(pilot):
        screen = pilot.app.screen
        assert screen.meters_asleep  # nothing started yet
        await select(pilot, "nvme-a", "rnic0", "nvme-b")
        await press_start(pilot, await open_form(pilot, choice="write:rnic0", size="256 MiB"))
        assert not screen.meters_asleep
        for _ in range(40):
            clock.advance(0.25)
            screen.tick()
        assert screen.meters_asleep

    run(body, build_app("kernel-scenarios", clock=clock))


def test_the_link_load_view_lists_the_busiest_links_first_and_plots_their_history():
    from textual.widgets import DataTable

    from p2ptui.tui.screens.links import LinkLoadScreen, LinkPlot

    clock = VirtualClock()

    async def body(pilot):
        await start_two_transfers(pilot, clock)
        ops = pilot.app.screen.operations
        await pilot.press("l")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, LinkLoadScreen)
        links = ops.links()
        assert [link.share for link in links] == sorted((link.share for link in links), reverse=True)
        assert links[0].name == ops.last.busiest[0][0]  # the same busiest link as the panel's summary
        table = screen.query_one(DataTable)
        assert table.row_count == len(links)
        assert str(table.get_row_at(0)[0]) == links[0].name
        text = screen_text(pilot.app)
        assert "busiest links" in text and links[0].name in text  # the plot's title and legend
        assert len(links[0].history) == 14 + 2  # one sample per poll: 14 meter ticks and one as each copy started
        assert screen.query_one(LinkPlot).plt is not None
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, LinkLoadScreen)

    run(body, build_app("kernel-scenarios", clock=clock))


def test_the_link_load_view_says_when_nothing_has_run():
    async def body(pilot):
        await pilot.press("l")
        await pilot.pause()
        assert "No simulated transfer has loaded a link yet" in " ".join(screen_text(pilot.app).split())

    run(body, build_app("kernel-scenarios"))
