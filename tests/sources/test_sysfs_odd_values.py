"""A real machine is never refused for one fact: odd sysfs values and hardware quirks the kernel walks past load
with that fact unknown (or corrected as the kernel corrects it) and one note per kind of oddity."""

from __future__ import annotations

import json
import shutil
import struct
import tarfile
from pathlib import Path

import pytest

from p2ptui.cli.main import main
from p2ptui.fabric import AcsSource, DeviceKind
from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.sources import sysfs
from p2ptui.sources.sysfs_synth import (
    PCIE_CAP,
    PT_RC_ENDPOINT,
    downstream,
    endpoint,
    host_bridge,
    root_port,
    upstream,
    write_sysfs,
)

DATA = Path(__file__).resolve().parents[1] / "data"
SUPERMICRO = DATA / "sysfs" / "32intel64-2p8co2t+8ve.tar.bz2"


def small_root(tmp_path: Path, **kw) -> Path:
    ssd = endpoint("01:00.0", nvme="nvme0", **kw)
    return write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0"), root_port("00:01.0", ssd)]})


def ssd_config(root: Path) -> Path:
    return next(root.glob("sys/devices/pci0000:00/*/0000:01:00.0/config"))


def edit_config(root: Path, offset: int, value: bytes) -> None:
    config = ssd_config(root)
    data = bytearray(config.read_bytes())
    data[offset : offset + len(value)] = value
    config.write_bytes(bytes(data))


def show(capsys, target: Path) -> str:
    assert main(["show", str(target)]) == 0
    out = capsys.readouterr()
    assert "Traceback" not in out.err
    return out.out


def notes_with(fabric, *words: str) -> list[str]:
    return [n for n in fabric.notes if all(w in n for w in words)]


@pytest.mark.parametrize(
    "override, field, words",
    [
        ({"numa_node": b"99999\n"}, "numa_node", "NUMA node beyond"),
        ({"current_link_width": b"9999\n"}, "width", "link width no PCIe link has"),
        ({"current_link_width": b"63\n"}, "width", "D3cold"),
        ({"max_link_width": b"255\n"}, "max_width", "the kernel's 'unknown'"),
        ({"max_link_speed": b"3.7 GT/s PCIe\n"}, "max_gen", "no PCIe generation"),
        ({"current_link_speed": b"fast\n"}, "gen", "not of the form"),
        ({"vendor": b"0xzzzz\n"}, "vendor_id", "not a hex number"),
        ({"class": b"0x1234567\n"}, "class_code", "not a hex number up to 0xffffff"),
        ({"vendor": b"\xff\xfe\x00\n"}, "vendor_id", "binary bytes"),
    ],
)
def test_an_odd_attribute_is_one_unknown_fact_and_a_note(tmp_path, override, field, words):
    # 64 bytes of config (a snapshot's): no PCI Express capability to fill in a link fact sysfs leaves unknown.
    f = sysfs.load(small_root(tmp_path, extra_files=override, config_size=64))
    ssd = f.find("nvme0")
    holder = ssd.link if field in ("width", "max_width", "gen", "max_gen") else ssd
    if field in ("vendor_id", "class_code"):
        assert getattr(ssd, field) == {"vendor_id": 0x144D, "class_code": 0x010802}[field]  # the header says it
    else:
        assert getattr(holder, field) is None
    (note,) = notes_with(f, words)
    assert "0000:01:00.0/" + next(iter(override)) in note


def test_one_note_per_kind_of_oddity_not_per_device(tmp_path, capsys):
    ssds = [endpoint(f"0{i}:00.0", extra_files={"max_link_width": b"255\n"}) for i in (1, 2, 3)]
    ports = [root_port(f"00:0{i}.0", ssd) for i, ssd in enumerate(ssds, start=1)]
    root = write_sysfs(tmp_path / "r", {"0000:00": ports})
    f = sysfs.load(root)
    (note,) = notes_with(f, "link width 255")
    assert "(3)" in note and all(f"0000:0{i}:00.0" in note for i in (1, 2, 3))


