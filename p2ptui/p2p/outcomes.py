"""A verdict that says what it does not know.

The kernel never guesses; neither does p2ptui. When the fabric does not give a fact the verdict depends on (the
kernel release, the CPU, the IOMMU mode, the ACS control of functions on the paths, the IDs of a host bridge), every
value the fact can take is evaluated. One outcome: the verdict is certain. Several: it *depends*, and each distinct
outcome comes with the assumptions that produce it; only the facts that change the outcome are named.

Why the enumeration is exact and small:
* kernel, CPU and IOMMU take a few values each (the releases where a rule changes; AMD Zen or not; IOMMU on or off);
* an unknown ACS control matters only through whether a client's path has a redirect at all (the map type and
  distance do not depend on which function redirects), so it is enough to try, for each set Y of clients, the
  completion where every unknown function off the paths of clients outside Y redirects and the others do not;
* an unknown host bridge is whitelisted for any peer, only for its own bridge, or not at all.

The cases still multiply with the clients (each with its own functions of unknown ACS can double them) and the root
buses of unknown host bridges (each triples them): past MAX_COMPLETIONS the verdict is refused rather than weighed
for minutes or guessed.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..errors import Diagnostic, InputError
from ..fabric.model import Device, Fabric, IommuMode
from .context import VerdictContext, verdict_context
from .messages import NonPciClient
from .profiles import LATEST, ZEN_FAMILY, Fact, HostBridgeAssumption, KernelProfile
from .verdict import Client, ClientVerdict, MapType, Verdict, _index_of, check_certain

MAP_RANK = {MapType.BUS_ADDR: 0, MapType.THRU_HOST_BRIDGE: 1, MapType.NOT_SUPPORTED: 2}
HOW_TO_LEARN = {
    Fact.KERNEL: "`uname -r` on the machine, or a sysfs snapshot; or --assume kernel=VERSION",
    Fact.CPU: "/proc/cpuinfo (vendor_id, cpu family), or a sysfs snapshot; or --assume cpu=amd:0x19 / cpu=intel",
    Fact.IOMMU: "/sys/kernel/iommu_groups and the kernel command line (a sysfs snapshot has both); "
    "or --assume iommu=on / iommu=off",
    Fact.ACS: "`sudo lspci -vvv` (ACSCtl) or a sysfs snapshot read as root; or --assume acs-clear / acs-set",
    Fact.HOST_BRIDGE: "`lspci -nn` prints the IDs; or --assume host-bridges=whitelisted / not-whitelisted",
}
WHY_UNKNOWN = {
    Fact.KERNEL: "the input does not say which kernel ran (releases from v4.20, where P2PDMA begins, are considered)",
    Fact.CPU: "the input does not name the CPU, and its host bridges do not pin it (the AMD Zen rule of v5.9+)",
    Fact.IOMMU: "the input does not say whether an IOMMU is on (with one, Linux sets ACS redirect on ports that "
    "have ACS, and v5.2 drops its AMD rule)",
    Fact.ACS: "the input does not record ACS control for them (Linux sets redirect there when an IOMMU is on; "
    "firmware may too)",
    Fact.HOST_BRIDGE: "the input has no vendor/device IDs for the functions standing for these host bridges "
    "(the kernel's whitelist)",
}
# Far above what real inputs need (a few hundred). Beyond it an unknown kernel is narrowed to the newest rules, and if
# the cases still exceed it the verdict is refused, naming the facts that would settle it (_too_many).
MAX_COMPLETIONS = 4096


@dataclass(frozen=True)
class AcsCompletion:
    """Unknown ACS filled in: ``redirecting`` functions redirect, the other unknown ones do not. ``paths`` names each
    client's unknown functions, to say what each redirected path needs."""

    redirecting: frozenset[int]
    paths: tuple[tuple[str, frozenset[int]], ...]


@dataclass(frozen=True)
class Condition:
    fact: Fact
    text: str

    def to_json(self) -> dict:
        return {"fact": self.fact.value, "text": self.text}


@dataclass(frozen=True)
class Outcome:
    """One possible verdict and the assumptions under which it is the kernel's answer."""

    verdict: Verdict
    alternatives: tuple[tuple[Condition, ...], ...]  # any one of these, each a conjunction of conditions

    @property
    def when(self) -> str:
        texts = [" and ".join(c.text for c in alt) for alt in self.alternatives if alt]
        return " or ".join(f"({t})" if len(texts) > 1 and " and " in t else t for t in texts) or "in every case"

    def when_json(self) -> list[list[dict]]:
        return [[c.to_json() for c in alt] for alt in self.alternatives]


