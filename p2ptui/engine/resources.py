"""The shared capacities a simulated transfer competes for, built from a fabric's facts.

Kinds of resource (the link arithmetic is fabric/pcie.py's; the sharing is max-min fair, maxmin.py):
* one per PCIe link *direction*: capacity is the link's usable wire bytes per second (raw rate less SKP ordered
  sets) × the per-link efficiency (default 0.90); flows load it with wire bytes per data byte, so a lone posted
  write gets exactly the protocol bound (pcie.write_gbps) × efficiency and a read's completions get the completion
  bound;
* a root complex's P2P forwarding caps, reads and writes separately (``root_complexes[].p2p`` in the fabric);
* host memory (DRAM) bandwidth, which a bounce crosses twice;
* a device's own media rates (an NVMe drive's read and write rate), which the fabric does not hold and which a
  plan or SimConfig supplies;
* the IOMMU's page-walk throughput on host bridges with translation on (see iommu.py).

A fact the fabric lacks never disappears silently: every default taken is returned as a note that ends up in the
transfer's result.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from ..errors import FieldValueError
from ..fabric.kinds import DeviceKind
from ..fabric.model import Device, Fabric, IommuMode, RootBus
from ..fabric.pcie import SKP_OVERHEAD, generation, write_gbps
from .limits import check_rate, iommu_page_problem

GB = 1e9
# Measured single-link DMA rates sit at 0.85-0.92 of the protocol bound (flow-control stalls, DLLPs both ways,
# endpoint limits: e.g. GPU copy engines at Gen3/Gen4 x16 in rocm_bandwidth_test and nvbandwidth results).
DEFAULT_EFFICIENCY = 0.90
DEFAULT_GEN = 3  # for links a source could not read; stated in a note whenever used
DEFAULT_WIDTH = 16
DEFAULT_MPS = 256
DEFAULT_MRRS = 512
DLLP_BYTES = 8  # one ACK or UpdateFC DLLP (2 framing + 6) per TLP, on the lane opposite the data it acknowledges


class ResourceKind(StrEnum):
    LINK = "link"
    RC_P2P = "rc_p2p"
    MEMORY = "memory"
    DEVICE = "device"
    IOMMU = "iommu"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class DeviceRate:
    """What a device can move by itself, GB/s: ``read`` = data it sends (an NVMe drive's read rate), ``write`` =
    data it takes in (its write rate). None = unknown, not modelled."""

    read: float | None = None
    write: float | None = None


@dataclass(frozen=True, slots=True)
class RcCap:
    """Override of a root complex's P2P forwarding caps, GB/s (None keeps the fabric's value)."""

    read: float | None = None
    write: float | None = None


@dataclass(frozen=True)
class SimConfig:
    """Knobs of the fluid model. Every default is documented in docs/copy.md and reported where it matters."""

    efficiency: float = DEFAULT_EFFICIENCY
    completion_size: int | None = None  # bytes per read completion; None = the path's MPS
    read_tags: int | None = None  # outstanding read requests per requester (Little's law bound with read_rtt_us)
    read_rtt_us: float | None = None  # round trip of a read request, microseconds
    iommu_page_size: int = 4096  # IOVA page size; 4 KiB is the worst case, hugepage-backed buffers use 2 MiB
    iotlb_entries: int = 64
    memory_bandwidth: float | None = None  # GB/s, overrides the fabric's host.memory_bandwidth
    rc_caps: Mapping[str, RcCap] = field(default_factory=dict)  # by host bridge name (pci0000:17)
    device_rates: Mapping[str, DeviceRate] = field(default_factory=dict)  # by device name

    def __post_init__(self) -> None:
        if not 0 < self.efficiency <= 1:
            raise FieldValueError("efficiency", f"link efficiency must be in (0, 1], not {self.efficiency}")
        for name, value in (
            ("completion size", self.completion_size),
            ("read tags", self.read_tags),
            ("IOMMU page size", self.iommu_page_size),
            ("IOTLB entries", self.iotlb_entries),
        ):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, not {value}")
        if self.read_rtt_us is not None and not (0 < self.read_rtt_us and math.isfinite(self.read_rtt_us)):
            raise ValueError(f"read round trip must be a positive number of µs, not {self.read_rtt_us}")
        problem = iommu_page_problem(self.iommu_page_size)
        if problem is not None:
            raise ValueError(problem)
        # Rates become capacities the solver divides by: a zero, a NaN or an absurd one is refused here, not there.
        rates = [("memory_bandwidth", "memory bandwidth", self.memory_bandwidth)]
        for op in ("read", "write"):
            rates += [("device_rates", f"{name} {op} rate", getattr(r, op)) for name, r in self.device_rates.items()]
            rates += [("rc_caps", f"{name} P2P {op} cap", getattr(r, op)) for name, r in self.rc_caps.items()]
        for field_name, what, rate in rates:
            if rate is not None:
                try:
                    check_rate(rate)
                except ValueError as exc:
                    raise FieldValueError(field_name, f"{what} {exc}") from None

    @property
    def tag_bound(self) -> float | None:
        """Bytes/s one requester's reads can reach by Little's law, per byte of MRRS; None when not modelled."""
        if self.read_tags is None or self.read_rtt_us is None:
            return None
        return self.read_tags / (self.read_rtt_us * 1e-6)


@dataclass(frozen=True, slots=True)
class Resource:
    key: str
    kind: ResourceKind
    capacity: float  # per second, in the unit flows load it with (wire bytes for links, data bytes, walk-time share)
    description: str  # for people: what it is and where its number comes from
    data_rate: float  # data bytes/s one lone posted write can push through it (for display)


@dataclass(frozen=True, slots=True)
class LinkInfo:
    """A physical link and the keys of its two directions."""

    up: str  # toward the root complex
    down: str
    gen: int
    width: int
    mps: int
    flit: bool


@dataclass(frozen=True)
class Chain:
    """A device's way up: the devices crossed, the links above them, the notes said building those links."""

    devices: tuple[Device, ...]
    links: tuple[LinkInfo, ...]
    notes: tuple[str, ...]


