"""The simulator re-solves only the flows an event can move; its rates must be the full solver's, at every event.

The reference is ``maxmin.max_min_rates`` over every running transfer's route (what the simulator solved at each
event before it became incremental), computed here from public records: each result's route, the catalog's
capacities. Workloads are random (seeded by hypothesis): staggered starts, staged and direct copies, read and
write DMA, cancellations and a hot-unplug, on a fabric with several root complexes and one with a shared switch.
"""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from engine_fabrics import switch_fabric
from hypothesis import given, settings
from hypothesis import strategies as st

from p2ptui.engine.maxmin import max_min_rates
from p2ptui.engine.resources import DeviceRate, SimConfig
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import Op, TransferSpec, TransferState
from p2ptui.fabric.synth import large_fabric

MiB = 1 << 20
TOL = 1e-9


def _fabrics():
    return {"synthetic": large_fabric(256, ports_per_switch=8), "switch": switch_fabric(memory=40)}


FABRICS = _fabrics()


def _reference(sim: Simulation, running: list[int]) -> tuple[np.ndarray, dict[str, float]]:
    """Full max-min rates of the running transfers and the utilisation they give, from their routes."""
    keys: dict[str, int] = {}
    rows, cols, coef, bound = [], [], [], []
    for col, tid in enumerate(running):
        route = sim.results[tid].route
        for key, load in route.loads().items():
            rows.append(keys.setdefault(key, len(keys)))
            cols.append(col)
            coef.append(load)
        bound.append(route.bound(sim.catalog))
    capacity = np.array([sim.catalog.resources[k].capacity for k in keys])
    rate = max_min_rates(len(running), np.array(rows), np.array(cols), np.array(coef), capacity, np.array(bound))
    load = np.bincount(np.array(rows, dtype=np.intp), weights=np.array(coef) * rate[cols], minlength=len(keys))
    return rate, {k: load[i] / capacity[i] for k, i in keys.items()}


def _workload(sim: Simulation, rng: random.Random, n: int) -> list[tuple[float, int]]:
    """Adds n random transfers and maybe a hot-unplug; the cancellations to make, as (time, id)."""
    fabric = sim.fabric
    endpoints = [d.name for d in fabric.endpoints()]
    providers = [d.name for d in fabric.providers()]
    for _i in range(n):
        a, b = rng.sample(endpoints + ["host"], 2)
        via = rng.choice(providers) if providers and rng.random() < 0.3 and "host" not in (a, b) else None
        start = 0.0 if rng.random() < 0.3 else rng.uniform(0, 0.5)
        op = Op.READ if via is None and "host" not in (a, b) and rng.random() < 0.3 else Op.WRITE
        spec = TransferSpec(
            a, b, rng.randint(16, 512) * MiB, via=via, threads=rng.choice([1, 2, 4]), start=start, op=op
        )
        sim.add(spec)
    if rng.random() < 0.5:
        sim.unplug(rng.choice(endpoints), at=rng.uniform(0, 0.6))
    return sorted((rng.uniform(0, 0.3), tid) for tid in rng.sample(sorted(sim.results), k=min(3, n)))


def _check_every_event(sim: Simulation, cancels: list[tuple[float, int]] = ()) -> int:
    peaks: dict[str, float] = {}
    cancels = list(cancels)
    steps = 0
    while True:
        sample = sim.sample()
        running = [t.id for t in sample.transfers if t.state is TransferState.RUNNING]
        if running:
            expected, util = _reference(sim, running)
            got = np.array([next(t.rate for t in sample.transfers if t.id == tid) for tid in running])
            scale = max(float(expected.max()), 1.0)
            assert np.allclose(got, expected, rtol=TOL, atol=TOL * scale), (sim.now, got, expected)
            for key, value in util.items():
                assert sample.utilisation.get(key, 0.0) == pytest.approx(value, rel=TOL, abs=TOL)
                peaks[key] = max(peaks.get(key, 0.0), value)
        t = sim.next_event_time()
        if cancels and cancels[0][0] <= t:
            at, tid = cancels.pop(0)
            sim.advance(at)
            sim.cancel(tid)
        elif math.isinf(t):
            break
        else:
            sim.advance(t)
        steps += 1
    for key, value in sim.peak_utilisation().items():
        assert value == pytest.approx(peaks.get(key, 0.0), rel=TOL, abs=TOL)
    return steps


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), which=st.sampled_from(sorted(FABRICS)), n=st.integers(1, 40))
def test_rates_equal_the_full_solver_at_every_event(seed, which, n):
    fabric = FABRICS[which]
    rates = {d.name: DeviceRate(read=3.2, write=2.0) for d in fabric.endpoints()[::3]}
    sim = Simulation(fabric, SimConfig(device_rates=rates), expert=True)
    _check_every_event(sim, _workload(sim, random.Random(seed), n))
    assert all(r.state.finished for r in sim.results.values())


def test_a_long_run_keeps_the_full_solvers_rates():
    """Hundreds of events on one connected fabric: the periodic whole solve and the partial ones agree."""
    sim = Simulation(FABRICS["synthetic"])
    rng = random.Random(7)
    endpoints = sim.fabric.endpoints()
    for _ in range(300):
        a, b = rng.sample(endpoints, 2)
        sim.add(TransferSpec(a.name, b.name, rng.randint(64, 1024) * MiB, start=rng.uniform(0, 2)))
    assert _check_every_event(sim) > 300
