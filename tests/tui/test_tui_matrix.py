"""The matrix at scale: find by typing, a kind filter, keys that move by what is on screen, the cursor always in
view and described, names on both axes, Enter to preview and Enter again to select."""

from tui_helpers import build_app, run, screen_text

from p2ptui.sources import open_fabric
from p2ptui.tui import make_app
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.matrix import MatrixScreen
from p2ptui.tui.widgets.pair_grid import PairGrid

DGX2 = "tests/data/hwloc/nvidiaDGX2.xml"


def dgx2_app():
    return make_app(open_fabric(DGX2), theme="textual-dark", animations=False, live_scan=None, auto_tick=False)


async def open_matrix(pilot) -> tuple[MatrixScreen, PairGrid]:
    await pilot.press("m")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, MatrixScreen)
    return screen, screen.query_one(PairGrid)


def test_typing_names_reaches_gpu15_to_gpu14_which_previews_then_selects():
    async def body(pilot):
        screen, grid = await open_matrix(pilot)
        await pilot.press(*"gpu15", "space", *"gpu14", "enter")
        await pilot.pause()
        m = grid.matrix
        assert (m.rows[grid.pair[0]].name, m.cols[grid.pair[1]].name) == ("gpu15", "gpu14")
        assert grid.cursor_on_screen()
        status = str(screen.query_one("#matrix-status").render())
        assert "exporter gpu15 → importer gpu14" in status
        # hwloc does not record ACS: BUS_ADDR unless a switch port redirects, and the status line says so
        assert "depends: BUS_ADDR 4 or" in status
        await pilot.press("enter")
        await pilot.pause()
        preview = screen.preview
        assert preview.display and "BUS_ADDR" in preview.text and "gpu14" in preview.text
        assert isinstance(pilot.app.screen, MatrixScreen)  # a preview, nothing selected yet
        await pilot.press("enter")
        await pilot.pause()
        fabric_screen = pilot.app.screen
        assert isinstance(fabric_screen, FabricScreen)
        fabric = fabric_screen.fabric
        assert fabric_screen.selection.exporter == fabric.find("gpu15").bdf
        assert fabric_screen.selection.importers == (fabric.find("gpu14").bdf,)

    run(body, dgx2_app(), size=(120, 40))


def test_the_cursor_stays_on_screen_to_the_last_column_at_any_width():
    for size in ((80, 24), (120, 40), (133, 40)):

        async def body(pilot):
            _, grid = await open_matrix(pilot)
            for _ in range(len(grid.cols) - 1):
                await pilot.press("right")
                assert grid.cursor_on_screen()
            assert grid.cursor[1] == len(grid.cols) - 1
            header = next(line for line in screen_text(pilot.app).splitlines() if "gpu14" in line)
            assert header.split()[-1] == grid.matrix.cols[-1].name  # the last column's name, in full

        run(body, dgx2_app(), size=size)


def test_home_end_page_keys_move_the_cursor_by_what_is_on_screen():
    async def body(pilot):
        _, grid = await open_matrix(pilot)
        rows_visible, _ = grid.cells_on_screen
        await pilot.press("pagedown")
        assert grid.cursor == (rows_visible, 0) and grid.cursor_on_screen()
        await pilot.press("end")
        assert grid.cursor == (rows_visible, len(grid.cols) - 1) and grid.cursor_on_screen()
        await pilot.press("home")
        assert grid.cursor == (rows_visible, 0)
        await pilot.press("ctrl+end")
        assert grid.cursor == (len(grid.rows) - 1, len(grid.cols) - 1) and grid.cursor_on_screen()
        await pilot.press("pageup")
        assert grid.cursor[0] == len(grid.rows) - 1 - rows_visible and grid.cursor_on_screen()
        await pilot.press("ctrl+home")
        assert grid.cursor == (0, 0) and grid.scroll_offset == (0, 0)

    run(body, build_app("large-synthetic"), size=(80, 24))  # more rows and columns than one screen


def test_names_label_both_axes_and_row_labels_align():
    async def body(pilot):
        _, grid = await open_matrix(pilot)
        lines = screen_text(pilot.app).splitlines()
        header = next(line for line in lines if line.split()[:2] == ["gpu0", "gpu1"])
        assert [d.name for d in grid.matrix.cols][: len(header.split())] == header.split()
        rows = [line for line in lines if line[:6].strip() in {d.name for d in grid.matrix.rows}]
        assert len(rows) == len(grid.matrix.rows) == 16
        # every row's first cell starts in the same column, whatever the row's name ("gpu9" / "gpu10")
        starts = {len(line) - len(line[grid.label_width :].lstrip()) for line in rows}
        assert len(starts) == 1

    run(body, dgx2_app(), size=(120, 40))


def test_kind_filter_shows_only_gpus_and_keeps_the_cursor_pair():
    async def body(pilot):
        screen, grid = await open_matrix(pilot)
        await pilot.press(*"gpu3", "space", *"gpu2", "enter")
        await pilot.press("k")
        await pilot.pause()
        m = grid.matrix
        assert {m.rows[r].kind.value for r in grid.rows} == {"gpu"} and len(grid.rows) == 16
        assert (m.rows[grid.pair[0]].name, m.cols[grid.pair[1]].name) == ("gpu3", "gpu2")
        assert "dev0" not in screen_text(pilot.app)
        for _ in screen.kinds:
            await pilot.press("k")
        assert len(grid.rows) == len(m.rows)  # back to all

    run(body, dgx2_app(), size=(120, 40))


def test_escape_closes_the_preview_then_leaves_without_selecting():
    async def body(pilot):
        screen, grid = await open_matrix(pilot)
        await pilot.press("down", "enter")
        await pilot.pause()
        assert screen.preview.display
        await pilot.press("escape")
        await pilot.pause()
        assert not screen.preview.display and pilot.app.screen is screen
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, FabricScreen) and pilot.app.screen.selection.empty

    run(body, build_app("kernel-scenarios"))


def test_a_click_previews_and_a_second_click_selects():
    async def body(pilot):
        screen, grid = await open_matrix(pilot)
        offset = (grid.label_width + grid.cell_width + 1, 2)  # second column, second row
        await pilot.click(PairGrid, offset=offset)
        await pilot.pause()
        assert screen.preview.display and pilot.app.screen is screen
        assert grid.cursor == (1, 1)
        await pilot.click(PairGrid, offset=offset)
        await pilot.pause()
        assert isinstance(pilot.app.screen, FabricScreen)
        assert pilot.app.screen.selection.complete

    run(body, build_app("kernel-scenarios"))


def test_the_legend_explains_every_cell_form():
    async def body(pilot):
        screen, _ = await open_matrix(pilot)
        legend = str(screen.query_one("#matrix-legend").render())
        for form in ("B4", "T8", "✘", "B4?", "cursor"):
            assert form in legend
        await pilot.press("v")
        legend = str(screen.query_one("#matrix-legend").render())
        for form in ("PIX", "PXB", "PHB", "NODE", "SYS"):
            assert form in legend

    run(body, build_app("kernel-scenarios"))


def test_the_palette_inside_the_matrix_finds_devices_and_moves_the_cursor():
    from tui_helpers import wait_for_palette_hit

    async def body(pilot):
        screen, grid = await open_matrix(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"gpu12")
        await wait_for_palette_hit(pilot, "gpu12")
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert grid.matrix.rows[grid.pair[0]].name == "gpu12" and grid.cursor_on_screen()

    run(body, dgx2_app(), size=(120, 40))