@dataclass(frozen=True)
class Unknown:
    """A fact the fabric does not give and the outcome depends on."""

    fact: Fact
    subjects: tuple[str, ...]  # the functions or host bridges concerned; empty for machine-wide facts
    why: str
    how: str

    @property
    def label(self) -> str:
        names = f" of {', '.join(self.subjects)}" if self.subjects else ""
        return {
            Fact.ACS: "ACS",
            Fact.HOST_BRIDGE: "host-bridge IDs",
            Fact.CPU: "the CPU",
            Fact.IOMMU: "the IOMMU mode",
            Fact.KERNEL: "the kernel release",
        }[self.fact] + names

    def to_json(self) -> dict:
        return {"fact": self.fact.value, "subjects": list(self.subjects), "why": self.why, "how": self.how}


def outcome_key(v: Verdict) -> tuple:
    """What makes two outcomes different: each client's map type and distance, and distance_many's result."""
    return (v.distance, tuple((cv.map_type, cv.distance) for cv in v.clients))


def severity(v: Verdict) -> tuple:
    """Worse is larger: refused, then through the host bridge, then the larger distance."""
    worst_map = max((MAP_RANK[cv.map_type] for cv in v.clients), default=2)
    return (not v.supported, worst_map, v.distance, sum(cv.distance for cv in v.clients))


def is_certain(ctx: VerdictContext) -> bool:
    """Whether check() answers with check_certain alone: P2PDMA is present and every fact the verdict rests on is
    known. Otherwise it weighs every outcome the unknown facts allow (or says P2PDMA is absent)."""
    return ctx.profile.has_p2pdma and not ctx.has_unknowns


def check_under_unknowns(
    fabric: Fabric, provider: Device | str, clients: Sequence[Client], profile: KernelProfile | None, verbose: bool
) -> Verdict:
    base = verdict_context(fabric, profile)
    if is_certain(base):
        return check_certain(base, provider, clients, verbose)
    if not base.profile.has_p2pdma:
        return _absent(base, provider, clients)
    dims = _dimensions(base, provider, clients, verbose)
    runs: list[tuple[dict, Verdict]] = []
    acs_values = next((values for fact, values in dims if fact is Fact.ACS), [])
    deciding = frozenset().union(*(v.redirecting for v in acs_values))
    memo: dict = {}  # pair verdicts, shared by the cases (see verdict.pair_verdict)
    contexts: dict[tuple, VerdictContext] = {}  # per completed profile: the same for every ACS and host-bridge case
    for values in itertools.product(*(d[1] for d in dims)):
        assignment = {fact: value for (fact, _), value in zip(dims, values, strict=False)}
        completion = tuple(assignment.get(fact) for fact in _PROFILE_FACTS)
        ctx = contexts.get(completion)
        if ctx is None:
            ctx = contexts[completion] = _completed_context(fabric, base, assignment)
        acs = assignment[Fact.ACS].redirecting if Fact.ACS in assignment else frozenset()
        hb = dict(assignment.get(Fact.HOST_BRIDGE, ()))
        verdict = check_certain(ctx.with_facts(acs, hb, deciding, memo), provider, clients, verbose)
        runs.append((assignment, verdict))
    return _summarise(base, dims, runs)


_PROFILE_FACTS = (Fact.KERNEL, Fact.CPU, Fact.IOMMU)


def _completed_context(fabric: Fabric, base: VerdictContext, assignment: dict) -> VerdictContext:
    """The context of the profile with the case's kernel, CPU and IOMMU mode filled (the base one when that changes
    nothing)."""
    prof = base.profile.completed(assignment.get(Fact.KERNEL), assignment.get(Fact.CPU), assignment.get(Fact.IOMMU))
    return verdict_context(fabric, prof) if prof != base.profile else base


