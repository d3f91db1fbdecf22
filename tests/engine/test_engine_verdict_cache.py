"""The simulator's verdict cache is bounded (100,000 transfers between random pairs must not keep 100,000 verdicts)
and a verdict computed again after eviction is the same as the first."""

import random
from pathlib import Path

import pytest
from call_count import CallCount

from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.engine.verdicts import VerdictCache
from p2ptui.fabric.synth import large_fabric
from p2ptui.p2p import check
from p2ptui.p2p.context import verdict_context
from p2ptui.sources import open_fabric

FABRIC = large_fabric(64, ports_per_switch=8)
# hwloc records neither ACS nor the kernel: verdicts on it weigh the outcomes those unknowns allow.
DGX2 = Path(__file__).resolve().parents[1] / "data" / "hwloc" / "nvidiaDGX2.xml"


@pytest.mark.parametrize("unknowns", [False, True], ids=["every fact known", "facts unknown (hwloc)"])
def test_the_cache_gives_checks_verdict_whether_or_not_facts_are_unknown(unknowns):
    fabric = open_fabric(str(DGX2)) if unknowns else FABRIC
    cache = VerdictCache(fabric)
    assert verdict_context(fabric, cache.profile).has_unknowns is unknowns
    rng = random.Random(5)
    ends = fabric.endpoints()
    for _ in range(12):
        provider, a, b = rng.sample(ends, 3)
        assert cache.verdict(provider, [a, b]) == check(fabric, provider, [a, b], cache.profile, verbose=True)
        assert cache.verdict(a, [b]) == check(fabric, a, [b], cache.profile, verbose=True)


def test_the_cache_keeps_at_most_its_limit_and_recomputes_the_same_verdict():
    cache = VerdictCache(FABRIC, limit=3)
    ends = FABRIC.endpoints()
    pairs = [(ends[i], ends[i + 1]) for i in range(0, 12, 2)]
    first = [cache.verdict(p, [c]) for p, c in pairs]
    assert len(cache) == 3
    again = cache.verdict(*pairs[0][:1], [pairs[0][1]])  # evicted long ago: computed afresh
    assert again is not first[0] and again == first[0]
    assert len(cache) == 3


def test_a_simulation_with_a_small_cache_gives_the_same_results_as_with_a_large_one():
    def run(limit: int) -> list[tuple[TransferState, float | None]]:
        sim = Simulation(FABRIC, verdicts=VerdictCache(FABRIC, limit=limit))
        rng = random.Random(3)
        ends = FABRIC.endpoints()
        for i in range(60):
            a, b = rng.sample(ends[:10], 2)  # few devices: pairs come back, some after eviction
            sim.add(TransferSpec(a.name, b.name, rng.randint(1, 64) << 20, start=i * 0.001))
        sim.run()
        return [(r.state, r.ended_at) for r in sim.results.values()]

    assert run(2) == run(10_000)


def test_with_facts_unknown_a_copy_lists_verdicts_are_kept_from_the_checks_to_the_run(monkeypatch):
    """Each such verdict weighs every outcome (tens of ms): a plan of more pairs than the small limit used to have
    them all evicted between the checks before the run and the run itself, and computed twice."""
    from p2ptui.engine import verdicts as verdicts_module

    fabric = open_fabric(str(DGX2))
    weighed = CallCount(monkeypatch, verdicts_module, "check")
    cache = VerdictCache(fabric)
    ends = fabric.endpoints()
    pairs = [(p, c) for p in ends[:8] for c in ends[8:12]]  # 32 pairs, twice the small limit
    first = [cache.verdict(p, [c]) for p, c in pairs]  # the checks before a run
    again = [cache.verdict(p, [c]) for p, c in pairs]  # the run
    assert weighed.calls == len(pairs) and again == first
