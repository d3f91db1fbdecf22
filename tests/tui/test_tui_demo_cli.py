"""The demo plays through headless; screenshots are written; the CLI routes FABRIC and keeps pipes Textual-free."""

import subprocess
import sys

from p2ptui.cli.main import build_parser, main
from p2ptui.cli.tui_commands import route_fabric_argument
from p2ptui.tui.demo import STEPS, play, write_screenshots


def test_demo_plays_every_step_headless_and_ends_by_itself():
    captions = []
    assert play(fast=True, headless=True, out=captions.append) == 0
    assert len(captions) == len(STEPS)
    assert captions[-1].startswith(f"[{len(STEPS)}/{len(STEPS)}]")


def test_screenshots_one_svg_per_step(tmp_path):
    paths = write_screenshots(tmp_path)
    assert [p.name for p in paths] == [f"{n:02d}-{s.slug}.svg" for n, s in enumerate(STEPS, 1)]
    expert = (tmp_path / "06-expert.svg").read_text()
    assert expert.startswith("<svg") and "EXPERT" in expert
    assert "NOT_SUPPORTED" in (tmp_path / "04-verdict.svg").read_text()
    form = (tmp_path / "09-transfers.svg").read_text()
    assert "SIMULATED" in form and "Start" in form
    meters = (tmp_path / "10-meters.svg").read_text()
    assert meters.count("running") >= 2 and "ETA" in meters and "Transfers" in meters
    assert '"DejaVu Sans Mono", "Fira Code"' in meters  # a monospace font first, for every SVG converter


def test_a_first_word_that_is_no_command_names_a_fabric():
    parser = build_parser()
    assert route_fabric_argument(parser, ["nvmeof-target"]) == ["open", "nvmeof-target"]
    assert route_fabric_argument(parser, ["--debug", "x.yaml"]) == ["--debug", "open", "x.yaml"]
    assert route_fabric_argument(parser, ["show", "nvmeof-target"]) == ["show", "nvmeof-target"]
    assert route_fabric_argument(parser, []) == []


def test_without_a_terminal_fabric_prints_the_tree_and_bad_names_exit_2(capsys):
    assert main(["nvmeof-target"]) == 0
    out, err = capsys.readouterr()
    assert "nvme0" in out and "not a terminal" in err
    assert main(["no-such-fabric"]) == 2
    assert "no bundled fabric of that name" in capsys.readouterr().err


def test_bare_command_in_a_pipe_prints_help_and_never_imports_textual():
    code = (
        "import sys; from p2ptui.cli import main; rc = main([]); "
        "sys.exit(3 if any(m.startswith('textual') for m in sys.modules) else rc)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "usage: p2ptui" in result.stdout
