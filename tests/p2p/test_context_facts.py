"""Filling unknown ACS in a verdict context (VerdictContext.with_facts) touches only the functions a case changes.

find-provider on a fabric whose ports' ACS is unreadable weighs each uncertain provider case by case, and every
case filled every unknown function of the fabric again: 2,000 providers below 2,100 such ports took 13.9 s (×3.8
per doubling). The fills are now worked out once per context. The answer is checked against filling each function
one by one (the code it replaces), and the work against the count of functions, not of cases × functions."""

from __future__ import annotations

import random

import pytest
from call_count import CallCount

from p2ptui.fabric import BDF, DeviceKind
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import ACS_UNKNOWN
from p2ptui.fabric.model import Device, Fabric, Host, P2PPool, RootBus
from p2ptui.p2p import context as context_module
from p2ptui.p2p import verdict as verdict_module
from p2ptui.p2p.context import VerdictContext, assumed_ctrl, verdict_context
from p2ptui.p2p.profiles import Fact, profile_for
from p2ptui.p2p.providers import find_provider
from p2ptui.p2p.verdict import check

NVME = 0x010802


def switches_of_unknown_acs(switches: int, ports: int, cmdline: str = "") -> Fabric:
    """``switches`` root ports, each above a switch of ``ports`` downstream ports with an NVMe (a published pool)
    below each; every root port and downstream port has unreadable ACS. Every third NVMe is a two-function device,
    whose functions may redirect too."""
    devices: list[Device] = []
    root_buses = []
    for s in range(switches):
        domain, base = divmod(s, 8)
        base *= 32
        root_buses.append(RootBus(domain, base))
        rp = BDF(domain, base, 0, 0)
        usp = BDF(domain, base + 1, 0, 0)
        devices += [
            Device(rp, DeviceKind.ROOT_PORT, f"rp{s}", acs=ACS_UNKNOWN),
            Device(usp, DeviceKind.SWITCH_UPSTREAM, f"usp{s}", parent=rp),
        ]
        for p in range(ports):
            dsp = BDF(domain, base + 2, p, 0)
            devices.append(Device(dsp, DeviceKind.SWITCH_DOWNSTREAM, f"dsp{s}.{p}", parent=usp, acs=ACS_UNKNOWN))
            functions = 2 if p % 3 == 0 else 1
            for f in range(functions):
                devices.append(
                    Device(
                        BDF(domain, base + 3 + p, 0, f),
                        DeviceKind.NVME,
                        f"nvme{s}.{p}.{f}",
                        parent=dsp,
                        class_code=NVME,
                        acs=ACS_UNKNOWN,
                        pool=P2PPool(1 << 20, 1 << 20),
                    )
                )
    host = Host(cpu_vendor="intel", cpu_family=6, kernel="6.8.0", cmdline=cmdline)
    return Fabric("unknown-acs", tuple(root_buses), tuple(devices), host)


def filled_one_by_one(ctx, acs_set, deciding):
    """What with_facts gave before: every function of unreadable ACS filled again, in or out of the set."""
    redirect, ctrl = list(ctx.redirect), list(ctx.ctrl)
    for i, maybe in enumerate(ctx.acs_maybe):
        if maybe:
            on = acs_set is True or (acs_set is not False and i in acs_set)
            value = assumed_ctrl(ctx.index.fabric, ctx.index.devices[i], ctx.profile, on)
            ctrl[i] = value
            redirect[i] = bool(value & acsbits.REDIRECT_BITS)
    assumed = ["outcome" if i in deciding else a for i, a in enumerate(ctx.acs_assumed)]
    return redirect, ctrl, assumed


@pytest.mark.parametrize("seed", range(6))
def test_filled_contexts_match_filling_every_function(seed: int) -> None:
    rng = random.Random(seed)
    fabric = switches_of_unknown_acs(2, 5)
    # A command line that clears redirect on some ports: their "redirects" fill is then no redirect at all.
    cleared = rng.sample([d for d in fabric.devices if d.kind is DeviceKind.SWITCH_DOWNSTREAM], 2)
    cmdline = "pci=disable_acs_redir=" + ";".join(str(d.bdf) for d in cleared)
    ctx = verdict_context(fabric, profile_for(fabric, cmdline=cmdline))
    maybe = [i for i, m in enumerate(ctx.acs_maybe) if m]
    assert len(maybe) > 10
    n = len(ctx.redirect)
    for _ in range(40):
        acs_set = rng.choice(
            [True, False, frozenset(), frozenset(rng.sample(range(n), rng.randrange(0, n)))]  # may hold known ones
        )
        deciding = frozenset(rng.sample(maybe, rng.randrange(0, 4)))
        filled = ctx.with_facts(acs_set, {}, deciding)
        assert (filled.redirect, filled.ctrl, filled.acs_assumed) == filled_one_by_one(ctx, acs_set, deciding)
        assert not any(filled.acs_maybe)
    assert ctx.with_facts(True, {}).redirect != ctx.with_facts(False, {}).redirect  # the fills do differ


