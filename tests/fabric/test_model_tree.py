"""The model's tree operations, on a fabric shaped like the bundled kernel-scenarios fabric plus an RCiEP with VFs."""

import dataclasses

import pytest

from p2ptui.fabric import BDF, Acs, AcsSource, Device, DeviceKind, Fabric, FabricError, Link, RootBus
from p2ptui.formats import loads_fabric

TOPOLOGY = """
name: model-test
root_complexes:
  - bus: "0000:00"
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 8086:2020}
      - bdf: 00:01.0
        kind: root_port
        link: gen4 x16
        children:
          - bdf: 01:00.0
            kind: switch_upstream
            link: gen4 x16
            children:
              - bdf: 02:00.0
                kind: switch_downstream
                link: {gen: 3, width: 4, max_gen: 4, max_width: 4}
                children:
                  - {bdf: 03:00.0, kind: nvme, name: nvme-a, link: gen4 x4, p2pmem: 256MiB}
              - bdf: 02:01.0
                kind: switch_downstream
                children:
                  - bdf: 04:00.0
                    kind: nic
                    name: rnic
                    link: gen4 x16
                    vfs:
                      - {bdf: 04:00.2, name: rnic-vf0}
                      - {bdf: 05:00.0, name: rnic-vf1}
                  - {bdf: 04:00.1, kind: nic, name: rnic-p1}
              - bdf: 02:03.0
                kind: switch_downstream
                children:
                  - bdf: 06:00.0
                    kind: switch_upstream
                    children:
                      - bdf: 07:00.0
                        kind: switch_downstream
                        children:
                          - {bdf: 08:00.0, kind: nvme, name: nvme-c, p2pmem: {size: 1GiB, published: false}}
      - bdf: 00:02.0
        kind: root_port
        children:
          - {bdf: 09:00.0, kind: gpu, name: gpu}
      - bdf: 00:04.0
        kind: accelerator
        name: dsa
        vfs:
          - {bdf: 0a:00.0, name: dsa-vf0}
  - bus: "0000:80"
    numa_node: 1
    devices:
      - bdf: 80:01.0
        kind: root_port
        children:
          - {bdf: 81:00.0, kind: nvme, name: nvme-e, p2pmem: 64MiB}
"""


@pytest.fixture(scope="module")
def fabric() -> Fabric:
    return loads_fabric(TOPOLOGY)


def names(devs):
    return [d.name for d in devs]


def test_upstream_chain_counts_the_device_itself(fabric):
    assert names(fabric.upstream_chain(fabric.find("nvme-a"))) == ["nvme-a", "dsp0", "usp0", "rp0"]
    assert names(fabric.upstream_chain(fabric.find("nvme-c"))) == ["nvme-c", "dsp3", "usp1", "dsp2", "usp0", "rp0"]
    # A root port sits on a root bus: it has no upstream bridge.
    assert fabric.upstream_bridge(fabric.find("rp0")) is None
    assert fabric.upstream_chain(fabric.find("rp0")) == [fabric.find("rp0")]


def test_vf_walks_from_its_pf(fabric):
    pf, vf0, vf1 = fabric.find("rnic"), fabric.find("rnic-vf0"), fabric.find("rnic-vf1")
    assert vf0.physfn == pf.bdf and vf1.physfn == pf.bdf
    # The PF is not on the VF's chain: up(VF) = up(PF).
    assert fabric.upstream_bridge(vf1) is fabric.upstream_bridge(pf)
    assert names(fabric.upstream_chain(vf1)) == ["rnic-vf1", "dsp1", "usp0", "rp0"]
    assert names(fabric.virtfns(pf)) == ["rnic-vf0", "rnic-vf1"]
    assert fabric.physfn(vf0) is pf


def test_rciep_and_its_vf_on_a_virtual_bus(fabric):
    dsa, vf = fabric.find("dsa"), fabric.find("dsa-vf0")
    assert fabric.upstream_bridge(dsa) is None and fabric.upstream_bridge(vf) is None
    root = fabric.root_buses[0]
    assert fabric.root_bus_of(vf) == root
    assert vf in fabric.on_root_bus(root)
    assert vf in [d for _, d in fabric.walk()]


def test_multi_function_siblings_exclude_vfs(fabric):
    assert names(fabric.siblings(fabric.find("rnic"))) == ["rnic-p1"]
    assert names(fabric.siblings(fabric.find("rnic-p1"))) == ["rnic"]
    assert fabric.siblings(fabric.find("rnic-vf0")) == []


def test_children_in_bus_order_and_endpoints(fabric):
    usp = fabric.find("usp0")
    assert [str(d.bdf) for d in fabric.children(usp)] == ["0000:02:00.0", "0000:02:01.0", "0000:02:03.0"]
    kinds = {d.kind for d in fabric.endpoints()}
    assert not any(k.is_bridge or k is DeviceKind.HOST_BRIDGE for k in kinds)
    assert len(fabric.endpoints()) == 10


def test_representatives(fabric):
    r0, r80 = fabric.root_buses
    assert fabric.representative(r0).bdf == BDF.parse("00:00.0")
    # The second root bus has no host-bridge function: its first device, a root port, represents it.
    assert fabric.representative(r80).name == "rp2"
    assert fabric.root_bus_of(fabric.find("nvme-e")) == r80


def test_find_by_name_and_address(fabric):
    assert fabric.find("nvme-a") is fabric.find("0000:03:00.0") is fabric.find("03:00.0")
    for missing in ("nvme-z", "0000:33:00.0", "not an address"):
        with pytest.raises(KeyError):
            fabric.find(missing)


