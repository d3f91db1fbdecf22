"""Operating without Textual: copies offered by a selection, the copy form's validation, the live state the panel
shows (checked against the engine itself), and the panel's words and glyphs."""

import asyncio

import pytest
from tui_helpers import fixture_fabric

from p2ptui.engine import real_memory
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import Op, TransferSpec, TransferState
from p2ptui.errors import InputError
from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.operate import CopyFormValues, Operations, build_spec, copy_choices
from p2ptui.tui.selection import Selection
from p2ptui.tui.transfer_text import (
    bar,
    gate_rows,
    sparkline,
    summary_line,
    transfer_lines,
)

GIB = 1 << 30


@pytest.fixture(scope="module")
def scenarios():
    return fixture_fabric("kernel-scenarios")


def selection(fabric, exporter, *importers):
    return Selection(fabric.find(exporter).bdf, tuple(fabric.find(i).bdf for i in importers))


def test_choices_stage_between_importers_and_offer_direct_dma_each_way(scenarios):
    choices = copy_choices(scenarios, selection(scenarios, "nvme-a", "rnic0", "dsa0"))
    by_key = {c.key: c for c in choices}
    assert [c.key for c in choices][:2] == ["staged:rnic0:dsa0", "staged:dsa0:rnic0"]
    staged = by_key["staged:rnic0:dsa0"]
    assert (staged.src, staged.via, staged.dst) == ("rnic0", "nvme-a", "dsa0")
    write, read = by_key["write:rnic0"], by_key["read:rnic0"]
    assert (write.src, write.dst, write.op) == ("rnic0", "nvme-a", Op.WRITE)
    assert (read.src, read.dst, read.op) == ("nvme-a", "rnic0", Op.READ)
    assert len(choices) == 2 + 4
    assert copy_choices(scenarios, Selection(scenarios.find("nvme-a").bdf)) == []  # no importer: nothing to copy


def test_form_values_become_a_spec_or_every_problem_at_once(scenarios):
    choice = copy_choices(scenarios, selection(scenarios, "nvme-a", "rnic0"))[0]
    spec = build_spec(CopyFormValues(size="2 GiB", chunk="4 MiB", threads="3"), choice)
    assert (spec.src, spec.dst, spec.size, spec.chunk, spec.threads) == ("rnic0", "nvme-a", 2 * GIB, 4 << 20, 3)
    with pytest.raises(InputError) as exc:
        build_spec(CopyFormValues(size="lots", chunk="-1", threads="two", check=True), choice)
    messages = [d.message for d in exc.value.diagnostics]
    assert any(m.startswith("size: malformed size 'lots'") for m in messages)
    assert any(m.startswith("chunk: negative size") for m in messages)
    assert "threads: expected a whole number, not 'two'" in messages
    assert any(m.startswith("check: verifying bytes needs the real engine") for m in messages)
    with pytest.raises(InputError, match="threads must be at least 1"):  # the engine's own rule
        build_spec(CopyFormValues(threads="0"), choice)


def test_the_engine_not_the_form_refuses_a_real_copy_ram_cannot_hold(scenarios, tmp_path, monkeypatch):
    meminfo = tmp_path / "meminfo"
    meminfo.write_text(f"MemTotal: {16 * GIB // 1024} kB\nMemAvailable: {8 * GIB // 1024} kB\n")
    monkeypatch.setattr(real_memory, "MEMINFO", meminfo)  # the engine reads it: 8 GiB available
    choice = copy_choices(scenarios, selection(scenarios, "nvme-a", "rnic0"))[0]
    ops = Operations(scenarios, VirtualClock())
    big = build_spec(CopyFormValues(size="8 GiB", engine="real"), choice)  # the form itself has no opinion on RAM
    with pytest.raises(InputError, match="needs 16 GiB of RAM"):
        ops.gate(big, "real", expert=False)
    small = build_spec(CopyFormValues(size="1 GiB", engine="real", check=True), choice)
    assert small.check and ops.gate(small, "real", expert=False).permitted
    assert ops.gate(big, "sim", expert=False).permitted  # the simulator moves no bytes