def test_a_search_fills_each_function_once_not_once_per_case(monkeypatch: pytest.MonkeyPatch) -> None:
    fabric = switches_of_unknown_acs(6, 10)
    fills = CallCount(monkeypatch, context_module, "assumed_ctrl")
    ctx = verdict_context(fabric)
    unknown = sum(ctx.acs_maybe)
    client = next(d for d in fabric.devices if d.kind is DeviceKind.NVME)
    search = find_provider(fabric, [client])
    uncertain = [c for c in search.candidates if not c.certain]
    assert len(uncertain) > 50  # every provider behind another switch depends on unknown ACS, case by case
    # Each function of unreadable ACS is filled both ways once for the search's context; filling it again for every
    # case of every uncertain provider made this count cases × functions (over 20,000 here).
    assert fills.calls <= 2 * unknown, (fills.calls, unknown)


def clients_below(fabric: Fabric, count: int) -> list[Device]:
    return [d for d in fabric.devices if d.kind is DeviceKind.NVME and d.bdf.function == 0][:count]


@pytest.mark.parametrize(
    "host",
    [
        Host(cpu_vendor="intel", cpu_family=6, kernel="6.8.0"),
        Host(cpu_vendor="amd", cpu_family=0x17, kernel="5.2.0"),  # v5.2's root-complex rule reads host bridges
        Host(cpu_vendor="intel", cpu_family=6, kernel="4.20.0"),
        Host(),  # kernel and CPU unknown too: the cases complete the profile as well
    ],
    ids=["6.8", "5.2-amd", "4.20", "unknown-kernel"],
)
def test_cases_sharing_pair_verdicts_answer_as_cases_apart(host: Host, monkeypatch: pytest.MonkeyPatch) -> None:
    base = switches_of_unknown_acs(3, 4)
    fabric = Fabric(base.name, base.root_buses, base.devices, host)
    providers = [d for d in fabric.devices if d.kind is DeviceKind.NVME][::5]
    # Few enough clients that an unknown kernel is weighed release by release (more would narrow it to the newest).
    few = clients_below(fabric, 1) + clients_below(fabric, 12)[-1:]
    many = clients_below(fabric, 4) + clients_below(fabric, 12)[-3:]
    asked = [(p, clients, verbose) for p in providers for clients in (few, many) for verbose in (True, False)]
    shared = [check(fabric, p, clients, verbose=verbose) for p, clients, verbose in asked]
    assert any(not v.certain for v in shared)
    if host.kernel is None:
        assert any(u.fact is Fact.KERNEL for v in shared for u in v.depends_on), "the kernel's releases not weighed"

    def apart(self, acs_set, hb, deciding=frozenset(), pair_memo=None):
        return unshared(self, acs_set, hb, deciding, None)

    unshared = VerdictContext.with_facts
    monkeypatch.setattr(VerdictContext, "with_facts", apart)
    assert [check(fabric, p, clients, verbose=verbose) for p, clients, verbose in asked] == shared


def test_an_uncertain_check_weighs_each_pair_once_per_fact_it_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    fabric = switches_of_unknown_acs(1, 12)
    clients = clients_below(fabric, 11)
    provider = clients.pop(0)
    computed = CallCount(monkeypatch, verdict_module, "topo_class")  # once per pair verdict worked out, at its end
    weighed = CallCount(monkeypatch, VerdictContext, "with_facts")  # once per case weighed
    result = check(fabric, provider, clients)
    assert not result.certain
    # 10 clients below as many ports of unknown ACS, the provider below one more, host bridges of unknown IDs:
    # over a thousand cases of 10 pairs each. A pair reads only its own two ports' fill (each redirects or not)
    # and the host bridge's standing (3 ways), so it comes out at most 12 ways, plus once for the plain check.
    assert weighed.calls > 1000
    assert computed.calls <= 10 * (1 + 2 * 2 * 3), (computed.calls, weighed.calls)


def test_releases_weighed_share_their_fills(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the kernel unknown a verdict weighs each release's rules, and a fix re-weighs them under its command
    line: each a context of its own, but most share the boot-time ACS set-up a fill depends on."""
    base = switches_of_unknown_acs(4, 6)
    fabric = Fabric(base.name, base.root_buses, base.devices, Host(cpu_vendor="intel", cpu_family=6))
    fills = CallCount(monkeypatch, context_module, "assumed_ctrl")
    ctx = verdict_context(fabric)
    unknown = sum(ctx.acs_maybe)
    provider, *clients = clients_below(fabric, 3)
    result = check(fabric, provider, clients)
    assert {Fact.KERNEL, Fact.ACS} <= {u.fact for u in result.depends_on}
    # The releases weighed fall into three ACS set-ups (before 6.11, the 6.11-6.14 bug, fixed since): each fills a
    # function once, where each release's context filled it again (20 contexts here).
    assert fills.calls <= 3 * unknown, (fills.calls, unknown)
