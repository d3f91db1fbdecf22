"""One DMA leg: the links, root-complex caps and other resources its bytes cross, and how much of each a byte uses.

A leg moves data from ``data_from`` to ``data_to`` (devices, or None for host memory). A posted write loads the
data direction of each link with (payload + header)/payload wire bytes per data byte and the reverse direction
with one DLLP per TLP; a non-posted read loads the data direction with completions ((C + 20)/C) and the reverse
direction with its requests (24 B per MRRS) and the completions' DLLPs (the overheads of fabric/pcie.py).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from ..fabric.model import Device, Fabric, RootBus
from ..fabric.pcie import (
    CPLD_OVERHEAD,
    FLIT_CPLD_OVERHEAD,
    FLIT_MRD_OVERHEAD,
    FLIT_MWR_OVERHEAD_64,
    MRD_OVERHEAD,
    MWR_OVERHEAD_64,
)
from . import iommu
from .resources import DEFAULT_MPS, DEFAULT_MRRS, DLLP_BYTES, LinkInfo, ResourceCatalog
from .transfer import HOST, Op

HOST_MEMORY = "HOST_MEMORY"  # map type shown for legs to or from host memory


@dataclass(frozen=True, slots=True)
class Leg:
    data_from: str  # device name, or "host"
    data_to: str
    initiator: str  # the device whose DMA engine moves the bytes
    op: Op
    map_type: str  # the verdict's map type for this leg, or HOST_MEMORY
    hops: tuple[str, ...]  # the data's path: device names, host bridges, "host"
    loads: tuple[tuple[str, float], ...]  # (resource key, load per data byte)
    bound: float | None = None  # bytes/s this leg cannot exceed by itself (read tags), None = no such bound

    def describe(self) -> str:
        how = "writes" if self.op is Op.WRITE else "reads"
        return f"{self.data_from} → {self.data_to} ({self.initiator} {how}, {self.map_type})"


@dataclass(frozen=True)
class LegRequest:
    data_from: Device | None  # None = host memory
    data_to: Device | None
    op: Op
    map_type: str
    common: Device | None  # where BUS_ADDR traffic turns around; ignored for paths through the root complex
    through_rc: bool  # crosses the root complex (host-bridge P2P, forced P2P, host memory)
    dma_size: int | None = None
    window: int | None = None


def build_leg(fabric: Fabric, catalog: ResourceCatalog, req: LegRequest, notes: list[str]) -> Leg:
    cfg = catalog.config
    src, dst = req.data_from, req.data_to
    initiator = src if req.op is Op.WRITE else dst
    if initiator is None:
        raise ValueError("host memory cannot initiate a DMA")
    stop = None if req.through_rc else req.common
    up_chain, down_chain = catalog.chain(src, stop), catalog.chain(dst, stop)
    up, down = up_chain.devices, down_chain.devices
    up_links, down_links = up_chain.links, down_chain.links
    notes.extend(up_chain.notes)
    notes.extend(down_chain.notes)
    crossed = up_links + down_links
    mps = min((lk.mps for lk in crossed), default=DEFAULT_MPS)
    payload = min(mps, req.dma_size) if req.dma_size else mps
    completion = min(cfg.completion_size or payload, payload)
    mrrs = (initiator.link.mrrs if initiator.link is not None else None) or DEFAULT_MRRS
    loads: dict[str, float] = defaultdict(float)
    for info in up_links:
        _link_load(loads, info, info.up, info.down, req.op, payload, completion, mrrs)
    for info in down_links:
        _link_load(loads, info, info.down, info.up, req.op, payload, completion, mrrs)

    hops = [d.name for d in up]
    if stop is not None:
        hops.append(stop.name)
    buses: list[RootBus] = []
    if req.through_rc:
        for dev in (src, dst):
            if dev is not None and fabric.root_bus_of(dev) not in buses:
                buses.append(fabric.root_bus_of(dev))
        hops.extend(rb.host_bridge for rb in buses)
        if src is None or dst is None:
            hops.insert(0 if src is None else len(hops), HOST)
            key = catalog.memory(notes)
            if key is not None:
                loads[key] += 1.0
        else:
            for rb in buses:
                key = catalog.rc_p2p(rb, req.op.value, notes)
                if key is not None:
                    loads[key] += 1.0
        walker = catalog.iommu(fabric.root_bus_of(initiator), notes)
        walks = iommu.walk_load(req.op.value, cfg.iommu_page_size, cfg.iotlb_entries, req.dma_size, req.window)
        if walker is not None and walks > 0:  # none when the IOTLB covers the whole window
            loads[walker] += walks
    hops.extend(d.name for d in reversed(down))
    if not loads:
        # Provider and client are one device (an NVMe drive staging in its own CMB): nothing on the fabric.
        loads[catalog.internal(initiator, notes)] += 1.0
    bound = None
    if req.op is Op.READ:
        tag_rate = cfg.tag_bound
        if tag_rate is None:
            notes.append("read tag limit not modelled: read_tags and read_rtt_us unknown")
        else:
            bound = tag_rate * mrrs
    return Leg(
        data_from=src.name if src is not None else HOST,
        data_to=dst.name if dst is not None else HOST,
        initiator=initiator.name,
        op=req.op,
        map_type=req.map_type,
        hops=tuple(_dedupe(hops)),
        loads=tuple(loads.items()),
        bound=bound,
    )


def _link_load(loads, info: LinkInfo, data_key: str, back_key: str, op: Op, payload: int, completion: int, mrrs: int):
    dllp = 0 if info.flit else DLLP_BYTES  # flit mode carries ACKs in the flit's DLP bytes
    if op is Op.WRITE:
        header = FLIT_MWR_OVERHEAD_64 if info.flit else MWR_OVERHEAD_64
        loads[data_key] += (payload + header) / payload
        if dllp:
            loads[back_key] += dllp / payload
    else:
        header = FLIT_CPLD_OVERHEAD if info.flit else CPLD_OVERHEAD
        request = FLIT_MRD_OVERHEAD if info.flit else MRD_OVERHEAD
        loads[data_key] += (completion + header) / completion
        loads[back_key] += dllp / completion + request / mrrs


def _dedupe(names: list[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if not out or out[-1] != name:
            out.append(name)
    return out
