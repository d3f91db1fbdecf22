"""The Runner on a clock it is given: paced by it, stepped by hand, sampled on demand, events drained from a timer;
and each engine's plan() answering the gate exactly as the engine itself does when it accepts the copy."""

import asyncio
import dataclasses

import pytest
from engine_fabrics import switch_fabric, write_rate

from p2ptui.engine.real import RealEngine
from p2ptui.engine.resources import SimConfig
from p2ptui.engine.runner import Runner
from p2ptui.engine.samples import Sample, TransferEvent
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError

GB = 10**9


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_paced_runner_follows_the_clock_it_is_given_and_nothing_else():
    async def main():
        clock = Clock(50.0)
        runner = Runner(Simulation(switch_fabric(), SimConfig(efficiency=1.0)), speed=4.0, clock=clock)
        events = runner.subscribe(samples=False)
        spec = TransferSpec("ep1", "host", 10 * GB)
        t = await runner.start(spec)
        assert runner.now() == 0.0 and t.state is TransferState.RUNNING  # due now: started at once
        await asyncio.sleep(0.05)  # real time passes, the given clock does not: the simulator must not move
        assert runner.now() == 0.0 and t.bytes_done == 0
        clock.now += 0.125  # 0.5 virtual seconds at speed 4
        sample = runner.sample()
        twin = Simulation(switch_fabric(), SimConfig(efficiency=1.0))  # the same copy stepped by hand
        twin.add(spec)
        twin.advance(0.5)
        assert sample.time == 0.5 and sample.transfers[0] == twin.sample().transfers[0]
        assert sample.transfers[0].rate == pytest.approx(write_rate(16), rel=1e-9)
        clock.now += 10.0  # far past the end
        runner.step()
        assert t.state is TransferState.DONE and t.bytes_done == 10 * GB and runner.now() == 40.5
        assert [(e.id, e.state) for e in events.drain()] == [(t.id, TransferState.RUNNING), (t.id, TransferState.DONE)]
        assert events.drain() == []  # drained: nothing twice
        await runner.close()

    asyncio.run(main())


def test_a_paced_runner_stops_where_samples_are_due_whoever_moves_it():
    async def main():
        clock = Clock()
        runner = Runner(Simulation(switch_fabric()), speed=1.0, clock=clock)
        sub = runner.subscribe(interval=0.25)
        await runner.start(TransferSpec("ep1", "ep2", 100 * GB))
        for _ in range(4):
            clock.now += 0.3  # off the sample grid: samples still land on it
            runner.step()
            await asyncio.sleep(0)  # the background driver may take some of the stops: the same stops
        samples = [i for i in sub.drain() if isinstance(i, Sample)]
        assert [s.time for s in samples] == [0.0, 0.25, 0.5, 0.75, 1.0]
        assert runner.now() == pytest.approx(1.2)
        await runner.close()

    asyncio.run(main())


def test_stepping_an_unpaced_runner_by_hand():
    async def main():
        runner = Runner(Simulation(switch_fabric(), SimConfig(efficiency=1.0)))
        sub = runner.subscribe(interval=1.0)
        t = await runner.start(TransferSpec("ep1", "ep2", 100 * GB))
        runner.step(2.5)
        assert runner.now() == 2.5 and runner.sample().transfers[0].bytes_done == pytest.approx(2.5 * write_rate(16))
        with pytest.raises(ValueError, match="no clock"):
            runner.step()
        await runner.cancel(t.id)
        items = sub.drain()
        assert [i.time for i in items if isinstance(i, Sample)][:3] == [0.0, 1.0, 2.0]
        assert [i.state for i in items if isinstance(i, TransferEvent)] == [
            TransferState.RUNNING,
            TransferState.CANCELLED,
        ]
        await runner.close()

    asyncio.run(main())


