"""Max-min fair rates by progressive filling (Bertsekas & Gallager §6.5; SimGrid's LMM with equal weights).

The problem: flows f with rates x_f, resources r with capacities C_r, and a sparse load matrix a_rf (how much of
resource r one byte per second of flow f uses). Constraints are ``Σ_f a_rf x_f ≤ C_r`` and ``x_f ≤ bound_f``.
Progressive filling raises every unfrozen flow at the same rate; when a resource saturates, every flow crossing
it freezes at the current level, and a flow reaching its own bound freezes there. Each round freezes at least one
flow, so there are at most F rounds, each O(nnz) numpy work on the shrinking set of unfrozen entries.
"""

from __future__ import annotations

import numpy as np

# Resources whose saturation levels agree to this relative tolerance saturate together. Far below the 1e-9
# agreement the closed-form tests ask for, far above float rounding of sums of a few dozen terms.
_TIE = 1e-12
# ndarray.min without its Python-level wrapper (twice per round of every solve).
_smallest = np.minimum.reduce


class UnboundedFlowError(ValueError):
    """A flow that no resource and no bound limits: its rate would be infinite."""

    def __init__(self, flows: np.ndarray):
        self.flows = flows
        super().__init__(f"flows {flows.tolist()} cross no finite resource and have no bound")


def max_min_rates(
    n_flows: int,
    rows: np.ndarray,
    cols: np.ndarray,
    coef: np.ndarray,
    capacity: np.ndarray,
    bound: np.ndarray | None = None,
    *,
    compact: bool = False,
) -> np.ndarray:
    """Max-min fair rates for ``n_flows`` flows.

    ``rows``/``cols``/``coef`` are the non-zero entries of the load matrix (resource index, flow index, load per
    unit rate, > 0); ``capacity`` has one entry per resource (> 0); ``bound`` one per flow (``inf`` for none).
    ``compact``: the caller promises every resource is crossed by some entry (numbered densely already), so the
    renumbering is skipped.
    Raises UnboundedFlowError when a flow would be infinitely fast.
    """
    rows = np.asarray(rows, dtype=np.intp)
    cols = np.asarray(cols, dtype=np.intp)
    coef = np.asarray(coef, dtype=np.float64)
    bound = np.full(n_flows, np.inf) if bound is None else np.asarray(bound, dtype=np.float64)
    rate = np.zeros(n_flows)
    crossed = np.zeros(n_flows, dtype=bool)
    crossed[cols] = True
    if not crossed.all():  # rare (the simulator's flows all cross something): skip the work when there are none
        lonely = ~crossed  # flows crossing no resource
        unbounded = np.flatnonzero(lonely & ~np.isfinite(bound))
        if unbounded.size:
            raise UnboundedFlowError(unbounded)
        # Flows that only a bound limits take it at once; they load nothing.
        rate[lonely] = bound[lonely]
        open_bound = np.where(lonely, np.inf, bound)  # bounds of the flows still rising
    else:
        open_bound = bound.copy()
    if not rows.size:
        return rate
    # Work on the resources actually used, numbered densely: every round's arrays are then as small as can be.
    capacity = np.asarray(capacity, dtype=np.float64)
    if not compact:
        used_res, rows = np.unique(rows, return_inverse=True)
        capacity = capacity[used_res]
    n_res = capacity.shape[0]

    bounded = bool(np.isfinite(open_bound).any())  # most solves have no bound at all: skip that test per round
    used = np.zeros(n_res)  # load of frozen flows on each resource
    weight = np.bincount(rows, weights=coef, minlength=n_res)  # load per unit level of the rising flows
    headroom = capacity / weight  # the level at which each resource saturates, given what is frozen
    while rows.size:
        res_level = _smallest(headroom)
        bound_level = _smallest(open_bound) if bounded else np.inf
        at_bound = bound_level <= res_level * (1 + _TIE)
        if at_bound:
            newly = open_bound <= bound_level * (1 + _TIE)
            rate[newly] = bound[newly]
            open_bound[newly] = np.inf
        else:
            newly = np.zeros(n_flows, dtype=bool)
        if res_level <= bound_level * (1 + _TIE):
            crossing = cols[headroom[rows] <= res_level * (1 + _TIE)]
            if at_bound:
                crossing = crossing[~newly[crossing]]  # a flow frozen at its bound this round keeps it
            if bounded:
                open_bound[crossing] = np.inf
            rate[crossing] = res_level
            newly[crossing] = True
        # Move the newly frozen flows' loads to the fixed use and drop their entries; the rising weight is summed
        # afresh (exactly 0 where no rising flow is left: no cancellation crumbs).
        mine = newly[cols]
        if mine.all():  # the last round: every rate is set, the bookkeeping below would be thrown away
            break
        # Summed over every entry left: a rising flow's rate is still exactly 0, and adding 0.0 to a sum of
        # non-negative terms changes no bit, so this is the newly frozen entries' sum without selecting them.
        used += np.bincount(rows, weights=coef * rate[cols], minlength=n_res)
        keep = ~mine
        rows, cols, coef = rows[keep], cols[keep], coef[keep]
        weight = np.bincount(rows, weights=coef, minlength=n_res)
        # A resource no rising flow crosses never saturates.
        headroom.fill(np.inf)
        np.divide(capacity - used, weight, out=headroom, where=weight > 0)
    return rate


def utilisation(
    rows: np.ndarray, cols: np.ndarray, coef: np.ndarray, capacity: np.ndarray, rate: np.ndarray
) -> np.ndarray:
    """Share of each resource's capacity that the given rates use."""
    load = np.bincount(np.asarray(rows, dtype=np.intp), weights=np.asarray(coef) * rate[cols], minlength=len(capacity))
    return load / capacity
