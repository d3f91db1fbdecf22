"""The kernel's P2P verdict for the provider and clients a transfer needs, computed once per combination.

The verdict itself lives in p2ptui.p2p (the kernel's algorithm); the engine needs, per leg, the map type and the
common upstream device where BUS_ADDR traffic turns around, and the whole Verdict for the expert gate.
"""

from __future__ import annotations

from ..fabric.bdf import BDF
from ..fabric.bounded_dict import BoundedDict
from ..fabric.model import Device, Fabric
from ..p2p import Verdict, check, profile_for
from ..p2p.context import VerdictContext, verdict_context
from ..p2p.outcomes import is_certain
from ..p2p.verdict import check_certain

MAP_BUS_ADDR = "BUS_ADDR"
MAP_THRU_HOST_BRIDGE = "THRU_HOST_BRIDGE"
MAP_NOT_SUPPORTED = "NOT_SUPPORTED"


# Verdicts kept at most: a simulation of 100,000 transfers between random pairs would otherwise hold 100,000 of them
# (1-2 KB each) for pairs that never come back; the oldest goes first (a repeated pair is computed again, exactly).
# Small: a copy list repeats a few pairs, and random pairs never come back (2 hits in 10,000), while a verdict kept
# for many transfers lives long enough to reach the collector's oldest generation (a dozen objects or more each)
# and is dropped there: that churn is what starts the collector's full passes, each walking every transfer kept so
# far. With 1,024 kept, 10,000 random transfers spent 0.5 s collecting; with 16, half that.
MAX_CACHED = 16
# Where a fact the verdicts rest on is unknown, each verdict weighs every outcome (hundreds of cases, tens of ms):
# a copy list's verdicts are then worth keeping, from its checks before the run to the run itself.
MAX_CACHED_UNCERTAIN = 4096


class VerdictCache:
    def __init__(self, fabric: Fabric, profile=None, limit: int = MAX_CACHED):
        self.fabric = fabric
        self.profile = profile if profile is not None else profile_for(fabric)
        self.limit = limit
        self._cache: BoundedDict[tuple[BDF, tuple[BDF, ...]], Verdict] = BoundedDict(limit)
        # The context when every fact the verdict rests on is known, False when some is not; None until asked.
        self._certain: VerdictContext | bool | None = None

    def __len__(self) -> int:
        return len(self._cache)

    def verdict(self, provider: Device, clients: list[Device]) -> Verdict:
        """pci_p2pdma_distance_many(provider, clients) as p2ptui.p2p.check computes it.

        Verbose, so every client is evaluated even after a refusal."""
        key = (provider.bdf, tuple(c.bdf for c in clients))
        verdict = self._cache.get(key)
        if verdict is None:
            verdict = self._cache[key] = self._check(provider, clients)  # a full cache forgets its oldest entry
        return verdict

    def _check(self, provider: Device, clients: list[Device]) -> Verdict:
        """check(), without asking at every call whether some fact is unknown: the fabric and the profile never
        change, so the answer does not either (asking cost 12 µs of check's 55 µs, per new pair of a simulation)."""
        if self._certain is None:
            ctx = verdict_context(self.fabric, self.profile)
            self._certain = ctx if is_certain(ctx) else False  # else check() weighs the outcomes, each time
            if self._certain is False:
                self._cache.limit = max(self.limit, MAX_CACHED_UNCERTAIN)
        if isinstance(self._certain, VerdictContext):
            return check_certain(self._certain, provider, clients, verbose=True)
        return check(self.fabric, provider, clients, self.profile, verbose=True)
