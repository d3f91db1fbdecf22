"""The simulator: an event-driven fluid model of transfers on a virtual clock.

Between events every running transfer moves at its max-min fair rate (maxmin.py) over the resources its route
loads (resources.py, legs.py). Events are: a transfer's start time, its completion, a cancellation, and injected
faults (a provider hot-unplugged or unpublished). Rates are recomputed at each event and nowhere else, and only
for the flows the event can move (fluid.py), so results are exact to float rounding and fully deterministic.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import replace

import numpy as np

from ..errors import InputError
from ..fabric.model import Device, Fabric
from .backends import SIM
from .fluid import FluidFlows
from .pools import PoolError, PoolLedger, one_slot
from .resources import ResourceCatalog, SimConfig
from .routes import Route, RouteKind, RoutePlan, RoutePlanner
from .samples import Sample, TransferEvent, TransferSample
from .transfer import HOST, TransferResult, TransferSpec, TransferState
from .verdicts import VerdictCache

_DUE = 1e-12  # completions within this relative distance of an event happen at it


class Simulation:
    name = SIM

    def __init__(
        self,
        fabric: Fabric,
        config: SimConfig | None = None,
        *,
        expert: bool = False,
        verdicts: VerdictCache | None = None,
    ):
        self.fabric = fabric
        self.config = config or SimConfig()
        self.catalog = ResourceCatalog(fabric, self.config)
        self.planner = RoutePlanner(fabric, self.catalog, verdicts)
        self.expert = expert  # lets the simulator force P2P paths the kernel refuses (labelled in the result)
        self.pools = PoolLedger(fabric)
        self.now = 0.0
        self.results: dict[int, TransferResult] = {}
        # Per transfer only while it needs them (100,000 transfers must not keep 100,000 plans): the provider of a
        # staged copy until it starts (its route is the result's), the devices its route uses until it ends. Not the
        # plan (its gate decision and reasons): every object a waiting transfer keeps is walked again by each of the
        # collector's full passes, and a bench adds 100,000 transfers before the first one starts.
        self._providers: dict[int, Device] = {}
        self._users: dict[int, tuple[str, ...]] = {}
        self._pending: list[tuple[float, int]] = []
        self._faults: list[tuple[float, int, str, str]] = []
        self._events: list[TransferEvent] = []
        self._res_index: dict[str, int] = {}
        self._flows = FluidFlows()  # the running transfers and their rates
        self._seq = 0

    # -- requests -----------------------------------------------------------------------------------------------
    def plan(self, spec: TransferSpec, expert: bool | None = None) -> RoutePlan:
        """The route plan ``add`` makes for ``spec``, with the expert gate's decision (``plan.gate``; None to or from
        host memory). ``expert`` defaults to the simulator's. InputError for a copy that can never run."""
        return self.planner.plan(spec, self.expert if expert is None else expert)

    def add(self, spec: TransferSpec, expert: bool | None = None) -> TransferResult:
        """Accept a transfer (InputError for a bad one); it starts at ``spec.start`` on the virtual clock (or now).
        ``expert``: the gate's word for this transfer (default: the simulator's)."""
        plan = self.plan(spec, expert)
        tid = len(self.results) + 1
        result = plan.new_result(tid, spec, self.name, self.catalog)
        self.results[tid] = result
        if plan.provider is not None:
            self._providers[tid] = plan.provider
        # A tuple of names: the collector stops tracking it (a set it would walk at every full pass).
        self._users[tid] = tuple(
            dict.fromkeys(name for leg in plan.chosen.legs for name in (leg.data_from, leg.data_to) if name != HOST)
        )
        heapq.heappush(self._pending, (max(spec.start, self.now), tid))
        return result

    def cancel(self, tid: int) -> None:
        result = self.results[tid]
        if result.state.finished:
            return
        self._finish(tid, TransferState.CANCELLED, "cancelled")

    def unplug(self, device: str, at: float | None = None) -> None:
        """Inject a hot-unplug of ``device`` (name or address) at virtual time ``at`` (default: now)."""
        self._fault("unplug", device, at)

    def unpublish(self, device: str, at: float | None = None) -> None:
        """Inject the provider's pool being unpublished at ``at``: copies staging in it end, others go on."""
        self._fault("unpublish", device, at)

    def _fault(self, kind: str, device: str, at: float | None) -> None:
        dev = self.planner.endpoint(device, "device")
        if dev is None:
            raise InputError(f"cannot {kind} {device!r}: it is host memory, not a device")
        name = dev.name
        self._seq += 1
        heapq.heappush(self._faults, (self.now if at is None else max(at, self.now), self._seq, kind, name))

    # -- the clock ----------------------------------------------------------------------------------------------
    def next_event_time(self) -> float:
        self._flows.solve()
        times = [self.now + self._flows.time_to_next_completion()]
        if self._pending:
            times.append(self._pending[0][0])
        if self._faults:
            times.append(self._faults[0][0])
        return min(times)

    @property
    def idle(self) -> bool:
        return not self._pending and not len(self._flows)

    def advance(self, until: float = math.inf) -> list[TransferEvent]:
        """Run events up to virtual time ``until`` and stop the clock there; the transfer events that happened."""
        while True:
            t = self.next_event_time()
            if t > until or math.isinf(t):
                if not math.isinf(until):
                    self._move(until)
                break
            self._move(t)
            self._complete_due(t)
            while self._faults and self._faults[0][0] <= t:
                _, _, kind, name = heapq.heappop(self._faults)
                self._apply_fault(kind, name)
            while self._pending and self._pending[0][0] <= t:
                _, tid = heapq.heappop(self._pending)
                if self.results[tid].state is TransferState.PENDING:
                    self._start(tid)
        events, self._events = self._events, []
        return events

    def run(self) -> list[TransferEvent]:
        """Until every transfer has finished."""
        return self.advance(math.inf)

    def _move(self, t: float) -> None:
        dt = t - self.now
        if dt > 0:
            self._flows.advance(dt)
            self.now = t

    def _complete_due(self, t: float) -> None:
        for tid in self._flows.due(_DUE * max(t, 1e-9)):
            self._finish(tid, TransferState.DONE)

    # -- transfers starting and ending --------------------------------------------------------------------------
    def _start(self, tid: int) -> None:
        result, provider = self.results[tid], self._providers.pop(tid, None)
        chosen = result.route
        assert chosen is not None  # add() set it
        gone = sorted(name for name in self._users[tid] if self.pools.gone(name))
        if gone:
            return self._refuse(tid, f"{', '.join(gone)} is gone (hot-unplugged)")
        if provider is not None and chosen.kind is RouteKind.P2P:
            try:
                single = self.pools.take_staging(tid, provider, result.spec)
            except PoolError as exc:
                return self._refuse(tid, str(exc))
            if single is not None:
                result.note(f"buffer: {provider.name}'s P2P memory, {one_slot(single)}")
                if result.spec.threads == 1 and not chosen.serial:  # as the real engine runs it: legs alternate
                    chosen = result.route = replace(chosen, serial=True)
        self._new_flow(tid, result.spec.size, chosen)
        result.state, result.started_at = TransferState.RUNNING, self.now
        self._events.append(TransferEvent(self.now, tid, result.spec.label, TransferState.RUNNING))

    def _refuse(self, tid: int, message: str) -> None:
        result = self.results[tid]
        self._users.pop(tid, None)
        result.state, result.error = TransferState.REFUSED, message
        self._events.append(TransferEvent(self.now, tid, result.spec.label, TransferState.REFUSED, message))

    def _finish(self, tid: int, state: TransferState, message: str = "") -> None:
        result = self.results[tid]
        self._providers.pop(tid, None)  # cancelled before it started
        self._users.pop(tid, None)
        if tid in self._flows.slot:
            left = self._flows.stop(tid)
            result.bytes_done = result.spec.size if state is TransferState.DONE else self._done_bytes(tid, left)
        result.state, result.ended_at = state, self.now
        if result.started_at is None:
            result.started_at = self.now
        if state is not TransferState.DONE:
            result.error = message
        self.pools.release(tid)
        self._events.append(TransferEvent(self.now, tid, result.spec.label, state, message))

    def _apply_fault(self, kind: str, name: str) -> None:
        if kind == "unplug":
            self.pools.unplug(name)
            victims = [tid for tid, users in self._users.items() if name in users]
            message = f"{name} disappeared (hot-unplug at t={self.now:.6g} s)"
        else:
            self.pools.unpublish(name)
            victims = self.pools.holders(name)
            message = f"provider {name}'s P2P memory was unpublished at t={self.now:.6g} s"
        for tid in victims:
            if self.results[tid].state is TransferState.RUNNING:
                self._finish(tid, TransferState.FAILED, f"{message}; pool space returned")

    # -- the fluid model ----------------------------------------------------------------------------------------
    def _new_flow(self, tid: int, size: int, route: Route) -> None:
        loads = route.loads()
        rows = np.fromiter((self._resource_index(k) for k in loads), dtype=np.intp, count=len(loads))
        coef = np.fromiter(loads.values(), dtype=np.float64, count=len(loads))
        self._flows.start(tid, float(size), rows, coef, route.bound(self.catalog))

    def _resource_index(self, key: str) -> int:
        index = self._res_index.get(key)
        if index is None:
            index = self._res_index[key] = self._flows.add_resource(self.catalog.resources[key].capacity)
        return index

    def _done_bytes(self, tid: int, remaining: float) -> int:
        return int(round(self.results[tid].spec.size - remaining))

    # -- observation --------------------------------------------------------------------------------------------
    def sample(self) -> Sample:
        flows = self._flows
        flows.solve()
        transfers = []
        for tid, result in self.results.items():
            slot = flows.slot.get(tid)
            running = result.state is TransferState.RUNNING
            done = self._done_bytes(tid, float(flows.remaining[slot])) if running else result.bytes_done
            rate = float(flows.rate[slot]) if running else 0.0
            elapsed = (self.now if running else (result.ended_at or 0.0)) - (result.started_at or 0.0)
            average = done / elapsed if elapsed > 0 else 0.0
            transfers.append(
                TransferSample(tid, result.spec.label, result.state, done, result.spec.size, rate, average)
            )
        used = flows.utilisation()
        util = {key: float(used[i]) for key, i in self._res_index.items() if i < len(used) and used[i] > 0}
        return Sample(self.now, tuple(transfers), util)

    def peak_utilisation(self) -> dict[str, float]:
        """Highest share of capacity each resource any transfer touched reached during the run."""
        peaks = self._flows.peaks()
        return {key: float(peaks[i]) for key, i in self._res_index.items()}
