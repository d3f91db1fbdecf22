"""`p2ptui show` loads every real topology file in tests/data and every bundled fabric (exit 0, no traceback).

The other files in tests/data are not topologies (provenance notes, hwloc's expected `lstopo -v` output, nvidia-smi
and CUDA sample output, a list of IDs): for them `show` says in one line that the format is not one it reads.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from real_data import require

from p2ptui.cli.main import main
from p2ptui.formats.gallery import bundled
from p2ptui.sources import hwloc

DATA = require()
NOT_TOPOLOGIES = {
    "README.md",
    "p2pdma-whitelist-ids.txt",
    "pci.ids",
    "16intel64-manyVFs.console",
    "irregulargroups-disallowed.console",
    "2pa-pcidomain32bits.console",
    "32intel64-2p8co2t+8ve.console",
    "stelline-puget-threadripper-pro-wrx90.topo-m.txt",
    "stelline-puget-threadripper-pro-wrx90.p2pBandwidthLatencyTest.txt",
}
FILES = sorted(p for p in DATA.rglob("*") if p.is_file())


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(DATA)))
def test_show_every_file_in_tests_data(capsys, path: Path) -> None:
    code = main(["show", str(path)])
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    if path.name in NOT_TOPOLOGIES:
        assert code == 2 and out.err.count("\n") == 1 and "unrecognised format" in out.err
    else:
        assert code == 0, out.err
        assert out.out.strip()


@pytest.mark.parametrize("name", [entry.name for entry in bundled()])
def test_show_every_bundled_fabric(capsys, name: str) -> None:
    assert main(["show", name]) == 0, capsys.readouterr().err


def test_hwloc_export_without_io_is_an_empty_fabric_with_a_note(capsys) -> None:
    path = DATA / "hwloc" / "32em64t-2n8c2t-pci-noio.xml"
    f = hwloc.load(path)
    assert len(f) == 0 and not f.root_buses
    (note,) = [n for n in f.notes if "no PCI objects" in n]
    assert "exported without I/O" in note and "lstopo --whole-io" in note
    assert main(["show", str(path)]) == 0
    assert "note: no PCI objects" in capsys.readouterr().out
