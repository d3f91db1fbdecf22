"""The kernel's P2P verdict for the provider and clients a transfer needs, computed once per combination.

The verdict itself lives in p2ptui.p2p (the kernel's algorithm); the engine needs, per leg, the map type and the
common upstream device where BUS_ADDR traffic turns around, and the whole Verdict for the expert gate.
"""

from __future__ import annotations

from ..fabric.bdf import BDF
from ..fabric.model import Device, Fabric
from ..p2p import Verdict, check, profile_for

MAP_BUS_ADDR = "BUS_ADDR"
MAP_THRU_HOST_BRIDGE = "THRU_HOST_BRIDGE"
MAP_NOT_SUPPORTED = "NOT_SUPPORTED"


class VerdictCache:
    def __init__(self, fabric: Fabric, profile=None):
        self.fabric = fabric
        self.profile = profile if profile is not None else profile_for(fabric)
        self._cache: dict[tuple[BDF, tuple[BDF, ...]], Verdict] = {}

    def verdict(self, provider: Device, clients: list[Device]) -> Verdict:
        """pci_p2pdma_distance_many(provider, clients) as p2ptui.p2p.check computes it.

        Verbose, so every client is evaluated even after a refusal."""
        key = (provider.bdf, tuple(c.bdf for c in clients))
        if key not in self._cache:
            self._cache[key] = check(self.fabric, provider, clients, self.profile, verbose=True)
        return self._cache[key]
