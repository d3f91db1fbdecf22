"""Map type, distance and nvidia-smi class for every provider/client pair, vectorised with numpy.

The single-pair verdict walks chains; here the same decision is taken block by block. Rows and columns are sorted
by DFS preorder of the forest that pci_upstream_bridge() defines, so every subtree is a contiguous range of rows and
of columns:
* pairs in different trees (different root ports, RCiEPs) have no common device: their verdict depends only on the
  two root buses, so each cell looks its case up in a (root bus x root bus) table; the distance is len(P)+len(C);
* pairs in one tree have a common device, the deepest bridge whose subtree holds both: writing each bridge's values
  into its (rows x columns) block, shallow to deep, leaves the lowest common ancestor's values in every cell.
Distances come out of one identity: da+db = (len(P)) + (len(C)) - 2*(depth(LCA)+1).

Facts the fabric does not give (p2p/outcomes.py) are evaluated the same way, table by table: every completion of the
machine-wide facts (kernel, CPU, IOMMU), each at the corners of the per-function facts (unknown ACS all clear or all
redirecting; unknown host bridges all whitelisted, all for their own bridge only, or none). A pair's outcome depends
on an unknown ACS control only through "some redirect on its path or none", and on an unknown host bridge only
through "allowed or not", both monotone, so the corners give exactly the outcomes a pair can have. A cell is certain
when every table agrees; it shows its worst outcome, as the single verdict does.

All of this runs on a member or two of each endpoint class (p2p/endpoint_classes.py: functions whose rows and
columns are identical but where they meet themselves), never on every function: 16,384 endpoints of a regular
fabric are 512 classes. The result stays a class table (p2p/class_array.py), expanded cell by cell or row by row as
the TUI, the exports and `matrix --json` read it.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass

import numpy as np

from ..fabric.model import Device, Fabric
from .class_array import ClassArray
from .context import VerdictContext, verdict_context
from .endpoint_classes import EndpointClasses, endpoint_classes, singleton_classes
from .profiles import Era, Fact, HostBridgeAssumption, KernelProfile
from .topo import TOPO_CLASSES, TOPO_CODE, TopoClass
from .verdict import V52_HOST_BRIDGE_PENALTY, MapType

MAP_TYPES = (MapType.NOT_SUPPORTED, MapType.BUS_ADDR, MapType.THRU_HOST_BRIDGE)
NOT, BUS, THRU = 0, 1, 2
MAP_CODE = {m: k for k, m in enumerate(MAP_TYPES)}
_RANK = {BUS: 0, THRU: 1, NOT: 2}  # worse is larger, as outcomes.severity orders single verdicts
_RANK_ARRAY = np.array([_RANK[k] for k in range(3)], dtype=np.int8)
_PIX, _PXB, _X = TOPO_CODE[TopoClass.PIX], TOPO_CODE[TopoClass.PXB], TOPO_CODE[TopoClass.X]


@dataclass
class PairMatrix:
    """Rows are providers, columns clients; ``map_type`` and ``topo`` hold codes into MAP_TYPES / TOPO_CLASSES.

    The cell arrays are ClassArrays from pair_table (indexed like numpy arrays, expanded only where read) or plain
    numpy arrays (a matrix cut from another, tui/export.py)."""

    rows: list[Device]
    cols: list[Device]
    map_type: ClassArray | np.ndarray  # int8
    distance: ClassArray | np.ndarray  # per-client distance, as ClientVerdict.distance: int16 (int32 if it must)
    topo: ClassArray | np.ndarray  # int8
    profile: KernelProfile
    certain: ClassArray | np.ndarray | None = None  # bool per cell; None: every cell certain
    # (map_type, distance) of every table evaluated
    alternatives: tuple[tuple[ClassArray | np.ndarray, ClassArray | np.ndarray], ...] = ()

    def certain_at(self, i: int, j: int) -> bool:
        return self.certain is None or bool(self.certain[i, j])

    def outcomes_at(self, i: int, j: int) -> list[tuple[MapType, int]]:
        """Each distinct (map type, distance) the pair can have, best first; one for a certain cell."""
        if self.certain_at(i, j):
            return [(self.map_type_at(i, j), int(self.distance[i, j]))]
        seen = {(int(m[i, j]), int(d[i, j])) for m, d in self.alternatives}
        return [(MAP_TYPES[m], d) for m, d in sorted(seen, key=lambda md: (_RANK[md[0]], md[1]))]

    def uncertain_cells(self) -> list[tuple[int, int]]:
        return [(i, j) for i in range(len(self.rows)) for j in self.uncertain_in_row(i)]

    def uncertain_in_row(self, i: int) -> list[int]:
        """Columns of row i whose cell depends on facts the fabric does not give, in order."""
        certain = self.certain
        if certain is None:
            return []
        if isinstance(certain, ClassArray) and certain.table[certain.row_class[i]].all():
            return []  # the row's class is certain against every class and itself: nothing to expand
        return np.flatnonzero(~np.asarray(certain[i, :], dtype=bool)).tolist()

    def map_type_at(self, i: int, j: int) -> MapType:
        return MAP_TYPES[int(self.map_type[i, j])]

    def topo_at(self, i: int, j: int) -> TopoClass:
        return TOPO_CLASSES[int(self.topo[i, j])]

    def map_names(self) -> list[list[str]]:
        return np.array([m.value for m in MAP_TYPES], dtype=object)[np.asarray(self.map_type)].tolist()

    def topo_names(self) -> list[list[str]]:
        return np.array([t.value for t in TOPO_CLASSES], dtype=object)[np.asarray(self.topo)].tolist()


def pair_matrix(
    fabric: Fabric, profile: KernelProfile | None = None, endpoints: list[Device] | None = None
) -> PairMatrix:
    """Every endpoint function (not a bridge, not a host bridge; or just ``endpoints``, e.g. the P2P endpoints of
    fabric/endpoints.py) against every other, in bus order. Functions whose place the source contradicts
    (``Device.conflict``) are left out: their path is not known."""
    ctx = verdict_context(fabric, profile)
    index = ctx.index.index
    chosen = fabric.endpoints() if endpoints is None else sorted(endpoints, key=lambda d: d.bdf)
    ends = np.array([index[d.bdf] for d in chosen if not d.conflict], dtype=np.int64)
    return pair_table(ctx, ends, ends)


def pair_table(ctx: VerdictContext, rows: np.ndarray, cols: np.ndarray, compress: bool = True) -> PairMatrix:
    """The verdict for every (rows[i], cols[j]) pair of device indices, with its certainty.

    Computed over classes of functions with identical rows and columns (p2p/endpoint_classes.py): a table over one
    or two members of each class, kept as a class x class table that ClassArray expands where it is read. With
    ``compress`` False every function is a class of its own: the same computation uncompressed (what the tests hold
    the classes to)."""
    rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
    uncertain = ctx.profile.has_p2pdma and ctx.has_unknowns
    contexts = _completions(ctx) if uncertain else [ctx]
    chosen = np.concatenate([rows, cols])
    redirects = [np.asarray(c.redirect, dtype=np.int8) for c in contexts]
    classes = endpoint_classes(ctx.index, chosen, redirects) if compress else singleton_classes(chosen)
    row_class, col_class = classes.class_of(rows), classes.class_of(cols)
    devs = ctx.index.devices
    ends = ([devs[i] for i in rows], [devs[i] for i in cols])

    def expand(table: np.ndarray) -> ClassArray:
        return ClassArray(table, row_class, col_class, rows, cols)

    if not ctx.profile.has_p2pdma:  # a kernel without P2PDMA refuses every pair
        _, distance, topo = _class_table(ctx, classes)
        map_type = np.full(distance.shape, NOT, dtype=np.int8)
        return PairMatrix(*ends, expand(map_type), expand(np.full_like(distance, -1)), expand(topo), ctx.profile)
    if not uncertain:
        map_type, distance, topo = _class_table(ctx, classes)
        return PairMatrix(*ends, expand(map_type), expand(distance), expand(topo), ctx.profile)
    # Tables are folded in one at a time and kept only when new: most completions repeat one another (a kernel
    # range with the same rules), and memory stays a few tables wide.
    seen: set[bytes] = set()
    alts: list[tuple[np.ndarray, np.ndarray]] = []
    weighed: set[tuple] = set()
    for completed, redirect in zip(contexts, redirects, strict=True):
        inputs = _table_inputs(completed, redirect)
        if inputs in weighed:  # the same table as an earlier completion's, which is already folded in
            continue
        weighed.add(inputs)
        t_map, t_dist, t_topo = _class_table(completed, classes)
        key = hashlib.blake2b(t_map.tobytes() + t_dist.tobytes(), digest_size=16).digest()
        if key in seen:
            continue
        seen.add(key)
        alts.append((t_map, t_dist))
        score = _score(t_map, t_dist)
        if len(alts) == 1:
            first_map, first_dist, topo = t_map, t_dist, t_topo
            certain, worst_score = np.ones(t_map.shape, dtype=bool), score
            map_type, distance = t_map.copy(), t_dist.copy()
            continue
        certain &= (t_map == first_map) & (t_dist == first_dist)
        # The worst outcome per cell: refused, then through the host bridge, then the larger distance.
        worse = score > worst_score
        worst_score = np.where(worse, score, worst_score)
        map_type = np.where(worse, t_map, map_type)
        distance = np.where(worse, t_dist, distance)
    return PairMatrix(
        *ends,
        expand(map_type),
        expand(distance),
        expand(topo),
        ctx.profile,
        expand(certain),
        tuple((expand(m), expand(d)) for m, d in alts),
    )


def _table_inputs(ctx: VerdictContext, redirect: np.ndarray) -> tuple:
    """Everything a completion's table is computed from besides the tree: whether its rules are v5.4's or older
    (profiles.common_outcome and no_common_outcome branch on nothing else), which functions redirect, and per pair
    of root buses whether a path through the host bridges is allowed and whether both pass v5.2's root-complex
    rule (_no_common_case; its diagonal is what _common_blocks asks). Completions equal in these give equal tables:
    most of the ~140 of an all-unknown machine do (kernel releases whose rules differ elsewhere), and each table
    costs a dense pass over every pair of classes."""
    modern = ctx.profile.era >= Era.V5_4
    allowed = ctx.host_path_allowed_all().tobytes() if modern else b""
    return (modern, redirect.tobytes(), allowed, np.asarray(ctx.rc_v52, dtype=bool).tobytes())


def _class_table(ctx: VerdictContext, classes: EndpointClasses) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(map type, distance, topo) per pair of classes, K x (K + 1): column K holds each class against itself.

    Evaluated densely on a member of each class, then a second member of each class that has one (the pair of two
    members of one class meets at their junction, not at the function itself)."""
    k = len(classes)
    paired = np.flatnonzero(classes.second >= 0)
    reps = np.concatenate([classes.first, classes.second[paired]])
    out: list[np.ndarray] = []
    for dense in _dense(ctx, reps, reps):
        table = np.empty((k, k + 1), dtype=dense.dtype)
        table[:, :k] = dense[:k, :k]
        table[:, k] = np.diagonal(dense)[:k]
        table[paired, paired] = dense[paired, k + np.arange(len(paired))]
        out.append(table)
    return out[0], out[1], out[2]


