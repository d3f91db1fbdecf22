"""Simulator behaviour around the fluid model: pools, faults, cancellation, the expert gate, stated defaults."""

import pytest
from engine_fabrics import root_port_fabric, switch_fabric

from p2ptui.engine.resources import SimConfig
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError
from p2ptui.sources import open_fabric

GB = 10**9
MiB = 1 << 20


@pytest.fixture(scope="module")
def target():
    return open_fabric("nvmeof-target")  # four NVMe drives with 512 MiB published CMBs behind one switch


@pytest.mark.parametrize(("serial", "held"), [(False, 32 * MiB), (True, 16 * MiB)])
def test_staged_copy_holds_two_chunks_per_thread_of_the_pool_while_it_runs_or_one_when_serial(target, serial, held):
    sim = Simulation(target)
    r = sim.add(TransferSpec("nvme0", "nvme1", GB, via="nvme2", chunk=4 * MiB, threads=4, serial=serial))
    assert sim.pools.available("nvme2") == 512 * MiB
    sim.advance(0.01)
    assert r.state is TransferState.RUNNING
    assert sim.pools.available("nvme2") == 512 * MiB - held
    sim.run()
    assert r.state is TransferState.DONE
    assert sim.pools.available("nvme2") == 512 * MiB


def test_a_pool_too_small_refuses_the_transfer_with_a_clear_error(target):
    sim = Simulation(target)
    big = sim.add(TransferSpec("nvme0", "nvme1", GB, via="nvme2", chunk=256 * MiB, threads=2))
    bigger = sim.add(TransferSpec("nvme0", "nvme3", GB, via="nvme2", chunk=256 * MiB, threads=1))
    events = sim.run()
    assert big.state is TransferState.DONE
    assert bigger.state is TransferState.REFUSED
    assert "nvme2's P2P pool has 0 B available of 512 MiB" in bigger.error
    assert "needs 256 MiB (chunk × threads)" in bigger.error
    assert any(e.is_error and e.id == bigger.id for e in events)


def test_host_memory_cannot_be_unplugged_or_unpublished(target):
    sim = Simulation(target)
    with pytest.raises(InputError, match="cannot unplug 'host': it is host memory, not a device"):
        sim.unplug("host")
    with pytest.raises(InputError, match="cannot unpublish 'host'"):
        sim.unpublish("host", at=1.0)


def test_hot_unplug_ends_the_transfers_using_the_provider_and_returns_their_space(target):
    sim = Simulation(target)
    staged = sim.add(TransferSpec("nvme0", "nvme1", 10 * GB, via="nvme2", threads=2))
    other = sim.add(TransferSpec("mlx5_0", "nvme3", GB))
    later = sim.add(TransferSpec("nvme0", "nvme1", GB, via="nvme2", start=2.0))
    sim.unplug("nvme2", at=0.5)
    sim.advance(0.4)
    assert sim.pools.available("nvme2") == 512 * MiB - 4 * MiB  # two 1 MiB chunks for each of two threads
    sim.advance(0.6)
    assert staged.state is TransferState.FAILED and "nvme2 disappeared (hot-unplug at t=0.5 s)" in staged.error
    assert sim.pools.available("nvme2") == 512 * MiB
    assert 0 < staged.bytes_done < 10 * GB and staged.ended_at == pytest.approx(0.5)
    sim.run()
    assert other.state is TransferState.DONE
    assert later.state is TransferState.REFUSED and "gone" in later.error


def test_unpublishing_ends_only_the_copies_staged_in_that_pool(target):
    sim = Simulation(target)
    staged = sim.add(TransferSpec("nvme0", "nvme1", 10 * GB, via="nvme2", threads=2))
    direct = sim.add(TransferSpec("nvme2", "nvme3", GB))  # touches nvme2, but not its pool
    sim.unpublish("nvme2", at=0.1)
    sim.run()
    assert staged.state is TransferState.FAILED and "unpublished" in staged.error
    assert direct.state is TransferState.DONE
    assert sim.pools.available("nvme2") == 512 * MiB


