"""Taking the answer away: the verdict copied as `p2ptui check` prints it, a device's details copied, the matrix
exported as CSV and JSON (the JSON as `p2ptui matrix --json`), screenshots saved where the notification says."""

import csv
import io
import json
from pathlib import Path

from tui_helpers import FIXTURES, build_app, messages, run, select, to_device

from p2ptui.cli.main import main
from p2ptui.tui.screens.matrix import MatrixScreen

FABRIC = "nvmeof-target-iommu"


def test_y_copies_the_verdict_exactly_as_p2ptui_check_prints_it(capsys):
    main(["check", str(FIXTURES / f"{FABRIC}.yaml"), "nvme0", "mlx5_0"])
    printed = capsys.readouterr().out

    async def body(pilot):
        await select(pilot, "nvme0", "mlx5_0")
        await pilot.press("y")
        assert pilot.app.clipboard + "\n" == printed
        assert "p2ptui check" in messages(pilot.app)[-1]

    run(body, build_app(FABRIC))


def test_y_without_a_selection_says_what_to_do():
    async def body(pilot):
        await pilot.press("y")
        assert "Choose an exporter" in messages(pilot.app, "warning")[-1]
        assert pilot.app.clipboard == ""

    run(body, build_app(FABRIC))


def test_shift_y_copies_the_highlighted_devices_details():
    async def body(pilot):
        await to_device(pilot, "mlx5_0")
        await pilot.press("Y")
        text = pilot.app.clipboard
        dev = pilot.app.screen.fabric.find("mlx5_0")
        assert text.splitlines()[0].split() == ["name", "mlx5_0"]
        assert str(dev.bdf) in text and "ACS" in text and "IOMMU group" in text

    run(body, build_app(FABRIC))


def test_the_matrix_exports_what_it_shows_as_csv_and_json(tmp_path, capsys):
    main(["matrix", "kernel-scenarios", "--json"])
    cli_json = json.loads(capsys.readouterr().out)
    main(["matrix", "kernel-scenarios", "--csv"])
    cli_csv = capsys.readouterr().out

    async def body(pilot):
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MatrixScreen)
        await pilot.press("s")
        await pilot.pause()
        grid = pilot.app.screen.grid
        m = grid.matrix
        assert (tmp_path / "p2ptui-matrix-kernel-scenarios.csv").read_text() == cli_csv
        rows = list(csv.reader(io.StringIO(cli_csv)))
        assert len(rows) == len(m.rows) * len(m.cols) + 1
        exported = json.loads((tmp_path / "p2ptui-matrix-kernel-scenarios.json").read_text())
        assert exported == cli_json
        assert str(tmp_path) in messages(pilot.app)[-1]
        # the kind filter narrows the export too
        await pilot.press("k", "s")
        await pilot.pause()
        kind = pilot.app.screen.kind.value
        filtered = json.loads((tmp_path / f"p2ptui-matrix-kernel-scenarios-{kind}.json").read_text())
        assert len(filtered["names"]) == len(grid.rows) < len(m.rows)
        assert {n for n in filtered["names"]} == {m.rows[i].name for i in grid.rows}

    run(body, build_app("kernel-scenarios", export_dir=str(tmp_path)))


def test_screenshots_go_to_the_export_directory_and_the_notification_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no export directory configured: the current one

    async def body(pilot):
        path = pilot.app.deliver_screenshot()
        await pilot.pause()
        assert path is not None and Path(path).parent == tmp_path and Path(path).read_text().startswith("<svg")
        assert path in messages(pilot.app)[-1]

    run(body, build_app(FABRIC))
