"""The 24 scenarios of the bundled kernel-scenarios fabric under the default profile: modern mainline (v5.14+), Intel CPU, verbose."""

from __future__ import annotations

import fabric_edits
import pytest
from p2p_scenario_support import (
    NON_WL_INTEL,
    RR_CR,
    dsp_redirect,
    one,
    scenario_fabric,
    summary,
    verdict,
    with_hb0,
    with_hb1,
)

from p2ptui.fabric import acs as acsbits
from p2ptui.p2p.messages import NonPciClient
from p2ptui.p2p.providers import find_provider

F = scenario_fabric
ACS_6 = "mlx5_core 0000:04:00.0: ACS redirect is set between the client and provider (0000:03:00.0)"
HINT_6 = (
    "mlx5_core 0000:04:00.0: to disable ACS redirect for this path, add the kernel parameter: "
    "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
)
NO_SHARE_6 = (
    "mlx5_core 0000:04:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:03:00.0) "
    "do not share an upstream bridge or whitelisted host bridge"
)
NO_SHARE_GPU = (
    "nvidia 0000:0a:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:09:00.0) "
    "do not share an upstream bridge or whitelisted host bridge"
)


def test_default_profile_is_modern_intel():
    v = verdict(F(), "nvme-a", ["rnic0"])
    assert v.profile.release >= (5, 14) and v.profile.cpu_vendor == "intel"


def test_01_provider_is_its_own_client():
    v = verdict(F(), "nvme-a", ["nvme-a"])
    assert summary(v) == (["BUS_ADDR"], [0], 0)
    assert one(v).common.name == "nvme-a" and [d.name for d in one(v).path] == ["nvme-a"]
    assert v.messages == [] and v.disable_acs_redir is None


@pytest.mark.parametrize(
    "hb0, cpu, expect",
    [
        ((0x8086, 0x2020), "intel", (["THRU_HOST_BRIDGE"], [0], 0)),
        (NON_WL_INTEL, "intel", (["NOT_SUPPORTED"], [0], -1)),
        (NON_WL_INTEL, "amd:0x19", (["THRU_HOST_BRIDGE"], [0], 0)),
    ],
)
def test_02_self_with_acs_redirect_on_the_endpoint(hb0, cpu, expect):
    f = fabric_edits.with_acs(with_hb0(F(), hb0), "nvme-a", cap=acsbits.ALL_BITS, ctrl=RR_CR)
    v = verdict(f, "nvme-a", ["nvme-a"], cpu=cpu)
    assert summary(v) == expect
    assert v.messages[:2] == [
        "nvme 0000:03:00.0: ACS redirect is set between the client and provider (0000:03:00.0)",
        "nvme 0000:03:00.0: to disable ACS redirect for this path, add the kernel parameter: "
        "pci=disable_acs_redir=0000:03:00.0",
    ]
    if expect[2] < 0:
        assert v.messages[2:] == [
            "pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:3e30",
            "nvme 0000:03:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:03:00.0) do not "
            "share an upstream bridge or whitelisted host bridge",
        ]
    else:
        assert len(v.messages) == 2
    assert v.disable_acs_redir == "pci=disable_acs_redir=0000:03:00.0"


def test_03_two_functions_of_one_device():
    v = verdict(F(), "rnic0", ["rnic1"])
    assert summary(v) == (["BUS_ADDR"], [2], 2)
    assert one(v).common.name == "dsp1" and v.messages == []


def test_04_pf_and_its_vf():
    v = verdict(F(), "rnic0", ["rnic0-vf0"])
    assert summary(v) == (["BUS_ADDR"], [2], 2)
    cv = one(v)
    assert cv.common.name == "dsp1"
    assert [d.name for d in cv.client_chain] == ["rnic0-vf0", "dsp1", "usp0", "rp0"]  # the PF is not on the chain


