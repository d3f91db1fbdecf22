"""pci_p2pmem_find_many(): the published provider with the smallest summed distance to all clients
(drivers/pci/p2pdma.c).

Candidates are scored in device-list (bus) order with pci_p2pdma_distance_many(verbose=false); the minimum wins and
ties are broken uniformly at random (get_random_u32_below) among at most 512 kept candidates. Scores come from the
vectorised pair table; the kernel lines a non-verbose search still prints (v5.14+ "Host bridge not in P2PDMA
whitelist", tied to ACS redirect) come from replaying those few candidates through the single verdict.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ..fabric.model import Device, Fabric
from .context import verdict_context
from .matrix import NOT, pair_table
from .messages import NonPciClient
from .profiles import KernelProfile
from .verdict import Client, Verdict, _index_of, check

MAX_TIES = 512  # PAGE_SIZE / sizeof(struct pci_dev *) on 4 KiB pages, 64-bit


@dataclass(frozen=True)
class Candidate:
    provider: Device
    distance: int  # distance_many(provider, clients): the sum, or -1 (for an uncertain score: its worst outcome)
    certain: bool = True  # False: the score (distance_many) depends on facts the fabric does not give
    outcomes: tuple[int, ...] = ()  # for an uncertain score, every distance_many it can take


@dataclass(frozen=True)
class ProviderSearch:
    clients: list[Client]
    candidates: list[Candidate]  # every published provider, in the order the kernel visits them
    distance: int  # the best score, -1 when nothing qualifies
    ties: list[Device]  # every candidate with the best score, in visiting order
    chosen: Device | None  # the kernel's random pick among the first MAX_TIES ties
    seed: int | None
    messages: list[str] = field(default_factory=list)

    @property
    def found(self) -> bool:
        return self.chosen is not None


def find_provider(
    fabric: Fabric,
    clients: Sequence[Client],
    profile: KernelProfile | None = None,
    seed: int | None = None,
) -> ProviderSearch:
    """pci_p2pmem_find_many(clients): published pools only, minimum summed distance, random among ties."""
    ctx = verdict_context(fabric, profile)
    providers = [d for d in fabric.providers(published_only=True) if not d.conflict]  # conflicting: place unknown
    columns: list[int] = []
    pci_only = True
    for client in clients:
        if client is None:
            pci_only = False
        elif isinstance(client, NonPciClient):
            if client.pci_parent is None or (client.dma_virt_ops and ctx.profile.dma_virt_ops_check):
                pci_only = False
            else:
                columns.append(_index_of(ctx, client.pci_parent))
        else:
            columns.append(_index_of(ctx, client))
    scores = np.full(len(providers), -1, dtype=np.int64)
    refused = np.zeros(len(providers), dtype=bool)
    uncertain = np.zeros(len(providers), dtype=bool)
    if providers and clients and pci_only:
        rows = np.array([ctx.index.index[p.bdf] for p in providers], dtype=np.int64)
        table = pair_table(ctx, rows, np.array(columns, dtype=np.int64))
        # A few clients per provider: the table is small, expanded whole.
        refused = (np.asarray(table.map_type) == NOT).any(axis=1, out=refused)
        scores = np.where(refused, -1, np.asarray(table.distance, dtype=np.int64).sum(axis=1))
        if table.certain is not None:
            uncertain = (~np.asarray(table.certain, dtype=bool)).any(axis=1, out=uncertain)
    candidates = [Candidate(p, int(s)) for p, s in zip(providers, scores, strict=False)]
    weighed: dict[int, Verdict] = {}  # by provider index: the searches' own verdicts, for its messages below
    for k in np.flatnonzero(uncertain):
        # The row's cells may be uncertain through different facts: the single verdict knows which combine.
        v = weighed[int(k)] = check(fabric, providers[k], clients, ctx.profile, verbose=False)
        seen = tuple(sorted({o.verdict.distance for o in v.outcomes})) if not v.certain else (v.distance,)
        # Only the score matters here: outcomes that differ in map type but not in distance leave it certain.
        candidates[k] = Candidate(providers[k], v.distance, len(seen) == 1, seen if len(seen) > 1 else ())
        scores[k] = v.distance
        refused[k] = v.distance < 0
    valid = scores[scores >= 0]
    best = int(valid.min()) if len(valid) else -1
    ties = [c.provider for c in candidates if best >= 0 and c.distance == best]
    chosen = None
    if ties:
        kept = ties[:MAX_TIES]
        chosen = kept[random.Random(seed).randrange(len(kept))]
    refusals = [(p, weighed.get(k)) for k, (p, r) in enumerate(zip(providers, refused, strict=False)) if r]
    lines = _search_messages(fabric, ctx, refusals, clients)
    return ProviderSearch(list(clients), candidates, best, ties, chosen, seed, lines)


def _search_messages(fabric, ctx, refused: list[tuple[Device, Verdict | None]], clients) -> list[str]:
    """Lines a non-verbose search prints: only v5.14+ whitelist warnings, which come with ACS-redirected paths the
    whitelist then refuses, so only refused candidates can print any. A refused candidate comes with the verdict the
    search already weighed for it, when it did (an uncertain score: its outcomes are not weighed twice)."""
    if not ctx.profile.host_bridge_warning or ctx.profile.cpu_allows_p2p or not any(ctx.redirect):
        return []
    lines: list[str] = []
    for provider, verdict in refused:
        if verdict is None:
            verdict = check(fabric, provider, clients, ctx.profile, verbose=False)
        lines.extend(verdict.messages)
    return lines