_NO_CHAIN = Chain((), (), ())


class ResourceCatalog:
    """Resources of one fabric under one SimConfig, created on first use and cached."""

    def __init__(self, fabric: Fabric, config: SimConfig | None = None):
        self.fabric = fabric
        self.config = config or SimConfig()
        self.resources: dict[str, Resource] = {}
        self._links: dict[object, tuple[LinkInfo | None, tuple[str, ...]]] = {}
        # (device, stop) -> the device and bridges above it up to stop, their links and the notes on them. A leg's two
        # ends are a few of these; every transfer from a device reuses its chain.
        self._chains: dict[tuple[object, object], Chain] = {}

    def _add(self, key: str, kind: ResourceKind, capacity: float, description: str, data_rate: float) -> str:
        if key not in self.resources:
            if not capacity > 0 or not math.isfinite(capacity):
                raise ValueError(f"{key}: capacity must be a positive number, not {capacity}")
            self.resources[key] = Resource(key, kind, capacity, description, data_rate)
        return key

    # -- links ------------------------------------------------------------------------------------------------------
    def link_above(self, dev: Device) -> tuple[LinkInfo | None, tuple[str, ...]]:
        """The PCIe link between ``dev`` and the port above it, with notes on facts assumed; None when there is none
        (a root port's or downstream port's upstream side is internal; RCiEPs sit on the root bus)."""
        if dev.physfn is not None:
            dev = self.fabric.device(dev.physfn)  # VFs share their PF's link
        if dev.kind in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM, DeviceKind.HOST_BRIDGE):
            return None, ()
        port = self.fabric.parent(dev)
        if port is None:
            return None, ()
        if port.bdf not in self._links:
            self._links[port.bdf] = self._make_link(port)
        return self._links[port.bdf]

    def chain(self, dev: Device | None, stop: Device | None) -> Chain:
        """``dev`` and the bridges above it, up to but not including ``stop`` (all of them when stop is None), with
        the links above each and the notes on those links; empty for host memory (``dev`` None)."""
        if dev is None:
            return _NO_CHAIN
        key = (dev.bdf, None if stop is None else stop.bdf)
        found = self._chains.get(key)
        if found is None:
            devices: list[Device] = []
            for d in self.fabric.upstream_chain(dev):
                if stop is not None and d.bdf == stop.bdf:
                    break
                devices.append(d)
            links: list[LinkInfo] = []
            notes: list[str] = []
            for d in devices:
                info, link_notes = self.link_above(d)
                notes.extend(link_notes)
                if info is not None:
                    links.append(info)
            found = self._chains[key] = Chain(tuple(devices), tuple(links), tuple(notes))
        return found

    def _make_link(self, port: Device) -> tuple[LinkInfo, tuple[str, ...]]:
        # Every function on the port's secondary bus shares its one link; name it after the first of them.
        below = [d for d in self.fabric.children(port) if d.physfn is None] or self.fabric.children(port)
        links = [self.fabric.uplink(d) for d in below]
        gens = [lk.gen for lk in links if lk is not None and lk.gen is not None]
        widths = [lk.width for lk in links if lk is not None and lk.width is not None]
        mpss = [lk.mps for lk in links if lk is not None and lk.mps is not None]
        name = below[0].name
        notes = []
        gen, width = (min(gens) if gens else None), (min(widths) if widths else None)
        if gen is None or width is None:
            maxes = [lk for lk in links if lk is not None]
            gen = gen or min((lk.max_gen for lk in maxes if lk.max_gen), default=DEFAULT_GEN)
            width = width or min((lk.max_width for lk in maxes if lk.max_width), default=DEFAULT_WIDTH)
            notes.append(f"link {port.name} → {name} speed or width unknown: assumed gen{gen} x{width}")
        mps = min(mpss) if mpss else DEFAULT_MPS
        g = generation(gen)
        usable = g.lane_gbps * width * (1.0 if g.flit else 1.0 - SKP_OVERHEAD)
        eff = self.config.efficiency
        data = write_gbps(gen, width, mps) * eff
        what = f"gen{gen} x{width} link {port.name} ↔ {name}"
        tail = f"{data:.2f} GB/s of writes (protocol bound, MPS {mps}) × {eff:.2f} efficiency"
        up = self._add(f"link:{name}:up", ResourceKind.LINK, usable * eff * GB, f"{what}, upstream: {tail}", data * GB)
        down = self._add(
            f"link:{name}:down", ResourceKind.LINK, usable * eff * GB, f"{what}, downstream: {tail}", data * GB
        )
        return LinkInfo(up, down, gen, width, mps, g.flit), tuple(notes)

    # -- root complex, memory, devices, IOMMU -----------------------------------------------------------------------
    def rc_p2p(self, rb: RootBus, op: str, notes: list[str]) -> str | None:
        """The root complex's P2P forwarding cap for ``op`` ("read" or "write"); None (and a note) when unknown."""
        override = self.config.rc_caps.get(rb.host_bridge)
        value = getattr(override, op) if override is not None else None
        if value is None:
            value = rb.p2p_read if op == "read" else rb.p2p_write
        if value is None:
            notes.append(
                f"root complex {rb.host_bridge} P2P {op} cap unknown: assumed unlimited (link-limited); "
                f"set root_complexes[].p2p.{op} (a Broadwell-class root complex forwards ~7.1 GB/s)"
            )
            return None
        return self._add(
            f"rc:{rb.host_bridge}:p2p-{op}",
            ResourceKind.RC_P2P,
            value * GB,
            f"root complex {rb.host_bridge} P2P {op} forwarding cap: {value:g} GB/s",
            value * GB,
        )

    def memory(self, notes: list[str]) -> str | None:
        value = self.config.memory_bandwidth
        source = "given"
        if value is None:
            value, source = self.fabric.host.memory_bandwidth, "host.memory_bandwidth"
        if value is None:
            notes.append("host memory bandwidth unknown: assumed unlimited; set host.memory_bandwidth in the fabric")
            return None
        return self._add(
            "host-memory",
            ResourceKind.MEMORY,
            value * GB,
            f"host memory bandwidth: {value:g} GB/s ({source}); a bounce crosses it twice",
            value * GB,
        )

    def device_rate(self, dev: Device, op: str, notes: list[str]) -> str | None:
        """``op`` "read": data leaving the device from its media; "write": data it stores."""
        rate = self.config.device_rates.get(dev.name)
        value = getattr(rate, op) if rate is not None else None
        if value is None:
            notes.append(
                f"{dev.name} {op} rate unknown: not modelled (give devices: {{{dev.name}: {{{op}: GB/s}}}} in a plan)"
            )
            return None
        return self._add(
            f"dev:{dev.name}:{op}",
            ResourceKind.DEVICE,
            value * GB,
            f"{dev.name} {op} rate: {value:g} GB/s (given)",
            value * GB,
        )

    def iommu(self, rb: RootBus, notes: list[str]) -> str | None:
        """The page-walk unit serving ``rb``'s host bridge, when translation is on; capacity 1 = always busy."""
        mode = self.fabric.host.iommu
        if mode is IommuMode.UNKNOWN:
            notes.append("IOMMU mode unknown: translation cost not modelled")
            return None
        if mode is not IommuMode.TRANSLATED:
            return None
        page = self.config.iommu_page_size
        return self._add(
            f"iommu:{rb.host_bridge}",
            ResourceKind.IOMMU,
            1.0,
            f"IOMMU page walks for {rb.host_bridge} ({page} B IOVA pages, {self.config.iotlb_entries}-entry IOTLB)",
            math.inf,
        )

    def internal(self, dev: Device, notes: list[str]) -> str:
        """A copy that never leaves ``dev`` (its own CMB): bounded by what its link could carry, as an estimate."""
        info, _ = self.link_above(dev)
        if info is None:
            gbps = write_gbps(DEFAULT_GEN, DEFAULT_WIDTH) * self.config.efficiency
            notes.append(
                f"{dev.name} moves the data internally and has no link: assumed {gbps:.2f} GB/s "
                f"(gen{DEFAULT_GEN} x{DEFAULT_WIDTH})"
            )
        else:
            gbps = write_gbps(info.gen, info.width, info.mps) * self.config.efficiency
            notes.append(f"{dev.name} moves the data internally: assumed as fast as its link ({gbps:.2f} GB/s)")
        return self._add(
            f"internal:{dev.name}",
            ResourceKind.INTERNAL,
            gbps * GB,
            f"{dev.name} internal copy (estimate: its link rate)",
            gbps * GB,
        )
