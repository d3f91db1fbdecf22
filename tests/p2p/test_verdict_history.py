"""Historical profiles: the kernel-scenarios fabric's scenarios under v4.20, v5.2, v5.4-v5.8, v5.9-v5.13 rules, plus the
representative-device rule and the ACS list buffer by era."""

from __future__ import annotations

import fabric_edits
import pytest
from p2p_scenario_support import NON_WL_INTEL, dsp_redirect, one, scenario_fabric, summary, verdict, with_hb0, with_hb1

from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import Acs, AcsSource
from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Device, Fabric, Host, RootBus
from p2ptui.formats import loads_fabric
from p2ptui.p2p.messages import NonPciClient

F = scenario_fabric
OLD = ["4.20", "5.0", "5.1", "5.2", "5.3"]


@pytest.mark.parametrize("kernel", OLD)
@pytest.mark.parametrize(
    "provider, client, dist",
    [
        ("nvme-a", "nvme-a", 0),
        ("rnic0", "rnic1", 2),
        ("rnic0", "rnic0-vf0", 2),
        ("nvme-a", "rnic0", 4),
        ("nvme-c", "rnic0", 6),
    ],
)
def test_old_eras_common_bridge_paths_as_modern(kernel, provider, client, dist):
    assert summary(verdict(F(), provider, [client], kernel=kernel)) == (["BUS_ADDR"], [dist], dist)


