"""The expert gate: allowed / needs expert mode / refused, and when expert mode counts as on."""

from __future__ import annotations

import os
import stat

import fabric_edits
from p2p_scenario_support import NON_WL_INTEL, dsp_redirect, scenario_fabric, verdict, with_hb0

from p2ptui.p2p.fix import acs_fix
from p2ptui.p2p.gate import (
    SIMULATED_LABEL,
    Decision,
    ExpertMode,
    gate_acs_whatif,
    gate_pool,
    gate_transfer,
    gate_write,
)

F = scenario_fabric


def test_expert_mode_is_off_unless_explicit():
    assert not ExpertMode().enabled
    assert not ExpertMode.from_cli(False).enabled and ExpertMode.from_cli(True).enabled
    assert not ExpertMode.from_tui(confirmed=False).enabled and ExpertMode.from_tui(confirmed=True).enabled


def test_bus_addr_transfer_is_allowed():
    f = F()
    v = verdict(f, "nvme-a", ["rnic0"])
    for real in (False, True):
        g = gate_transfer(f, v, real=real)
        assert g.decision is Decision.ALLOWED and g.permitted and not g.simulated_only
    assert any("turns around at usp0" in r.text for r in gate_transfer(f, v).reasons)


def test_not_supported_is_never_allowed():
    f = with_hb0(F(), NON_WL_INTEL)
    v = verdict(f, "nvme-d", ["gpu0"])
    for expert in (False, True):
        real = gate_transfer(f, v, expert, real=True)
        assert real.decision is Decision.REFUSED and not real.permitted
        sim = gate_transfer(f, v, expert, real=False)
        assert sim.decision is Decision.NEEDS_EXPERT and sim.simulated_only and sim.label == SIMULATED_LABEL
        assert sim.permitted is expert
    locked = gate_transfer(f, v, False)
    assert locked.unlock_hint is not None and "expert mode is off" in locked.unlock_hint
    assert all(r.unlock is not None for r in locked.blocking)  # each needs-expert finding says what unlocks it


def test_cross_socket_needs_expert_for_real_transfers():
    f = F()  # NVMe-E hangs off HB1 on NUMA node 1; both host bridges are whitelisted
    v = verdict(f, "nvme-e", ["nvme-d"])
    assert v.clients[0].map_type.value == "THRU_HOST_BRIDGE"
    real = gate_transfer(f, v, real=True)
    assert real.decision is Decision.NEEDS_EXPERT and any("inter-socket" in r.text for r in real.reasons)
    assert gate_transfer(f, v, True, real=True).permitted
    assert gate_transfer(f, v, real=False).decision is Decision.ALLOWED


def test_pools():
    f = F()
    assert gate_pool(f.find("nvme-a")).decision is Decision.ALLOWED
    hidden = fabric_edits.with_pool_published(f, "nvme-a", False)
    g = gate_pool(hidden.find("nvme-a"))
    assert g.decision is Decision.NEEDS_EXPERT and any("not published" in r.text for r in g.reasons)
    assert gate_pool(f.find("rnic0")).decision is Decision.REFUSED  # no P2P memory at all
    v = verdict(hidden, "nvme-a", ["rnic0"])
    assert gate_transfer(hidden, v, real=True).decision is Decision.NEEDS_EXPERT
    assert gate_transfer(hidden, v, real=False).decision is Decision.ALLOWED
    no_pool = verdict(f, "rnic0", ["rnic1"])
    assert gate_transfer(f, no_pool, real=True).decision is Decision.REFUSED
    assert gate_transfer(f, no_pool, real=True, uses_pool=False).decision is Decision.ALLOWED


def test_acs_whatif_needs_expert_and_names_the_cost():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    fix = acs_fix(f, verdict(f, "nvme-a", ["rnic0"]))
    g = gate_acs_whatif(f, fix.devices)
    assert g.decision is Decision.NEEDS_EXPERT and g.simulated_only and not g.permitted
    assert any("IOMMU group 3" in r.text and "absorbs group(s) 4" in r.text for r in g.reasons)
    assert gate_acs_whatif(f, fix.devices, ExpertMode.from_cli(True)).permitted


def _stat(mode: int, size: int = 0):
    return lambda path: os.stat_result((mode, 0, 0, 1, 0, 0, size, 0, 0, 0))


def test_writes():
    new = gate_write("/tmp/p2ptui-does-not-exist-file", stat_fn=lambda p: (_ for _ in ()).throw(FileNotFoundError()))
    assert new.decision is Decision.ALLOWED
    over = gate_write("/data/out.bin", stat_fn=_stat(stat.S_IFREG | 0o644, 4096))
    assert over.decision is Decision.NEEDS_EXPERT and "4096 bytes" in over.reasons[0].text
    blk = gate_write("/dev/nvme1n1", stat_fn=_stat(stat.S_IFBLK | 0o660), mounts_text="/dev/sda1 / ext4 rw 0 0\n")
    assert blk.decision is Decision.NEEDS_EXPERT and "destroys the data" in blk.reasons[0].text
    assert gate_write("/dev/nvme1n1", True, stat_fn=_stat(stat.S_IFBLK | 0o660), mounts_text="").permitted
    mounted = gate_write(
        "/dev/nvme1n1", True, stat_fn=_stat(stat.S_IFBLK | 0o660), mounts_text="/dev/nvme1n1p2 /srv xfs rw 0 0\n"
    )
    assert mounted.decision is Decision.REFUSED and not mounted.permitted
    assert gate_write("/dev/null", True, stat_fn=_stat(stat.S_IFCHR | 0o666)).decision is Decision.REFUSED


def test_decision_json():
    f = F()
    j = gate_transfer(f, verdict(f, "nvme-a", ["rnic0"]), real=True).to_json()
    assert j["decision"] == "allowed" and j["permitted"] is True and j["action"] == "transfer"
    assert isinstance(j["reasons"], list) and j["label"] is None
    assert all(set(r) == {"decision", "text", "unlock"} for r in j["reasons"])
    assert j["reasons"][0]["decision"] == "allowed" and j["reasons"][0]["unlock"] is None
