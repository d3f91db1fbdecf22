"""The vectorised matrix equals the single-pair verdict on every pair: every bundled fabric, 1,000 random ones."""

from __future__ import annotations

import random

import numpy as np
import pytest

from p2ptui.fabric.synth import random_fabric
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.p2p.context import verdict_context
from p2ptui.p2p.matrix import pair_matrix, pair_table
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.topo import TopoClass, topo_class
from p2ptui.p2p.verdict import check, pair_verdict

SMALL = 256  # endpoints: below this a bundled fabric is also checked under every era's rules
ERA_PROFILES = [
    {"kernel": "4.20"},
    {"kernel": "5.2", "iommu": "off", "cpu": "amd:0x17"},
    {"kernel": "5.4", "iommu": "on"},
    {"kernel": "5.9", "cpu": "amd:0x19"},
    {"kernel": "5.18", "iommu": "on"},
    {"kernel": "latest", "iommu": "on"},
]
KERNELS = [
    "4.20",
    "5.2",
    "5.3",
    "5.4",
    "5.6",
    "5.8",
    "5.9",
    "5.13",
    "5.14",
    "5.18",
    "5.19",
    "6.12",
    "7.1",
    "7.2",
    "latest",
]


def assert_matrix_matches_pairs(fabric, profile, sample: int | None = None, rng: random.Random | None = None) -> int:
    """Every cell equals the single verdict: its worst outcome, its certainty and, when uncertain, each outcome.
    Fabrics with unknown facts are compared with check() (which enumerates them) on every pair, or on ``sample``
    random pairs; the others with pair_verdict() on every pair."""
    m = pair_matrix(fabric, profile)
    ctx = verdict_context(fabric, profile)
    index = ctx.index.index
    devs = fabric.endpoints()
    ends = [index[d.bdf] for d in devs]
    assert [d.bdf for d in m.rows] == [d.bdf for d in devs] == [d.bdf for d in m.cols]
    n = len(ends)
    if ctx.has_unknowns:
        cells = [(i, j) for i in range(n) for j in range(n)]
        if sample is not None and rng is not None and len(cells) > sample:
            cells = rng.sample(cells, sample)
        for i, j in cells:
            v = check(fabric, devs[i], [devs[j]], profile, verbose=False)
            outcomes = [o.verdict for o in v.outcomes] if not v.certain else [v]
            want = sorted({(o.clients[0].map_type.value, o.clients[0].distance) for o in outcomes})
            got = sorted((t.value, d) for t, d in m.outcomes_at(i, j))
            where = f"{fabric.name} {profile.label}: {devs[i].bdf} -> {devs[j].bdf}"
            assert m.certain_at(i, j) == v.certain, where
            assert got == want, where
            assert (m.map_type_at(i, j), int(m.distance[i, j])) == (v.clients[0].map_type, v.clients[0].distance), where
            assert m.topo_at(i, j) is v.clients[0].topo, where
        return len(cells)
    assert m.certain is None
    want_map = np.empty((n, n), dtype=object)
    want_dist = np.empty((n, n), dtype=np.int64)
    want_topo = np.empty((n, n), dtype=object)
    for i, p in enumerate(ends):
        for j, c in enumerate(ends):
            cv = pair_verdict(ctx, p, c, False)
            want_map[i, j], want_dist[i, j] = cv.map_type.value, cv.distance
            want_topo[i, j] = topo_class(ctx.index, p, c).value
    got_map = np.array(m.map_names(), dtype=object).reshape(n, n)
    got_topo = np.array(m.topo_names(), dtype=object).reshape(n, n)
    bad = np.argwhere((got_map != want_map) | (m.distance != want_dist) | (got_topo != want_topo))
    if len(bad):
        i, j = bad[0]
        pytest.fail(
            f"{fabric.name} {profile.label}: {m.rows[i].bdf} -> {m.cols[j].bdf}: matrix "
            f"{got_map[i, j]} {m.distance[i, j]} {got_topo[i, j]}, verdict {want_map[i, j]} "
            f"{want_dist[i, j]} {want_topo[i, j]} ({len(bad)} cells differ)"
        )
    return n * n


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.name)
def test_bundled_fabric_matrix_equals_verdict(entry):
    fabric = load_fabric(entry.path)
    assert_matrix_matches_pairs(fabric, profile_for(fabric))
    if len(fabric.endpoints()) <= SMALL:
        for overrides in ERA_PROFILES:
            assert_matrix_matches_pairs(fabric, profile_for(fabric, **overrides))


