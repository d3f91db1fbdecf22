"""The bundled sample fabrics: every one loads, validates, survives save -> load and renders; each hand-written one
has the facts that make it the machine its comment and description say it is."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pytest

from p2ptui.cli.main import main
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import AcsSource
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Device, Fabric, IommuMode
from p2ptui.formats import dumps_fabric, load_fabric, loads_fabric, save_fabric
from p2ptui.formats.gallery import bundled, find_bundled

ALL = [entry.name for entry in bundled()]
HAND_WRITTEN = (
    "nvmeof-target",
    "nvmeof-target-iommu",
    "skylake-2s",
    "workstation-nonwl",
    "epyc-rome",
    "dgx-a100-like",
    "fpga-cascade",
    "sriov-nic",
)

# Every vendor:device the hand-written fabrics use, with its name in the pci.ids database (Debian package pci.ids
# 0.0~2023.04.11). 10b5:8796 (PLX PEX 8796) has no pci.ids entry; it is what lspci shows on real PEX 8796 switches.
KNOWN_IDS = {
    "1000:c010": "PEX880xx PCIe Gen 4 Switch",
    "1022:1480": "Starship/Matisse Root Complex",
    "1022:1483": "Starship/Matisse GPP Bridge",
    "10b5:8747": "PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch",
    "10b5:8796": "PEX 8796 (not in pci.ids)",
    "10b5:9733": "PEX 9733 33-lane, 9-port PCI Express Gen 3 (8.0 GT/s) Switch",
    "10de:10f7": "TU102 High Definition Audio Controller",
    "10de:1ad6": "TU102 USB 3.1 Host Controller",
    "10de:1ad7": "TU102 USB Type-C UCSI Controller",
    "10de:1aef": "GA102 High Definition Audio Controller",
    "10de:1db4": "GV100GL [Tesla V100 PCIe 16GB]",
    "10de:1e07": "TU102 [GeForce RTX 2080 Ti Rev. A]",
    "10de:20b0": "GA100 [A100 SXM4 40GB]",
    "10de:20f1": "GA100 [A100 PCIe 40GB]",
    "10de:2230": "GA102GL [RTX A6000]",
    "10ee:5004": "Alveo U250 XDMA Platform",
    "10ee:5005": "Alveo U250",
    "11f8:8534": "PM8534 PFX 64xG3 PCIe Fanout Switch",
    "144d:a808": "NVMe SSD Controller SM981/PM981/PM983",
    "144d:a824": "NVMe SSD Controller PM173X",
    "15b3:1017": "MT27800 Family [ConnectX-5]",
    "15b3:101b": "MT28908 Family [ConnectX-6]",
    "15b3:101d": "MT2892 Family [ConnectX-6 Dx]",
    "15b3:101e": "ConnectX Family mlx5Gen Virtual Function",
    "15b7:5006": "WD Black SN750 / PC SN730 NVMe SSD",
    "1a03:1150": "AST1150 PCI-to-PCI Bridge",
    "1a03:2000": "ASPEED Graphics Family",
    "1d6a:07b1": "AQC107 NBase-T/IEEE 802.3bz Ethernet Controller [AQtion]",
    "1de5:3000": "Eideticom eBPF-based PCIe Accelerator (NoLoad)",
    "8086:0a54": "NVMe Datacenter SSD [3DNAND, Beta Rock Controller] (P4510)",
    "8086:1520": "I350 Ethernet Controller Virtual Function",
    "8086:1521": "I350 Gigabit Network Connection",
    "8086:1901": "6th-10th Gen Core Processor PCIe Controller (x16)",
    "8086:1905": "Xeon E3-1200 v5/E3-1500 v5/6th Gen Core Processor PCIe Controller (x8)",
    "8086:2020": "Sky Lake-E DMI3 Registers",
    "8086:2030": "Sky Lake-E PCI Express Root Port A",
    "8086:2031": "Sky Lake-E PCI Express Root Port B",
    "8086:2032": "Sky Lake-E PCI Express Root Port C",
    "8086:2033": "Sky Lake-E PCI Express Root Port D",
    "8086:3e30": "8th/9th Gen Core 8-core Desktop Processor Host Bridge/DRAM Registers [Coffee Lake S]",
    "8086:3e98": "CoffeeLake-S GT2 [UHD Graphics 630]",
    "8086:a330": "Cannon Lake PCH PCI Express Root Port #9",
    "8086:a338": "Cannon Lake PCH PCI Express Root Port #1",
    "8086:a340": "Cannon Lake PCH PCI Express Root Port #17",
    "8086:f1a8": "SSD 660P Series",
}
# The only root-complex P2P figure the fabrics use: a Gen3-era root complex's P2P write rate (GB/s).
RC_WRITE_ANCHOR = 7.1
WHITELIST_IDS = Path(__file__).resolve().parents[1] / "data" / "p2pdma-whitelist-ids.txt"


def fabric(name: str) -> Fabric:
    path = find_bundled(name)
    assert path is not None, f"{name} is not bundled"
    return load_fabric(path)


def whitelist_ids() -> set[tuple[int, int]]:
    """Every vendor:device any kernel's P2PDMA host-bridge whitelist ever had (the test data file says where from)."""
    lines = WHITELIST_IDS.read_text(encoding="utf-8").splitlines()
    pairs = [line.split(":") for line in lines if line and not line.startswith("#")]
    return {(int(vendor, 16), int(device, 16)) for vendor, device in pairs}


