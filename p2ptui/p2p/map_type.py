"""The kernel's map types, in a module of their own so the profile's rules and the verdict can both name them."""

from __future__ import annotations

from enum import StrEnum

V52_HOST_BRIDGE_PENALTY = 0x1000  # v5.2 added it to a path through its one whitelisted root complex


class MapType(StrEnum):
    """pci_p2pdma_map_type values (the kernel's names). Before v5.4 there was no enum: p2ptui maps a usable
    distance to BUS_ADDR (or THRU_HOST_BRIDGE for v5.2's AMD root-complex path) and a negative one to NOT_SUPPORTED."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    BUS_ADDR = "BUS_ADDR"
    THRU_HOST_BRIDGE = "THRU_HOST_BRIDGE"