def _score(map_type: np.ndarray, distance: np.ndarray) -> np.ndarray:
    return _RANK_ARRAY[map_type].astype(np.int64) * (1 << 40) + distance.astype(np.int64)


# Unknown host bridges all at one standing. Whether a pair may go through the host bridge is one boolean, monotone in
# each bridge's standing, but which standing allows it depends on the machine: a whitelist entry that fits this CPU
# may exist only for REQ_SAME_HOST_BRIDGE (then "whitelisted" allows nothing and "same bridge only" allows pairs on
# one bridge). So all three are corners, as the single verdict (outcomes.py) enumerates all three per bridge.
HB_CORNERS = (
    HostBridgeAssumption.NOT_WHITELISTED,
    HostBridgeAssumption.SAME_BRIDGE_ONLY,
    HostBridgeAssumption.WHITELISTED,
)


def _completions(ctx: VerdictContext) -> list[VerdictContext]:
    """Contexts for every completion of the machine-wide facts, each at the corners of the per-function ones."""
    prof = ctx.profile
    fabric = ctx.index.fabric
    values = dict(prof.unknown_values())
    kernels, cpus, iommus = (values.get(f, [None]) for f in (Fact.KERNEL, Fact.CPU, Fact.IOMMU))
    out: list[VerdictContext] = []
    for kernel, cpu, iommu in itertools.product(kernels, cpus, iommus):
        done = prof.completed(kernel, cpu, iommu)
        c = verdict_context(fabric, done) if done != prof else ctx
        acs_corners = [False, True] if any(c.acs_maybe) else [False]
        open_buses = [k for k, u in enumerate(c.rep_unknown) if u and k not in c.hb_state]
        hb_corners = [{k: state for k in open_buses} for state in HB_CORNERS] if open_buses else [{}]
        out.extend(c.with_facts(acs, hb) for acs in acs_corners for hb in hb_corners)
    return out