def ids_of(dev: Device) -> tuple[int | None, int | None]:
    return (dev.vendor_id, dev.device_id)


def of_kind(f: Fabric, kind: DeviceKind) -> list[Device]:
    return [d for d in f if d.kind is kind]


def below(f: Fabric, top: Device) -> list[Device]:
    """Every function in the subtree under a bridge (VFs included)."""
    return [d for d in f if top in f.ancestors(d)]


def hops_to_common(f: Fabric, a: Device, b: Device) -> tuple[Device | None, int, int]:
    """The first device on a's upstream chain that is also on b's, and the hop counts from each side."""
    chain_b = f.upstream_chain(b)
    for hops_a, dev in enumerate(f.upstream_chain(a)):
        if dev in chain_b:
            return dev, hops_a, chain_b.index(dev)
    return None, -1, -1


# -- every bundled fabric ---------------------------------------------------------------------------------------
def test_the_gallery_holds_the_hand_written_fabrics():
    assert set(HAND_WRITTEN) <= set(ALL)


def test_spec_whitelist_reads_as_expected():
    ids = whitelist_ids()
    assert {(0x8086, 0x2020), (0x8086, 0x2033), (0x8086, 0x09A2), (0x1022, 0x1450)} <= ids
    assert (0x1022, 0x1480) not in ids  # proposed in 2020, never merged
    assert len(ids) >= 30


@pytest.mark.parametrize("name", ALL)
def test_bundled_fabric_loads_validates_and_round_trips(name, tmp_path, capsys):
    f = fabric(name)
    assert len(f) > 0 and f.root_buses
    assert main(["validate", name]) == 0
    assert f"{name}: ok: {f.name}" in capsys.readouterr().out
    assert loads_fabric(dumps_fabric(f)) == f
    saved = tmp_path / f"{name}.yaml"
    save_fabric(f, saved)
    assert load_fabric(saved) == f


@pytest.mark.parametrize("name", ALL)
def test_show_renders_every_function(name, capsys):
    f = fabric(name)
    assert main(["show", name]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f.name)
    body = "\n".join(lines[2:])
    for dev in f:
        assert body.count(f"{dev.bdf.short()}  {dev.kind.value}  {dev.name}  [{dev.ids}]") == 1, dev
    for rb in f.root_buses:
        assert f"[{rb}]" in body