@pytest.mark.parametrize("kernel", ["4.20", "5.2"])
@pytest.mark.parametrize("setup", ["6", "7", "9", "10"])
def test_old_eras_acs_redirect_is_minus_two(kernel, setup):
    f = F()
    if setup in ("6", "7"):
        f = dsp_redirect(f)
        listed = "0000:02:00.0;0000:02:01.0"
    elif setup == "9":
        f = fabric_edits.with_acs(f, "dsp0", ctrl=acsbits.EC)
        listed = "0000:02:00.0"
    else:
        f = fabric_edits.with_acs(f, "usp0", cap=acsbits.RR, ctrl=acsbits.RR)
        listed = "0000:01:00.0"
    if setup == "7":
        f = with_hb0(f, NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"], kernel=kernel)
    assert summary(v) == (["NOT_SUPPORTED"], [-2], -1)
    assert v.messages == [
        "mlx5_core 0000:04:00.0: cannot be used for peer-to-peer DMA as ACS redirect is set between the client and "
        "provider (0000:03:00.0)",
        f"mlx5_core 0000:04:00.0: to disable ACS redirect for this path, add the kernel parameter: "
        f"pci=disable_acs_redir={listed}",
    ]


def test_v52_whitelist_not_consulted_for_acs_redirect():
    f = with_hb0(dsp_redirect(F()), (0x1022, 0x1450))
    assert verdict(f, "nvme-a", ["rnic0"], kernel="5.2", iommu="off").distance == -1
    assert one(verdict(f, "nvme-a", ["rnic0"], kernel="5.2", iommu="off")).distance == -2


@pytest.mark.parametrize("kernel", OLD)
@pytest.mark.parametrize(
    "provider, client, hb0, hb1",
    [
        ("nvme-d", "gpu0", (0x8086, 0x2F00), None),  # 12
        ("nvme-d", "gpu0", NON_WL_INTEL, None),  # 13
        ("nvme-a", "gpu0", (0x8086, 0x09A2), None),  # 15
        ("nvme-e", "nvme-d", (0x8086, 0x2F00), (0x8086, 0x2F00)),  # 16
        ("nvme-e", "nvme-d", (0x8086, 0x2030), (0x8086, 0x2033)),  # 17
        ("dsa0", "dsa1", None, None),  # 19
    ],
)
def test_old_eras_no_common_bridge_is_minus_one(kernel, provider, client, hb0, hb1):
    f = F()
    f = with_hb0(f, hb0) if hb0 else f
    f = with_hb1(f, hb1) if hb1 else f
    v = verdict(f, provider, [client], kernel=kernel, cpu="amd:0x19")  # the CPU rule did not exist yet
    assert summary(v) == (["NOT_SUPPORTED"], [-1], -1)
    c, p = v.clients[0].client, v.provider
    assert v.messages == [
        f"{c.driver} {c.bdf}: cannot be used for peer-to-peer DMA as the client and provider ({p.bdf}) do not share "
        "an upstream bridge"
    ]


def test_v52_amd_zen_root_complex_without_iommu():
    f = with_hb0(F(), (0x1022, 0x1450))
    v = verdict(f, "nvme-d", ["gpu0"], kernel="5.2", iommu="off", cpu="amd:0x17")
    assert summary(v) == (["THRU_HOST_BRIDGE"], [4100], 4100) and v.messages == []
    assert one(verdict(f, "nvme-a", ["gpu0"], kernel="5.3", iommu="off")).distance == 0x1000 + 6
    for mode in ("on", "pt"):  # iommu_present() is true with passthrough too
        assert verdict(f, "nvme-d", ["gpu0"], kernel="5.2", iommu=mode).distance == -1
    assert verdict(f, "nvme-d", ["gpu0"], kernel="4.20", iommu="off").distance == -1
    # both root complexes must be 1022:1450: the other host bridge is Intel
    assert verdict(f, "nvme-e", ["nvme-d"], kernel="5.2", iommu="off").distance == -1
    both = with_hb1(f, (0x1022, 0x1450))
    assert verdict(both, "nvme-e", ["nvme-d"], kernel="5.2", iommu="off").distance == 0x1000 + 4


@pytest.mark.parametrize(
    "kernel, ids, expect",
    [
        ("5.4", (0x8086, 0x2F00), "THRU_HOST_BRIDGE"),
        ("5.4", (0x8086, 0x3C01), "THRU_HOST_BRIDGE"),
        ("5.4", (0x8086, 0x2020), "NOT_SUPPORTED"),
        ("5.6", (0x8086, 0x2020), "THRU_HOST_BRIDGE"),
        ("5.6", (0x8086, 0x2031), "NOT_SUPPORTED"),
        ("5.7", (0x8086, 0x2031), "THRU_HOST_BRIDGE"),
        ("5.4", (0x1022, 0x1450), "THRU_HOST_BRIDGE"),
        ("5.8", (0x1022, 0x1450), "THRU_HOST_BRIDGE"),
        ("5.9", (0x1022, 0x1450), "NOT_SUPPORTED"),  # table entry gone, and this CPU is Intel
        ("5.7", (0x1022, 0x15D0), "NOT_SUPPORTED"),
        ("5.8", (0x1022, 0x15D0), "THRU_HOST_BRIDGE"),
        ("5.8", (0x1022, 0x1630), "THRU_HOST_BRIDGE"),
        ("5.17", (0x8086, 0x09A2), "NOT_SUPPORTED"),
        ("5.18", (0x8086, 0x09A2), "THRU_HOST_BRIDGE"),
        ("7.0", (0x1AE0, 0x1234), "NOT_SUPPORTED"),
        ("7.1", (0x1AE0, 0x1234), "THRU_HOST_BRIDGE"),
        ("7.2", (0x10DE, 0x2F95), "NOT_SUPPORTED"),
        ("7.3", (0x10DE, 0x2F95), "THRU_HOST_BRIDGE"),
        ("7.3", (0x1D17, 0x1003), "NOT_SUPPORTED"),
        ("latest", (0x1D17, 0x1003), "THRU_HOST_BRIDGE"),
    ],
)
def test_whitelist_by_release(kernel, ids, expect):
    v = verdict(with_hb0(F(), ids), "nvme-d", ["gpu0"], kernel=kernel)
    assert one(v).map_type.value == expect and one(v).distance == 4


def test_v5_4_to_5_8_amd_rome_is_not_allowed():
    f = with_hb0(F(), (0x1022, 0x1480))
    for kernel in ("5.4", "5.8"):
        assert verdict(f, "nvme-d", ["gpu0"], kernel=kernel, cpu="amd:0x17").distance == -1
    for kernel in ("5.9", "5.13", "5.14", "latest"):
        assert verdict(f, "nvme-d", ["gpu0"], kernel=kernel, cpu="amd:0x17").distance == 4
    assert verdict(f, "nvme-d", ["gpu0"], kernel="latest", cpu="amd:0x15").distance == -1  # pre-Zen
    assert verdict(f, "nvme-d", ["gpu0"], kernel="latest", cpu="hygon:0x18").distance == -1  # not X86_VENDOR_AMD


@pytest.mark.parametrize(
    "kernel, warned", [("5.4", False), ("5.9", False), ("5.13", False), ("5.14", True), ("6.1", True), ("7.1", True)]
)
def test_whitelist_warning_from_v5_14_only(kernel, warned):
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"], kernel=kernel)
    assert summary(v) == (["NOT_SUPPORTED"], [4], -1)
    warning = "pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:3e30"
    assert (warning in v.messages) is warned
    assert v.messages[0].startswith("mlx5_core 0000:04:00.0: ACS redirect is set between")  # v5.4 wording
    assert v.messages[-1].endswith("do not share an upstream bridge or whitelisted host bridge")


def test_dma_virt_ops_client_while_it_existed():
    soft = NonPciClient(name="rxe0", bus="infiniband", driver="rdma_rxe", pci_parent="rnic0", dma_virt_ops=True)
    old = verdict(F(), "nvme-a", [soft], kernel="5.4")
    assert old.distance == -1
    assert old.messages == [
        "rdma_rxe rxe0: cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops"
    ]
    assert summary(verdict(F(), "nvme-a", [soft], kernel="5.14")) == (["BUS_ADDR"], [4], 4)
    assert summary(verdict(F(), "nvme-a", [soft], kernel="4.20")) == (["BUS_ADDR"], [4], 4)


def _rp_led_fabric(first_slot: int) -> Fabric:
    """A Skylake-SP stack whose root bus starts with a root port (8086:2030) at devfn first_slot.0."""
    text = f"""
format: p2ptui-fabric/1
name: skylake-stack
host: {{cpu: {{vendor: intel, family: 6}}, kernel: '6.1', iommu: 'off'}}
root_complexes:
  - bus: 0000:3a
    devices:
      - bdf: 3a:{first_slot:02x}.0
        kind: root_port
        id: 8086:2030
        children:
          - {{bdf: 3b:00.0, kind: nvme, name: nvme0, id: 144d:a808, p2pmem: 64MiB}}
      - bdf: 3a:{first_slot + 1:02x}.0
        kind: root_port
        id: 8086:2031
        children:
          - {{bdf: 3c:00.0, kind: gpu, name: gpu0, id: 10de:20b0}}
"""
    return loads_fabric(text)


@pytest.mark.parametrize(
    "kernel, slot, expect",
    [
        ("5.13", 0, 4),
        ("5.14", 0, 4),
        ("5.18", 0, 4),
        ("5.19", 0, 4),
        ("5.13", 2, -1),
        ("5.14", 2, -1),
        ("5.18", 2, -1),
        ("5.19", 2, 4),
        ("latest", 2, 4),
    ],
)
def test_representative_rule_by_release(kernel, slot, expect):
    f = _rp_led_fabric(slot)
    assert verdict(f, "nvme0", ["gpu0"], kernel=kernel).distance == expect


def test_slot_rule_versus_first_device_rule():
    """v5.2-5.13 look up slot 00.0 wherever it is; v5.14-5.18 take the first device only if it is 00.0. With the
    functions of a root bus in devfn order the two agree, so both pick the host bridge here."""
    for kernel in ("5.6", "5.13", "5.14", "5.18"):
        assert verdict(F(), "nvme-d", ["gpu0"], kernel=kernel).distance == 4


def _cascade(levels: int) -> Fabric:
    """A root port, then ``levels`` cascaded switches, every port with live RR: long ACS lists."""
    rr = Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=acsbits.RR)
    devs = [
        Device(BDF(0, 0, 0, 0), DeviceKind.HOST_BRIDGE, "hb", vendor_id=0x8086, device_id=0x2020),
        Device(BDF(0, 0, 1, 0), DeviceKind.ROOT_PORT, "rp", acs=rr),
    ]
    parent, bus = BDF(0, 0, 1, 0), 1
    for level in range(levels):
        usp = BDF(0, bus, 0, 0)
        devs.append(Device(usp, DeviceKind.SWITCH_UPSTREAM, f"usp{level}", parent=parent, acs=rr))
        down = BDF(0, bus + 1, 0, 0)
        devs.append(Device(down, DeviceKind.SWITCH_DOWNSTREAM, f"dsp{level}a", parent=usp, acs=rr))
        side = BDF(0, bus + 1, 1, 0)
        devs.append(Device(side, DeviceKind.SWITCH_DOWNSTREAM, f"dsp{level}b", parent=usp, acs=rr))
        devs.append(Device(BDF(0, bus + 2, 0, 0), DeviceKind.NVME, f"side{level}", parent=side))
        parent, bus = down, bus + 3
    devs.append(Device(BDF(0, bus, 0, 0), DeviceKind.NVME, "deep", parent=parent))
    return Fabric("cascade", (RootBus(0, 0),), tuple(devs), host=Host(cpu_vendor="intel", cpu_family=6))


def test_acs_list_truncated_to_128_bytes_from_v5_14():
    f = _cascade(6)
    v_new = verdict(f, "deep", ["side0"], kernel="5.14")
    hits = [str(d.bdf) for d in one(v_new).acs_redirect]
    assert len(hits) == 13  # dsp5a usp5 ... dsp0a usp0 (common), then dsp0b
    full = ";".join(hits)
    listed_new = v_new.messages[1].split("pci=disable_acs_redir=", 1)[1]
    assert listed_new == (full + ";")[:127]
    assert listed_new != full
    listed_old = verdict(f, "deep", ["side0"], kernel="5.13").messages[1].split("pci=disable_acs_redir=", 1)[1]
    assert listed_old == full
    assert v_new.disable_acs_redir == "pci=disable_acs_redir=" + full  # the fix p2ptui offers is the whole list


def test_short_acs_list_fits_either_buffer():
    f = _cascade(1)
    v = verdict(f, "deep", ["side0"], kernel="latest")
    assert v.messages[1].endswith("pci=disable_acs_redir=0000:02:00.0;0000:01:00.0;0000:02:01.0")