def test_sharing_is_recomputed_when_a_transfer_ends_or_is_cancelled():
    sim = Simulation(switch_fabric(), SimConfig(efficiency=1.0))
    a = sim.add(TransferSpec("ep1", "host", 100 * GB))
    b = sim.add(TransferSpec("ep2", "host", 100 * GB))
    sim.advance(1.0)
    rates = {t.id: t.rate for t in sim.sample().transfers}
    assert rates[a.id] == pytest.approx(rates[b.id])
    sim.cancel(b.id)
    assert b.state is TransferState.CANCELLED and 0 < b.bytes_done < 100 * GB
    sim.advance(1.5)
    after = {t.id: t.rate for t in sim.sample().transfers}
    assert after[a.id] == pytest.approx(2 * rates[a.id], rel=1e-9)
    assert after[b.id] == 0.0


def test_not_supported_bounces_unless_expert_mode_forces_it_labelled():
    fabric = switch_fabric(cpu="intel", acs_redirect=True)
    plain = Simulation(fabric).add(TransferSpec("ep1", "ep2", GB))
    assert plain.route.kind.value == "bounce" and plain.p2p_route.map_type == "NOT_SUPPORTED"
    assert not plain.p2p_route.allowed
    assert any("bounces through host memory" in n for n in plain.notes)
    forced = Simulation(fabric, expert=True).add(TransferSpec("ep1", "ep2", GB))
    assert forced.route.kind.value == "p2p" and forced.route.forced
    assert any("FORCED P2P (expert mode)" in n and "SIMULATED" in n for n in forced.notes)
    # Both report both routes with predictions, so the saving is visible.
    for r in (plain, forced):
        assert r.p2p_bytes_per_s > 0 and r.bounce_bytes_per_s > 0


def test_bounce_crosses_every_uplink_twice_and_host_memory_twice():
    fabric = switch_fabric(memory=100)
    r = Simulation(fabric).add(TransferSpec("ep1", "ep2", GB, threads=2))
    loads = r.bounce_route.loads()
    assert loads["host-memory"] == 2.0
    assert loads["link:usp0:up"] > 1 and loads["link:usp0:down"] > 1


def test_unknown_facts_are_stated_in_the_result():
    fabric = root_port_fabric(1)
    r = Simulation(fabric).add(TransferSpec("nvme0", "target", GB, via="target", threads=2))
    text = " | ".join(r.notes)
    assert "root complex pci0000:00 P2P write cap unknown: assumed unlimited" in text
    assert "host memory bandwidth unknown: assumed unlimited" in text
    assert "nvme0 read rate unknown" in text
    assert "read tag limit not modelled" in text


def test_bad_transfers_are_input_errors(target):
    sim = Simulation(target)
    with pytest.raises(InputError, match="not a device"):
        sim.add(TransferSpec("nvme9", "nvme1", GB))
    with pytest.raises(InputError, match="no P2P memory pool"):
        sim.add(TransferSpec("nvme0", "nvme1", GB, via="mlx5_0"))
    with pytest.raises(InputError, match="threads must be at least 1"):
        sim.add(TransferSpec("nvme0", "nvme1", GB, threads=0))
    with pytest.raises(InputError, match="host memory to host memory"):
        sim.add(TransferSpec("host", "host", GB))


def test_runs_are_deterministic(target):
    def once():
        sim = Simulation(target)
        for i, (a, b) in enumerate([("nvme0", "nvme1"), ("nvme1", "nvme2"), ("mlx5_0", "nvme3"), ("nvme3", "host")]):
            sim.add(TransferSpec(a, b, (i + 1) * GB, start=0.1 * i, threads=1 + i % 2))
        sim.run()
        return [(r.started_at, r.ended_at, r.bytes_done) for r in sim.results.values()], sim.peak_utilisation()

    assert once() == once()
