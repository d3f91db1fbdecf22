"""The running flows of the simulator: remaining bytes, max-min fair rates and resource loads, kept up to date
incrementally.

Why incremental (SimGrid's lazy LMM updates, adapted to one connected fabric): a change can only move the rates of
flows at or above the level where it happens. Progressive filling raises all rising flows together; a flow that
leaves at rate L crossed only resources that saturate at L or later (it would have frozen earlier otherwise), so
up to level L the filling without it is the same, and every flow slower than L keeps its rate. After departures the
solver re-fills only the flows at or above the slowest departed rate, over the capacity the slower flows leave.
An arrival changes nothing below the level L* where the first resource on its route saturates in the new filling
(below it the old filling goes on unchanged, the new flow rising or bound beside the others), so flows slower than
L* keep their rates too. L* is bounded from below per resource r on the route, from r's present load U_r, the
weight W_r of every flow crossing it and the arrivals' weight A_r: the new load at level λ is at most
U_r + A_r·λ and at most W_r·λ, so r cannot saturate below max((C_r - U_r) / A_r, C_r / W_r). The smallest of
those bounds (and of the departed rates) is the level the solver re-fills from. Both give the full solver's answer
(``maxmin.max_min_rates`` on all running flows, kept as the reference the tests compare against) to float rounding.

Only running flows are held, in dense arrays (a finished flow's slot takes the last one's), so each event costs
what the running flows cost, whatever number of transfers came before.
"""

from __future__ import annotations

import math

import numpy as np

from .maxmin import max_min_rates

# Flows within this relative distance below a departed rate are re-filled too: being generous is always exact.
_MARGIN = 1e-9
# Loads are updated by differences; recomputed from scratch this often so rounding never accumulates.
_REFRESH_SOLVES = 256


# Hot paths below write ``a.nonzero()[0]`` for np.flatnonzero(a) and ``a.min()`` for np.min(a): the same arrays
# without numpy's Python-level wrappers (a few hundred thousand calls per 10,000 transfers).