def _dense(ctx: VerdictContext, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(map type, distance, topo) of every pair, densely, with the facts in ``ctx`` taken as they are."""
    idx = ctx.index
    a = _arrays(ctx)
    tin = idx.tin
    r_order = np.argsort(tin[rows], kind="stable")
    c_order = np.argsort(tin[cols], kind="stable")
    rs, cs = rows[r_order], cols[c_order]
    rt, ct = tin[rs], tin[cs]
    len_r = (a["depth"][rs] + 1).astype(a["dtype"])
    len_c = (a["depth"][cs] + 1).astype(a["dtype"])
    distance = np.add.outer(len_r, len_c)  # no common device: len(chain P) + len(chain C)
    # Pairs without a common device: their outcome depends only on the two root buses (one case per pair of buses),
    # looked up cell by cell; pairs with one are overwritten below.
    rb_of = np.asarray(idx.root_bus, dtype=np.int64)
    rbr, rbc = rb_of[rs][:, None], rb_of[cs][None, :]
    topo = _cross_root_topo(idx)[rbr, rbc]
    kind, constant, value = _no_common_cases(ctx.profile)
    case = _no_common_case(ctx)[rbr, rbc]
    map_type = kind[case]
    distance = np.where(constant[case], value[case], distance + value[case]).astype(distance.dtype)
    _common_blocks(ctx, a, rs, cs, rt, ct, len_r, len_c, distance, map_type, topo)
    if not _is_identity(r_order) or not _is_identity(c_order):
        r_inv, c_inv = np.argsort(r_order), np.argsort(c_order)
        distance, map_type, topo = (m[r_inv][:, c_inv] for m in (distance, map_type, topo))
    return map_type, distance, topo


def _cross_root_topo(idx) -> np.ndarray:
    """topo.cross_root_class() for every pair of root buses: PHB on one, SYS across known different NUMA nodes."""
    numa = np.array([-1 if n is None else n for n in idx.rb_numa], dtype=np.int64)
    known = numa >= 0
    apart = np.logical_and.outer(known, known) & np.not_equal.outer(numa, numa)
    out = np.where(apart, TOPO_CODE[TopoClass.SYS], TOPO_CODE[TopoClass.NODE]).astype(np.int8)
    np.fill_diagonal(out, TOPO_CODE[TopoClass.PHB])
    return out


def _no_common_case(ctx: VerdictContext) -> np.ndarray:
    """Per pair of root buses, which of the four no-common-device cases applies: 2*(host path allowed) + (both root
    complexes pass v5.2's rule)."""
    allowed = ctx.host_path_allowed_all() if ctx.profile.era >= Era.V5_4 else np.zeros((len(ctx.rc_v52),) * 2, bool)
    rc = np.asarray(ctx.rc_v52, dtype=bool)
    return 2 * allowed.astype(np.int8) + np.logical_and.outer(rc, rc).astype(np.int8)


def _no_common_cases(profile: KernelProfile) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The profile's no_common_outcome() for each case: its map code, and whether the distance is a constant (the
    value) or the hop count plus the value. Asked at two hop counts to tell which."""
    kinds, constant, value = [], [], []
    for allowed in (False, True):
        for v52 in (False, True):
            kind, at0 = profile.no_common_outcome(allowed, v52, 0)
            _, at1 = profile.no_common_outcome(allowed, v52, 1)
            kinds.append(MAP_CODE[kind])
            constant.append(at1 == at0)
            value.append(at0)
    return np.array(kinds, dtype=np.int8), np.array(constant, dtype=bool), np.array(value, dtype=np.int64)


def _common_blocks(ctx, a, rs, cs, rt, ct, len_r, len_c, distance, map_type, topo) -> None:
    """Overwrite the pairs that share an upstream device, tree by tree."""
    idx = ctx.index
    r_lo, r_hi = np.searchsorted(rt, idx.tin), np.searchsorted(rt, idx.tout)
    c_lo, c_hi = np.searchsorted(ct, idx.tin), np.searchsorted(ct, idx.tout)
    live = np.nonzero((r_hi > r_lo) & (c_hi > c_lo))[0]
    if not len(live):
        return
    # Trees (by root) in preorder, nodes of a tree shallow to deep: deeper blocks overwrite shallower ones.
    order = np.lexsort((a["depth"][live], idx.tin[a["root"][live]]))
    live = live[order]
    roots = a["root"][live]
    starts = np.flatnonzero(np.r_[True, roots[1:] != roots[:-1]])
    ends = np.r_[starts[1:], len(live)]
    era = ctx.profile.era
    for s, e in zip(starts, ends, strict=False):
        t = live[s]  # the tree's root comes first: depth 0
        R0, R1, C0, C1 = r_lo[t], r_hi[t], c_lo[t], c_hi[t]
        shape = (R1 - R0, C1 - C0)
        lca_len = np.empty(shape, dtype=distance.dtype)  # depth(LCA) + 1
        acs_cut = np.empty(shape, dtype=np.int16)  # 2*cnt(LCA) - redirect(LCA)
        units2 = np.empty(shape, dtype=np.int16)  # 2*units(LCA)
        for v in live[s:e]:
            block = (slice(r_lo[v] - R0, r_hi[v] - R0), slice(c_lo[v] - C0, c_hi[v] - C0))
            lca_len[block] = a["depth"][v] + 1
            acs_cut[block] = a["cut"][v]
            units2[block] = 2 * a["units"][v]
        sub_r, sub_c = rs[R0:R1], cs[C0:C1]
        out = (slice(R0, R1), slice(C0, C1))
        distance[out] = np.add.outer(len_r[R0:R1], len_c[C0:C1]) - 2 * lca_len
        acs = np.add.outer(a["cnt"][sub_r], a["cnt"][sub_c]) > acs_cut
        rb = idx.root_bus[int(t)]
        allowed = era >= Era.V5_4 and ctx.host_path_allowed(rb, rb)
        kind, dist = ctx.profile.common_outcome(True, allowed, distance[out])  # what a redirected pair gets
        map_type[out] = np.where(acs, MAP_CODE[kind], BUS)
        distance[out] = np.where(acs, dist, distance[out])
        pix = np.add.outer(a["above"][sub_r], a["above"][sub_c]) <= units2
        block_topo = np.where(pix, _PIX, _PXB).astype(np.int8)
        block_topo[np.equal.outer(sub_r, sub_c)] = _X
        topo[out] = block_topo


def _arrays(ctx: VerdictContext) -> dict:
    """Per-device arrays for the vectorised verdict, computed once per context."""
    a = ctx.derived.get("matrix")
    if a is not None:
        return a
    idx = ctx.index
    n = len(idx.devices)
    red = np.array(ctx.redirect, dtype=np.int16)
    cnt = np.zeros(n, dtype=np.int16)  # redirecting devices on chain(d), d included
    root = np.zeros(n, dtype=np.int64)
    units = np.array(idx.units, dtype=np.int16)
    above = np.zeros(n, dtype=np.int16)  # units on chain(up(d)): the bridges above d
    for i in np.argsort(idx.tin):  # parents before children
        up = idx.up[i]
        cnt[i] = red[i] + (cnt[up] if up >= 0 else 0)
        root[i] = root[up] if up >= 0 else i
        above[i] = units[up] if up >= 0 else 0
    depth = idx.depth
    worst = 2 * (int(depth.max(initial=0)) + 1) + V52_HOST_BRIDGE_PENALTY
    a = {
        "depth": depth,
        "cnt": cnt,
        "cut": 2 * cnt - red,
        "root": root,
        "units": units,
        "above": above,
        "dtype": np.int16 if worst < np.iinfo(np.int16).max else np.int32,
    }
    ctx.derived["matrix"] = a
    return a


def _is_identity(order: np.ndarray) -> bool:
    return bool(np.array_equal(order, np.arange(len(order))))
