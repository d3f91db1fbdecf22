"""AER counters and slot names: read from sysfs (and through the collector), kept in YAML, shown and in JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2ptui.cli.main import main
from p2ptui.cli.tree import device_line
from p2ptui.errors import InputError
from p2ptui.fabric.model import AerCounts
from p2ptui.fleet.synth import gpu_box, write_node
from p2ptui.formats import dumps_fabric
from p2ptui.formats.yaml_load import loads_fabric
from p2ptui.sources import sysfs

AER_COR = (
    "RxErr 0\nBadTLP 3\nBadDLLP 1\nRollover 0\nTimeout 0\nNonFatalErr 0\nCorrIntErr 0\nHeaderOF 0\nTOTAL_ERR_COR 4\n"
)
AER_NONFATAL = "Undefined 0\nDLP 0\nSDES 0\nTLP 0\nFCP 0\nCmpltTO 2\nTOTAL_ERR_NONFATAL 2\n"
AER_FATAL = "Undefined 0\nDLP 0\nTOTAL_ERR_FATAL 0\n"


def health_root(tmp_path: Path) -> Path:
    root = write_node(tmp_path / "n", gpu_box())
    gpu = next((root / "sys/devices").rglob("0000:03:00.0"))
    (gpu / "aer_dev_correctable").write_text(AER_COR)
    (gpu / "aer_dev_nonfatal").write_text(AER_NONFATAL)
    (gpu / "aer_dev_fatal").write_text(AER_FATAL)
    slot = root / "sys/bus/pci/slots/GPU-3"
    slot.mkdir(parents=True)
    (slot / "address").write_text("0000:03:00\n")
    return root


def test_sysfs_reader_takes_aer_totals_and_slot_names(tmp_path: Path):
    fabric = sysfs.load(health_root(tmp_path))
    gpu = fabric.find("0000:03:00.0")
    assert gpu.aer == AerCounts(correctable=4, nonfatal=2, fatal=0)
    assert gpu.slot == "GPU-3"
    assert fabric.find("0000:04:00.0").aer is None and fabric.find("0000:04:00.0").slot is None
    line = device_line(fabric, gpu)
    assert "slot GPU-3" in line and "AER 4 correctable, 2 nonfatal, 0 fatal since boot" in line


def test_yaml_round_trip_keeps_health(tmp_path: Path):
    fabric = sysfs.load(health_root(tmp_path))
    text = dumps_fabric(fabric)
    assert "aer: {correctable: 4, nonfatal: 2, fatal: 0}" in text and "slot: GPU-3" in text
    again = loads_fabric(text, "x.yaml")
    assert again.find("0000:03:00.0").aer == AerCounts(4, 2, 0)
    assert again.find("0000:03:00.0").slot == "GPU-3"


def test_show_json_has_health(tmp_path: Path, capsys):
    root = health_root(tmp_path)
    assert main(["show", "--json", str(root)]) == 0
    devices = {d["bdf"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert devices["0000:03:00.0"]["aer"] == {"correctable": 4, "nonfatal": 2, "fatal": 0}
    assert devices["0000:03:00.0"]["slot"] == "GPU-3"


def test_aer_file_without_total_is_an_error_at_the_file(tmp_path: Path):
    root = health_root(tmp_path)
    bad = next((root / "sys/devices").rglob("0000:03:00.0/aer_dev_fatal"))
    bad.write_text("garbage\n")
    with pytest.raises(InputError, match="aer_dev_fatal: AER counters without a TOTAL_ERR"):
        sysfs.load(root)


def test_collector_carries_health_to_the_snapshot(tmp_path: Path):
    from fleet_fixtures import TRANSPORT

    from p2ptui.fleet.collect import CollectOptions, collect, parse_nodeset
    from p2ptui.sources import open_fabric

    health_root(tmp_path / "roots")
    out = tmp_path / "out"
    out.mkdir()
    collect(parse_nodeset("n"), out, CollectOptions(f"sh {TRANSPORT} {tmp_path / 'roots'} %h", timeout=20))
    gpu = open_fabric(str(out / "n.tar.gz")).find("0000:03:00.0")
    assert (gpu.aer, gpu.slot) == (AerCounts(4, 2, 0), "GPU-3")