# -- what every hand-written fabric carries ---------------------------------------------------------------------
@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_hand_written_fabric_is_documented(name):
    path = find_bundled(name)
    assert path.read_text(encoding="utf-8").startswith("# ")
    f = fabric(name)
    assert f.name and f.name != name
    assert 40 <= len(f.description) <= 250, "one or two lines for 'p2ptui fabrics'"
    host = f.host
    assert host.cpu_vendor in ("intel", "amd") and host.cpu_family is not None and host.cpu_model
    assert re.fullmatch(r"\d+\.\d+\.\d+-\S+", host.kernel)
    assert host.cmdline.startswith("BOOT_IMAGE=") and host.memory_bandwidth > 0


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_devices_carry_real_ids_and_the_usual_facts(name):
    f = fabric(name)
    for dev in f:
        assert dev.ids in KNOWN_IDS, f"{dev}: {dev.ids} is not one of the checked IDs"
        if dev.kind.is_bridge:
            assert dev.class_code == 0x060400, dev
            assert dev.driver == (None if dev.kind is DeviceKind.PCI_BRIDGE else "pcieport"), dev
        if dev.kind is DeviceKind.HOST_BRIDGE:
            assert dev.class_code == 0x060000 and f.parent(dev) is None
        if dev.kind.is_endpoint:
            assert dev.class_code is not None and dev.driver, dev
    for dev in f.endpoints():
        assert dev.numa_node is not None
        parent = f.parent(dev)
        if dev.is_vf:
            assert dev.link is None and dev.kind is f.physfn(dev).kind
        elif parent is not None and parent.kind is not DeviceKind.PCI_BRIDGE:  # not integrated, not behind conv. PCI
            assert f.uplink(dev) is not None, f"{dev} has no link"
    for rb in f.root_buses:
        assert rb.numa_node is not None
        assert all(d.numa_node in (None, rb.numa_node) for d in f if f.root_bus_of(d) == rb)


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_iommu_groups_and_acs_agree_with_the_boot_configuration(name):
    f = fabric(name)
    iommu_on = f.host.iommu in (IommuMode.TRANSLATED, IommuMode.PASSTHROUGH)
    assert all((d.iommu_group is not None) == iommu_on for d in f), "groups exist exactly when the IOMMU is on"
    defaults = acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF
    for dev in f:
        if dev.acs.source is not AcsSource.HARDWARE or not dev.kind.is_bridge:
            continue
        if iommu_on:
            assert dev.acs.ctrl == dev.acs.cap & defaults, f"{dev}: the kernel sets SV/RR/CR/UF with an IOMMU"
        else:
            assert dev.acs.ctrl == 0, f"{dev}: nothing sets ACS control bits without an IOMMU"


@pytest.mark.parametrize("name", HAND_WRITTEN)
def test_root_complex_caps_only_where_the_spec_anchors_them(name):
    for rb in fabric(name).root_buses:
        assert rb.p2p_read is None, "the spec has no P2P read figure for any of these root complexes"
        assert rb.p2p_write in (None, RC_WRITE_ANCHOR)


def test_somewhere_a_link_trained_below_what_both_ends_can_do():
    slow = [
        (n, d)
        for n in HAND_WRITTEN
        for f in [fabric(n)]
        for d in f.endpoints()
        if d.link and f.uplink(d) and (f.uplink(d).speed_below_max or f.uplink(d).width_degraded)
    ]
    assert {n for n, _ in slow} >= {"epyc-rome", "fpga-cascade"}


# -- b: nvmeof-target-iommu --------------------------------------------------------------------------------------
def test_iommu_variant_is_the_same_box_with_acs_redirect():
    plain, iommu = fabric("nvmeof-target"), fabric("nvmeof-target-iommu")
    assert iommu.host.iommu is IommuMode.TRANSLATED and "intel_iommu=on" in iommu.host.cmdline.split()

    def shape(d):
        return (d.bdf, d.kind, d.name, d.ids, d.parent, d.link, d.pool, d.numa_node)

    assert [shape(d) for d in plain] == [shape(d) for d in iommu]
    ports = of_kind(iommu, DeviceKind.SWITCH_DOWNSTREAM) + of_kind(iommu, DeviceKind.ROOT_PORT)
    assert len(ports) == 6
    for port in ports:
        assert port.acs.source is AcsSource.HARDWARE
        assert port.acs.ctrl & (acsbits.RR | acsbits.CR) == acsbits.RR | acsbits.CR
    assert all(not (d.acs.ctrl & acsbits.REDIRECT_BITS) for d in plain)


def test_iommu_variant_groups_follow_acs_isolation():
    f = fabric("nvmeof-target-iommu")
    groups = {}
    for d in f:
        groups.setdefault(d.iommu_group, []).append(d.name)
    nic_group = f.find("mlx5_0").iommu_group
    assert sorted(groups.pop(nic_group)) == ["mlx5_0", "mlx5_1"]  # one device, no function-level ACS
    assert all(len(members) == 1 for members in groups.values())


# -- c: skylake-2s -----------------------------------------------------------------------------------------------
def test_skylake_two_sockets_with_whitelisted_root_port_stacks():
    f, whitelist = fabric("skylake-2s"), whitelist_ids()
    assert f.host.cpu_vendor == "intel"
    assert {rb.numa_node for rb in f.root_buses} == {0, 1}
    assert {d.numa_node for d in f.endpoints()} == {0, 1}
    for rb in f.root_buses:
        rep = f.representative(rb)
        assert ids_of(rep) in whitelist
        if rb.bus == 0:
            assert rep.ids == "8086:2020" and rep.kind is DeviceKind.HOST_BRIDGE
        else:
            assert rep.kind is DeviceKind.ROOT_PORT and rep.ids in {f"8086:{i:04x}" for i in range(0x2030, 0x2034)}
    # The v5.19 case: a stack whose first function is a root port at a devfn other than 00.0.
    assert any(f.representative(rb).bdf.devfn != 0 for rb in f.root_buses)