def _dimensions(base: VerdictContext, provider, clients: Sequence[Client], verbose: bool) -> list[tuple[Fact, list]]:
    dims: list[tuple[Fact, list]] = base.profile.unknown_values()
    # Which unknown functions and host bridges these paths involve: the chains do not depend on the profile.
    plain = check_certain(base, provider, clients, verbose)
    index = base.index.index
    per_client: list[frozenset[int]] = []
    names: list[str] = []
    buses: set[int] = {base.index.root_bus[_index_of(base, provider)]}
    for cv in plain.clients:
        if cv.client is None:
            continue
        buses.add(base.index.root_bus[index[cv.client.bdf]])
        if cv.common is None:
            continue  # without a common device the kernel ignores ACS
        inspected = cv.provider_chain[: cv.provider_chain.index(cv.common) + 1]
        inspected += cv.client_chain[: cv.client_chain.index(cv.common)]
        maybe = frozenset(index[d.bdf] for d in inspected if base.acs_maybe[index[d.bdf]])
        if maybe and maybe not in per_client:
            per_client.append(maybe)
            names.append(cv.client.name)
    if per_client:
        sets = _acs_sets(per_client)
        if sets is None:
            raise _too_many([*_facts(dims), (Fact.ACS, len(per_client), MAX_COMPLETIONS + 1)], more=True)
        paths = tuple(zip(names, per_client, strict=False))
        dims.append((Fact.ACS, [AcsCompletion(s, paths) for s in sets]))
    unknown_buses = sorted(k for k in buses if base.rep_unknown[k] and k not in base.hb_state)
    if unknown_buses:
        states = list(HostBridgeAssumption)
        if len(states) ** len(unknown_buses) > MAX_COMPLETIONS:  # refused before the combinations are built
            hosts = (Fact.HOST_BRIDGE, len(unknown_buses), len(states) ** len(unknown_buses))
            raise _too_many([*_facts(dims), hosts])
        products = itertools.product(states, repeat=len(unknown_buses))
        combos = [tuple(zip(unknown_buses, c, strict=True)) for c in products]
        dims.append((Fact.HOST_BRIDGE, combos))
    if _cases(dims) > MAX_COMPLETIONS and dims and dims[0][0] is Fact.KERNEL:
        dims[0] = (Fact.KERNEL, [LATEST])  # keep the answer tractable: the newest rules, said in the outcome
    if _cases(dims) > MAX_COMPLETIONS:
        raise _too_many(_facts(dims))
    return dims


def _acs_sets(per_client: list[frozenset[int]]) -> list[frozenset[int]] | None:
    """The sets of unknown functions that redirect, one per set of clients whose paths are left clear (functions on
    a clear path do not redirect, all others do), distinct, fewest first; None when there are too many to weigh.

    Up to 12 clients every choice is tried in turn (4,096 at most), which keeps the order outcomes have always been
    listed in. Beyond, the distinct clear unions are grown one client at a time, which stops as soon as there are
    too many: choice by choice, 15 clients below one switch took 8 s to find that out, and 40 would never have
    finished."""
    everything = frozenset().union(*per_client)
    if len(per_client) <= 12:
        sets: list[frozenset[int]] = []
        seen: set[frozenset[int]] = set()
        for chosen in itertools.product((False, True), repeat=len(per_client)):
            acs_set = everything - frozenset().union(*(m for m, on in zip(per_client, chosen, strict=False) if not on))
            if acs_set not in seen:
                seen.add(acs_set)
                sets.append(acs_set)
        return sorted(sets, key=len)
    unions: set[frozenset[int]] = {frozenset()}
    for path in per_client:
        unions |= {u | path for u in unions}
        if len(unions) > MAX_COMPLETIONS:
            return None
    return sorted((everything - u for u in unions), key=lambda acs_set: (len(acs_set), sorted(acs_set)))


def _facts(dims: list[tuple[Fact, list]]) -> list[tuple[Fact, int, int]]:
    """Each dimension as a refusal names it: (fact, the clients or host bridges it concerns, its values)."""
    facts = []
    for fact, values in dims:
        subjects = len(values[0].paths) if fact is Fact.ACS else len(values[0]) if fact is Fact.HOST_BRIDGE else 0
        facts.append((fact, subjects, len(values)))
    return facts


def _cases(dims: list[tuple[Fact, list]]) -> int:
    return math.prod(len(values) for _, values in dims)