def test_05_same_switch():
    v = verdict(F(), "nvme-a", ["rnic0"])
    assert summary(v) == (["BUS_ADDR"], [4], 4)
    assert [d.name for d in one(v).path] == ["nvme-a", "dsp0", "usp0", "dsp1", "rnic0"]


def test_06_acs_redirect_whitelisted_host_bridge():
    v = verdict(dsp_redirect(F()), "nvme-a", ["rnic0"])
    assert summary(v) == (["THRU_HOST_BRIDGE"], [4], 4)
    assert v.messages == [ACS_6, HINT_6]
    assert [d.name for d in one(v).acs_redirect] == ["dsp0", "dsp1"]
    assert v.disable_acs_redir == "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"


def test_07_acs_redirect_non_whitelisted_host_bridge():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"])
    assert summary(v) == (["NOT_SUPPORTED"], [4], -1)
    wl = "pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:3e30"
    assert v.messages == [ACS_6, HINT_6, wl, NO_SHARE_6]
    quiet = verdict(f, "nvme-a", ["rnic0"], verbose=False)
    assert quiet.messages == [wl]  # the whitelist warning follows the ACS branch, not verbose


@pytest.mark.parametrize("kernel", ["6.15", "6.8.0-45-generic", "6.10", "6.12.23", "6.14.2", "latest"])
def test_08_disable_acs_redir_clears_the_path(kernel):
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"], kernel=kernel, cmdline="pci=disable_acs_redir=0000:02:00.0;0000:02:01.0")
    assert summary(v) == (["BUS_ADDR"], [4], 4)
    assert v.messages == []


def _firmware_ports(firmware: int):
    f = with_hb0(F(), NON_WL_INTEL)
    for port in ("dsp0", "dsp1"):
        f = fabric_edits.with_firmware_acs(f, port, firmware)
    return f


@pytest.mark.parametrize(
    "firmware, expect",
    [
        (0, (["BUS_ADDR"], [4], 4)),  # RR/CR came only from the kernel's IOMMU default: cleared
        (RR_CR, (["NOT_SUPPORTED"], [4], -1)),  # firmware set them: the buggy formula keeps them
    ],
)
def test_08b_disable_acs_redir_on_6_11_to_6_14(firmware, expect):
    f = _firmware_ports(firmware)
    cmd = "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    v = verdict(f, "nvme-a", ["rnic0"], kernel="6.12.0-generic", iommu="on", cmdline=cmd)
    assert summary(v) == expect
    fixed = verdict(f, "nvme-a", ["rnic0"], kernel="6.15", iommu="on", cmdline=cmd)
    assert summary(fixed) == (["BUS_ADDR"], [4], 4)


@pytest.mark.parametrize("hb0, expect", [((0x8086, 0x2020), "THRU_HOST_BRIDGE"), (NON_WL_INTEL, "NOT_SUPPORTED")])
def test_09_egress_control_counts_as_redirect(hb0, expect):
    f = fabric_edits.with_acs(with_hb0(F(), hb0), "dsp0", ctrl=acsbits.EC)
    v = verdict(f, "nvme-a", ["rnic0"])
    assert one(v).map_type.value == expect and one(v).distance == 4
    assert [d.name for d in one(v).acs_redirect] == ["dsp0"]
    assert "pci=disable_acs_redir=0000:02:00.0" in v.messages[1] and v.messages[1].endswith("0000:02:00.0")


@pytest.mark.parametrize("hb0, expect", [((0x8086, 0x2020), "THRU_HOST_BRIDGE"), (NON_WL_INTEL, "NOT_SUPPORTED")])
def test_10_the_common_device_is_inspected(hb0, expect):
    f = fabric_edits.with_acs(with_hb0(F(), hb0), "usp0", cap=RR_CR, ctrl=acsbits.RR)
    v = verdict(f, "nvme-a", ["rnic0"])
    assert one(v).map_type.value == expect
    assert [d.name for d in one(v).acs_redirect] == ["usp0"]
    assert v.messages[1].endswith("pci=disable_acs_redir=0000:01:00.0")


