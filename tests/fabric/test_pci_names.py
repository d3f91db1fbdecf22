"""Vendor and device names as lspci prints them: the PCI ID database, names the source carries, and none at all."""

from __future__ import annotations

import gzip
import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from cli_run import run_cli

from p2ptui.fabric import pciids
from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Device
from p2ptui.fabric.naming import DeviceNames, device_names
from p2ptui.fabric.pciids import PciIds
from p2ptui.sources import open_fabric

DATA = Path(__file__).resolve().parents[1] / "data"
PCI_IDS = DATA / "pci.ids"
DGX2 = str(DATA / "hwloc" / "nvidiaDGX2.xml")
SUPERMICRO = str(DATA / "sysfs" / "32intel64-2p8co2t+8ve.tar.bz2")  # sysfs: IDs only, no names in the source


def _dev(vendor: int | None, device: int | None, product: str | None = None) -> Device:
    return Device(BDF(0, 1, 0, 0), DeviceKind.GPU, "gpu0", vendor_id=vendor, device_id=device, product=product)


@pytest.fixture(scope="module")
def db() -> PciIds:
    return PciIds.read(PCI_IDS)


def test_lookups_in_the_excerpt(db):
    assert db.vendor(0x10DE) == "NVIDIA Corporation"
    assert db.device(0x10DE, 0x1DB8) == "GV100GL [Tesla V100 SXM3 32GB]"
    assert db.device(0x10DE, 0x0001) is None and db.vendor(0x0001) is None
    assert db.device(None, 0x1DB8) is None and db.vendor(None) is None
    # The last vendor's block ends in the class section: its "\t08  Non-Volatile ..." subclass line is no device.
    last = int(re.findall(r"^([0-9a-f]{4})  ", PCI_IDS.read_text(), re.MULTILINE)[-1], 16)
    assert db.vendor(last) is not None
    assert db.device(last, 0x0008) is None


def test_vendor_prefix_takes_the_longest_name_and_device_names_map_back(db):
    assert db.vendor_prefix("Advanced Micro Devices, Inc. [AMD/ATI] Aldebaran/MI200 [Instinct MI250X/MI250]") == (
        0x1002,
        "Advanced Micro Devices, Inc. [AMD/ATI]",
    )
    assert db.vendor_prefix("Advanced Micro Devices, Inc. [AMD] Starship/Matisse GPP Bridge")[0] == 0x1022
    assert db.vendor_prefix("Nobody Inc. Widget") is None
    assert db.device_by_name(0x10DE, "GV100GL [Tesla V100 SXM3 32GB]") == 0x1DB8
    assert db.device_by_name(0x10DE, "GV100GL") is None


def test_compressed_database_reads_the_same(tmp_path, db):
    packed = tmp_path / "pci.ids.gz"
    packed.write_bytes(gzip.compress(PCI_IDS.read_bytes()))
    assert PciIds.read(packed).device(0x10DE, 0x1DB8) == db.device(0x10DE, 0x1DB8)


def test_source_names_win_and_the_database_fills_in(db):
    hwloc_gpu = _dev(0x10DE, 0x1DB8, "NVIDIA Corporation Tesla V100-SXM3-32GB-H")
    assert device_names(hwloc_gpu, db) == DeviceNames(
        "NVIDIA Corporation", "Tesla V100-SXM3-32GB-H", "NVIDIA Corporation Tesla V100-SXM3-32GB-H"
    )
    yaml_gpu = _dev(0x10DE, 0x1DB8, "V100 (lab 3)")
    assert device_names(yaml_gpu, db) == DeviceNames("NVIDIA Corporation", "V100 (lab 3)", "V100 (lab 3)")
    sysfs_gpu = _dev(0x10DE, 0x1DB8)
    assert device_names(sysfs_gpu, db).text == "NVIDIA Corporation GV100GL [Tesla V100 SXM3 32GB]"
    unknown_device = _dev(0x10DE, 0x0001)
    assert device_names(unknown_device, db) == DeviceNames("NVIDIA Corporation", None, "NVIDIA Corporation Device 0001")
    assert device_names(sysfs_gpu, None) == DeviceNames()  # no database: IDs only
    # hwloc with PCIVendor only, in its own spelling: the database names the device.
    vendor_only = _dev(0x10DE, 0x1DB8, "nVidia Corporation")
    assert device_names(vendor_only, db).text == "NVIDIA Corporation GV100GL [Tesla V100 SXM3 32GB]"
    old_vendor_name = _dev(0x1002, 0x515E, "ATI Technologies Inc ES1000")  # 1002 is "... [AMD/ATI]" today
    old = "ATI Technologies Inc ES1000"
    assert device_names(old_vendor_name, db) == DeviceNames("Advanced Micro Devices, Inc. [AMD/ATI]", old, old)
    assert device_names(_dev(None, None), db) == DeviceNames()