def _too_many(facts: list[tuple[Fact, int, int]], more: bool = False) -> InputError:
    """Refuse rather than hang or guess. ``facts``: (fact, how many clients or host bridges it concerns, how many
    values it takes). Each client whose path holds functions of unknown ACS can double the cases, each root bus of
    unknown host-bridge IDs triples them (15 clients below one switch of unknown ACS: 32,768)."""
    parts = []
    for fact, subjects, _ in facts:
        if fact is Fact.ACS:
            parts.append(f"ACS on the paths to {subjects} clients")
        elif fact is Fact.HOST_BRIDGE:
            parts.append(f"the IDs of {subjects} host bridges")
        else:
            parts.append(Unknown(fact, (), "", "").label)
    cases = "more cases" if more else f"{math.prod(values for _, _, values in facts):,} cases, more"
    how = "; ".join(HOW_TO_LEARN[fact] for fact, _, _ in facts)
    return InputError(
        Diagnostic(
            f"the verdict depends on {', '.join(parts)}: {cases} than the {MAX_COMPLETIONS:,} p2ptui weighs one by one",
            hint=f"give those facts ({how}), or check fewer clients at a time",
        )
    )


def _summarise(base: VerdictContext, dims: list[tuple[Fact, list]], runs: list[tuple[dict, Verdict]]) -> Verdict:
    groups: dict[tuple, list[int]] = {}
    for k, (_, v) in enumerate(runs):
        groups.setdefault(outcome_key(v), []).append(k)
    if len(groups) == 1:
        v = runs[0][1]
        return replace(v, profile=base.profile, notes=_merged_notes(base, v))
    mattering = [d for d in dims if _matters(d[0], runs)]
    outcomes: list[Outcome] = []
    for members in groups.values():
        rep = runs[members[0]][1]
        points = {tuple(runs[k][0][fact] for fact, _ in mattering) for k in members}
        alternatives = tuple(_cover(base, mattering, points))
        outcomes.append(Outcome(replace(rep, notes=_merged_notes(base, rep)), alternatives))
    outcomes.sort(key=lambda o: severity(o.verdict))
    worst = outcomes[-1].verdict
    depends = tuple(_unknown(base, fact, values, runs) for fact, values in mattering)
    return replace(
        worst,
        profile=base.profile,
        certain=False,
        outcomes=tuple(outcomes),
        depends_on=depends,
        notes=_merged_notes(base, worst),
    )


def _cover(base: VerdictContext, dims: list[tuple[Fact, list]], points: set[tuple]) -> list[tuple[Condition, ...]]:
    """The assignments in ``points`` as alternatives of conjunctions, exactly: split on the first fact, merge its values
    that lead to the same rest, and leave out a fact wherever every value of it is in."""
    if not dims:
        return [()]
    (fact, values), rest = dims[0], dims[1:]
    by_value: dict = {}
    for p in points:
        by_value.setdefault(p[0], set()).add(p[1:])
    merged: dict[frozenset, list] = {}
    for v in values:
        if v in by_value:
            merged.setdefault(frozenset(by_value[v]), []).append(v)
    full = len(list(itertools.product(*(r[1] for r in rest))))
    out: list[tuple[Condition, ...]] = []
    for sub, chosen in merged.items():
        head = () if len(chosen) == len(values) else (Condition(fact, _describe(base, fact, values, chosen)),)
        tails = [()] if len(sub) == full else _cover(base, rest, set(sub))
        out.extend(head + tail for tail in tails)
    return out


def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _matters(fact: Fact, runs: list[tuple[dict, Verdict]]) -> bool:
    """Does changing only this fact ever change the outcome?"""
    seen: dict[tuple, tuple] = {}
    for assignment, v in runs:
        rest = tuple((f, _hashable(x)) for f, x in assignment.items() if f is not fact)
        key = outcome_key(v)
        if seen.setdefault(rest, key) != key:
            return True
    return False


def _merged_notes(base: VerdictContext, v: Verdict) -> list[str]:
    """The base profile's notes (inferences) and the verdict's own ACS notes, without a completion's assumptions."""
    own = [n for n in v.notes if n not in (v.profile.notes if v.profile else ())]
    return list(base.profile.notes) + own


def _version(v: tuple[int, int, int]) -> str:
    return f"{v[0]}.{v[1]}" + (f".{v[2]}" if v[2] else "")