def test_rciep_is_shown_as_integrated_without_a_link(tmp_path, capsys):
    # As Linux 6.1 shows QEMU's NVMe on q35's pcie.0: port type 9, max_link_width 255, speed Unknown, width 0.
    files = {
        "max_link_width": b"255\n",
        "current_link_width": b"0\n",
        "max_link_speed": b"Unknown\n",
        "current_link_speed": b"Unknown\n",
    }
    rciep = endpoint("00:06.0", nvme="nvme0", port_type=PT_RC_ENDPOINT, extra_files=files)
    root = write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0"), rciep]})
    f = sysfs.load(root)
    dev = f.find("nvme0")
    assert dev.integrated and dev.link is None and dev.kind is DeviceKind.NVME
    assert notes_with(f, "root complex integrated endpoint", "0000:00:06.0")
    assert "nvme0  [144d:a808]  RCiEP: no link (integrated in the root complex)" in show(capsys, root)
    assert main(["show", "--json", str(root)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert next(d for d in data["devices"] if d["name"] == "nvme0")["integrated"] is True
    assert loads_fabric(dumps_fabric(f)) == f  # `integrated: true` in YAML


def test_endpoint_on_a_root_bus_without_config_is_inferred_integrated(tmp_path):
    rciep = endpoint(
        "00:06.0",
        nvme="nvme0",
        port_type=PT_RC_ENDPOINT,
        config_size=64,
        extra_files={"max_link_width": b"255\n", "current_link_width": b"0\n"},
    )
    f = sysfs.load(write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0"), rciep]}))
    assert f.find("nvme0").integrated
    (note,) = notes_with(f, "taken as integrated in the root complex")
    assert "0000:00:06.0" in note


def test_link_down_root_port_and_empty_slot(tmp_path, capsys):
    files = {"current_link_width": b"0\n", "current_link_speed": b"Unknown\n"}
    empty = root_port("00:02.0", secondary=2, extra_files=files, config_size=64)
    root = write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0"), empty]})
    f = sysfs.load(root)
    link = f.find("0000:00:02.0").link
    assert link.down and link.gen is None and link.width is None and link.max_width == 16
    assert (
        "rp0  [8086:2030]  link down (capable gen3 x16)  no traffic crosses it until it retrains  nothing below (empty slot or link down)"
        in show(capsys, root)
    )
    assert loads_fabric(dumps_fabric(f)) == f  # `down: true` in the YAML link


@pytest.mark.parametrize(
    "offset, value, words",
    [
        (0x41, b"\x40", "the capability list loops"),  # PM's next pointer back to itself
        (0x34, b"\x10", "a capability pointer points into the header"),
        (0x40, b"\xff", "a capability ID reads 0xff"),
        (0x102, struct.pack("<H", 0x0801), "an extended capability pointer leaves the extended space"),  # next 0x080
    ],
)
def test_capability_quirks_the_kernel_walks_past_load_with_a_note(tmp_path, capsys, offset, value, words):
    root = small_root(tmp_path)
    edit_config(root, offset, value)
    f = sysfs.load(root)
    assert f.find("nvme0").vendor_id == 0x144D
    (note,) = notes_with(f, words)
    assert "0000:01:00.0/config" in note
    show(capsys, root)


def test_reserved_mps_and_link_status_all_ones(tmp_path):
    root = small_root(tmp_path, link_files=False)
    devctl = struct.unpack_from("<H", ssd_config(root).read_bytes(), PCIE_CAP + 8)[0]
    edit_config(root, PCIE_CAP + 8, struct.pack("<H", (devctl & ~0xE0) | (6 << 5)))  # MPS code 6: reserved
    edit_config(root, PCIE_CAP + 0x12, b"\xff\xff")
    f = sysfs.load(root)
    link = f.find("nvme0").link
    assert link.mps is None and link.gen is None and link.width is None and link.max_width == 4
    assert notes_with(f, "reserved MPS/MRRS encoding", "0000:01:00.0/config (6/")
    assert notes_with(f, "Link Status register reading 0xffff", "0000:01:00.0/config")


def test_acs_control_bits_the_capability_does_not_offer_are_ignored(tmp_path):
    port = downstream("02:00.0", endpoint("03:00.0"), acs=(0x01, 0x0D))
    f = sysfs.load(write_sysfs(tmp_path / "r", {"0000:00": [root_port("00:01.0", upstream("01:00.0", port))]}))
    acs = f.find("0000:02:00.0").acs
    assert acs.source is AcsSource.HARDWARE and acs.ctrl == 0x01
    assert notes_with(f, "ACS control bits their ACS capability does not offer", "0000:02:00.0 (0xc)")


def test_switch_typed_port_on_a_root_bus_acts_as_a_root_port(tmp_path):
    root = write_sysfs(tmp_path / "r", {"0000:00": [downstream("00:01.0", endpoint("01:00.0", nvme="nvme0"))]})
    f = sysfs.load(root)
    assert f.find("0000:00:01.0").kind is DeviceKind.ROOT_PORT
    assert notes_with(f, "claims to be a switch port but sits on a root bus")


def test_root_port_below_a_switch_port_is_retyped_by_position(tmp_path):
    inner = root_port("02:00.0", endpoint("03:00.0"))
    f = sysfs.load(write_sysfs(tmp_path / "r", {"0000:00": [root_port("00:01.0", downstream("01:00.0", inner))]}))
    assert f.find("0000:02:00.0").kind is DeviceKind.SWITCH_DOWNSTREAM
    assert notes_with(f, "replaced by the kind its position implies", "0000:02:00.0")


def test_vf_whose_pf_is_absent_is_kept_as_a_function(tmp_path):
    nic = endpoint("01:00.0", class_code=0x020000, vfs=[endpoint("01:00.2", class_code=0x020000)])
    root = write_sysfs(tmp_path / "r", {"0000:00": [root_port("00:01.0", nic)]})
    shutil.rmtree(next(root.glob("sys/devices/pci0000:00/*/0000:01:00.0")))
    f = sysfs.load(root)
    vf = f.find("0000:01:00.2")
    assert vf.physfn is None and all(str(d.bdf) != "0000:01:00.0" for d in f)
    assert notes_with(f, "VFs whose physical function is absent", "0000:01:00.2/physfn")


def test_32_byte_config_loads_with_acs_unknown(tmp_path):
    root = small_root(tmp_path)
    config = ssd_config(root)
    config.write_bytes(config.read_bytes()[:32])
    f = sysfs.load(root)
    assert f.find("nvme0").acs.source is AcsSource.UNKNOWN
    assert notes_with(f, "less than the 64-byte header", "0000:01:00.0/config (32 bytes)")


def test_supermicro_snapshot_with_a_vector_engine_in_d3cold(tmp_path, capsys):
    # The real SYS-4029GP-TRT2 snapshot, one NEC vector engine edited into D3cold as Linux shows it: config reads
    # all ones, link width 63, speed Unknown.
    with tarfile.open(SUPERMICRO) as tar:
        tar.extractall(tmp_path, filter="data")
    (ve,) = tmp_path.glob("*/sys/devices/pci0000:17/0000:17:00.0/0000:18:00.0/0000:19:08.0/0000:1b:00.0")
    (ve / "config").write_bytes(b"\xff" * 64)
    for name in ("current_link_width", "max_link_width"):
        (ve / name).write_text("63\n")
    for name in ("current_link_speed", "max_link_speed"):
        (ve / name).write_text("Unknown\n")
    root = next(p for p in tmp_path.iterdir() if p.is_dir())
    f = sysfs.load(root)
    dev = f.find("0000:1b:00.0")
    assert len(f) == 29 and dev.ids == "1bcf:001c" and dev.kind is DeviceKind.ACCELERATOR
    assert dev.link is None or (dev.link.width, dev.link.max_width) == (None, None)
    (d3,) = notes_with(f, "answer config reads with all ones", "D3cold")
    assert "0000:1b:00.0/config" in d3
    (width,) = notes_with(f, "link width 63")
    assert "(2)" in width
    assert "1b:00.0  accelerator" in show(capsys, root)
