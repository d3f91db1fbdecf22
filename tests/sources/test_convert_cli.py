"""``p2ptui convert IN OUT`` end to end: detection of the input, the writer picked by OUT's extension, exit codes,
and bad input as one error line per problem with exit 2 and no traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cli_run import run_cli
from real_data import require

from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled
from p2ptui.sources import detect, hwloc, lspci, nccl

DATA = require()


def test_detection_offers_the_file_sources() -> None:
    assert {hwloc, nccl, lspci} <= set(detect.SOURCES)


@pytest.mark.parametrize(
    "source",
    [
        DATA / "hwloc" / "nvidiaDGX2.xml",
        DATA / "nccl" / "topo_8p1h.xml",
        DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.md",
        DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.lspci-tv.txt",
    ],
    ids=lambda p: p.name,
)
def test_convert_to_yaml_round_trips_and_to_json(tmp_path: Path, capsys, source: Path) -> None:
    loader = {"hwloc": hwloc, "nccl": nccl, "lspci": lspci}[source.parent.name]
    code, out, err = run_cli(capsys, "convert", str(source), str(tmp_path / "f.yaml"))
    assert code == 0, err
    assert out.startswith(f"{tmp_path / 'f.yaml'}: yaml, ")
    assert "note: " in err  # what the source could not tell goes to stderr
    assert load_fabric(tmp_path / "f.yaml") == loader.load(source)
    # And the YAML converts again, to JSON, with the same devices.
    code, _, _ = run_cli(capsys, "convert", str(tmp_path / "f.yaml"), str(tmp_path / "f.json"))
    assert code == 0
    data = json.loads((tmp_path / "f.json").read_text())
    assert len(data["devices"]) == len(loader.load(source))


def test_convert_bundled_fabric_to_dot(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "convert", "nvmeof-target", str(tmp_path / "t.gv"))
    assert code == 0 and err == ""
    text = (tmp_path / "t.gv").read_text()
    assert text.startswith("digraph ") and text.count(" -> ") == len(load_fabric(find_bundled("nvmeof-target")))


def test_unknown_output_extension_exits_2_before_reading(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "convert", str(tmp_path / "does-not-exist.xml"), str(tmp_path / "out.svg"))
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        f"{tmp_path / 'out.svg'}: error: cannot tell the output format from the extension '.svg' "
        "(use one of .yaml, .yml, .json, .dot, .gv, .graphml)"
    ]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("cut.xml", (DATA / "hwloc" / "nvidiaDGX2.xml").read_text()[:5000], "error: malformed XML"),
        (
            "bad.xml",
            '<system version="1"><cpu numaid="0"><pci class="0x010802"/></cpu></system>\n',
            "error: <pci> without busid",
        ),
        ("graph.xml", '<graphs version="1"><graph id="0"/></graphs>\n', "error: an NCCL graph file"),
        (
            "lspci.txt",
            "00:01.0 PCI bridge: Intel Corporation Device 2030\n\tBus: primary=00, secondary=zz, "
            "subordinate=01, sec-latency=0\n",
            "secondary bus 'zz' is not a two-digit hex number",
        ),
        ("random.bin", "\x00\x01\x02 not a topology", "error: unrecognised format"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys, name: str, content: str, message: str) -> None:
    path = tmp_path / name
    path.write_text(content)
    code, out, err = run_cli(capsys, "convert", str(path), str(tmp_path / "out.yaml"))
    assert code == 2 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], err
    assert lines[0].startswith(str(path))
    assert "Traceback" not in err
    assert not (tmp_path / "out.yaml").exists()


def test_conflicting_entries_of_a_foreign_file_are_set_aside_with_their_lines(tmp_path: Path, capsys) -> None:
    # Was an error: a file another tool wrote is evidence, and the consistent part loads (issue 10).
    path = tmp_path / "dup.xml"
    path.write_text(
        '<system version="1">\n  <cpu numaid="0">\n'
        '    <pci busid="0000:0e:00.0"/>\n    <pci busid="0000:0e:00.0"/>\n    <pci busid="0000:0e:00.0"/>\n'
        "  </cpu>\n</system>\n"
    )
    code, _, err = run_cli(capsys, "convert", str(path), str(tmp_path / "out.json"))
    assert code == 0, err
    (note,) = [line for line in err.splitlines() if "set aside under 'unplaced'" in line]
    assert "0000:0e:00.0 (line 4), a second entry for line 3" in note
    assert "0000:0e:00.0 (line 5), a second entry for line 3" in note
    data = json.loads((tmp_path / "out.json").read_text())
    assert [d["conflict"] for d in data["unplaced"]] == ["the source also gives 0000:0e:00.0 at line 3"] * 2
    assert [d["conflict"] for d in data["devices"] if d["bdf"] == "0000:0e:00.0"] == [
        "the source also gives 0000:0e:00.0 at line 4"
    ]