def test_uplink_is_what_both_ends_train_to(fabric):
    # nvme-a can do gen4 x4 but its port trained to gen3: the physical link is gen3 x4, capable of gen4.
    link = fabric.uplink(fabric.find("nvme-a"))
    assert (link.gen, link.width, link.max_gen, link.max_width) == (3, 4, 4, 4)
    assert link.speed_below_max and not link.width_degraded
    # Ports below a switch's internal bus and root ports have no physical upstream link of their own.
    assert fabric.uplink(fabric.find("dsp0")) is None and fabric.uplink(fabric.find("rp0")) is None
    assert fabric.uplink(fabric.find("usp0")).gen == 4
    # VFs share their PF's link.
    assert fabric.uplink(fabric.find("rnic-vf1")) == fabric.uplink(fabric.find("rnic"))


def test_providers(fabric):
    assert names(fabric.providers()) == ["nvme-a", "nvme-e"]
    assert names(fabric.providers(published_only=False)) == ["nvme-a", "nvme-c", "nvme-e"]


def test_copies_are_independent(fabric):
    dsp0 = fabric.find("dsp0")
    changed = fabric.with_devices([dataclasses.replace(dsp0, acs=Acs(AcsSource.HARDWARE, cap=0x7F, ctrl=0x0C))])
    assert changed.find("dsp0").acs.ctrl == 0x0C
    assert fabric.find("dsp0").acs.source is AcsSource.NONE
    assert changed != fabric
    assert fabric.replace(description="x") != fabric
    assert loads_fabric(TOPOLOGY) == fabric


def _dev(bdf, kind, name, parent=None, **kw):
    return Device(BDF.parse(bdf), kind, name, parent=BDF.parse(parent) if parent else None, **kw)


ONE_ROOT_BUS = (RootBus(0, 0),)


def _problems(devices, buses=ONE_ROOT_BUS):
    with pytest.raises(FabricError) as info:
        Fabric("t", tuple(buses), tuple(devices))
    return [p.message for p in info.value.problems]


def test_structure_errors_name_every_problem():
    rp = _dev("00:01.0", DeviceKind.ROOT_PORT, "rp0")
    nvme = _dev("01:00.0", DeviceKind.NVME, "nvme0", "00:01.0")
    msgs = _problems(
        [
            rp,
            nvme,
            _dev("02:00.0", DeviceKind.NVME, "under-endpoint", "01:00.0"),
            _dev("01:00.1", DeviceKind.NIC, "nvme0", "00:01.0"),
            _dev("05:00.0", DeviceKind.GPU, "floating"),
            _dev("01:00.2", DeviceKind.NIC, "orphan-vf", "00:01.0", physfn=BDF.parse("01:00.7")),
            _dev("00:03.0", DeviceKind.SWITCH_DOWNSTREAM, "dsp-on-root"),
        ]
    )
    joined = "\n".join(msgs)
    assert "which has no secondary bus" in joined
    assert "duplicate device name 'nvme0'" in joined
    assert "neither a root bus nor below a bridge" in joined
    assert "not in the fabric" in joined
    assert "sits on a root bus" in joined
    assert len(msgs) == 5


def test_structure_errors_in_values():
    from p2ptui.fabric import P2PPool

    msgs = _problems(
        [
            _dev("00:01.0", DeviceKind.ROOT_PORT, "rp0", link=Link(9, 16, 9, 16)),
            _dev("00:02.0", DeviceKind.NVME, "a", pool=P2PPool(100, 200)),
            _dev("00:03.0", DeviceKind.NVME, "b", pool=P2PPool(1 << 50, 1 << 50)),
            _dev("00:04.0", DeviceKind.ROOT_PORT, "rp1", acs=Acs(AcsSource.HARDWARE, cap=0x1, ctrl=0x4)),
            _dev("00:05.0", DeviceKind.ROOT_PORT, "rp2", pool=P2PPool(1, 1)),
            _dev("00:06.0", DeviceKind.ROOT_PORT, "rp3", acs=Acs(AcsSource.UNKNOWN, cap=0x7F)),
            _dev("00:07.0", DeviceKind.ROOT_PORT, "rp4", acs=Acs(AcsSource.KERNEL_DEFAULT, cap=0x7F, ctrl=0x4)),
            _dev("00:08.0", DeviceKind.ROOT_PORT, "rp5", acs=Acs(AcsSource.HARDWARE, cap=0x7F, firmware_ctrl=0x4)),
        ]
    )
    joined = "\n".join(msgs)
    assert "unknown PCIe link generation 9" in joined
    assert "available but only 100 in all" in joined
    assert "absurd" in joined
    assert "capability does not advertise" in joined
    assert "cannot provide P2P memory" in joined
    assert "ACS state 'unknown' cannot carry register bits 0x7f" in joined
    assert "ACS state 'kernel-default' cannot carry register bits 0x4" in joined
    assert "ACS state 'hardware' cannot carry register bits 0x4" in joined


def test_bridge_bus_numbers_must_grow_downward():
    msgs = _problems(
        [
            _dev("00:01.0", DeviceKind.ROOT_PORT, "rp0"),
            _dev("00:02.0", DeviceKind.ROOT_PORT, "rp1"),
            _dev("01:00.0", DeviceKind.NVME, "a", "00:01.0"),
            _dev("01:00.1", DeviceKind.NVME, "b", "00:02.0"),
        ]
    )
    assert any("already belongs to bridge 0000:00:01.0" in m for m in msgs)


def test_link_descriptions():
    assert Link(3, 16, 3, 16).describe() == "gen3 x16"
    assert Link(3, 8, 4, 16).describe() == "gen3 x8 (of gen4 x16)"
    assert Link(None, None, 4, 16).describe() == "up to gen4 x16"
    assert Link(None, None, None, None).describe() == "gen? x?"