def test_a_clock_needs_a_speed_for_the_simulator():
    with pytest.raises(ValueError, match="give a speed"):
        Runner(Simulation(switch_fabric()), clock=Clock())
    Runner(RealEngine(switch_fabric()), clock=Clock())  # real copies only stamp their times with it


def test_a_simulator_bug_fails_the_transfers_once_and_stops_the_runner(monkeypatch):
    async def main():
        clock = Clock()
        runner = Runner(Simulation(switch_fabric()), speed=1.0, clock=clock)
        events = runner.subscribe(samples=False)
        t = await runner.start(TransferSpec("ep1", "ep2", 100 * GB))

        def broken(self, until=0.0):
            raise RuntimeError("boom")

        monkeypatch.setattr(Simulation, "advance", broken)
        clock.now += 1.0
        runner.sample()
        runner.step()  # no second report
        assert t.state is TransferState.FAILED and "boom" in runner.broken
        failed = [e for e in events.drain() if e.state is TransferState.FAILED]
        assert len(failed) == 1 and "internal error in the simulator" in failed[0].message
        late = await runner.start(TransferSpec("ep1", "ep2", GB))  # accepted, and failed at once with the reason
        assert late.state is TransferState.FAILED and late.error == runner.broken
        await runner.close()

    asyncio.run(main())


def test_the_real_runner_samples_its_copies_without_a_subscriber():
    async def main():
        runner = Runner(RealEngine(switch_fabric()), tick=0.01)
        t = await runner.start(TransferSpec("ep1", "ep2", 4 << 20, check=True))
        await runner.wait()
        sample = runner.sample()
        await runner.close()
        return t, sample

    t, sample = asyncio.run(main())
    assert t.state is TransferState.DONE and t.verified
    assert [(r.id, r.state, r.bytes_done) for r in sample.transfers] == [(t.id, TransferState.DONE, 4 << 20)]


# -- plan(): the engine's own answer ------------------------------------------------------------------------------
def _no_allocate_file(fabric):
    ep1 = fabric.find("ep1")
    pool = dataclasses.replace(ep1.pool, allocate=False)
    return fabric.with_devices([dataclasses.replace(d, pool=pool) if d is ep1 else d for d in fabric.devices])


def test_plan_gives_each_engines_gate_decision(tmp_path):
    fabric = _no_allocate_file(switch_fabric())
    memory = TransferSpec("ep2", "ep3", 1 << 20, via="ep1")
    files = dataclasses.replace(memory, src_file=str(tmp_path / "a"), dst_file=str(tmp_path / "b"), check=True)
    real = RealEngine(fabric)
    # A real memory copy never touches P2P memory, so a pool without an allocate file does not stop it ...
    assert real.plan(memory).gate.permitted
    # ... a real file copy stages in it and needs that file; the simulator needs no file at all.
    blocked = real.plan(files).gate
    assert not blocked.permitted and any("no p2pmem/allocate file" in r.text for r in blocked.reasons)
    assert Simulation(fabric).plan(files).gate.permitted
    # prepare() decides with the very same plan.
    assert real.prepare(memory).plan.gate == real.plan(memory).gate
    assert Simulation(fabric).plan(TransferSpec("ep1", "host", 1 << 20)).gate is None  # nothing to gate


def test_plan_refuses_what_the_engine_would_refuse(tmp_path):
    real = RealEngine(switch_fabric())
    with pytest.raises(InputError, match="give both --src-file and --dst-file"):
        real.plan(TransferSpec("ep1", "ep2", 1 << 20, src_file=str(tmp_path / "a")))
    with pytest.raises(InputError, match="threads must be at least 1"):
        Simulation(switch_fabric()).plan(TransferSpec("ep1", "ep2", 1 << 20, threads=0))
    sim = Simulation(switch_fabric(), expert=False)
    assert sim.plan(TransferSpec("ep1", "ep2", 1 << 20), expert=True).gate.permitted
    assert sim.expert is False  # asking does not change the engine
