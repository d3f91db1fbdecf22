"""How one node differs from the reference, and what that does to P2P.

Every fact is said in the reference's terms (its device names and addresses), so nodes that drifted the same way
give equal records and can be grouped; the node's own address of each device is kept beside it (``here``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import networkx as nx
import numpy as np

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.bdf import BDF
from ..fabric.model import Device, Fabric, Link
from ..p2p import MAP_TYPES, check, pair_matrix
from .align import Alignment, FabricTree, align

MAX_EXPLAINED_PAIRS = 64  # per node: past this, verdict changes are counted, not each explained


class DriftKind(StrEnum):
    MISSING = "missing"
    EXTRA = "extra"
    LINK = "link"
    ACS = "acs"
    IOMMU = "iommu"
    KERNEL = "kernel"
    CMDLINE = "cmdline"
    AER = "aer"
    P2P = "p2p"


@dataclass(frozen=True)
class Drift:
    kind: DriftKind
    subject: str  # the reference device ("gpu1 0000:04:00.0"), a pair ("gpu0 → mlx5_0"), or "host"
    detail: str
    here: str = ""  # the node's own address(es) for it; not part of what groups nodes

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.kind.value, self.subject, self.detail)


@dataclass(frozen=True)
class DriftOptions:
    aer_threshold: int = 0  # AER counter totals above this are drift


def node_drift(ref: FabricTree, node: FabricTree, options: DriftOptions | None = None) -> list[Drift]:
    """Every difference of ``node`` from ``ref``, ordered by kind then subject."""
    options = options or DriftOptions()
    alignment = align(ref, node)
    drifts = _host(ref.fabric, node.fabric)
    drifts += _structure(alignment)
    for r, n in alignment.device_pairs():
        drifts += _device(ref.fabric, node.fabric, r, n)
    drifts += _aer(node.fabric, alignment, options.aer_threshold)
    drifts += _p2p(alignment)
    order = list(DriftKind)
    return sorted(drifts, key=lambda d: (order.index(d.kind), d.subject, d.detail))


def ref_name(dev: Device) -> str:
    return f"{dev.name} {dev.bdf}"


def _host(ref: Fabric, node: Fabric) -> list[Drift]:
    out = []
    rh, nh = ref.host, node.host
    if rh.kernel != nh.kernel:
        detail = f"kernel {nh.kernel or 'unknown'}, reference {rh.kernel or 'unknown'}"
        out.append(Drift(DriftKind.KERNEL, "host", detail))
    if rh.iommu != nh.iommu:
        out.append(Drift(DriftKind.IOMMU, "host", f"IOMMU {nh.iommu.value}, reference {rh.iommu.value}"))
    if rh.cmdline != nh.cmdline:
        rw, nw = rh.cmdline.split(), nh.cmdline.split()
        added = [w for w in nw if w not in rw]
        dropped = [w for w in rw if w not in nw]
        parts = ([f"+{' +'.join(added)}"] if added else []) + ([f"-{' -'.join(dropped)}"] if dropped else [])
        out.append(Drift(DriftKind.CMDLINE, "host", f"command line {' '.join(parts) or 'reordered'}"))
    return out


def _structure(a: Alignment) -> list[Drift]:
    rf, nf = a.ref.fabric, a.node.fabric
    out = []
    for v in a.missing:
        if isinstance(v, BDF):
            dev = rf.device(v)
            detail = f"{dev.kind.value} [{dev.ids}] missing{_below(a.ref, v)}"
            out.append(Drift(DriftKind.MISSING, ref_name(dev), detail))
        else:
            out.append(Drift(DriftKind.MISSING, "host", f"a root bus ({_count_below(a.ref, v)} functions) missing"))
    for v in a.extra:
        parent = a.extra_parent.get(v)
        under = ref_name(rf.device(parent)) if isinstance(parent, BDF) else "a root bus"
        if isinstance(v, BDF):
            dev = nf.device(v)
            slot = f" in slot {dev.slot}" if dev.slot else ""
            detail = f"{dev.kind.value} [{dev.ids}]{slot}{_below(a.node, v)}"
            out.append(Drift(DriftKind.EXTRA, f"under {under}", detail, str(v)))
        else:
            out.append(Drift(DriftKind.EXTRA, "host", f"a root bus ({_count_below(a.node, v)} functions) extra"))
    return out


def _count_below(tree: FabricTree, vertex) -> int:
    return len(nx.descendants(tree.graph, vertex))


def _below(tree: FabricTree, vertex) -> str:
    """The endpoints a missing or extra subtree takes with it, by name: what an operator will look for."""
    below = [tree.fabric.device(v) for v in nx.descendants(tree.graph, vertex) if isinstance(v, BDF)]
    ends = sorted((d for d in below if d.kind.is_endpoint), key=lambda d: d.bdf)
    if not below:
        return ""
    names = ", ".join(f"{d.kind.value} {d.name}" for d in ends[:3]) + (" ..." if len(ends) > 3 else "")
    return f", with {len(below)} function{'s' if len(below) != 1 else ''} below it" + (f" ({names})" if names else "")


def _device(ref: Fabric, node: Fabric, r: Device, n: Device) -> list[Drift]:
    out = []
    rl, nl = ref.uplink(r), node.uplink(n)
    if rl is not None and nl is not None and nl.down and not rl.down:
        out.append(Drift(DriftKind.LINK, ref_name(r), f"link down, reference {_gw(rl.gen, rl.width)}", str(n.bdf)))
    elif rl is not None and nl is not None and _slower(nl, rl):
        below_max = nl.width_degraded or nl.speed_below_max
        capable = f", capable {_gw(nl.max_gen, nl.max_width)}" if below_max else ""
        detail = f"link {_gw(nl.gen, nl.width)}, reference {_gw(rl.gen, rl.width)}{capable}"
        out.append(Drift(DriftKind.LINK, ref_name(r), detail, str(n.bdf)))
    if _acs_ctrl(r) != _acs_ctrl(n):
        detail = f"ACS control {_acs_text(n)}, reference {_acs_text(r)}"
        out.append(Drift(DriftKind.ACS, ref_name(r), detail, str(n.bdf)))
    return out


def _slower(a: Link, b: Link) -> bool:
    narrower = a.width is not None and b.width is not None and a.width < b.width
    slower = a.gen is not None and b.gen is not None and a.gen < b.gen
    return narrower or slower


def _gw(gen: int | None, width: int | None) -> str:
    return f"gen{gen if gen is not None else '?'} x{width if width is not None else '?'}"


def _acs_ctrl(dev: Device) -> tuple[str, int]:
    return (dev.acs.source.value, dev.acs.ctrl if dev.acs.source is AcsSource.HARDWARE else 0)


def _acs_text(dev: Device) -> str:
    acs = dev.acs
    if acs.source is AcsSource.HARDWARE:
        if not acs.ctrl:
            return "none set"
        text = acsbits.describe(acs.ctrl)
        return f"{text} (redirect)" if acs.ctrl & acsbits.REDIRECT_BITS else text
    return {AcsSource.NONE: "none (no capability)", AcsSource.UNKNOWN: "unknown"}.get(acs.source, acs.source.value)


def _aer(node: Fabric, a: Alignment, threshold: int) -> list[Drift]:
    back = {n: r for r, n in a.pairs.items()}
    out = []
    for dev in node.devices:
        if dev.aer is None or dev.aer.total <= threshold:
            continue
        ref_vertex = back.get(dev.bdf)
        subject = ref_name(a.ref.fabric.device(ref_vertex)) if isinstance(ref_vertex, BDF) else f"{dev.name} (extra)"
        detail = f"AER {dev.aer.correctable} correctable, {dev.aer.nonfatal} nonfatal, {dev.aer.fatal} fatal"
        out.append(Drift(DriftKind.AER, subject, f"{detail} (threshold {threshold})", str(dev.bdf)))
    return out


def _p2p(a: Alignment) -> list[Drift]:
    """Every endpoint pair present on both sides whose map type differs, explained by the single-pair verdict."""
    rf, nf = a.ref.fabric, a.node.fabric
    rm, nm = a.ref.p2p_matrix, pair_matrix(nf)  # the reference's once for the whole fleet
    n_index = {d.bdf: i for i, d in enumerate(nm.rows)}
    ri, ni = [], []
    for i, dev in enumerate(rm.rows):
        partner = a.pairs.get(dev.bdf)
        if partner is not None and partner in n_index:
            ri.append(i)
            ni.append(n_index[partner])
    if not ri:
        return []
    r_ix, n_ix = np.array(ri), np.array(ni)
    ref_codes = rm.map_type[np.ix_(r_ix, r_ix)]
    node_codes = nm.map_type[np.ix_(n_ix, n_ix)]
    differ = ref_codes != node_codes
    differ = differ | differ.T  # one record per unordered pair
    rows, cols = np.nonzero(np.triu(differ, k=1))
    out = []
    for k, (i, j) in enumerate(zip(rows.tolist(), cols.tolist(), strict=True)):
        rp, rc = rm.rows[ri[i]], rm.rows[ri[j]]
        np_, nc = nm.rows[ni[i]], nm.rows[ni[j]]
        before, after = MAP_TYPES[int(ref_codes[i, j])], MAP_TYPES[int(node_codes[i, j])]
        why = _why(rf, nf, a, rp, rc, np_, nc) if k < MAX_EXPLAINED_PAIRS else "not explained (too many changes)"
        detail = f"{before.value} on the reference, {after.value} here: {why}"
        if not (rm.certain_at(ri[i], ri[j]) and nm.certain_at(ni[i], ni[j])):
            detail += " (uncertain: a fact the verdict needs is unknown on one side)"
        out.append(Drift(DriftKind.P2P, f"{rp.name} → {rc.name}", detail, f"{np_.bdf} → {nc.bdf}"))
    return out


def _why(rf: Fabric, nf: Fabric, a: Alignment, rp: Device, rc: Device, np_: Device, nc: Device) -> str:
    ref_cv = check(rf, rp, [rc], verbose=False).clients[0]
    node_cv = check(nf, np_, [nc], verbose=False).clients[0]
    back = {n: r for r, n in a.pairs.items()}
    ref_hits = {d.bdf for d in ref_cv.acs_redirect}
    set_here = [d for d in node_cv.acs_redirect if back.get(d.bdf) not in ref_hits]
    if set_here:
        return "; ".join(f"ACS {_redirect_bits(d)} set on {_in_ref_terms(rf, back.get(d.bdf), d)}" for d in set_here)
    node_hits = {d.bdf for d in node_cv.acs_redirect}
    cleared = [d for d in ref_cv.acs_redirect if a.pairs.get(d.bdf) not in node_hits]
    if cleared:
        return "; ".join(f"ACS redirect cleared on {ref_name(d)}" for d in cleared)
    if (ref_cv.common is None) != (node_cv.common is None):
        return "the pair shares a bridge here" if node_cv.common is not None else "the pair no longer shares a bridge"
    if node_cv.messages:
        return node_cv.messages[0]
    if rf.host.kernel != nf.host.kernel or rf.host.cmdline != nf.host.cmdline:
        return "the kernel or its command line differs"
    return "the host bridge's verdict differs"


def _in_ref_terms(rf: Fabric, ref_vertex, dev: Device) -> str:
    """A node device named as the reference names its partner (so nodes numbered differently read alike)."""
    return ref_name(rf.device(ref_vertex)) if isinstance(ref_vertex, BDF) else f"{dev.name} (not on the reference)"


def _redirect_bits(dev: Device) -> str:
    if dev.acs.source is AcsSource.HARDWARE and dev.acs.ctrl & acsbits.REDIRECT_BITS:
        return acsbits.describe(dev.acs.ctrl & acsbits.REDIRECT_BITS)
    return "redirect"
