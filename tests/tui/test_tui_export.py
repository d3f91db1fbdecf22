"""Taking the answer away: the verdict copied as `p2ptui check` prints it, a device's details copied, the matrix
exported as CSV and JSON (the JSON as `p2ptui matrix --json`), screenshots saved where the notification says."""

import csv
import errno
import io
import json
import os
import threading
from pathlib import Path

import pytest
from tui_helpers import FIXTURES, build_app, messages, run, select, to_device, wait_for

from p2ptui.cli.main import main
from p2ptui.p2p.matrix_stream import write_matrix_csv
from p2ptui.tui import export
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


async def export_matrix(pilot, *keys: str) -> None:
    """Press ``keys`` then s, and wait until the export (a worker thread) has finished and said so."""
    await pilot.press(*keys, "s")
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


def test_the_matrix_exports_what_it_shows_as_csv_and_json(tmp_path, capsys):
    main(["matrix", "kernel-scenarios", "--json"])
    cli_json = json.loads(capsys.readouterr().out)
    main(["matrix", "kernel-scenarios", "--csv"])
    cli_csv = capsys.readouterr().out

    async def body(pilot):
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MatrixScreen)
        await export_matrix(pilot)
        grid = pilot.app.screen.grid
        m = grid.matrix
        assert (tmp_path / "p2ptui-matrix-kernel-scenarios.csv").read_text() == cli_csv
        rows = list(csv.reader(io.StringIO(cli_csv)))
        assert len(rows) == len(m.rows) * len(m.cols) + 1
        exported = json.loads((tmp_path / "p2ptui-matrix-kernel-scenarios.json").read_text())
        assert exported == cli_json
        assert str(tmp_path) in messages(pilot.app)[-1]
        # the kind filter narrows the export too
        await export_matrix(pilot, "k")
        kind = pilot.app.screen.kind.value
        filtered = json.loads((tmp_path / f"p2ptui-matrix-kernel-scenarios-{kind}.json").read_text())
        assert len(filtered["names"]) == len(grid.rows) < len(m.rows)
        assert {n for n in filtered["names"]} == {m.rows[i].name for i in grid.rows}

    run(body, build_app("kernel-scenarios", export_dir=str(tmp_path)))


@pytest.mark.parametrize("fabric", ["kernel-scenarios", "nvmeof-target"])
def test_the_exported_files_are_the_bytes_p2ptui_matrix_prints(tmp_path, capsysbinary, fabric):
    printed = {}
    for suffix in ("csv", "json"):
        assert main(["matrix", fabric, f"--{suffix}"]) == 0
        printed[suffix] = capsysbinary.readouterr().out

    async def body(pilot):
        await pilot.press("m")
        await export_matrix(pilot)
        files = sorted(tmp_path.iterdir())  # named after the fabric's title: one CSV, one JSON and nothing else
        assert [f.suffix for f in files] == [".csv", ".json"] and files[0].stem == files[1].stem
        assert [f.read_bytes() for f in files] == [printed["csv"], printed["json"]]

    run(body, build_app(fabric, export_dir=str(tmp_path)))


def test_an_export_that_fails_midway_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    old = tmp_path / "p2ptui-matrix-kernel-scenarios.json"
    old.write_text("the last export\n")

    def disk_full(m, out):
        out.write('{"devices": [')
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(export, "write_matrix_json", disk_full)

    async def body(pilot):
        await pilot.press("m")
        await export_matrix(pilot)
        assert messages(pilot.app, "error")[-1] == f"{old}: cannot write: No space left on device"
        assert pilot.app.is_running

    run(body, build_app("kernel-scenarios", export_dir=str(tmp_path)))
    assert old.read_text() == "the last export\n"
    assert sorted(os.listdir(tmp_path)) == ["p2ptui-matrix-kernel-scenarios.csv", old.name]  # the CSV came first


def test_the_screen_answers_while_an_export_is_being_written(tmp_path, monkeypatch):
    # The CSV writer is held until the test lets it go: a key pressed meanwhile is handled (the export runs in a
    # worker thread), which a synchronous export would not allow until it had finished.
    started, release = threading.Event(), threading.Event()

    def held_csv(m, out):
        started.set()
        if not release.wait(10):
            raise TimeoutError("the test never let the export go on")
        write_matrix_csv(m, out)

    monkeypatch.setattr(export, "write_matrix_csv", held_csv)

    async def body(pilot):
        await pilot.press("m")
        grid = pilot.app.screen.grid
        await pilot.press("s")
        await wait_for(pilot, started.is_set)
        await pilot.press("v")
        assert grid.mode == "topo" and not list(tmp_path.glob("*.csv"))  # answered while the CSV is unwritten
        release.set()
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert str(tmp_path) in messages(pilot.app)[-1] and len(list(tmp_path.iterdir())) == 2

    run(body, build_app("kernel-scenarios", export_dir=str(tmp_path)))


def test_screenshots_go_to_the_export_directory_and_the_notification_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no export directory configured: the current one

    async def body(pilot):
        path = pilot.app.deliver_screenshot()
        await pilot.pause()
        assert path is not None and Path(path).parent == tmp_path and Path(path).read_text().startswith("<svg")
        assert path in messages(pilot.app)[-1]

    run(body, build_app(FABRIC))
