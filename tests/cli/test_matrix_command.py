"""Which functions the matrix pairs (the P2P endpoint definition) and how its table fits a terminal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_run import run_cli
from unknown_switch import switch_of

from p2ptui.cli import matrix_command
from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.endpoints import (
    EndpointClass,
    endpoint_class,
    p2p_endpoints,
    parse_only,
)
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Device, P2PPool
from p2ptui.fabric.synth import random_fabric
from p2ptui.p2p import pair_matrix, profile_for
from p2ptui.sources import open_fabric

DATA = Path(__file__).resolve().parents[1] / "data"
DELL = str(DATA / "hwloc" / "linux-32em64t-2n8c+dax+nvme+mic+dimms.xml")  # Dell DCS8000Z, 127 non-bridge functions
DELL_ENDPOINTS = ["0000:00:02.0", "0000:02:00.0", "0000:02:00.3", "0000:05:00.0", "0000:82:00.0", "0000:83:00.0"]
# hwloc records neither ACS, the IOMMU mode nor the kernel: these settle them, so every cell is certain.
KNOWN = ["--assume", "acs-clear", "--iommu", "off", "--kernel", "6.1", "--cpu", "intel:6"]


def _device(kind: DeviceKind, class_code: int | None, **extra) -> Device:
    return Device(BDF(0, 1, 0, 0), kind, "d", class_code=class_code, **extra)


@pytest.mark.parametrize(
    ("kind", "class_code", "extra", "expected"),
    [
        (DeviceKind.NVME, None, {}, EndpointClass.NVME),  # a YAML author's kind, no class code
        (DeviceKind.OTHER, 0x010802, {}, EndpointClass.NVME),
        (DeviceKind.OTHER, 0x010700, {}, EndpointClass.STORAGE),  # SAS HBA
        (DeviceKind.OTHER, 0x0C0400, {}, EndpointClass.STORAGE),  # Fibre Channel
        (DeviceKind.OTHER, 0x010601, {}, None),  # chipset AHCI
        (DeviceKind.OTHER, 0x040000, {}, EndpointClass.MULTIMEDIA),  # video capture
        (DeviceKind.OTHER, 0x040300, {}, None),  # a GPU's HDMI audio function
        (DeviceKind.OTHER, 0x050200, {}, EndpointClass.MEMORY),  # CXL type 3
        (DeviceKind.OTHER, 0x050000, {}, None),  # chipset shared SRAM
        (DeviceKind.OTHER, 0x088000, {}, None),  # system peripheral
        (DeviceKind.OTHER, 0xFF0000, {"vendor_id": 0x10EE}, EndpointClass.FPGA),
        (DeviceKind.OTHER, 0x088000, {"pool": P2PPool(1 << 20, 1 << 20)}, EndpointClass.OTHER),
        (DeviceKind.ROOT_PORT, 0x060400, {}, None),
        (DeviceKind.OTHER, 0x0B4000, {}, EndpointClass.ACCELERATOR),  # co-processor
        (DeviceKind.OTHER, 0x088000, {"driver": "idxd"}, EndpointClass.ACCELERATOR),  # DSA on a live machine
        (DeviceKind.OTHER, 0x088000, {"driver": "ioatdma"}, EndpointClass.ACCELERATOR),  # QuickData DMA channel
    ],
)
def test_endpoint_class_by_kind_class_vendor_and_pool(kind, class_code, extra, expected):
    assert endpoint_class(_device(kind, class_code, **extra)) is expected


def test_dell_dcs8000z_endpoints_are_its_devices_not_its_chipset():
    fabric = open_fabric(DELL)
    ends = p2p_endpoints(fabric)
    assert [str(d.bdf) for d in ends] == DELL_ENDPOINTS
    assert {endpoint_class(d) for d in ends} == {
        EndpointClass.NVME,
        EndpointClass.NIC,
        EndpointClass.GPU,
        EndpointClass.ACCELERATOR,
    }
    assert len(p2p_endpoints(fabric, everything=True)) == 127 == len(fabric.endpoints())
    assert [str(d.bdf) for d in p2p_endpoints(fabric, only={EndpointClass.NIC})] == DELL_ENDPOINTS[1:3] + [
        "0000:82:00.0"
    ]


def test_parse_only_takes_aliases_and_names_a_bad_word():
    assert parse_only("gpu, NIC,cxl,coprocessor") == {
        EndpointClass.GPU,
        EndpointClass.NIC,
        EndpointClass.MEMORY,
        EndpointClass.ACCELERATOR,
    }
    with pytest.raises(ValueError, match="'gpus' is not an endpoint class"):
        parse_only("gpus")


def test_matrix_lists_the_dell_endpoints_with_names_and_a_legend(capsys):
    code, out, _ = run_cli(capsys, "matrix", DELL, "--width", "100", *KNOWN)
    assert code == 0
    lines = out.splitlines()
    assert "6 P2P endpoints of 127 non-bridge functions; --all shows all 127" in " ".join(lines[:2])
    header = next(line for line in lines if line.split()[:1] == ["nvme0"])
    assert header.split() == ["nvme0", "eth0", "eth1", "vga0", "ib0", "accel0"]
    assert any("B BUS_ADDR" in line for line in lines) and any("PIX one bridge" in line for line in lines)
    eth0 = next(line for line in lines if line.startswith("eth0 "))
    assert eth0.split()[1:] == ["H3/PHB", "B0/X", "B2/PIX", "H5/PHB", "N4/SYS", "N4/SYS"]
    assert "dev" not in out  # no chipset function by its default name
    assert max(len(line) for line in lines) <= 100


@pytest.mark.parametrize("width", [70, 80, 132])
def test_all_functions_fit_the_width_in_column_blocks(capsys, width):
    code, out, _ = run_cli(capsys, "matrix", DELL, "--all", "--width", str(width))
    lines = out.splitlines()
    assert code == 0 and max(len(line) for line in lines) <= width
    assert "127 functions" in lines[0]
    blocks = [line for line in lines if line.startswith(("columns ", "column "))]
    assert len(blocks) > 1 and blocks[0].startswith("columns 0-") and blocks[-1].endswith("126:")
    rows = [line for line in lines if line.lstrip().startswith("126 ")]
    assert len(rows) == len(blocks)  # every block repeats every row


def test_compact_cells_agree_with_the_json(capsys):
    code, out, _ = run_cli(capsys, "matrix", "dgx-a100-like", "--width", "70", "--json")
    j = json.loads(out)
    assert code == 0
    code, text, _ = run_cli(capsys, "matrix", "dgx-a100-like", "--width", "70")
    row = next(line for line in text.splitlines() if line.split()[:2] == ["0", "gpu0"])
    assert code == 0
    letters = {"BUS_ADDR": "B", "THRU_HOST_BRIDGE": "H", "NOT_SUPPORTED": "N"}
    expected = [f"{letters[m]}{d}" for m, d in zip(j["map_type"][0], j["distance"][0], strict=True)]
    assert row.split()[2:] == expected


def test_csv_has_one_line_per_pair_and_only_narrows(capsys):
    code, out, _ = run_cli(capsys, "matrix", DELL, "--csv", "--only", "nic,nvme", *KNOWN)
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and len(rows) == 16
    pair = next(r for r in rows if r["provider_name"] == "eth0" and r["client_name"] == "eth1")
    assert pair == {
        "provider": "0000:02:00.0",
        "provider_name": "eth0",
        "client": "0000:02:00.3",
        "client_name": "eth1",
        "map_type": "BUS_ADDR",
        "distance": "2",
        "topo": "PIX",
        "certain": "True",
    }


def test_json_follows_the_same_selection(capsys):
    code, out, _ = run_cli(capsys, "matrix", DELL, "--json")
    assert json.loads(out)["devices"] == DELL_ENDPOINTS
    code, out, _ = run_cli(capsys, "matrix", DELL, "--json", "--all")
    assert code == 0 and len(json.loads(out)["devices"]) == 127


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--only", "gpus"], "--only: 'gpus' is not an endpoint class"),
        (["--json", "--csv"], "--json and --csv exclude each other"),
        (["--width", "12"], "--width 12 is too narrow"),
    ],
)
def test_bad_flags_are_one_line_errors(capsys, argv, message):
    code, out, err = run_cli(capsys, "matrix", DELL, *argv)
    assert code == 2 and out == "" and len(err.splitlines()) == 1 and message in err


def test_check_still_takes_a_chipset_function(capsys):
    code, out, _ = run_cli(capsys, "check", DELL, "dev11", "nvme0")
    assert code in (0, 1, 3) and "provider     dev11 (0000:00:16.0)" in out  # 3: depends on unknown facts


def test_validate_counts_p2p_endpoints(capsys):
    code, out, _ = run_cli(capsys, "validate", DELL)
    assert code == 0 and "6 P2P endpoints of 127 non-bridge functions" in out


def test_header_names_the_classes_and_an_empty_choice_says_so(capsys):
    code, out, _ = run_cli(capsys, "matrix", DELL, "--only", "nic,gpu", "--width", "200")
    assert code == 0 and "4 P2P endpoints (gpu, nic) of 127 non-bridge functions;" in out.splitlines()[0]
    code, out, _ = run_cli(capsys, "matrix", DELL, "--only", "cxl", "--width", "200")
    assert (
        code == 0 and out.splitlines()[-1] == "no endpoints to pair (--all lists every function that is not a bridge)"
    )
    code, out, _ = run_cli(capsys, "matrix", str(DATA / "hwloc" / "32em64t-2n8c2t-pci-noio.xml"))
    assert code == 0 and out.splitlines()[-1] == "no endpoints to pair"


@pytest.mark.parametrize("width", [80, 400])
def test_cells_made_once_per_class_pair_read_as_cell_by_cell(width: int, monkeypatch) -> None:
    """The text matrix makes each cell's text once per pair of classes: the same text as reading every cell (wide:
    map type, distance and topo -m class; narrow: the compact cells), here with cells that depend on unknown ACS."""
    fabrics = [switch_of(30), random_fabric(3), random_fabric(8)]
    matrices = [pair_matrix(f, profile_for(f, kernel="5.4", iommu="on")) for f in fabrics]
    assert any(m.certain is not None for m in matrices)
    once = [matrix_command.render_matrix(f, m, width) for f, m in zip(fabrics, matrices, strict=True)]
    monkeypatch.setattr(matrix_command, "per_class_pair", lambda arrays, make: make)
    assert once == [matrix_command.render_matrix(f, m, width) for f, m in zip(fabrics, matrices, strict=True)]