def test_skylake_has_cross_root_port_and_cross_socket_pairs():
    f = fabric("skylake-2s")
    endpoints = f.endpoints()
    pairs = [(a, b) for a, b in itertools.combinations(endpoints, 2) if hops_to_common(f, a, b)[0] is None]
    assert len(pairs) == len(endpoints) * (len(endpoints) - 1) // 2, "every endpoint has a root port to itself"
    assert any(f.root_bus_of(a) == f.root_bus_of(b) for a, b in pairs)
    assert any(a.numa_node != b.numa_node for a, b in pairs)
    kinds_by_socket = {n: {d.kind for d in endpoints if d.numa_node == n} for n in (0, 1)}
    assert all({DeviceKind.GPU, DeviceKind.NIC, DeviceKind.NVME} <= kinds for kinds in kinds_by_socket.values())
    assert {d.numa_node for d in f.providers()} == {0, 1}


# -- d: workstation-nonwl ----------------------------------------------------------------------------------------
def test_workstation_host_bridge_is_not_whitelisted():
    f, whitelist = fabric("workstation-nonwl"), whitelist_ids()
    assert f.host.cpu_vendor == "intel" and len(f.root_buses) == 1
    rep = f.representative(f.root_buses[0])
    assert rep.kind is DeviceKind.HOST_BRIDGE and rep.bdf.devfn == 0
    assert ids_of(rep) not in whitelist and rep.vendor_id == 0x8086


def test_workstation_has_devices_on_cpu_and_chipset_root_ports():
    f = fabric("workstation-nonwl")
    ports = {p.ids: [c.kind for c in f.children(p)] for p in of_kind(f, DeviceKind.ROOT_PORT)}
    cpu_ports = {ids: kinds for ids, kinds in ports.items() if ids.startswith("8086:190")}
    pch_ports = {ids: kinds for ids, kinds in ports.items() if ids.startswith("8086:a3")}
    assert DeviceKind.GPU in sum(cpu_ports.values(), []) and DeviceKind.NVME in sum(cpu_ports.values(), [])
    assert sum(pch_ports.values(), []).count(DeviceKind.NVME) >= 1 and len(pch_ports) >= 2
    gpu = f.find("gpu0")
    assert gpu.link.width < gpu.link.max_width


# -- e: epyc-rome ------------------------------------------------------------------------------------------------
def test_rome_root_complexes():
    f, whitelist = fabric("epyc-rome"), whitelist_ids()
    assert f.host.cpu_vendor == "amd" and f.host.cpu_family >= 0x17
    per_socket = {n: [rb for rb in f.root_buses if rb.numa_node == n] for n in (0, 1)}
    assert all(len(buses) >= 4 for buses in per_socket.values())
    for rb in f.root_buses:
        rep = f.representative(rb)
        assert rep.ids == "1022:1480" and rep.kind is DeviceKind.HOST_BRIDGE
        assert ids_of(rep) not in whitelist
    assert {p.ids for p in of_kind(f, DeviceKind.ROOT_PORT)} == {"1022:1483"}
    for kind in (DeviceKind.GPU, DeviceKind.NIC, DeviceKind.NVME):
        assert len({f.root_bus_of(d) for d in of_kind(f, kind)}) >= 2, f"{kind} spread over root complexes"
        assert {d.numa_node for d in of_kind(f, kind)} == {0, 1}


# -- f: dgx-a100-like --------------------------------------------------------------------------------------------
def test_dgx_counts_and_sockets():
    f = fabric("dgx-a100-like")
    gpus, nics = of_kind(f, DeviceKind.GPU), of_kind(f, DeviceKind.NIC)
    assert len(gpus) == 8 and {g.ids for g in gpus} == {"10de:20b0"}
    assert len(nics) == 4 and {n.ids for n in nics} == {"15b3:101b"}
    assert {rb.numa_node for rb in f.root_buses} == {0, 1}
    assert all(g.pool is not None and g.pool.published for g in gpus)
    assert set(f.providers()) == set(gpus)


