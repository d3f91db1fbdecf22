"""The asyncio runner: start, cancel, subscribe; samples at the asked interval; errors as events; bounded history."""

import asyncio

import numpy as np
import pytest
from engine_fabrics import switch_fabric, write_rate

from p2ptui.engine.real import RealEngine
from p2ptui.engine.resources import SimConfig
from p2ptui.engine.runner import Runner
from p2ptui.engine.samples import Ring, Sample, TransferEvent
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.sources import open_fabric

GB = 10**9


async def _collect(sub):
    return [item async for item in sub]


def test_samples_arrive_at_the_chosen_virtual_interval_with_utilisation():
    async def main():
        runner = Runner(Simulation(switch_fabric(), SimConfig(efficiency=1.0)))
        sub = runner.subscribe(interval=0.01)
        a = await runner.start(TransferSpec("ep1", "host", GB))
        b = await runner.start(TransferSpec("ep2", "host", GB // 2, start=0.02))
        await runner.wait()
        await runner.close()
        return a, b, await _collect(sub)

    a, b, items = asyncio.run(main())
    samples = [i for i in items if isinstance(i, Sample)]
    times = [s.time for s in samples]
    assert times == sorted(times)
    regular = [t for t in times if abs(t / 0.01 - round(t / 0.01)) < 1e-9]
    assert len(regular) >= len(times) - 1  # every sample on the grid, except the final one at the end
    mid = next(s for s in samples if abs(s.time - 0.05) < 1e-9)
    rates = {t.id: t.rate for t in mid.transfers}
    assert rates[a.id] == pytest.approx(write_rate(16) / 2, rel=1e-9)
    assert mid.utilisation["link:usp0:up"] == pytest.approx(1.0, rel=1e-9)
    assert samples[-1].transfers[0].bytes_done == GB
    states = [(e.id, e.state) for e in items if isinstance(e, TransferEvent)]
    assert states.count((a.id, TransferState.DONE)) == 1 and (b.id, TransferState.RUNNING) in states


def test_errors_reach_subscribers_as_events_and_the_caller_keeps_going():
    async def main():
        runner = Runner(Simulation(open_fabric("nvmeof-target")))
        sub = runner.subscribe(interval=1.0)
        ok = await runner.start(TransferSpec("nvme0", "nvme1", GB, via="nvme2", chunk=512 << 20))
        refused = await runner.start(TransferSpec("nvme0", "nvme3", GB, via="nvme2"))
        doomed = await runner.start(TransferSpec("nvme1", "nvme0", 10 * GB, via="nvme3", threads=2))
        runner.unplug("nvme3", at=0.2)
        results = await runner.wait()
        await runner.close()
        return ok, refused, doomed, results, await _collect(sub)

    ok, refused, doomed, results, items = asyncio.run(main())
    assert ok.state is TransferState.DONE
    assert refused.state is TransferState.REFUSED
    assert doomed.state is TransferState.FAILED
    errors = {e.id: e.message for e in items if isinstance(e, TransferEvent) and e.is_error}
    assert "0 B available" in errors[refused.id] and "hot-unplug" in errors[doomed.id]


class _Clock:
    """Wall-clock seconds that move only when the test says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_cancel_mid_run_and_paced_speed():
    async def main():
        clock = _Clock()
        runner = Runner(Simulation(switch_fabric(), SimConfig(efficiency=1.0)), speed=1000.0, clock=clock)
        t = await runner.start(TransferSpec("ep1", "ep2", 1000 * GB))  # ~70 virtual s = ~70 ms of clock time
        assert t.state is TransferState.RUNNING
        await asyncio.sleep(0.05)  # real time passes, the runner's clock does not: nothing moves
        assert t.bytes_done == 0 and runner.now() == 0.0
        clock.now = 0.02  # 20 virtual seconds at 1000×
        await runner.cancel(t.id)  # the runner catches up with its clock first, then cancels there
        await runner.wait()
        await runner.close()
        return t

    t = asyncio.run(main())
    assert t.state is TransferState.CANCELLED
    assert t.ended_at == pytest.approx(20.0, rel=1e-9)
    assert t.bytes_done == pytest.approx(20.0 * write_rate(16), rel=1e-9)  # alone on the link at its write rate
    assert 0 < t.bytes_done < 1000 * GB


def test_history_is_bounded():
    ring = Ring(4, 2)
    for i in range(10):
        ring.append(i, i * i)
    assert len(ring) == 4 and ring.rows()[:, 0].tolist() == [6, 7, 8, 9]
    assert ring.last().tolist() == [9, 81]

    async def main():
        runner = Runner(Simulation(switch_fabric()), history=5)
        unread = runner.subscribe(interval=0.001, maxsize=3)
        t = await runner.start(TransferSpec("ep1", "ep2", GB))
        await runner.wait()
        await runner.close()
        return runner, t, unread

    runner, t, unread = asyncio.run(main())
    assert len(runner.history.transfers[t.id]) == 5
    assert unread.dropped > 0  # the subscriber never read: its oldest samples went


def test_real_engine_through_the_runner(tmp_path):
    async def main():
        engine = RealEngine(switch_fabric())
        runner = Runner(engine)
        sub = runner.subscribe(interval=0.05)
        mem = await runner.start(TransferSpec("ep1", "ep2", 8 << 20, check=True, seed=3))
        files = await runner.start(
            TransferSpec(
                "ep1",
                "ep2",
                (4 << 20) + 100,
                check=True,
                src_file=str(tmp_path / "a"),
                dst_file=str(tmp_path / "b"),
                threads=2,
            )
        )
        await runner.wait()
        await runner.close()
        return mem, files, await _collect(sub)

    mem, files, items = asyncio.run(main())
    assert mem.state is TransferState.DONE and mem.verified is True and mem.bytes_per_s > 0
    assert files.state is TransferState.DONE and files.verified is True
    assert (tmp_path / "b").read_bytes() == (tmp_path / "a").read_bytes()
    assert np.isfinite(files.bounce_bytes_per_s)
    done = [e for e in items if isinstance(e, TransferEvent) and e.state is TransferState.DONE]
    assert {e.id for e in done} == {mem.id, files.id}
