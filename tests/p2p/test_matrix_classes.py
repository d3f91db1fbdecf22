"""The matrix computed over endpoint classes equals the same computation with every function a class of its own,
on random fabrics whose functions behind one switch differ (or not) in ACS state and whose host bridges differ in
whitelist standing; and the class tables stay small where the fabric is regular."""

from __future__ import annotations

import random
from dataclasses import replace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import Acs, AcsSource
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Fabric
from p2ptui.fabric.synth import REPRESENTATIVE_IDS, large_fabric, random_fabric
from p2ptui.formats import loads_fabric
from p2ptui.p2p.context import verdict_context
from p2ptui.p2p.matrix import pair_matrix, pair_table
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.verdict import check

# A few ACS states, so that functions behind one switch often agree and often do not.
ACS_STATES = [
    Acs(),
    Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=0),
    Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=acsbits.RR | acsbits.CR),
    Acs(AcsSource.UNKNOWN),
]
KERNELS = ["4.20", "5.2", "5.4", "5.9", "5.14", "6.12", "latest"]


def varied_facts(fabric: Fabric, rng: random.Random) -> Fabric:
    """The fabric with each function's ACS state drawn from ACS_STATES and each host bridge's IDs from the
    representative IDs or unreadable."""
    devices = []
    for dev in fabric.devices:
        dev = replace(dev, acs=rng.choice(ACS_STATES))
        if dev.kind is DeviceKind.HOST_BRIDGE:
            vendor, device = rng.choice([*REPRESENTATIVE_IDS, (None, None)])
            dev = replace(dev, vendor_id=vendor, device_id=device)
        devices.append(dev)
    return Fabric(fabric.name, fabric.root_buses, tuple(devices), host=fabric.host)


def assert_same_matrix(a, b) -> None:
    n_r, n_c = len(a.rows), len(a.cols)
    assert [d.bdf for d in a.rows] == [d.bdf for d in b.rows] and [d.bdf for d in a.cols] == [d.bdf for d in b.cols]
    for name in ("map_type", "distance", "topo"):
        got, want = np.asarray(getattr(a, name)), np.asarray(getattr(b, name))
        assert got.shape == want.shape == (n_r, n_c)
        assert np.array_equal(got, want), name
    assert (a.certain is None) == (b.certain is None)
    if a.certain is not None:
        assert np.array_equal(np.asarray(a.certain), np.asarray(b.certain))
        for i, j in a.uncertain_cells():
            assert a.outcomes_at(i, j) == b.outcomes_at(i, j)


@settings(max_examples=120, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 5_000),
    facts=st.integers(0, 2**31),
    kernel=st.sampled_from(KERNELS),
    iommu=st.sampled_from(["off", "pt", "on"]),
)
def test_class_compressed_matrix_equals_uncompressed(seed, facts, kernel, iommu):
    rng = random.Random(facts)
    fabric = varied_facts(random_fabric(seed, max_endpoints=32), rng)
    profile = profile_for(fabric, kernel=kernel, iommu=iommu)
    ctx = verdict_context(fabric, profile)
    index = ctx.index.index
    ends = np.array([index[d.bdf] for d in fabric.endpoints() if not d.conflict], dtype=np.int64)
    assert_same_matrix(pair_table(ctx, ends, ends), pair_table(ctx, ends, ends, compress=False))
    # Rectangular, with bridges among the rows and repeats among the columns, as provider search asks.
    rows = np.array(sorted(rng.sample(range(len(fabric.devices)), min(6, len(fabric.devices)))), dtype=np.int64)
    cols = np.concatenate([ends[: rng.randint(0, len(ends))], ends[:2]])
    assert_same_matrix(pair_table(ctx, rows, cols), pair_table(ctx, rows, cols, compress=False))
    # And a few cells against the single verdict itself, unknown facts enumerated.
    m = pair_matrix(fabric, profile)
    devs = [ctx.index.devices[i] for i in ends]
    for _ in range(4):
        if not len(devs):
            break
        i, j = rng.randrange(len(devs)), rng.randrange(len(devs))
        v = check(fabric, devs[i], [devs[j]], profile, verbose=False)
        assert (m.map_type_at(i, j), int(m.distance[i, j])) == (v.clients[0].map_type, v.clients[0].distance)
        assert m.certain_at(i, j) == v.certain


def test_regular_fabric_is_a_small_class_table():
    """large_fabric: 32 endpoints behind each switch, alike: one class per switch, not one row per endpoint."""
    fabric = large_fabric(1024)
    m = pair_matrix(fabric)
    assert m.map_type.shape == (1024, 1024)
    assert m.map_type.table.shape == (32, 33)
    full = pair_table(
        verdict_context(fabric),
        *(np.array([verdict_context(fabric).index.index[d.bdf] for d in fabric.endpoints()]),) * 2,
        compress=False,
    )
    assert_same_matrix(m, full)


def test_functions_that_differ_behind_one_switch_get_classes_of_their_own():
    """One endpoint behind a switch redirecting where its siblings do not: its row differs, so it is not merged."""
    fabric = large_fabric(128)
    target = fabric.endpoints()[5]
    redirecting = Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=acsbits.RR | acsbits.CR)
    devices = tuple(replace(d, acs=redirecting) if d.bdf == target.bdf else d for d in fabric.devices)
    changed = Fabric(fabric.name, fabric.root_buses, devices, host=fabric.host)
    m = pair_matrix(changed)
    assert m.map_type.table.shape == (5, 6)  # four switches, and the redirecting endpoint alone
    ctx = verdict_context(changed)
    ends = np.array([ctx.index.index[d.bdf] for d in changed.endpoints()], dtype=np.int64)
    assert_same_matrix(m, pair_table(ctx, ends, ends, compress=False))


BRIDGE_UNITS_YAML = """\
format: p2ptui-fabric/1
name: bridge-units
host: {cpu: intel, kernel: "6.12", iommu: "off"}
root_complexes:
  - bus: 0000:00
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 8086:2020}
      - bdf: 00:01.0
        kind: root_port
        children:
          - {bdf: 01:00.0, kind: gpu}
          - bdf: 01:01.0
            kind: switch_upstream
            children:
              - bdf: 02:00.0
                kind: switch_downstream
                children:
                  - {bdf: 03:00.0, kind: gpu}
          - bdf: 01:02.0
            kind: pci_bridge
            children:
              - bdf: 04:00.0
                kind: pci_bridge
                children:
                  - {bdf: 05:00.0, kind: nic}
"""


def test_ends_as_deep_but_below_different_bridge_units_stay_apart():
    """03:00.0 (below a switch: one bridge unit) and 05:00.0 (below two PCI bridges: two) join the root port at
    the same depth; against the root port itself, a row here, nvidia-smi says PIX for one and PXB for the other."""
    fabric = loads_fabric(BRIDGE_UNITS_YAML)
    ctx = verdict_context(fabric)
    index = ctx.index.index
    picked = np.array([index[fabric.find(ref).bdf] for ref in ("00:01.0", "01:00.0", "03:00.0", "05:00.0")])
    m = pair_table(ctx, picked, picked)
    assert_same_matrix(m, pair_table(ctx, picked, picked, compress=False))
    assert [m.topo_at(0, j).value for j in (2, 3)] == ["PIX", "PXB"]