def test_thousand_random_fabrics():
    rng = random.Random(2024)
    pairs = 0
    for seed in range(1000):
        fabric = random_fabric(seed)
        overrides = {}
        if seed % 2:
            overrides = {
                "kernel": rng.choice(KERNELS),
                "iommu": rng.choice(["off", "pt", "on"]),
                "cpu": rng.choice(["intel", "amd:0x15", "amd:0x17", "amd:0x19"]),
            }
        pairs += assert_matrix_matches_pairs(fabric, profile_for(fabric, **overrides), sample=8, rng=rng)
    assert pairs > 40_000  # the fabrics are not trivially small


def test_rectangular_table_with_bridges_and_repeats():
    """pair_table takes any rows and columns (bridges included, any order, repeats), as provider search does."""
    for seed in range(40):
        fabric = random_fabric(seed)
        ctx = verdict_context(fabric)
        rng = random.Random(seed)
        n = len(fabric.devices)
        rows = np.array([rng.randrange(n) for _ in range(rng.randint(1, 12))], dtype=np.int64)
        cols = np.array([rng.randrange(n) for _ in range(rng.randint(1, 12))], dtype=np.int64)
        table = pair_table(ctx, rows, cols)
        devs = ctx.index.devices
        for i, p in enumerate(rows):
            for j, c in enumerate(cols):
                v = check(fabric, devs[int(p)], [devs[int(c)]], verbose=False)
                cv = v.clients[0]
                assert (table.map_type_at(i, j), int(table.distance[i, j])) == (cv.map_type, cv.distance)
                assert table.certain_at(i, j) == v.certain


def test_matrix_shape_and_topo_symmetry():
    fabric = random_fabric(7, max_endpoints=40)
    m = pair_matrix(fabric)
    n = len(fabric.endpoints())
    assert m.map_type.shape == m.distance.shape == m.topo.shape == (n, n)
    assert all(m.topo_at(i, i) is TopoClass.X for i in range(n))
    assert np.array_equal(m.topo, m.topo.T)
    # Swapping provider and client inspects the same devices (the common one once) and sums the same hops.
    assert np.array_equal(m.map_type, m.map_type.T) and np.array_equal(m.distance, m.distance.T)


def test_a_machine_of_unknown_facts_matrix_equals_verdict():
    """Kernel, CPU, host-bridge IDs and every port's ACS unknown: the matrix weighs ~140 completions, computing a
    table only for completions whose inputs differ (most repeat one another); every cell still equals check()."""
    from p2ptui.fabric import BDF, DeviceKind
    from p2ptui.fabric.acs import ACS_UNKNOWN
    from p2ptui.fabric.model import Device, Fabric, Host, RootBus

    devices = []
    for s in range(3):
        base = 32 * s
        rp, usp = BDF(0, base, 0, 0), BDF(0, base + 1, 0, 0)
        devices += [
            Device(rp, DeviceKind.ROOT_PORT, f"rp{s}", acs=ACS_UNKNOWN),
            Device(usp, DeviceKind.SWITCH_UPSTREAM, f"usp{s}", parent=rp),
        ]
        for p in range(3):
            dsp = BDF(0, base + 2, p, 0)
            devices.append(Device(dsp, DeviceKind.SWITCH_DOWNSTREAM, f"dsp{s}{p}", parent=usp, acs=ACS_UNKNOWN))
            devices.append(
                Device(BDF(0, base + 3 + p, 0, 0), DeviceKind.NVME, f"nvme{s}{p}", parent=dsp, class_code=0x010802)
            )
    devices.append(Device(BDF(0, 0, 5, 0), DeviceKind.NVME, "rciep", class_code=0x010802, integrated=True))
    fabric = Fabric("unknowns", tuple(RootBus(0, 32 * s) for s in range(3)), tuple(devices), Host())
    profile = profile_for(fabric)
    assert {"kernel", "cpu"} <= {f.value for f in profile.unknown}
    assert assert_matrix_matches_pairs(fabric, profile) == 100