def test_11_cascaded_switches():
    v = verdict(F(), "nvme-c", ["rnic0"])
    assert summary(v) == (["BUS_ADDR"], [6], 6)
    assert one(v).common.name == "usp0"


def test_12_two_root_ports_whitelisted_same_host_bridge():
    f = with_hb0(F(), (0x8086, 0x2F00))  # REQ_SAME_HOST_BRIDGE, satisfied
    f = fabric_edits.with_acs(fabric_edits.with_acs(f, "rp1", set_bits=RR_CR), "rp2", set_bits=RR_CR)
    v = verdict(f, "nvme-d", ["gpu0"])
    assert summary(v) == (["THRU_HOST_BRIDGE"], [4], 4)
    assert v.messages == [] and one(v).common is None
    # ACS is ignored without a common device: collected on the provider's side, then dropped
    assert one(v).acs_redirect == [] and [d.name for d in one(v).acs_ignored] == ["rp1"]


def test_13_two_root_ports_not_whitelisted_intel():
    f = fabric_edits.with_acs(with_hb0(F(), NON_WL_INTEL), "rp1", set_bits=RR_CR)
    v = verdict(f, "nvme-d", ["gpu0"])
    assert summary(v) == (["NOT_SUPPORTED"], [4], -1)
    assert v.messages == [NO_SHARE_GPU]  # no whitelist warning, no ACS lines


@pytest.mark.parametrize("cpu", ["amd:0x17", "amd:0x19", "amd:0x1a"])
def test_14_amd_zen_allows_every_host_bridge_path(cpu):
    f = with_hb0(F(), (0x1022, 0x1480))
    v = verdict(f, "nvme-d", ["gpu0"], cpu=cpu)
    assert summary(v) == (["THRU_HOST_BRIDGE"], [4], 4) and v.messages == []


def test_15_switch_versus_direct_root_port():
    v = verdict(with_hb0(F(), (0x8086, 0x09A2)), "nvme-a", ["gpu0"])
    assert summary(v) == (["THRU_HOST_BRIDGE"], [6], 6)


def test_16_different_host_bridges_require_same():
    f = with_hb1(with_hb0(F(), (0x8086, 0x2F00)), (0x8086, 0x2F00))
    v = verdict(f, "nvme-e", ["nvme-d"])
    assert summary(v) == (["NOT_SUPPORTED"], [4], -1)
    assert v.messages == [
        "nvme 0000:09:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:81:00.0) do not "
        "share an upstream bridge or whitelisted host bridge"
    ]


@pytest.mark.parametrize(
    "ids0, ids1",
    [
        ((0x8086, 0x2030), (0x8086, 0x2033)),
        ((0x8086, 0x2031), (0x8086, 0x2032)),
        ((0x8086, 0x09A2), (0x8086, 0x09A2)),
    ],
)
def test_17_different_host_bridges_both_whitelisted(ids0, ids1):
    v = verdict(with_hb1(with_hb0(F(), ids0), ids1), "nvme-e", ["nvme-d"])
    assert summary(v) == (["THRU_HOST_BRIDGE"], [4], 4)


@pytest.mark.parametrize("ids0, ids1", [((0x8086, 0x2020), (0x1DA3, 0x1000)), ((0x1DA3, 0x1000), (0x8086, 0x2020))])
def test_18_one_host_bridge_not_whitelisted(ids0, ids1):
    v = verdict(with_hb1(with_hb0(F(), ids0), ids1), "nvme-e", ["nvme-d"])
    assert summary(v) == (["NOT_SUPPORTED"], [4], -1)
    assert len(v.messages) == 1 and "do not share an upstream bridge or whitelisted host bridge" in v.messages[0]


