"""From a transfer and the kernel's verdict to the routes its bytes can take.

* BUS_ADDR legs turn around at the common upstream device (the switch) and never reach the root complex.
* THRU_HOST_BRIDGE legs go up to the root complex of each end and pay its P2P read or write cap (and the IOMMU's
  page walks when translation is on); a shared switch uplink is then crossed up and down.
* NOT_SUPPORTED: the kernel refuses the mapping, so the copy bounces through host memory (every byte crosses the
  uplinks twice and host memory twice). Expert mode lets the *simulator* force the P2P path, labelled as such.
Every transfer gets its P2P route and its bounce route, so the saving is visible either way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from ..errors import Diagnostic, InputError
from ..fabric.bounded_dict import BoundedDict
from ..fabric.model import Device, Fabric
from ..p2p import ExpertMode, GateDecision, gate_transfer
from .legs import HOST_MEMORY, Leg, LegRequest, build_leg
from .resources import ResourceCatalog
from .transfer import HOST, Op, TransferResult, TransferSpec
from .verdicts import MAP_BUS_ADDR, MAP_NOT_SUPPORTED, VerdictCache

# Legs the planner keeps, bounded like the verdict cache for the same reason. Legs to or from host memory come back
# all the time (every bounce, every host copy of a device); a leg between two devices only when the same pair does,
# and between random pairs it almost never does (12 hits in 4,500 over 3,000 random transfers). Those get a short
# cache of their own: a leg kept long enough to survive a few collections and dropped later is promoted to the
# collector's oldest generation on the way, and that churn alone triggered a full collection every ~3,000 transfers,
# each walking every transfer kept so far (quadratic: 11 s of 60 at 100,000 transfers).
MAX_CACHED_LEGS = 16384
MAX_CACHED_PAIR_LEGS = 64


class RouteKind(StrEnum):
    P2P = "p2p"  # through the provider's P2P memory, or one direct DMA between the devices
    BOUNCE = "bounce"  # staged in host memory instead
    HOST = "host"  # a DMA to or from host memory (one end is host memory)


@dataclass(frozen=True, slots=True)
class Route:
    kind: RouteKind
    legs: tuple[Leg, ...]
    serial: bool  # legs alternate (one thread with one buffer slot: read a chunk, then write it), else they overlap
    allowed: bool = True  # False: the kernel refuses a leg (NOT_SUPPORTED); only the simulator may force it
    forced: bool = False  # simulated although not allowed (expert mode)

    @property
    def map_type(self) -> str:
        """The weakest leg's map type: NOT_SUPPORTED over THRU_HOST_BRIDGE over BUS_ADDR; bounces report
        HOST_MEMORY."""
        if self.kind is not RouteKind.P2P:
            return HOST_MEMORY
        types = {leg.map_type for leg in self.legs}
        for name in (MAP_NOT_SUPPORTED, "THRU_HOST_BRIDGE"):
            if name in types:
                return name
        return MAP_BUS_ADDR

    @property
    def hops(self) -> list[str]:
        out: list[str] = []
        for leg in self.legs:
            for hop in leg.hops:
                if not out or out[-1] != hop:
                    out.append(hop)
        return out

    def loads(self) -> dict[str, float]:
        """Load per byte of copy progress on each resource: every byte crosses every leg once."""
        total: dict[str, float] = {}
        for leg in self.legs:
            for key, value in leg.loads:
                total[key] = total.get(key, 0.0) + value
        return total

    def bound(self, catalog: ResourceCatalog) -> float:
        """The per-flow rate cap that is not a shared resource (inf when none).

        Overlapped legs: the tightest leg bound. Alternating legs (one thread): a chunk is read, then written, so the
        rate is 1/Σ(1/leg rate) with each leg's standalone rate; exact when the copy is alone (p2pmem-test -t 1),
        an approximation when others share its resources (their loads are time-averaged).
        """
        if not self.serial or len(self.legs) < 2:
            return min((leg.bound for leg in self.legs if leg.bound is not None), default=math.inf)
        seconds_per_byte = 0.0
        for leg in self.legs:
            alone = min((catalog.resources[k].capacity / v for k, v in leg.loads), default=math.inf)
            if leg.bound is not None:
                alone = min(alone, leg.bound)
            seconds_per_byte += 1.0 / alone
        return 1.0 / seconds_per_byte

    def describe(self) -> str:
        text = " → ".join(self.hops)
        if self.forced:
            text += "  [FORCED by expert mode: the kernel refuses this path; simulated only]"
        elif not self.allowed:
            text += "  [not allowed: NOT_SUPPORTED]"
        return text


@dataclass(frozen=True, slots=True)
class RoutePlan:
    chosen: Route
    p2p: Route | None  # None for transfers to or from host memory
    bounce: Route
    notes: tuple[str, ...]  # defaults assumed and decisions taken, for the transfer's result
    provider: Device | None
    gate: GateDecision | None = None  # the expert gate's word on the P2P route

    def new_result(self, tid: int, spec: TransferSpec, engine: str, catalog: ResourceCatalog) -> TransferResult:
        """The result of a transfer taking this plan, before it runs: its routes and notes, and each route's rate
        alone on the fabric (what the simulator and the real engine both show beside the measured rate)."""
        result = TransferResult(
            tid,
            spec,
            route=self.chosen,
            p2p_route=self.p2p,
            bounce_route=self.bounce,
            notes=list(self.notes),
            engine=engine,
        )
        if self.p2p is not None:
            result.p2p_bytes_per_s = standalone_rate(self.p2p, catalog)
        result.bounce_bytes_per_s = standalone_rate(self.bounce, catalog)
        return result


class RoutePlanner:
    """Routes for transfers on one fabric; verdicts and resources are cached across transfers."""

    def __init__(self, fabric: Fabric, catalog: ResourceCatalog, verdicts: VerdictCache | None = None):
        self.fabric = fabric
        self.catalog = catalog
        self.verdicts = verdicts if verdicts is not None else VerdictCache(fabric)
        # Legs by what decides them, with the notes building them said: transfers share legs (every bounce
        # leg to or from host memory, every staged leg of a provider), and planning dominated many-transfer runs.
        # Device-to-device legs have a short cache of their own (see MAX_CACHED_PAIR_LEGS).
        self._legs: BoundedDict[tuple, tuple[Leg, tuple[str, ...]]] = BoundedDict(MAX_CACHED_LEGS)
        self._pair_legs: BoundedDict[tuple, tuple[Leg, tuple[str, ...]]] = BoundedDict(MAX_CACHED_PAIR_LEGS)

    def endpoint(self, ref: str, what: str) -> Device | None:
        """A device by name or address; None for host memory. Bridges (root and switch ports, PCI bridges) and host
        bridges forward transactions but never start or end one: they are refused as transfer ends."""
        try:
            dev = self.fabric.find(ref)
        except KeyError:
            if ref == HOST:
                return None
            names = ", ".join(d.name for d in self.fabric.endpoints()[:8])
            raise InputError(
                Diagnostic(
                    f"{what} {ref!r} is not a device of fabric {self.fabric.name!r}",
                    hint=f"name a device ({names}, ...) or 'host' for host memory",
                )
            ) from None
        if not dev.kind.is_endpoint:
            raise InputError(
                Diagnostic(
                    f"{what} {dev.name} is a {dev.kind.label}: bridges forward DMA but never start or end it",
                    hint="name an endpoint (a drive, a GPU, a NIC) or 'host'",
                )
            )
        return dev

    def plan(
        self, spec: TransferSpec, expert: ExpertMode | bool = False, real: bool = False, uses_pool: bool = True
    ) -> RoutePlan:
        """The routes of ``spec``. The expert gate (p2ptui.p2p.gate_transfer) decides whether the P2P route may
        run: NOT_SUPPORTED runs only in an expert-mode simulation, labelled; otherwise the copy bounces."""
        problems = spec.problems()
        if problems:
            raise InputError([Diagnostic(f"transfer {spec.label}: {p}") for p in problems])
        src = self.endpoint(spec.src, "source")
        dst = self.endpoint(spec.dst, "destination")
        via = self.endpoint(spec.via, "provider") if spec.via is not None else None
        if via is not None and via.pool is None:
            raise InputError(
                Diagnostic(
                    f"provider {via.name} has no P2P memory pool",
                    hint="pick a device with p2pmem (p2ptui show FABRIC marks them)",
                )
            )
        notes: list[str] = []
        if src is None or dst is None:
            op = Op.WRITE if dst is None else Op.READ  # the device is always the one that DMAs
            leg = self._leg(LegRequest(src, dst, op, HOST_MEMORY, None, True, spec.dma_size, spec.window), notes)
            route = Route(RouteKind.HOST, (self._with_rates(leg, src, dst, notes),), False)
            return RoutePlan(route, None, route, tuple(_unique(notes)), None)
        # One thread with one buffer slot reads a chunk, then writes it; with two (the default) or more threads the
        # legs overlap. A pool without room for two slots makes a copy serial when it starts (sim._start).
        serial = spec.threads == 1 and spec.serial
        bounce = Route(
            RouteKind.BOUNCE,
            (
                self._with_rates(
                    self._leg(
                        LegRequest(src, None, Op.WRITE, HOST_MEMORY, None, True, spec.dma_size, spec.window), notes
                    ),
                    src,
                    None,
                    notes,
                ),
                self._with_rates(
                    self._leg(
                        LegRequest(None, dst, Op.READ, HOST_MEMORY, None, True, spec.dma_size, spec.window), notes
                    ),
                    None,
                    dst,
                    notes,
                ),
            ),
            serial,
        )
        if via is not None:
            verdict = self.verdicts.verdict(via, [src, dst])
            legs: tuple[Leg, ...] = (
                self._p2p_leg(verdict.clients[0], src, via, Op.WRITE, spec, notes),
                self._p2p_leg(verdict.clients[1], via, dst, Op.READ, spec, notes),
            )
        else:
            provider, client = (dst, src) if spec.op is Op.WRITE else (src, dst)
            verdict = self.verdicts.verdict(provider, [client])
            legs = (self._p2p_leg(verdict.clients[0], src, dst, spec.op, spec, notes),)
        notes.extend(verdict.notes)
        legs = (self._with_rates(legs[0], src, None, notes),) + legs[1:]
        legs = legs[:-1] + (self._with_rates(legs[-1], None, dst, notes),)
        allowed = all(leg.map_type != MAP_NOT_SUPPORTED for leg in legs)
        gate = gate_transfer(self.fabric, verdict, expert, real=real, uses_pool=via is not None and uses_pool)
        forced = not allowed and gate.permitted and gate.simulated_only
        p2p = Route(RouteKind.P2P, legs, serial and len(legs) > 1, allowed=allowed, forced=forced)
        if gate.permitted:
            chosen = p2p
            if forced:
                notes.append(f"FORCED P2P (expert mode): {gate.label}")
        else:
            chosen = bounce
            why = "; ".join(str(r) for r in gate.blocking)
            notes.append(f"the P2P route may not run ({why}): the copy bounces through host memory")
        return RoutePlan(chosen, p2p, bounce, tuple(_unique(notes)), via, gate)

    def _leg(self, req: LegRequest, notes: list[str]) -> Leg:
        key = (
            _bdf(req.data_from),
            _bdf(req.data_to),
            req.op,
            req.map_type,
            _bdf(req.common),
            req.through_rc,
            req.dma_size,
            req.window,
        )
        cache = self._legs if req.data_from is None or req.data_to is None else self._pair_legs
        cached = cache.get(key)
        if cached is None:  # stored below; a full cache forgets its oldest entry
            said: list[str] = []
            cached = cache[key] = (build_leg(self.fabric, self.catalog, req, said), tuple(said))
        notes.extend(cached[1])
        return cached[0]

    def _p2p_leg(self, cv, data_from: Device, data_to: Device, op: Op, spec: TransferSpec, notes: list[str]) -> Leg:
        map_type = str(cv.map_type)
        through_rc = map_type != MAP_BUS_ADDR
        req = LegRequest(data_from, data_to, op, map_type, cv.common, through_rc, spec.dma_size, spec.window)
        return self._leg(req, notes)

    def _with_rates(self, leg: Leg, src: Device | None, dst: Device | None, notes: list[str]) -> Leg:
        """Add the transfer's own source's read rate and destination's write rate (media rates) to a leg."""
        extra = []
        if src is not None:
            key = self.catalog.device_rate(src, "read", notes)
            if key is not None:
                extra.append((key, 1.0))
        if dst is not None:
            key = self.catalog.device_rate(dst, "write", notes)
            if key is not None:
                extra.append((key, 1.0))
        if not extra:
            return leg
        return Leg(
            leg.data_from,
            leg.data_to,
            leg.initiator,
            leg.op,
            leg.map_type,
            leg.hops,
            leg.loads + tuple(extra),
            leg.bound,
        )


def standalone_rate(route: Route, catalog: ResourceCatalog) -> float:
    """Bytes/s the route would give a transfer alone on the fabric: its tightest resource or bound."""
    limits = [catalog.resources[k].capacity / v for k, v in route.loads().items()]
    return min(limits + [route.bound(catalog)])


def _bdf(dev: Device | None) -> object:
    return None if dev is None else dev.bdf


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