def _describe(base: VerdictContext, fact: Fact, values: list, chosen: list) -> str:
    devs = base.index.devices
    if fact is Fact.KERNEL:
        picked = [k for k, rel in enumerate(values) if rel in set(chosen)]
        spans: list[list[int]] = []
        for k in picked:
            if spans and spans[-1][-1] == k - 1:
                spans[-1].append(k)
            else:
                spans.append([k])
        texts = []
        for span in spans:
            lo = _version(values[span[0]])
            if span[-1] == len(values) - 1:
                texts.append(f"kernel {lo} or newer")
            else:
                texts.append(f"kernel {lo} to before {_version(values[span[-1] + 1])}")
        return " or ".join(texts)
    if fact is Fact.CPU:
        cpus = set(chosen)
        if len(cpus) > 1:
            return "any CPU"
        vendor, family, _ = cpus.pop()
        if vendor == "amd" and family is not None and family >= ZEN_FAMILY:
            return "CPU AMD family 0x17 (Zen) or newer"
        return "CPU AMD before Zen (family < 0x17)" if vendor == "amd" else "CPU not AMD Zen (e.g. Intel)"
    if fact is Fact.IOMMU:
        modes = set(chosen)
        return "IOMMU on" if modes == {IommuMode.TRANSLATED} else "IOMMU off" if modes == {IommuMode.OFF} else "any"
    if fact is Fact.ACS:
        everything = frozenset().union(*(v.redirecting for v in values))
        texts = []
        for completion in dict.fromkeys(chosen):
            acs_set = completion.redirecting
            clear = sorted(everything - acs_set)
            parts = []
            if clear:
                parts.append("clear on " + ", ".join(devs[i].name for i in clear))
            # Each redirected path needs one redirect among its own unknown functions that are not clear.
            for name, maybe in completion.paths:
                on = sorted(maybe & acs_set)
                if on:
                    which = devs[on[0]].name if len(on) == 1 else "one of " + ", ".join(devs[i].name for i in on)
                    where = f" (path to {name})" if len(completion.paths) > 1 else ""
                    parts.append(f"set on {which}{where}")
            texts.append("ACS redirect " + " and ".join(dict.fromkeys(parts)))
        return " or ".join(texts)
    # Host bridges: each combination, per bus.
    names = {
        HostBridgeAssumption.WHITELISTED: "whitelisted",
        HostBridgeAssumption.SAME_BRIDGE_ONLY: "whitelisted for its own bridge only",
        HostBridgeAssumption.NOT_WHITELISTED: "not whitelisted",
    }
    texts = []
    for combo in dict.fromkeys(chosen):
        texts.append(
            ", ".join(f"host bridge {base.index.fabric.root_buses[k].host_bridge} {names[s]}" for k, s in combo)
        )
    return " or ".join(texts)


def _unknown(base: VerdictContext, fact: Fact, values: list, runs) -> Unknown:
    subjects: tuple[str, ...] = ()
    devs = base.index.devices
    if fact is Fact.ACS:
        subjects = tuple(
            f"{devs[i].name} ({devs[i].bdf})" for i in sorted(frozenset().union(*(v.redirecting for v in values)))
        )
    elif fact is Fact.HOST_BRIDGE:
        subjects = tuple(base.index.fabric.root_buses[k].host_bridge for k, _ in values[0])
    why = WHY_UNKNOWN[fact]
    if fact is Fact.CPU and base.profile.cpu_vendor == "amd":
        why = "the CPU is AMD, but its family is not in the input nor pinned by its host bridges (the Zen rule)"
    return Unknown(fact, subjects, why, HOW_TO_LEARN[fact])


def _absent(base: VerdictContext, provider, clients: Sequence[Client]) -> Verdict:
    """A kernel without P2PDMA: no distance, no map type, every client refused, nothing printed."""
    p = _index_of(base, provider)
    prov = base.index.devices[p]
    chain = [base.index.devices[i] for i in base.index.chains[p]]
    out = []
    for client in clients:
        dev = None
        if isinstance(client, (Device, str)):
            dev = base.index.devices[_index_of(base, client)]
        foreign = client if isinstance(client, NonPciClient) else (NonPciClient() if client is None else None)
        out.append(ClientVerdict(dev, MapType.NOT_SUPPORTED, -1, chain, [], None, [], foreign=foreign))
    p2p = base.profile
    note = f"kernel {p2p.kernel} has no PCI P2PDMA: it arrived in v4.20 (drivers/pci/p2pdma.c)"
    return Verdict(prov, out, -1, [], None, p2p, [], [note, *p2p.notes])
