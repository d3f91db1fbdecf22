"""The sysfs reader on synthetic roots written by p2ptui.sources.sysfs_synth: kinds, links, ACS, pools, VFs, names, host."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from p2ptui.fabric import BDF, AcsSource, DeviceKind, IommuMode, Link
from p2ptui.fabric.acs import CR, RR, SV
from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.sources import sysfs
from p2ptui.sources.sysfs_synth import (
    PT_DOWNSTREAM,
    PT_UPSTREAM,
    Fn,
    HostSpec,
    endpoint,
    host_bridge,
    iter_functions,
    root_port,
    switch_fabric,
    tar_root,
    write_sysfs,
)


def load(root: Path):
    return sysfs.load(root)


@pytest.fixture
def switch_root(tmp_path):
    return write_sysfs(tmp_path / "box", switch_fabric(4, vfs=2), HostSpec(iommu_units=("dmar0",)))


def test_switch_tree_kinds_and_parents(switch_root):
    f = load(switch_root)
    assert len(f) == 13
    assert [str(rb) for rb in f.root_buses] == ["0000:00"]
    kinds = {str(d.bdf.short()): d.kind for d in f}
    assert kinds["00:00.0"] is DeviceKind.HOST_BRIDGE
    assert kinds["00:01.0"] is DeviceKind.ROOT_PORT
    assert kinds["01:00.0"] is DeviceKind.SWITCH_UPSTREAM
    assert [kinds[f"02:0{i}.0"] for i in range(4)] == [DeviceKind.SWITCH_DOWNSTREAM] * 4
    assert kinds["03:00.0"] is DeviceKind.NIC and kinds["04:00.0"] is DeviceKind.NVME
    nvme0 = f.find("nvme0")
    assert [d.bdf.short() for d in f.upstream_chain(nvme0)] == ["04:00.0", "02:01.0", "01:00.0", "00:01.0"]
    assert f.representative(f.root_buses[0]).bdf.short() == "00:00.0"
    assert f.notes == ()


def test_attributes_links_and_mps(switch_root):
    f = load(switch_root)
    rp = f.find("00:01.0")
    assert (rp.vendor_id, rp.device_id, rp.class_code, rp.revision) == (0x8086, 0x2030, 0x060400, 1)
    assert rp.driver == "pcieport" and rp.iommu_group == 1
    assert rp.link == Link(gen=4, width=16, max_gen=4, max_width=16, mps=256, mrrs=512)
    ssd = f.find("nvme1")
    assert ssd.subsystem_vendor_id == 0x1B4B and ssd.numa_node == 0 and ssd.driver == "nvme"
    assert ssd.link == Link(4, 4, 4, 4, 256, 512)
    assert f.find("00:00.0").link is None  # host bridges have no link
    assert f.find("00:00.0").numa_node is None  # sysfs -1 means no affinity


def test_acs_registers_are_read_from_extended_config(switch_root):
    f = load(switch_root)
    rp, usp, dsp1 = f.find("00:01.0"), f.find("01:00.0"), f.find("02:01.0")
    assert rp.acs.source is AcsSource.HARDWARE and (rp.acs.cap, rp.acs.ctrl) == (0x1F, 0)
    assert usp.acs.source is AcsSource.NONE  # no ACS extended capability at all
    assert dsp1.acs.source is AcsSource.HARDWARE and dsp1.acs.ctrl == SV | RR | CR and dsp1.acs.cap == 0x5F


def test_p2p_pools(switch_root):
    f = load(switch_root)
    pools = {d.name: d.pool for d in f.providers(published_only=False)}
    assert set(pools) == {"nvme0", "nvme1", "nvme2"}
    assert (pools["nvme0"].size, pools["nvme0"].available) == (64 << 20, 32 << 20)
    assert pools["nvme0"].published and pools["nvme0"].allocate
    assert not pools["nvme1"].allocate  # no allocate file (kernel < 6.2)


def test_vfs_hang_below_the_pf_bridge(switch_root):
    f = load(switch_root)
    pf = f.find("03:00.0")
    vfs = f.virtfns(pf)
    assert [v.bdf.short() for v in vfs] == ["03:00.1", "03:00.2"]
    assert all(v.physfn == pf.bdf and v.parent == pf.parent and v.kind is DeviceKind.NIC for v in vfs)
    assert all(v.link is None for v in vfs) and f.uplink(vfs[0]) == f.uplink(pf)
    assert [v.iommu_group for v in vfs] == [40, 41]


def test_names_from_classes_then_kind_and_index(switch_root):
    f = load(switch_root)
    assert f.find("03:00.0").name == "ens1f0np0"  # net interface before the RDMA device (mlx5_0)
    assert [f.find(f"0{4 + i}:00.0").name for i in range(3)] == ["nvme0", "nvme1", "nvme2"]
    assert f.find("03:00.1").name == "nic0" and f.find("02:00.0").name == "dsp0" and f.find("00:01.0").name == "rp0"


def test_class_name_wins_and_defaults_skip_it(tmp_path):
    # The class name "nvme0" belongs to the second drive; the first, unnamed one must not also become nvme0.
    spec = {
        "0000:00": [
            endpoint("00:02.0"),
            endpoint("00:03.0", nvme="nvme0"),
            endpoint("00:04.0", rdma="mlx5_0", class_code=0x020700),
        ]
    }
    f = load(write_sysfs(tmp_path / "r", spec))
    assert [d.name for d in f] == ["nvme1", "nvme0", "mlx5_0"]


def test_host_facts(switch_root):
    f = load(switch_root)
    h = f.host
    assert (h.cpu_vendor, h.cpu_family, h.kernel) == ("intel", 6, "6.8.0-45-generic")
    assert h.cpu_model.startswith("Intel(R) Xeon(R) Gold 6130")
    assert h.cmdline == "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro"
    assert h.iommu is IommuMode.TRANSLATED


@pytest.mark.parametrize(
    "spec, mode, noted",
    [
        (HostSpec(iommu_units=("dmar0",), iommu_type="identity"), IommuMode.PASSTHROUGH, False),
        (HostSpec(iommu_units=("dmar0",), iommu_type="DMA-FQ"), IommuMode.TRANSLATED, False),
        (HostSpec(iommu_units=()), IommuMode.OFF, False),
        (HostSpec(class_iommu=False), IommuMode.UNKNOWN, True),
        (HostSpec(vendor_id="AuthenticAMD", family=0x19, iommu_units=("ivhd0",)), IommuMode.TRANSLATED, False),
    ],
)
def test_iommu_modes(tmp_path, spec, mode, noted):
    groups = spec.iommu_units != ()
    fns = [host_bridge("00:00.0"), endpoint("00:02.0", iommu_group=3 if groups else None)]
    f = load(write_sysfs(tmp_path / "r", {"0000:00": fns}, spec))
    assert f.host.iommu is mode
    assert any("IOMMU" in n for n in f.notes) == noted


def test_amd_host(tmp_path):
    f = load(write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0")]}, HostSpec("AuthenticAMD", 0x19)))
    assert (f.host.cpu_vendor, f.host.cpu_family) == ("amd", 0x19)


def test_snapshot_config_of_64_bytes_leaves_acs_unknown_and_says_so(tmp_path):
    spec = switch_fabric(3)
    for fn in iter_functions(spec["0000:00"]):
        fn.config_size = 64
    f = load(write_sysfs(tmp_path / "r", spec))
    assert all(d.acs.source is AcsSource.UNKNOWN for d in f)
    note = next(n for n in f.notes if n.startswith("ACS state unknown"))
    assert "9 of 9" in note and "run as root or load `lspci -vvv` output" in note
    # Port types are not readable, so bridges are placed by position, which gives the same kinds here.
    assert [d.kind for d in f if d.kind.is_bridge] == [DeviceKind.ROOT_PORT, DeviceKind.SWITCH_UPSTREAM] + [
        DeviceKind.SWITCH_DOWNSTREAM
    ] * 3
    assert any("inferred from their position" in n for n in f.notes)
    assert f.find("nvme0").link == Link(4, 4, 4, 4, mps=None, mrrs=None)  # sysfs link files; MPS lives in config


def test_256_byte_pcie_config_means_no_acs_as_for_the_kernel(tmp_path):
    port = root_port("00:1c.0", endpoint("01:00.0"), acs=(0x1F, 0x0C), config_size=256)
    f = load(write_sysfs(tmp_path / "r", {"0000:00": [port]}))
    dsp = f.find("00:1c.0")
    assert dsp.acs.source is AcsSource.NONE
    assert any("256 bytes" in n for n in f.notes)


def test_misreported_port_types_are_corrected_as_the_kernel_does(tmp_path):
    # A switch whose upstream port claims to be downstream, and whose downstream port claims to be upstream.
    dsp = Fn("02:00.0", class_code=0x060400, port_type=PT_UPSTREAM, children=[endpoint("03:00.0")])
    usp = Fn("01:00.0", class_code=0x060400, port_type=PT_DOWNSTREAM, children=[dsp])
    f = load(write_sysfs(tmp_path / "r", {"0000:00": [root_port("00:01.0", usp)]}))
    assert f.find("01:00.0").kind is DeviceKind.SWITCH_UPSTREAM
    assert f.find("02:00.0").kind is DeviceKind.SWITCH_DOWNSTREAM
    assert sum("corrected" in n for n in f.notes) == 2


def test_conventional_pci_bridge_and_empty_ports(tmp_path):
    legacy = Fn("05:01.0", port_type=None, link=None, class_code=0x020000)
    bridge = Fn("00:1e.0", class_code=0x060401, port_type=None, link=None, children=[legacy])
    empty_rp = root_port("00:1c.0", secondary=4)
    f = load(write_sysfs(tmp_path / "r", {"0000:00": [bridge, empty_rp]}))
    assert f.find("00:1e.0").kind is DeviceKind.PCI_BRIDGE
    assert f.find("05:01.0").parent == BDF(0, 0, 0x1E, 0) and f.find("05:01.0").link is None
    assert f.find("00:1c.0").kind is DeviceKind.ROOT_PORT and f.children(f.find("00:1c.0")) == []


def test_several_root_buses_and_32_bit_domains(tmp_path):
    spec = {
        "0000:00": [host_bridge("00:00.0"), endpoint("00:03.0", class_code=0x020000, net="ens3")],
        "10000:00": [host_bridge("00:00.0"), endpoint("00:04.0", class_code=0x010000)],
        "0000:80": [root_port("80:01.0", endpoint("81:00.0", nvme="nvme0"), numa_node=1)],
    }
    f = load(write_sysfs(tmp_path / "r", spec))
    assert [str(rb) for rb in f.root_buses] == ["0000:00", "0000:80", "10000:00"]
    assert str(f.find("10000:00:04.0").bdf) == "10000:00:04.0"
    assert f.root_buses[1].numa_node == 1 and f.root_buses[1].host_bridge == "pci0000:80"
    assert f.root_bus_of(f.find("nvme0")).bus == 0x80


def _relink(root: Path, bdf: str, target: Path) -> None:
    link = root / "sys/bus/pci/devices" / bdf
    link.unlink()
    os.symlink(os.path.relpath(target, link.parent), link)


def test_root_bus_outside_sys_devices_is_found_through_bus_links(tmp_path):
    # Hyper-V hangs its PCI root buses below the VMBus device, not directly in /sys/devices.
    root = write_sysfs(tmp_path / "r", {"7870:00": [endpoint("00:02.0", nvme="nvme0")]})
    deep = root / "sys/devices/LNXSYSTM:00/VMBUS:00/f8b3781a-1e82"
    deep.mkdir(parents=True)
    shutil.move(root / "sys/devices/pci7870:00", deep / "pci7870:00")
    _relink(root, "7870:00:02.0", deep / "pci7870:00/7870:00:02.0")
    f = load(root)
    assert [str(rb) for rb in f.root_buses] == ["7870:00"] and f.find("nvme0").bdf.domain == 0x7870


def test_vmd_domain_nested_below_its_endpoint(tmp_path):
    root = write_sysfs(
        tmp_path / "r",
        {
            "0000:00": [host_bridge("00:00.0"), endpoint("00:0e.0", vendor=0x8086, device=0x467F, class_code=0x010400)],
            "10000:00": [root_port("00:02.0", endpoint("01:00.0", nvme="nvme0"))],
        },
    )
    vmd = root / "sys/devices/pci0000:00/0000:00:0e.0"
    shutil.move(root / "sys/devices/pci10000:00", vmd / "pci10000:00")
    _relink(root, "10000:00:02.0", vmd / "pci10000:00/10000:00:02.0")
    _relink(root, "10000:01:00.0", vmd / "pci10000:00/10000:00:02.0/10000:01:00.0")
    f = load(root)
    assert [str(rb) for rb in f.root_buses] == ["0000:00", "10000:00"]
    assert f.find("nvme0").parent == BDF(0x10000, 0, 2, 0)
    assert f.find("00:0e.0").kind is DeviceKind.OTHER  # the VMD endpoint stays an endpoint


def test_yaml_round_trip_of_a_scanned_root(switch_root):
    f = load(switch_root)
    assert loads_fabric(dumps_fabric(f)) == f


def test_tarball_of_a_root_reads_the_same(switch_root, tmp_path):
    for suffix in (".tar", ".tar.gz", ".tar.bz2", ".tar.xz"):
        tarball = tar_root(switch_root, tmp_path / f"snap{suffix}", arcname="box")
        g = sysfs.load(tarball)
        assert g.name == "snap"
        assert g.devices == load(switch_root).devices and g.host == load(switch_root).host
