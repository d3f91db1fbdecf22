"""IOMMU translation cost: page walks as a shared throughput resource of the host bridge's IOMMU.

pcie-bench (Neugebauer et al., "Understanding PCIe performance for end host networking", SIGCOMM 2018; data in
github.com/pcie-bench/data) shows the cost is per *translation*: past the IOTLB's reach (64 entries × page size) every
DMA to a new page misses and costs a page walk, and the rate falls to what the walker can serve. Its 64-B DMAs
over a 64 MiB window with 4 KiB pages ran at 9.8 Gb/s (reads) and 11.2 Gb/s (writes) against 28.1 and 24.3 Gb/s
without the IOMMU. Read as "walks per second the unit can do", both points of each direction agree within a few
per cent (128-B reads: 19.0 M/s), which is why a throughput model, not a per-walk latency, is used here.

Only flows whose DMAs are translated pay: host-bridge P2P (THRU_HOST_BRIDGE) and DMA to or from host memory with
translation on. BUS_ADDR traffic never reaches the IOMMU: the switch routes it below the root complex, and the
client is given the provider's bus address rather than an IOVA.
"""

from __future__ import annotations

import math

_ANCHOR_REACH = 64 * 4096  # pcie-bench's IOTLB reach with 4 KiB pages
_ANCHOR_WINDOW = 64 << 20
_ANCHOR_MISS = 1 - _ANCHOR_REACH / _ANCHOR_WINDOW
WALKS_PER_S = {
    "read": 9.8e9 / 8 / 64 * _ANCHOR_MISS,  # ≈ 19.1 M walks/s
    "write": 11.2e9 / 8 / 64 * _ANCHOR_MISS,  # ≈ 21.8 M walks/s
}


def misses_per_byte(page_size: int, iotlb_entries: int, dma_size: int | None, window: int | None) -> float:
    """Expected IOTLB misses per byte moved.

    Sequential DMAs (``window`` None, the copy engine) touch each page once: one compulsory miss per page.
    DMAs of ``dma_size`` bytes scattered uniformly over ``window`` bytes miss with probability 1 − reach/window
    and need one translation per page they span.
    """
    if window is None:
        return 1.0 / page_size
    reach = iotlb_entries * page_size
    miss = max(0.0, 1.0 - reach / window)
    size = dma_size or page_size
    return math.ceil(size / page_size) * miss / size


def walk_load(op: str, page_size: int, iotlb_entries: int, dma_size: int | None, window: int | None) -> float:
    """Share of the walker's time one data byte per second costs (the load on the capacity-1 IOMMU resource)."""
    return misses_per_byte(page_size, iotlb_entries, dma_size, window) / WALKS_PER_S[op]