@pytest.mark.parametrize(
    "kernel, expect",
    [
        ("latest", (["THRU_HOST_BRIDGE"], [2], 2)),
        ("7.2", (["THRU_HOST_BRIDGE"], [2], 2)),
        ("7.1", (["NOT_SUPPORTED"], [2], -1)),
        ("6.12", (["NOT_SUPPORTED"], [2], -1)),
    ],
)
def test_19_rcieps_on_an_accelerator_root_bus(kernel, expect):
    v = verdict(F(), "dsa0", ["dsa1"], kernel=kernel)
    assert summary(v) == expect
    assert one(v).common is None and [d.name for d in one(v).path] == ["dsa0", "dsa1"]


def test_20_client_that_is_not_a_pci_device():
    engine = NonPciClient(name="dma0chan0", bus="dma", driver="dw-edma")
    v = verdict(F(), "nvme-a", [engine])
    assert v.distance == -1 and one(v).map_type.value == "NOT_SUPPORTED" and one(v).client is None
    assert v.messages == ["dw-edma dma0chan0: cannot be used for peer-to-peer DMA as it is not a PCI device"]
    assert verdict(F(), "nvme-a", [None]).messages == [
        "platform non-pci-device: cannot be used for peer-to-peer DMA as it is not a PCI device"
    ]


def test_20_non_pci_device_resolves_to_its_pci_parent():
    ib = NonPciClient(name="mlx5_0", bus="infiniband", pci_parent="rnic0")
    v = verdict(F(), "nvme-a", [ib])
    assert summary(v) == (["BUS_ADDR"], [4], 4) and one(v).client.name == "rnic0"


def test_20_non_pci_client_stops_distance_many():
    v = verdict(with_hb0(F(), NON_WL_INTEL), "nvme-a", [None, "gpu0"])
    assert v.distance == -1
    assert [c.evaluated for c in v.clients] == [True, False]
    assert len(v.messages) == 1  # the GPU's warning is never printed


def test_21_multi_client_sum():
    v = verdict(F(), "nvme-a", ["rnic0", "nvme-a"])
    assert summary(v) == (["BUS_ADDR", "BUS_ADDR"], [4, 0], 4)


def test_22_multi_client_one_refused():
    f = with_hb0(F(), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0", "gpu0"])
    assert summary(v) == (["BUS_ADDR", "NOT_SUPPORTED"], [4, 6], -1)
    assert v.messages == [
        "nvidia 0000:0a:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:03:00.0) do not "
        "share an upstream bridge or whitelisted host bridge"
    ]
    quiet = verdict(f, "nvme-a", ["gpu0", "rnic0"], verbose=False)
    assert quiet.distance == -1 and [c.evaluated for c in quiet.clients] == [True, False] and quiet.messages == []


def test_23_find_provider_prefers_the_local_cmb():
    s = find_provider(F(), ["rnic0", "nvme-a"], seed=0)
    scores = {c.provider.name: c.distance for c in s.candidates}
    assert scores == {"nvme-a": 4, "nvme-b": 8, "nvme-d": 12, "nvme-e": 12}
    assert s.distance == 4 and [d.name for d in s.ties] == ["nvme-a"] and s.chosen.name == "nvme-a"


def test_24_find_provider_tie_is_random():
    s = find_provider(F(), ["rnic0", "nvme-c"], seed=0)
    scores = {c.provider.name: c.distance for c in s.candidates}
    assert scores == {"nvme-a": 10, "nvme-b": 10, "nvme-d": 14, "nvme-e": 14}
    assert [d.name for d in s.ties] == ["nvme-a", "nvme-b"]
    picks = {find_provider(F(), ["rnic0", "nvme-c"], seed=seed).chosen.name for seed in range(40)}
    assert picks == {"nvme-a", "nvme-b"}
    same_seed = {find_provider(F(), ["rnic0", "nvme-c"], seed=7).chosen.name for _ in range(5)}
    assert len(same_seed) == 1