class FluidFlows:
    def __init__(self) -> None:
        self.capacity = np.zeros(0)
        self.load = np.zeros(0)  # Σ coef × rate of the running flows, per resource
        self.weight = np.zeros(0)  # Σ coef of the running flows, per resource (arrivals' bound on L*)
        self._arriving = np.zeros(0)  # Σ coef of the flows started since the last solve, per resource
        self.peak = np.zeros(0)  # highest load / capacity seen, per resource
        self._n_res = 0  # resources added (the arrays above have spare room beyond)
        # Scratch for numbering a solve's resources densely (cheaper than np.unique on a few hundred entries).
        self._mark = np.zeros(0, dtype=bool)
        self._dense = np.zeros(0, dtype=np.intp)
        self.ids: list[int] = []  # transfer id of each slot
        self.slot: dict[int, int] = {}
        self.remaining = np.zeros(0)
        self.rate = np.zeros(0)
        self.bound = np.zeros(0)
        # Per slot, padded to the widest flow: resource indices (unique within a flow) and load per byte/s on
        # them (0 in the padding), so the entries of any set of flows are one fancy index away.
        self._rows = np.zeros((0, 1), dtype=np.intp)
        self._coef = np.zeros((0, 1))
        self._floor = math.inf  # re-fill flows at or above this rate (the slowest departed); 0 = every running flow
        # Transfer ids started since the last solve: always re-filled; their floor is found at the solve, once every
        # arrival of the event is in.
        self._new: list[int] = []
        self._solves = 0

    def __len__(self) -> int:
        return len(self.ids)

    @property
    def dirty(self) -> bool:
        return bool(self._new) or not math.isinf(self._floor)

    def add_resource(self, capacity: float) -> int:
        index = self._n_res
        if index == len(self.capacity):
            # Room for twice as many: resources appear one by one as routes reach them (thousands on a large fabric).
            # Spare entries have infinite capacity, so they never saturate and show no utilisation.
            grow = max(64, index)
            self.capacity = np.concatenate((self.capacity, np.full(grow, np.inf)))
            self.load, self.weight, self._arriving, self.peak = (
                np.concatenate((a, np.zeros(grow))) for a in (self.load, self.weight, self._arriving, self.peak)
            )
            self._mark = np.zeros(len(self.capacity), dtype=bool)
            self._dense = np.zeros(len(self.capacity), dtype=np.intp)
        self.capacity[index] = capacity
        self._n_res = index + 1
        return index

    # -- flows arriving and leaving -------------------------------------------------------------------------------
    def start(self, tid: int, size: float, rows: np.ndarray, coef: np.ndarray, bound: float) -> None:
        n, width = len(self.ids), len(rows)
        if n >= len(self.remaining):
            grow = max(16, n)
            self.remaining = np.concatenate((self.remaining, np.zeros(grow)))
            self.rate = np.concatenate((self.rate, np.zeros(grow)))
            self.bound = np.concatenate((self.bound, np.zeros(grow)))
            self._rows = np.concatenate((self._rows, np.zeros((grow, self._rows.shape[1]), dtype=np.intp)))
            self._coef = np.concatenate((self._coef, np.zeros((grow, self._coef.shape[1]))))
        if width > self._rows.shape[1]:
            extra = width - self._rows.shape[1]
            self._rows = np.pad(self._rows, ((0, 0), (0, extra)))
            self._coef = np.pad(self._coef, ((0, 0), (0, extra)))
        self.ids.append(tid)
        self.slot[tid] = n
        self.remaining[n], self.rate[n], self.bound[n] = size, 0.0, bound
        self._rows[n] = 0
        self._coef[n] = 0.0
        self._rows[n, :width] = rows
        self._coef[n, :width] = coef
        np.add.at(self.weight, rows, coef)
        np.add.at(self._arriving, rows, coef)
        self._new.append(tid)

    def stop(self, tid: int) -> float:
        """Remove a running flow; its remaining bytes."""
        i = self.slot.pop(tid)
        left, rate = float(self.remaining[i]), float(self.rate[i])
        np.subtract.at(self.load, self._rows[i], self._coef[i] * rate)  # padding: index 0, load 0
        np.subtract.at(self.weight, self._rows[i], self._coef[i])
        if tid in self._new:  # started and stopped before any solve: it never had a rate, nobody gains
            self._new.remove(tid)
            np.subtract.at(self._arriving, self._rows[i], self._coef[i])
        else:
            self._floor = min(self._floor, rate)
        last = len(self.ids) - 1
        if i != last:  # the last slot moves into the hole
            moved = self.ids[last]
            self.ids[i], self.slot[moved] = moved, i
            self.remaining[i], self.rate[i], self.bound[i] = self.remaining[last], self.rate[last], self.bound[last]
            self._rows[i], self._coef[i] = self._rows[last], self._coef[last]
        self.ids.pop()
        self.rate[last] = 0.0
        return left

    # -- time -----------------------------------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        n = len(self.ids)
        if dt > 0 and n:
            np.maximum(self.remaining[:n] - self.rate[:n] * dt, 0.0, out=self.remaining[:n])

    def time_to_next_completion(self) -> float:
        n = len(self.ids)
        moving = self.rate[:n] > 0
        if not moving.any():
            return math.inf
        return float((self.remaining[:n][moving] / self.rate[:n][moving]).min())

    def due(self, within: float) -> list[int]:
        """Transfer ids that complete within ``within`` seconds from now."""
        n = len(self.ids)
        moving = (self.rate[:n] > 0).nonzero()[0]  # a stopped flow never completes (and divides by nothing)
        left = self.remaining[moving] / self.rate[moving]
        ids = self.ids
        return [ids[i] for i in moving[left <= within].tolist()]

    # -- rates ----------------------------------------------------------------------------------------------------
    def _arrival_floor(self) -> float:
        """A lower bound on the level where the first resource on an arrival's route saturates (module docstring)."""
        on = (self._arriving > 0).nonzero()[0]
        if not on.size:
            return math.inf
        arriving, self._arriving[on] = self._arriving[on], 0.0
        capacity = self.capacity[on]
        room = np.maximum(capacity - self.load[on], 0.0) / arriving
        return float(np.maximum(room, capacity / self.weight[on]).min())

    def solve(self) -> None:
        floor, self._floor = self._floor, math.inf
        arrived, self._new = self._new, []
        if arrived:
            floor = min(floor, self._arrival_floor())
        n = len(self.ids)
        if math.isinf(floor) or not n:
            return
        self._solves += 1
        if self._solves % _REFRESH_SOLVES == 0:
            floor = 0.0  # a whole solve now and then: loads summed afresh, no rounding carried along
        if floor > 0:
            pick = self.rate[:n] >= floor * (1 - _MARGIN)
            pick[[self.slot[tid] for tid in arrived]] = True
            chosen = pick.nonzero()[0]
            if not chosen.size:
                return  # the departed flows were the fastest: nobody else gains (their loads are already gone)
        else:
            chosen = np.arange(n)
        coef2 = self._coef[chosen]
        cols, at = coef2.nonzero()
        coef = coef2[cols, at]
        # The resources the re-filled flows cross, numbered densely: every array below is as small as the solve.
        flat = self._rows[chosen][cols, at]
        self._mark[flat] = True
        used = self._mark.nonzero()[0]
        self._mark[used] = False
        k = used.size
        self._dense[used] = np.arange(k)
        rows = self._dense[flat]
        capacity = self.capacity[used]
        old = self.rate[chosen]
        if floor > 0:
            # What the flows not re-filled leave of each resource: their rates stay as they are.
            load = self.load[used]
            mine = np.bincount(rows, weights=coef * old[cols], minlength=k)
            free = np.maximum(capacity - (load - mine), 0.0)
        else:
            free = capacity
        new = max_min_rates(chosen.size, rows, cols, coef, free, self.bound[chosen], compact=True)
        self.rate[chosen] = new
        if floor > 0:
            load += np.bincount(rows, weights=coef * (new - old)[cols], minlength=k)
            self.load[used] = load
            # Loads of resources no re-filled flow crosses only fell: their peaks stand.
            self.peak[used] = np.maximum(self.peak[used], load / capacity)
        else:
            self.load[:] = 0.0
            self.weight[:] = 0.0
            self.load[used] = np.bincount(rows, weights=coef * new[cols], minlength=k)
            self.weight[used] = np.bincount(rows, weights=coef, minlength=k)
            np.maximum(self.peak, self.load / self.capacity, out=self.peak)

    def utilisation(self) -> np.ndarray:
        n = self._n_res
        return self.load[:n] / self.capacity[:n]

    def peaks(self) -> np.ndarray:
        """Highest load / capacity each resource reached, in the order they were added."""
        return self.peak[: self._n_res]