def test_dgx2_gpus_show_their_model_in_show_and_json(capsys):
    code, out, _ = run_cli(capsys, "--pci-ids", str(PCI_IDS), "show", DGX2)
    gpus = [line for line in out.splitlines() if " gpu " in line]
    assert code == 0 and len(gpus) == 16
    assert all("[10de:1db8]  NVIDIA Corporation Tesla V100-SXM3-32GB-H" in line for line in gpus)
    code, out, _ = run_cli(capsys, "--pci-ids", str(PCI_IDS), "show", DGX2, "--json")
    gpu0 = next(d for d in json.loads(out)["devices"] if d["name"] == "gpu0")
    assert (gpu0["vendor_name"], gpu0["device_name"]) == ("NVIDIA Corporation", "Tesla V100-SXM3-32GB-H")
    switch = next(d for d in json.loads(out)["devices"] if d["device_id"] == "9781")
    assert (switch["vendor_name"], switch["device_name"]) == ("PLX Technology, Inc.", None)  # not in the excerpt


def test_show_names_ids_from_the_database_and_only_ids_without_one(capsys, monkeypatch):
    monkeypatch.setenv(pciids.ENV_VAR, str(PCI_IDS))
    code, out, _ = run_cli(capsys, "show", SUPERMICRO)
    nec = [line for line in out.splitlines() if "[1bcf:001c]" in line]
    assert code == 0 and nec and all("[1bcf:001c]  NEC Corporation Vector Engine 1.0" in line for line in nec)
    monkeypatch.setenv(pciids.ENV_VAR, "")
    code, out, _ = run_cli(capsys, "show", SUPERMICRO)
    assert code == 0 and "NEC Corporation" not in out and "[1bcf:001c]" in out
    code, out, _ = run_cli(capsys, "show", SUPERMICRO, "--json")
    assert all(d["vendor_name"] is None and d["device_name"] is None for d in json.loads(out)["devices"])


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--pci-ids", "/nonexistent/pci.ids"], None, "--pci-ids /nonexistent/pci.ids: cannot read the PCI ID"),
        (["--pci-ids", str(DATA / "README.md")], None, "not a PCI ID database"),
        ([], "/nonexistent/pci.ids", "P2PTUI_PCI_IDS=/nonexistent/pci.ids: cannot read the PCI ID database"),
    ],
)
def test_a_bad_database_is_a_one_line_error(capsys, monkeypatch, argv, env, message):
    if env is not None:
        monkeypatch.setenv(pciids.ENV_VAR, env)
    code, out, err = run_cli(capsys, *argv, "show", "nvmeof-target")
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err


def _system_database() -> str | None:
    return next((p for p in pciids.SEARCH_PATHS if os.path.isfile(p)), None)


@pytest.mark.skipif(
    shutil.which("lspci") is None or _system_database() is None,
    reason="needs pciutils (lspci) and the system's pci.ids",
)
def test_names_match_lspci_for_every_id_of_a_real_machine(tmp_path, capsys):
    """lspci reads a config-space dump (-F) holding the Supermicro snapshot's IDs and names them from the system's
    pci.ids; p2ptui must print the same names from the same file."""
    path = _system_database()
    fabric = open_fabric(SUPERMICRO)
    devices = [d for d in fabric if d.vendor_id is not None and d.device_id is not None]
    dump = []
    for k, dev in enumerate(devices):
        vendor, device = dev.vendor_id, dev.device_id
        header = [vendor & 0xFF, vendor >> 8, device & 0xFF, device >> 8] + [0] * 12
        dump += [f"{k:02x}:00.0 x", "00: " + " ".join(f"{b:02x}" for b in header), ""]
    (tmp_path / "dump").write_text("\n".join(dump))
    result = subprocess.run(
        ["lspci", "-F", str(tmp_path / "dump"), "-mm", "-i", path], capture_output=True, text=True, check=True
    )
    lspci_names = [shlex.split(line)[2:4] for line in result.stdout.splitlines()]
    assert len(lspci_names) == len(devices)
    db = PciIds.read(path)
    ours = [device_names(dev, db) for dev in devices]
    assert [[n.vendor, n.text[len(n.vendor) + 1 :]] for n in ours] == lspci_names
    code, out, _ = run_cli(capsys, "--pci-ids", path, "show", SUPERMICRO)
    for dev, (vendor, device) in zip(devices, lspci_names, strict=True):
        assert f"[{dev.ids}]  {vendor} {device}" in out


def test_the_database_option_value_is_no_fabric_and_no_command(capsys):
    """``p2ptui --pci-ids FILE FABRIC`` opens FABRIC (without a terminal: prints its tree), named from FILE."""
    code, out, _ = run_cli(capsys, "--pci-ids", str(PCI_IDS), DGX2)
    assert code == 0 and "NVIDIA Corporation Tesla V100-SXM3-32GB-H" in out
    code, out, _ = run_cli(capsys, f"--pci-ids={PCI_IDS}", "matrix", DGX2, "--only", "gpu", "--csv")
    assert code == 0 and out.count("\n") == 1 + 16 * 16


def test_a_database_that_is_no_regular_file_is_never_read(tmp_path):
    fifo = tmp_path / "pci.ids"
    os.mkfifo(fifo)  # a read would block for ever: refused from its stat, before any open
    for path in (fifo, tmp_path, "/dev/zero"):
        with pytest.raises(OSError, match="not a regular file|Is a directory"):
            PciIds.read(path)
