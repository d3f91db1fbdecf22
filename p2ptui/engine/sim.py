"""The simulator: an event-driven fluid model of transfers on a virtual clock.

Between events every running transfer moves at its max-min fair rate (maxmin.py) over the resources its route
loads (resources.py, legs.py). Events are: a transfer's start time, its completion, a cancellation, and injected
faults (a provider hot-unplugged or unpublished). Rates are recomputed at each event and nowhere else, so results
are exact to float rounding and fully deterministic.
"""

from __future__ import annotations

import heapq
import math

import numpy as np

from ..fabric.model import Fabric
from .maxmin import max_min_rates
from .pools import PoolError, PoolLedger
from .resources import ResourceCatalog, SimConfig
from .routes import Route, RouteKind, RoutePlan, RoutePlanner, standalone_rate
from .samples import Sample, TransferEvent, TransferSample
from .transfer import HOST, TransferResult, TransferSpec, TransferState
from .verdicts import VerdictCache

_DUE = 1e-12  # completions within this relative distance of an event happen at it


class Simulation:
    def __init__(self, fabric: Fabric, config: SimConfig | None = None, *, expert: bool = False,
                 verdicts: VerdictCache | None = None):  # fmt: skip
        self.fabric = fabric
        self.config = config or SimConfig()
        self.catalog = ResourceCatalog(fabric, self.config)
        self.planner = RoutePlanner(fabric, self.catalog, verdicts)
        self.expert = expert  # lets the simulator force P2P paths the kernel refuses (labelled in the result)
        self.pools = PoolLedger(fabric)
        self.now = 0.0
        self.results: dict[int, TransferResult] = {}
        self._plans: dict[int, RoutePlan] = {}
        self._users: dict[int, set[str]] = {}  # devices each transfer's chosen route uses
        self._pending: list[tuple[float, int]] = []
        self._faults: list[tuple[float, int, str, str]] = []
        self._events: list[TransferEvent] = []
        self._res_index: dict[str, int] = {}
        self._cap: list[float] = []
        self._peak = np.zeros(0)
        self._slot: dict[int, int] = {}
        self._ids: list[int] = []
        self._remaining = np.zeros(0)
        self._rate = np.zeros(0)
        self._bound = np.zeros(0)
        self._active = np.zeros(0, dtype=bool)
        # The load matrix of every transfer ever started, as growing COO arrays (the first _nnz entries are used).
        self._rows = np.zeros(0, dtype=np.intp)
        self._cols = np.zeros(0, dtype=np.intp)
        self._coef = np.zeros(0)
        self._nnz = 0
        self._capacity = np.zeros(0)
        self._utilisation = np.zeros(0)  # share of each resource's capacity in use at the current rates
        self._dirty = False
        self._seq = 0

    # -- requests -----------------------------------------------------------------------------------------------
    def plan(self, spec: TransferSpec, expert: bool | None = None) -> RoutePlan:
        """The route plan ``add`` makes for ``spec``, with the expert gate's decision (``plan.gate``; None to or from
        host memory). ``expert`` defaults to the simulator's. InputError for a copy that can never run."""
        return self.planner.plan(spec, self.expert if expert is None else expert)

    def add(self, spec: TransferSpec) -> TransferResult:
        """Accept a transfer (InputError for a bad one); it starts at ``spec.start`` on the virtual clock (or now)."""
        plan = self.plan(spec)
        tid = len(self.results) + 1
        result = TransferResult(tid, spec, route=plan.chosen, p2p_route=plan.p2p, bounce_route=plan.bounce,
                                notes=list(plan.notes), engine="sim")  # fmt: skip
        if plan.p2p is not None:
            result.p2p_bytes_per_s = self.predict(plan.p2p)
        result.bounce_bytes_per_s = self.predict(plan.bounce)
        self.results[tid] = result
        self._plans[tid] = plan
        self._users[tid] = {name for leg in plan.chosen.legs for name in (leg.data_from, leg.data_to) if name != HOST}
        heapq.heappush(self._pending, (max(spec.start, self.now), tid))
        return result

    def predict(self, route: Route) -> float:
        """Bytes/s the route would give the transfer alone on the fabric."""
        return standalone_rate(route, self.catalog)

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
        name = self.planner.endpoint(device, "device").name
        self._seq += 1
        heapq.heappush(self._faults, (self.now if at is None else max(at, self.now), self._seq, kind, name))

    # -- the clock ----------------------------------------------------------------------------------------------
    def next_event_time(self) -> float:
        if self._dirty:
            self._solve()
        times = [self._next_completion()]
        if self._pending:
            times.append(self._pending[0][0])
        if self._faults:
            times.append(self._faults[0][0])
        return min(times)

    @property
    def idle(self) -> bool:
        return not self._pending and not self._active.any()

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
            live = self._active
            self._remaining[live] = np.maximum(self._remaining[live] - self._rate[live] * dt, 0.0)
            self.now = t

    def _next_completion(self) -> float:
        live = self._active & (self._rate > 0)
        if not live.any():
            return math.inf
        return self.now + float(np.min(self._remaining[live] / self._rate[live]))

    def _complete_due(self, t: float) -> None:
        live = self._active & (self._rate > 0)
        if not live.any():
            return
        left = np.full(len(self._rate), math.inf)
        left[live] = self._remaining[live] / self._rate[live]
        for slot in np.flatnonzero(left <= _DUE * max(t, 1e-9)):
            self._remaining[slot] = 0.0
            self._finish(self._ids[slot], TransferState.DONE)

    # -- transfers starting and ending --------------------------------------------------------------------------
    def _start(self, tid: int) -> None:
        result, plan = self.results[tid], self._plans[tid]
        gone = sorted(name for name in self._users[tid] if self.pools.gone(name))
        if gone:
            return self._refuse(tid, f"{', '.join(gone)} is gone (hot-unplugged)")
        if plan.provider is not None and plan.chosen.kind is RouteKind.P2P:
            try:
                self.pools.take(tid, plan.provider, result.spec.buffer_bytes, f"transfer {result.spec.label}")
            except PoolError as exc:
                return self._refuse(tid, str(exc))
        slot = self._new_slot(tid, result.spec.size, plan.chosen)
        self._active[slot] = True
        result.state, result.started_at = TransferState.RUNNING, self.now
        self._events.append(TransferEvent(self.now, tid, result.spec.label, TransferState.RUNNING))
        self._dirty = True

    def _refuse(self, tid: int, message: str) -> None:
        result = self.results[tid]
        result.state, result.error = TransferState.REFUSED, message
        self._events.append(TransferEvent(self.now, tid, result.spec.label, TransferState.REFUSED, message))

    def _finish(self, tid: int, state: TransferState, message: str = "") -> None:
        result = self.results[tid]
        slot = self._slot.get(tid)
        if slot is not None and self._active[slot]:
            self._active[slot] = False
            result.bytes_done = result.spec.size if state is TransferState.DONE else self._done_bytes(slot)
            self._dirty = True
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
    def _new_slot(self, tid: int, size: int, route: Route) -> int:
        slot = len(self._ids)
        self._ids.append(tid)
        self._slot[tid] = slot
        if slot >= len(self._remaining):
            grow = max(16, 2 * len(self._remaining))
            self._remaining = np.concatenate((self._remaining, np.zeros(grow)))
            self._rate = np.concatenate((self._rate, np.zeros(grow)))
            self._bound = np.concatenate((self._bound, np.zeros(grow)))
            self._active = np.concatenate((self._active, np.zeros(grow, dtype=bool)))
        self._remaining[slot] = float(size)
        self._bound[slot] = route.bound(self.catalog)
        loads = route.loads()
        end = self._nnz + len(loads)
        if end > len(self._rows):
            grow = max(64, end, 2 * len(self._rows))
            self._rows = np.concatenate((self._rows, np.zeros(grow, dtype=np.intp)))
            self._cols = np.concatenate((self._cols, np.zeros(grow, dtype=np.intp)))
            self._coef = np.concatenate((self._coef, np.zeros(grow)))
        self._rows[self._nnz : end] = [self._resource_index(k) for k in loads]
        self._cols[self._nnz : end] = slot
        self._coef[self._nnz : end] = list(loads.values())
        self._nnz = end
        return slot

    def _resource_index(self, key: str) -> int:
        index = self._res_index.get(key)
        if index is None:
            index = self._res_index[key] = len(self._cap)
            self._cap.append(self.catalog.resources[key].capacity)
            self._capacity = np.asarray(self._cap)
            self._peak = np.append(self._peak, 0.0)
        return index

    def _solve(self) -> None:
        self._dirty = False
        n = len(self._ids)
        rows, cols, coef = self._rows[: self._nnz], self._cols[: self._nnz], self._coef[: self._nnz]
        live = self._active[cols]
        rows, cols, coef = rows[live], cols[live], coef[live]
        # Solve for the running transfers only, numbered densely.
        running = np.flatnonzero(self._active[:n])
        dense = np.zeros(n, dtype=np.intp)
        dense[running] = np.arange(len(running))
        rate = max_min_rates(len(running), rows, dense[cols], coef, self._capacity, self._bound[running])
        self._rate[:n] = 0.0
        self._rate[running] = rate
        load = np.bincount(rows, weights=coef * self._rate[cols], minlength=len(self._capacity))
        self._utilisation = load / self._capacity if len(self._capacity) else load
        np.maximum(self._peak, self._utilisation, out=self._peak)

    def _done_bytes(self, slot: int) -> int:
        tid = self._ids[slot]
        return int(round(self.results[tid].spec.size - self._remaining[slot]))

    # -- observation --------------------------------------------------------------------------------------------
    def sample(self) -> Sample:
        if self._dirty:
            self._solve()
        transfers = []
        for tid, result in self.results.items():
            slot = self._slot.get(tid)
            running = result.state is TransferState.RUNNING
            done = self._done_bytes(slot) if running else result.bytes_done
            rate = float(self._rate[slot]) if running else 0.0
            elapsed = (self.now if running else (result.ended_at or 0.0)) - (result.started_at or 0.0)
            average = done / elapsed if elapsed > 0 else 0.0
            transfers.append(TransferSample(tid, result.spec.label, result.state, done, result.spec.size, rate, average))
        used = self._utilisation
        util = {key: float(used[i]) for key, i in self._res_index.items() if i < len(used) and used[i] > 0}
        return Sample(self.now, tuple(transfers), util)

    def peak_utilisation(self) -> dict[str, float]:
        """Highest share of capacity each resource any transfer touched reached during the run."""
        return {key: float(self._peak[i]) for key, i in self._res_index.items()}