def test_poll_shows_exactly_what_the_simulator_reports_on_a_virtual_clock(scenarios):
    async def body():
        clock = VirtualClock(100.0)
        ops = Operations(scenarios, clock, sim_speed=2.0)
        spec = TransferSpec("rnic0", "nvme-a", 8 * GIB)
        assert await ops.start(spec, "sim", expert=False) == 1
        first = ops.poll()
        assert first.views[0].state is TransferState.RUNNING and first.views[0].bytes_done == 0
        clock.advance(0.25)  # 0.5 s of simulated time at speed 2
        snap = ops.poll()
        twin = Simulation(scenarios)  # the same copy on a fresh simulator, stepped by hand
        twin.add(spec)
        twin.advance(0.5)
        expected = twin.sample()
        view = snap.views[0]
        assert view.bytes_done == expected.transfers[0].bytes_done > 0
        assert view.rate == expected.transfers[0].rate and view.history == (view.rate, view.rate)  # one per poll
        assert snap.time == 0.5 and snap.total_rate == view.rate
        nvme_a = scenarios.find("nvme-a").bdf
        assert snap.loads[nvme_a] == pytest.approx(
            max(expected.utilisation["link:nvme-a:down"], expected.utilisation["link:nvme-a:up"])
        )
        assert snap.busiest[0][0] == "nvme-a link ↓"
        clock.advance(10)
        done = ops.poll()
        assert done.views[0].state is TransferState.DONE and done.loads == {}
        assert [e.state for _, e in done.events] == [TransferState.DONE]
        await ops.close()

    asyncio.run(body())


def test_cancel_and_refusal_arrive_as_events_not_exceptions(scenarios):
    async def body():
        clock = VirtualClock()
        ops = Operations(scenarios, clock)
        big = TransferSpec("rnic0", "nvme-b", GIB, via="nvme-a", chunk=256 << 20, threads=2)  # 512 MiB > 256 MiB pool
        await ops.start(big, "sim", expert=False)
        snap = ops.poll()
        [(view, event)] = snap.events
        assert event.state is TransferState.REFUSED and "256 MiB available" in event.message
        await ops.start(TransferSpec("rnic0", "nvme-a", GIB), "sim", expert=False)
        assert await ops.cancel(2)
        assert not await ops.cancel(2)  # already finished
        assert [e.state for _, e in ops.poll().events] == [TransferState.RUNNING, TransferState.CANCELLED]

    asyncio.run(body())


def test_sparkline_is_scaled_to_the_predicted_rate_and_the_bar_to_the_size():
    assert sparkline([1.0, 2.0, 4.0], top=4.0, width=4) == " ▂▄█"
    assert sparkline([2.0, 2.0], top=4.0, width=2) == "▄▄"  # half of what the route allows alone
    assert sparkline([0.0, 5.0], top=4.0, width=2) == " █"  # above the prediction: the largest value is full
    assert bar(0.5, 10) == ("━" * 5, "━" * 5)
    assert bar(1.2, 4) == ("━" * 4, "")


def test_panel_lines_and_gate_rows_say_what_the_engine_and_gate_said(scenarios):
    async def body():
        clock = VirtualClock()
        ops = Operations(scenarios, clock)
        await ops.start(TransferSpec("rnic0", "dsa0", 4 * GIB, via="nvme-a", threads=2), "sim", expert=True)
        clock.advance(0.5)
        snap = ops.poll()
        head, route, compare = ("".join(t for t, _ in line) for line in transfer_lines(snap.views[0], True))
        assert head.startswith("▶ #1  rnic0 → nvme-a → dsa0") and " running " in head and "ETA" in head
        assert "P2P NOT_SUPPORTED SIMULATED, Linux refuses it" in route
        result = snap.views[0].result
        assert f"predicted alone  P2P {result.p2p_bytes_per_s / 1e9:.2f} GB/s ◀ taken" in compare
        assert f"bounce {result.bounce_bytes_per_s / 1e9:.2f} GB/s" in compare
        assert "simulated: no bytes move" in compare
        summary = "".join(t for t, _ in summary_line(snap))
        assert "1 running" in summary and "sim t=0.50 s" in summary and "busiest" in summary

        spec = TransferSpec("rnic0", "dsa0", GIB, via="nvme-a")
        locked = gate_rows(ops.gate(spec, "sim", expert=False), "sim")
        assert locked[0][0] == ("locked", "locked") and "NOT_SUPPORTED" in locked[0][1][0][0]
        assert locked[1][1][0] == ("x", "key")
        refused = gate_rows(ops.gate(spec, "real", expert=True), "real")
        assert refused[0][0][0] == "locked" and refused[1][1][0][0].startswith("nothing")

    asyncio.run(body())
