"""A foreign file that contradicts itself loads: the consistent part in the tree, the conflicting entries kept,
marked conflict, and named by their lines in a note; verdicts refuse them as pair ends. Each case is a real file
from tests/data with one edit that reproduces a conflict real exports have (hwloc's X9DRG-HF export names one
address under two bridges; RCCL's topology models repeat addresses)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from lspci_samples import DUMP_NN_D
from real_data import require

from p2ptui.cli.main import main
from p2ptui.errors import InputError
from p2ptui.fabric import Fabric
from p2ptui.formats import load_fabric
from p2ptui.p2p import check, find_provider, pair_matrix
from p2ptui.sources import hwloc, lspci, nccl

DATA = require()
HWLOC = DATA / "hwloc" / "24em64t-2n6c2t-pci.xml"
NCCL = DATA / "nccl" / "topo_8p1h.xml"
LSPCI_TV = DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.lspci-tv.txt"


def edited(tmp_path: Path, source: Path, line: int, old: str, new: str) -> Path:
    """``source`` with ``old`` replaced by ``new`` on one line (1-based), written to tmp_path."""
    lines = source.read_text().splitlines(keepends=True)
    assert old in lines[line - 1], lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new)
    out = tmp_path / source.name
    out.write_text("".join(lines))
    return out


def note_with(fabric: Fabric, *words: str) -> str:
    (note,) = [n for n in fabric.notes if all(w in n for w in words)]
    return note


def test_hwloc_one_address_under_two_bridges(tmp_path, capsys):
    # The Mellanox HCA below root port 00:05.0 (line 93) given the address of the Intel NIC below 00:01.0 (line 75).
    path = edited(tmp_path, HWLOC, 93, 'pci_busid="0000:05:00.0"', 'pci_busid="0000:04:00.0"')
    f = hwloc.load(path)
    kept = f.find("0000:04:00.0")
    (aside,) = f.unplaced
    assert kept.ids == "8086:10c9" and str(f.parent(kept).bdf) == "0000:00:01.0"
    assert kept.conflict == "the source also gives 0000:04:00.0 at line 93"
    assert aside.ids == "15b3:6746" and str(aside.parent) == "0000:00:05.0"
    assert aside.conflict == "the source also gives 0000:04:00.0 at line 75"
    assert "0000:04:00.0 (line 93), a second entry for line 75" in note_with(f, "set aside under 'unplaced'")
    assert len(f) == 14  # every other function of the file is in the tree, unchanged
    # Both visible in show, the conflict marked, the set-aside one in a labelled group with where the file puts it.
    assert main(["show", str(path)]) == 0
    out = capsys.readouterr().out
    assert (
        "04:00.0  nic  eth0  [8086:10c9]" in out and "≠ conflict: the source also gives 0000:04:00.0 at line 93" in out
    )
    assert "[unplaced] 1 conflicting entry the source gives" in out and "(under 00:05.0 in the source)" in out
    assert main(["show", "--json", str(path)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["conflict"] for d in data["unplaced"]] == ["the source also gives 0000:04:00.0 at line 75"]
    assert next(d for d in data["devices"] if d["bdf"] == "0000:04:00.0")["conflict"].endswith("line 93")


def test_verdicts_refuse_a_conflicting_pair_end(tmp_path):
    f = hwloc.load(edited(tmp_path, HWLOC, 93, 'pci_busid="0000:05:00.0"', 'pci_busid="0000:04:00.0"'))
    with pytest.raises(InputError, match="its place in the fabric is in conflict"):
        check(f, "eth0", ["gpu1"])
    with pytest.raises(InputError, match="its place in the fabric is in conflict"):
        check(f, "gpu1", ["0000:04:00.0"])
    with pytest.raises(InputError, match="in conflict"):
        find_provider(f, ["eth0"])
    with pytest.raises(InputError, match="eth2 \\(0000:04:00.0\\): no verdict, .* at line 75"):
        check(f, "gpu1", ["eth2"])  # the set-aside HCA, by its name
    assert check(f, "eth1", ["gpu1"]).clients  # its sibling's place is not in doubt
    ends = pair_matrix(f).rows
    assert "eth0" not in [d.name for d in ends] and "eth1" in [d.name for d in ends]


def test_hwloc_bus_claimed_by_two_bridges_stays_in_place_marked(tmp_path):
    # The HCA below 00:05.0 moved onto bus 04, which root port 00:01.0 owns: a distinct address, a bus twice.
    f = hwloc.load(edited(tmp_path, HWLOC, 93, 'pci_busid="0000:05:00.0"', 'pci_busid="0000:04:01.0"'))
    hca = f.find("0000:04:01.0")
    assert not f.unplaced and str(f.parent(hca).bdf) == "0000:00:05.0"
    assert "bus 0000:04 already belongs to bridge 0000:00:01.0" in hca.conflict
    assert "0000:04:01.0 (line 93)" in note_with(f, "kept where the source puts them but marked conflict")
    assert not f.find("0000:04:00.0").conflict


def test_nccl_repeated_address(tmp_path):
    # RCCL models repeat addresses: the second MI250's GPU (line 19) given the first one's address (line 10).
    f = nccl.load(edited(tmp_path, NCCL, 19, 'busid="0000:2c:00.0"', 'busid="0000:29:00.0"'))
    (aside,) = f.unplaced
    assert aside.conflict == "the source also gives 0000:29:00.0 at line 10"
    assert f.find("0000:29:00.0").conflict == "the source also gives 0000:29:00.0 at line 19"
    assert "0000:29:00.0 (line 19), a second entry for line 10" in note_with(f, "set aside under 'unplaced'")
    assert len(f) == len(nccl.load(NCCL)) - 1


def test_lspci_tree_draws_an_address_twice_and_a_bus_twice(tmp_path):
    # Root port 07.1 drawn with secondary bus 14, which root port 05.1 (the X710) already forwards.
    path = edited(tmp_path, LSPCI_TV, 23, "+-07.1-[16]--+-00.0", "+-07.1-[14]--+-00.0")
    f = lspci.load(path)
    x710 = f.find("0000:14:00.0")
    (aside,) = f.unplaced
    assert x710.product.startswith("Intel Corporation Ethernet Controller X710") and x710.conflict
    assert aside.product.endswith("Device 14ac") and "line 20" in aside.conflict  # the X710 is drawn on line 20
    assert "0000:14:00.0 (line 23), a second entry for line 20" in note_with(f, "set aside under 'unplaced'")
    # 14:00.4, .5, .7 are new addresses, on bus 14 that another bridge owns: kept below 07.1, marked.
    for fn in ("0000:14:00.4", "0000:14:00.5", "0000:14:00.7"):
        dev = f.find(fn)
        assert str(f.parent(dev).bdf) == "0000:00:07.1" and "already belongs" in dev.conflict
    assert note_with(f, "kept where the source puts them but marked conflict", "0000:14:00.4 (line 24)")


def test_conflict_marks_survive_conversion_to_yaml(tmp_path, capsys):
    # The bus claimed twice: the marked function stays where the file put it, in the YAML too, and loads back.
    source = edited(tmp_path, HWLOC, 93, 'pci_busid="0000:05:00.0"', 'pci_busid="0000:04:01.0"')
    out = tmp_path / "conflict.yaml"
    assert main(["convert", str(source), str(out)]) == 0
    capsys.readouterr()
    back = load_fabric(out)
    assert back == hwloc.load(source)
    assert "already belongs" in back.find("0000:04:01.0").conflict
    with pytest.raises(InputError, match="in conflict"):
        check(back, "0000:04:01.0", ["gpu1"])


def test_lspci_vvv_two_different_blocks_for_one_address(tmp_path):
    # The NVMe's block again, as another device at the same address; and the last block pasted again unchanged.
    nvme = next(block for block in DUMP_NN_D.split("\n\n") if block.startswith("0000:1a:00.0"))
    second = nvme.replace("[144d:a80a]", "[15b3:101b]").replace(
        "Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO",
        "Infiniband controller [0207]: Mellanox Technologies MT28908 Family [ConnectX-6]",
    )
    again = DUMP_NN_D.rstrip("\n").split("\n\n")[-1]
    path = tmp_path / "lspci.txt"
    path.write_text(DUMP_NN_D.rstrip("\n") + "\n\n" + second + "\n\n" + again + "\n")
    f = lspci.load(path)
    (aside,) = f.unplaced  # the block pasted again unchanged is no conflict; the different one is
    assert aside.ids == "15b3:101b" and f.find("0000:1a:00.0").ids == "144d:a80a"
    line = path.read_text().splitlines().index(second.splitlines()[0]) + 1
    assert f"0000:1a:00.0 (line {line}), a second entry for line" in note_with(f, "set aside under 'unplaced'")