def test_dgx_each_switch_holds_two_gpus_a_nic_and_a_drive():
    f = fabric("dgx-a100-like")
    switches = of_kind(f, DeviceKind.SWITCH_UPSTREAM)
    assert len(switches) == 4 and {s.ids for s in switches} == {"1000:c010"}
    assert {s.numa_node for s in switches} == {0, 1}
    for usp in switches:
        kinds = [d.kind for d in below(f, usp) if d.kind.is_endpoint]
        assert sorted(kinds) == sorted([DeviceKind.GPU, DeviceKind.GPU, DeviceKind.NIC, DeviceKind.NVME])
        dsps = f.children(usp)
        assert all(d.acs.source is AcsSource.KERNEL_DEFAULT and d.acs.cap & acsbits.RR for d in dsps)
    # The switches' redirect bits are cleared on the command line, by vendor:device.
    assert "pci=disable_acs_redir=pci:1000:c010" in f.host.cmdline.split()


# -- g: fpga-cascade ---------------------------------------------------------------------------------------------
def test_fpga_cascade_has_a_switch_below_a_switch():
    f = fabric("fpga-cascade")
    cascaded = [u for u in of_kind(f, DeviceKind.SWITCH_UPSTREAM) if f.parent(u).kind is DeviceKind.SWITCH_DOWNSTREAM]
    assert len(cascaded) == 1
    deep = [d for d in below(f, cascaded[0]) if d.kind is DeviceKind.NVME]
    shallow = [d for d in of_kind(f, DeviceKind.NVME) if d not in deep and f.root_bus_of(d).bus == 0]
    assert len(deep) >= 2 and len(shallow) >= 2
    fpga = next(d for d in of_kind(f, DeviceKind.FPGA) if d.pool is not None)
    assert fpga.pool.published and fpga.pool.size >= 1 << 30
    top_usp = f.parent(f.parent(cascaded[0]))
    for nvme, expected in [(d, (2, 4)) for d in deep] + [(d, (2, 2)) for d in shallow]:
        common, hops_fpga, hops_nvme = hops_to_common(f, fpga, nvme)
        assert common == top_usp and (hops_fpga, hops_nvme) == expected, nvme
    assert f.host.iommu is IommuMode.OFF
    assert all(d.acs.ctrl == 0 for d in f)


# -- h: sriov-nic ------------------------------------------------------------------------------------------------
def test_sriov_vfs_hang_below_their_pfs_bridge():
    f = fabric("sriov-nic")
    vfs = [d for d in f if d.is_vf]
    assert len(vfs) >= 8
    for vf in vfs:
        pf = f.physfn(vf)
        assert f.upstream_bridge(vf) == f.parent(pf)
        assert vf.bdf.bus >= pf.bdf.bus and vf in f.virtfns(pf)
        assert pf not in f.upstream_chain(vf)
        assert vf.iommu_group not in {d.iommu_group for d in f if d != vf}
    # mlx5 puts VFs in the PFs' slot; the I350's VF offset puts them in other slots, interleaved between its PFs.
    assert any(vf.bdf.device == f.physfn(vf).bdf.device for vf in vfs)
    assert any(vf.bdf.device != f.physfn(vf).bdf.device for vf in vfs)
    i350_vfs = [vf for vf in vfs if vf.ids == "8086:1520"]
    assert {str(f.physfn(vf).bdf) for vf in i350_vfs} == {"0000:3b:00.0", "0000:3b:00.1"}
    assert all(vf.bdf.devfn - f.physfn(vf).bdf.devfn - 128 in (0, 4, 8, 12) for vf in i350_vfs)
    assert max(len(f.virtfns(pf)) for pf in {f.physfn(vf) for vf in vfs}) >= 4


def test_sriov_multifunction_devices_share_their_port():
    f = fabric("sriov-nic")
    quad = f.find("3b:00.0")
    siblings = f.siblings(quad)
    assert sorted(s.bdf.function for s in siblings) == [1, 2, 3]
    assert f.parent(quad).kind is DeviceKind.ROOT_PORT
    common, hops_a, hops_b = hops_to_common(f, quad, siblings[0])
    assert common == f.parent(quad) and hops_a + hops_b == 2
    pf0 = f.find("mlx5_0")
    assert [s.name for s in f.siblings(pf0)] == ["mlx5_1"]  # VFs are not functions of the slot
    assert f.parent(pf0).kind is DeviceKind.SWITCH_DOWNSTREAM
    gpu = f.find("gpu0")
    assert [s.kind for s in f.siblings(gpu)] == [DeviceKind.OTHER]
    assert gpu.iommu_group == f.siblings(gpu)[0].iommu_group
