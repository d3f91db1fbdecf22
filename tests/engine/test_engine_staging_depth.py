"""Staged copies with two buffer slots per thread (the default: the next chunk is read while the last is written)
or one (--serial, p2pmem-test's loop, or a pool without room for two): what the simulator predicts for each, what
the ledger holds, and how a plan and the CLI say it."""

import json

import pytest
from copy_argv import copy_argv
from engine_fabrics import switch_fabric

from p2ptui.cli.main import main
from p2ptui.engine.plan import loads_plan
from p2ptui.engine.pools import PoolLedger
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import PIPELINE_DEPTH, Op, TransferSpec, TransferState
from p2ptui.errors import InputError
from p2ptui.formats import dumps_fabric

GB = 10**9
MiB = 1 << 20


def _alone(fabric, spec: TransferSpec) -> tuple[float, list[str]]:
    """The rate of ``spec`` alone on ``fabric`` (bytes over simulated seconds) and its notes."""
    sim = Simulation(fabric)
    result = sim.add(spec)
    sim.run()
    assert result.state is TransferState.DONE, result.error
    return spec.size / result.seconds, result.notes


@pytest.fixture(scope="module")
def legs():
    """ep3 (x4) → ep1's P2P memory → ep2 (x16) under one switch: each leg's rate measured as a direct copy."""
    fabric = switch_fabric()
    write_leg, _ = _alone(fabric, TransferSpec("ep3", "ep1", 4 * GB, op=Op.WRITE))  # ep3 DMA-writes into ep1
    read_leg, _ = _alone(fabric, TransferSpec("ep1", "ep2", 4 * GB, op=Op.READ))  # ep2 DMA-reads ep1
    assert write_leg < read_leg  # the x4 leg is the slower: the overlapped copy runs at its rate
    return fabric, write_leg, read_leg


def test_one_thread_overlaps_its_legs_by_default(legs):
    fabric, write_leg, read_leg = legs
    rate, notes = _alone(fabric, TransferSpec("ep3", "ep2", 4 * GB, via="ep1"))
    assert rate == pytest.approx(min(write_leg, read_leg), rel=1e-9)
    assert not any("one chunk per thread" in n for n in notes)


def test_serial_one_thread_alternates_its_legs(legs):
    fabric, write_leg, read_leg = legs
    rate, notes = _alone(fabric, TransferSpec("ep3", "ep2", 4 * GB, via="ep1", serial=True))
    assert rate == pytest.approx(1 / (1 / write_leg + 1 / read_leg), rel=1e-9)
    assert any("one chunk per thread (serial, as asked): each thread reads a chunk, then writes it" in n for n in notes)


def test_a_pool_without_room_for_two_slots_makes_a_one_thread_copy_alternate(legs):
    fabric, write_leg, read_leg = legs
    # ep1's pool is 1 GiB: one 768 MiB chunk fits, two do not.
    rate, notes = _alone(fabric, TransferSpec("ep3", "ep2", 4 * GB, via="ep1", chunk=768 * MiB))
    assert rate == pytest.approx(1 / (1 / write_leg + 1 / read_leg), rel=1e-9)
    assert any("its pool had 1 GiB available, not the 1.5 GiB" in n for n in notes), notes


def test_the_ledger_holds_what_the_depth_says():
    fabric = switch_fabric()
    ep1 = fabric.by_name("ep1")
    ledger = PoolLedger(fabric)
    assert ledger.take_staging(1, ep1, TransferSpec("ep3", "ep2", GB, via="ep1", chunk=MiB, threads=3)) is None
    assert ledger.available("ep1") == (1 << 30) - PIPELINE_DEPTH * 3 * MiB
    why = ledger.take_staging(2, ep1, TransferSpec("ep3", "ep2", GB, via="ep1", chunk=MiB, serial=True))
    assert why == "serial, as asked"
    assert ledger.available("ep1") == (1 << 30) - 7 * MiB
    ledger.release(1)
    ledger.release(2)
    assert ledger.available("ep1") == 1 << 30


def test_a_plan_says_serial():
    plan = loads_plan(
        "transfers:\n  - {src: ep3, dst: ep2, via: ep1, size: 1GiB, serial: true}\n"
        "  - {src: ep3, dst: ep2, via: ep1, size: 1GiB}\n",
        switch_fabric(),
    )
    assert [t.serial for t in plan.transfers] == [True, False]


def test_a_plan_refuses_a_serial_that_is_not_a_boolean():
    with pytest.raises(InputError, match="serial"):
        loads_plan("transfers:\n  - {src: ep3, dst: ep2, via: ep1, size: 1GiB, serial: often}\n", switch_fabric())


def test_the_cli_passes_serial_and_reports_it(tmp_path, capsys):
    path = tmp_path / "switch.yaml"
    path.write_text(dumps_fabric(switch_fabric()))
    argv = copy_argv(str(path), src="ep3", dst="ep2", via="ep1", size="1GiB", engine="sim", json=True)
    assert main([*argv, "--serial"]) == 0
    serial = json.loads(capsys.readouterr().out)
    assert main(argv) == 0
    default = json.loads(capsys.readouterr().out)
    (serial_row,), (default_row,) = serial["transfers"], default["transfers"]
    assert serial_row["serial"] is True and default_row["serial"] is False
    assert serial_row["bytes_per_s"] < default_row["bytes_per_s"]
