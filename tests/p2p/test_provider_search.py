"""pci_p2pmem_find_many(): published pools only, minimum sum, ties listed, seeded random pick."""

from __future__ import annotations

import fabric_edits
import pytest
from call_count import CallCount
from p2p_scenario_support import NON_WL_INTEL, dsp_redirect, scenario_fabric, with_hb0

from p2ptui.fabric.synth import random_fabric
from p2ptui.p2p import providers
from p2ptui.p2p.messages import NonPciClient
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.providers import find_provider
from p2ptui.p2p.verdict import check

F = scenario_fabric


def test_unpublished_pools_are_not_candidates():
    f = fabric_edits.with_pool_published(F(), "nvme-a", False)
    s = find_provider(f, ["rnic0", "nvme-a"], seed=1)
    assert "nvme-a" not in [c.provider.name for c in s.candidates]
    assert s.chosen.name == "nvme-b" and s.distance == 8


def test_scores_equal_distance_many():
    f = with_hb0(F(), NON_WL_INTEL)
    clients = ["rnic0", "gpu0"]
    s = find_provider(f, clients, seed=3)
    for c in s.candidates:
        assert c.distance == check(f, c.provider, clients, verbose=False).distance
    assert s.distance == -1 and s.chosen is None and s.ties == [] and not s.found


def test_no_clients_and_non_pci_clients_find_nothing():
    assert find_provider(F(), [], seed=0).chosen is None
    assert find_provider(F(), ["rnic0", NonPciClient("dma0")], seed=0).chosen is None
    ib = NonPciClient("mlx5_0", bus="infiniband", pci_parent="rnic0")
    assert find_provider(F(), [ib, "nvme-a"], seed=0).chosen.name == "nvme-a"


def test_only_the_first_512_ties_can_be_picked(monkeypatch):
    monkeypatch.setattr(providers, "MAX_TIES", 1)
    picks = {find_provider(F(), ["rnic0", "nvme-c"], seed=s).chosen.name for s in range(30)}
    assert picks == {"nvme-a"}
    assert [d.name for d in find_provider(F(), ["rnic0", "nvme-c"], seed=0).ties] == ["nvme-a", "nvme-b"]


def test_search_prints_the_whitelist_warning_even_though_not_verbose():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    s = find_provider(f, ["rnic0"], seed=0)
    # NVMe-A and NVMe-B both reach the RNIC through DSP1, whose RR/CR redirect them; NVMe-D and NVMe-E have no
    # common device with it, a path on which the kernel never warns.
    assert s.messages == ["pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:3e30"] * 2
    assert s.chosen is None
    only_dsp0 = with_hb0(dsp_redirect(F(), ports=("dsp0",)), NON_WL_INTEL)
    s = find_provider(only_dsp0, ["rnic0"], seed=0)
    assert len(s.messages) == 1 and s.chosen.name == "nvme-b" and s.distance == 4
    assert find_provider(f, ["rnic0"], profile_for(f, kernel="5.13"), seed=0).messages == []


@pytest.mark.parametrize("seed", range(25))
def test_vectorised_search_equals_looping_the_verdict(seed):
    fabric = random_fabric(500 + seed, max_endpoints=30)
    ends = fabric.endpoints()
    clients = ends[seed % len(ends) :: 7][:3] or ends[:1]
    s = find_provider(fabric, clients, seed=seed)
    scores = [check(fabric, p, clients, verbose=False).distance for p in fabric.providers()]
    assert [c.distance for c in s.candidates] == scores
    valid = [x for x in scores if x >= 0]
    assert s.distance == (min(valid) if valid else -1)
    assert [d.bdf for d in s.ties] == [
        p.bdf for p, x in zip(fabric.providers(), scores, strict=False) if valid and x == min(valid)
    ]


def test_scores_that_depend_on_unknown_acs_are_flagged():
    """Issue 11: a candidate whose path crosses a port with unreadable ACS has a score that depends on it, when the
    host bridge would refuse the redirected path (BUS_ADDR 4 or NOT_SUPPORTED -1); with a whitelisted bridge the
    score is 4 either way (BUS_ADDR or THRU_HOST_BRIDGE), so it stays certain."""
    from dataclasses import replace

    from p2ptui.fabric.acs import Acs, AcsSource

    for fabric, score_certain in ((with_hb0(F(), NON_WL_INTEL), False), (F(), True)):
        dsp0 = fabric.find("dsp0")  # above nvme-a: nvme-a -> rnic0 turns around at usp0 through dsp0 and dsp1
        f = fabric.with_devices(
            replace(d, acs=Acs(AcsSource.UNKNOWN)) if d.bdf == dsp0.bdf else d for d in fabric.devices
        )
        profile = profile_for(f, kernel="6.8")
        s = find_provider(f, ["rnic0"], profile, seed=0)
        by_name = {c.provider.name: c for c in s.candidates}
        assert by_name["nvme-a"].certain is score_certain
        assert by_name["nvme-a"].outcomes == (() if score_certain else (-1, 4))
        assert by_name["nvme-b"].certain  # its path does not cross dsp0
        v = check(f, "nvme-a", ["rnic0"], profile, verbose=False)
        assert not v.certain and by_name["nvme-a"].distance == v.distance


def test_an_uncertain_refused_candidate_is_weighed_once_for_its_score_and_its_lines(monkeypatch):
    """A candidate whose score depends on unknown facts is weighed outcome by outcome; when it is refused, the
    search's whitelist lines come from that same verdict, not from weighing it all again."""
    from dataclasses import replace

    from p2ptui.fabric.acs import Acs, AcsSource

    # dsp0 (above nvme-a) redirects, behind a host bridge off the whitelist: refused, with the kernel's line.
    fabric = with_hb0(dsp_redirect(F(), ports=("dsp0",)), NON_WL_INTEL)
    dsp1 = fabric.find("dsp1")  # above rnic0, unreadable: nvme-b's path redirects or not
    f = fabric.with_devices(replace(d, acs=Acs(AcsSource.UNKNOWN)) if d.bdf == dsp1.bdf else d for d in fabric.devices)
    profile = profile_for(f, kernel="6.8")
    real_check = providers.check
    weighed = CallCount(monkeypatch, providers, "check")
    s = find_provider(f, ["rnic0"], profile, seed=0)
    by_name = {c.provider.name: c for c in s.candidates}
    assert not by_name["nvme-b"].certain and by_name["nvme-b"].distance == -1  # refused in its worst outcome
    refused = [c.provider for c in s.candidates if c.distance < 0]
    assert s.messages == [line for p in refused for line in real_check(f, p, ["rnic0"], profile, False).messages]
    assert s.messages  # the lines are there
    named = [args[1].name for args in weighed.args]
    assert sorted(named) == sorted(set(named)), named  # no candidate weighed twice
