"""Per-fabric and per-(fabric, profile) indexes that make a single verdict a few dictionary lookups.

A FabricIndex holds what depends on the tree alone (upstream chains, depths, DFS order, root buses); a
VerdictContext adds what the profile decides (live ACS redirect bits, host-bridge verdicts). Both are computed once
and cached against the fabric object (by identity, dropped when the fabric is garbage-collected).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, NamedTuple

import numpy as np

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.bdf import BDF
from ..fabric.cpu_vendors import root_complex_fits
from ..fabric.kinds import DeviceKind
from ..fabric.model import Device, Fabric
from . import messages
from .acs_cmdline import BootAcs, BootLog, boot_ctrl, live_ctrl
from .profiles import (
    AcsAssumption,
    Era,
    HostBridgeAssumption,
    KernelProfile,
    profile_for,
)
from .whitelist import RC_WHITELIST_V52, RepresentativeRule, lookup, pick_representative

if TYPE_CHECKING:  # verdict.py builds on this module
    from .verdict import ClientVerdict


@dataclass
class FabricIndex:
    fabric: Fabric
    devices: tuple[Device, ...]
    index: dict[BDF, int]
    up: list[int]  # pci_upstream_bridge as an index, -1 for none
    chains: list[tuple[int, ...]]  # [d, up(d), up(up(d)), ...]
    root_bus: list[int]  # index into fabric.root_buses
    rb_numa: list[int | None]  # NUMA node of each root bus
    units: list[int]  # switches/ports on chain(d) counted as nvidia-smi counts bridges (a DSP shares its USP's)
    tin: np.ndarray  # DFS preorder number of each device in the forest that up() defines
    tout: np.ndarray  # one past the last preorder number of its subtree
    depth: np.ndarray  # len(chain) - 1
    rb_range: list[tuple[int, int]]  # preorder range of each root bus's devices
    _chain_pos: dict[int, dict[int, int]] = field(default_factory=dict)
    # assumed_ctrl(redirect=True) per function, by the boot-time ACS set-up it depends on: the profiles one verdict
    # weighs (kernel releases, a fix's command line) share a handful of set-ups.
    assumed_on: dict[BootAcs, dict[int, int]] = field(default_factory=dict)

    def chain_pos(self, i: int) -> dict[int, int]:
        """Position of each device in chain(i): the kernel's inner loop as a lookup."""
        pos = self._chain_pos.get(i)
        if pos is None:
            pos = {d: k for k, d in enumerate(self.chains[i])}
            self._chain_pos[i] = pos
        return pos


class _FilledCtrl(NamedTuple):
    on_values: dict[int, tuple[int, bool]]  # per function of unreadable ACS: (live control, redirects) if it does
    off_ctrl: list[int]  # every such function assumed not to redirect
    off_redirect: list[bool]
    on_ctrl: list[int]  # every such function assumed to redirect
    on_redirect: list[bool]


@dataclass
class VerdictContext:
    index: FabricIndex
    profile: KernelProfile
    redirect: list[bool]  # live ACS control has RR, CR or EC
    acs_unknown: list[bool]
    ctrl: list[int]  # live ACS control values (0 without a capability)
    boot_log: list[str]
    acs_notes: dict[int, str]
    representatives: list[Device | None]
    rc_v52: list[bool]  # v5.2: root bus allowed by the AMD Zen root-complex rule
    acs_maybe: list[bool] = field(default_factory=list)  # ACS unreadable and the function may redirect (see below)
    rep_unknown: list[bool] = field(default_factory=list)  # per root bus: its representative's IDs are unreadable
    hb_state: dict[int, HostBridgeAssumption] = field(default_factory=dict)  # filled host-bridge facts by root bus
    acs_inferred_clear: list[bool] = field(default_factory=list)  # ACS unreadable, but no P2P controls to set
    acs_assumed: list[str | None] = field(default_factory=list)  # unreadable ACS filled: "--assume" or "outcome"
    _hb: dict[tuple[int, int, bool], tuple[bool, tuple[str, ...]]] = field(default_factory=dict)
    derived: dict = field(default_factory=dict)  # per-context arrays other modules compute once (matrix.py)
    _filled: _FilledCtrl | None = field(default=None, compare=False, repr=False)  # see _filled_ctrl
    # The pair verdicts of one verdict weighed case by case, shared by its cases' contexts (verdict.pair_verdict).
    pair_memo: dict[tuple, ClientVerdict] | None = field(default=None, compare=False, repr=False)

    def host_bridges_allowed(self, rb_a: int, rb_b: int, warn: bool) -> tuple[bool, tuple[str, ...]]:
        """host_bridge_whitelist(): both bridges pass (the second only checked if the first did), and the warnings
        printed on the way when ``warn`` (v5.14+ prints them only on the ACS-redirect path)."""
        key = (rb_a, rb_b, warn)
        hit = self._hb.get(key)
        if hit is None:
            lines: list[str] = []
            if rb_a == rb_b:
                ok = self._one_bridge(rb_a, True, warn, lines)
            else:
                ok = self._one_bridge(rb_a, False, warn, lines) and self._one_bridge(rb_b, False, warn, lines)
            hit = (ok, tuple(lines))
            self._hb[key] = hit
        return hit

    def _one_bridge(self, rb: int, same: bool, warn: bool, lines: list[str]) -> bool:
        rep = self.representatives[rb]
        if rep is None:
            return False
        state = self.hb_state.get(rb) if self.rep_unknown[rb] else None
        # An assumed standing counts only where this kernel's table has such an entry that this machine's root complex
        # could carry (its CPU vendor's IDs, or a vendor that makes no CPUs).
        if state is HostBridgeAssumption.WHITELISTED and self._could_be_listed(False):
            return True
        if state is HostBridgeAssumption.SAME_BRIDGE_ONLY and self._could_be_listed(True):
            return same
        entry = lookup(self.profile.whitelist, rep.vendor_id, rep.device_id)
        if entry is not None:
            return same or not entry.req_same_host_bridge
        if warn and self.profile.host_bridge_warning:
            lines.append(messages.not_whitelisted(rep))
        return False

    def _could_be_listed(self, req_same: bool) -> bool:
        cpu, family = self.profile.cpu_vendor, self.profile.cpu_family
        return any(
            e.req_same_host_bridge == req_same and root_complex_fits(e.vendor, e.device, cpu, family)
            for e in self.profile.whitelist
        )

    @property
    def has_unknowns(self) -> bool:
        """Could a fact the fabric does not give change some verdict under this context?"""
        return (
            bool(self.profile.unknown)
            or any(self.acs_maybe)
            or any(self.rep_unknown[k] and k not in self.hb_state for k in range(len(self.rep_unknown)))
        )

    def with_facts(
        self,
        acs_set: frozenset[int] | bool,
        hb: dict[int, HostBridgeAssumption],
        deciding: frozenset[int] = frozenset(),
        pair_memo: dict[tuple, ClientVerdict] | None = None,
    ) -> VerdictContext:
        """This context with unknown facts filled: the functions in ``acs_set`` (True: all that may) redirect, the
        other unknown ones do not; ``hb`` gives unknown host bridges a whitelist standing. ``deciding`` marks the
        functions whose unknown ACS the outcome rests on. Contexts given one ``pair_memo`` share pair verdicts."""
        filled = self._filled_ctrl()
        if acs_set is True:
            ctrl, redirect = list(filled.on_ctrl), list(filled.on_redirect)
        else:
            ctrl, redirect = list(filled.off_ctrl), list(filled.off_redirect)
            for i in acs_set or ():
                if i in filled.on_values:
                    ctrl[i], redirect[i] = filled.on_values[i]
        assumed = list(self.acs_assumed)
        for i in deciding:
            if 0 <= i < len(assumed):
                assumed[i] = "outcome"
        rc_v52 = list(self.rc_v52)
        if self.profile.era is Era.V5_2 and not self.profile.iommu_active and self.profile.cpu_vendor in (None, "amd"):
            for k, state in hb.items():  # v5.2's one root complex, 1022:1450, is a whitelisted ID there
                rc_v52[k] = self.rep_unknown[k] and state is HostBridgeAssumption.WHITELISTED
        return replace(
            self,
            redirect=redirect,
            ctrl=ctrl,
            acs_assumed=assumed,
            acs_maybe=[False] * len(redirect),
            hb_state={**self.hb_state, **hb},
            rc_v52=rc_v52,
            _hb={},
            derived={},
            _filled=None,
            pair_memo=pair_memo,
        )

    def _filled_ctrl(self) -> _FilledCtrl:
        """The live controls with every unreadable ACS filled both ways, worked out once per context: a verdict's
        cases (one per redirect set) then change only the functions of their set, not every unknown one of the
        fabric (a search over 1,000 providers on a fabric of 1,000 unknown ports weighs ~9,000 cases)."""
        if self._filled is None:
            on_values: dict[int, tuple[int, bool]] = {}
            off_ctrl, off_redirect = list(self.ctrl), list(self.redirect)
            known = self.index.assumed_on.setdefault(self.profile.acs, {})
            for i, maybe in enumerate(self.acs_maybe):
                if maybe:
                    on = known.get(i)
                    if on is None:
                        on = known[i] = assumed_ctrl(self.index.fabric, self.index.devices[i], self.profile, True)
                    on_values[i] = (on, bool(on & acsbits.REDIRECT_BITS))
                    off_ctrl[i], off_redirect[i] = 0, False  # what assumed_ctrl gives a function that does not redirect
            on_ctrl, on_redirect = list(off_ctrl), list(off_redirect)
            for i, (value, redirects) in on_values.items():
                on_ctrl[i], on_redirect[i] = value, redirects
            self._filled = _FilledCtrl(on_values, off_ctrl, off_redirect, on_ctrl, on_redirect)
        return self._filled

    def host_path_allowed_all(self) -> np.ndarray:
        """host_path_allowed() for every pair of root buses, as a boolean matrix. Two bridges pass when each passes
        on its own, so it takes two checks per bridge (alone, and beside another), not one per pair. Worked out once
        per context (the matrix asks for it twice per completion), read-only."""
        out = self.derived.get("host_path_allowed_all")
        if out is not None:
            return out
        buses = len(self.representatives)
        if self.profile.cpu_allows_p2p:
            out = np.ones((buses, buses), dtype=bool)
        else:
            apart = np.array([self._one_bridge(k, False, False, []) for k in range(buses)], dtype=bool)
            out = np.logical_and.outer(apart, apart)
            np.fill_diagonal(out, [self._one_bridge(k, True, False, []) for k in range(buses)])
        out.setflags(write=False)
        self.derived["host_path_allowed_all"] = out
        return out

    def host_path_allowed(self, rb_a: int, rb_b: int) -> bool:
        """Would a path through the host bridge(s) of these root buses be THRU_HOST_BRIDGE (v5.4+)?"""
        return self.profile.cpu_allows_p2p or self.host_bridges_allowed(rb_a, rb_b, False)[0]


MAX_PROFILES_PER_FABRIC = 128  # what-if browsing and the completions of unknown facts make many
_CACHE: dict[int, tuple[weakref.ref, FabricIndex, dict[KernelProfile | None, VerdictContext]]] = {}


def fabric_index(fabric: Fabric) -> FabricIndex:
    entry = _CACHE.get(id(fabric))
    if entry is not None and entry[0]() is fabric:
        return entry[1]
    index = _build_index(fabric)
    key = id(fabric)

    def forget(_ref: weakref.ref, key: int = key, cache: dict = _CACHE) -> None:
        cache.pop(key, None)

    _CACHE[key] = (weakref.ref(fabric, forget), index, {})
    return index


def verdict_context(fabric: Fabric, profile: KernelProfile | None = None) -> VerdictContext:
    index = fabric_index(fabric)
    contexts = _CACHE[id(fabric)][2]
    if profile is None:
        default = contexts.get(None)  # the fabric's own profile, computed once
        if default is not None:
            return default
        default = verdict_context(fabric, profile_for(fabric))
        contexts[None] = default
        return default
    ctx = contexts.get(profile)
    if ctx is None:
        ctx = _build_context(index, profile)
        if len(contexts) >= MAX_PROFILES_PER_FABRIC:  # what-if browsing makes many; keep the recent ones
            oldest = next(k for k in contexts if k is not None)
            del contexts[oldest]
        contexts[profile] = ctx
    return ctx


def _build_index(fabric: Fabric) -> FabricIndex:
    devices = fabric.devices
    index = {d.bdf: i for i, d in enumerate(devices)}
    n = len(devices)
    up = [-1] * n
    for i, d in enumerate(devices):
        bridge = fabric.upstream_bridge(d)
        if bridge is not None:
            up[i] = index[bridge.bdf]
    rb_index = {rb.bus_id: k for k, rb in enumerate(fabric.root_buses)}
    root_bus = [rb_index[fabric.root_bus_of(d).bus_id] for d in devices]
    children: list[list[int]] = [[] for _ in range(n)]
    roots: list[int] = []
    for i in range(n):  # devices are in BDF order, so children lists are too
        (children[up[i]] if up[i] >= 0 else roots).append(i)
    roots.sort(key=lambda i: (root_bus[i], devices[i].bdf))
    tin = np.zeros(n, dtype=np.int64)
    tout = np.zeros(n, dtype=np.int64)
    depth = np.zeros(n, dtype=np.int64)
    chains: list[tuple[int, ...]] = [()] * n
    units = [0] * n
    counter = 0
    stack: list[tuple[int, bool]] = [(r, False) for r in reversed(roots)]
    while stack:
        i, done = stack.pop()
        if done:
            tout[i] = counter
            continue
        tin[i] = counter
        counter += 1
        parent = up[i]
        chains[i] = (i,) + (chains[parent] if parent >= 0 else ())
        depth[i] = len(chains[i]) - 1
        joins_parent = devices[i].kind is DeviceKind.SWITCH_DOWNSTREAM and parent >= 0
        units[i] = (units[parent] if parent >= 0 else 0) + (0 if joins_parent else 1)
        stack.append((i, True))
        stack.extend((c, False) for c in reversed(children[i]))
    # Each root bus's preorder range, in one pass over the devices (a scan per root bus is quadratic).
    buses = len(fabric.root_buses)
    lo, hi = np.full(buses, n, dtype=np.int64), np.full(buses, -1, dtype=np.int64)
    np.minimum.at(lo, np.asarray(root_bus, dtype=np.int64), tin)
    np.maximum.at(hi, np.asarray(root_bus, dtype=np.int64), tin)
    rb_range = [(int(a), int(b) + 1) if b >= 0 else (0, 0) for a, b in zip(lo, hi, strict=True)]
    rb_numa = [_root_bus_numa(fabric, k) for k in range(len(fabric.root_buses))]
    return FabricIndex(fabric, devices, index, up, chains, root_bus, rb_numa, units, tin, tout, depth, rb_range)


def _root_bus_numa(fabric: Fabric, k: int) -> int | None:
    """A root bus's NUMA node, or failing that the first one its functions report (sysfs says -1 for unknown)."""
    rb = fabric.root_buses[k]
    if rb.numa_node is not None and rb.numa_node >= 0:
        return rb.numa_node
    for dev in fabric.on_root_bus(rb):
        if dev.numa_node is not None and dev.numa_node >= 0:
            return dev.numa_node
    return None


def _build_context(index: FabricIndex, profile: KernelProfile) -> VerdictContext:
    fabric = index.fabric
    log = BootLog([], set())

    def up_dev(d: Device) -> Device | None:
        return fabric.upstream_bridge(d)

    n = len(index.devices)
    redirect = [False] * n
    unknown = [False] * n
    ctrl = [0] * n
    notes: dict[int, str] = {}
    maybe = [False] * n
    inferred_clear = [False] * n
    assumed: list[str | None] = [None] * n
    for i, dev in enumerate(index.devices):
        if dev.acs.source is AcsSource.UNKNOWN:
            unknown[i] = True
            if may_redirect(fabric, dev):
                if profile.assume_acs is None:
                    maybe[i] = True
                else:
                    ctrl[i] = assumed_ctrl(fabric, dev, profile, profile.assume_acs is AcsAssumption.SET)
                    assumed[i] = "--assume"
                    redirect[i] = bool(ctrl[i] & acsbits.REDIRECT_BITS)
            else:
                inferred_clear[i] = True
            continue
        value, note = live_ctrl(dev, profile.acs, profile.booted, up_dev, log)
        ctrl[i] = value
        redirect[i] = bool(value & acsbits.REDIRECT_BITS)
        if note:
            notes[i] = note
    rule = profile.representative_rule
    tops = _tops_by_root_bus(fabric)
    reps = [pick_representative(top, rule) for top in tops]
    slot00 = [pick_representative(top, RepresentativeRule.SLOT_00) for top in tops]
    rc_v52 = [
        profile.era is Era.V5_2
        and not profile.iommu_active
        and rep is not None
        and (rep.vendor_id, rep.device_id) == RC_WHITELIST_V52
        for rep in slot00
    ]
    rep_unknown = [rep is not None and (rep.vendor_id is None or rep.device_id is None) for rep in reps]
    hb_state: dict[int, HostBridgeAssumption] = {}
    if profile.assume_host_bridges is not None:
        hb_state = {k: profile.assume_host_bridges for k, u in enumerate(rep_unknown) if u}
    return VerdictContext(
        index,
        profile,
        redirect,
        unknown,
        ctrl,
        log.lines,
        notes,
        reps,
        rc_v52,
        maybe,
        rep_unknown,
        hb_state,
        inferred_clear,
        assumed,
    )


def _tops_by_root_bus(fabric: Fabric) -> list[list[Device]]:
    """Fabric.on_root_bus() of every root bus, grouped in one pass over the top-level functions."""
    slot = {rb.bus_id: k for k, rb in enumerate(fabric.root_buses)}
    tops: list[list[Device]] = [[] for _ in fabric.root_buses]
    for dev in fabric.children(None):
        tops[slot[fabric.root_bus_of(dev).bus_id]].append(dev)
    return tops


def assumed_ctrl(fabric: Fabric, dev: Device, profile: KernelProfile, redirect: bool) -> int:
    """The live control of a function whose ACS could not be read, assumed to redirect (RR and CR, as firmware or the
    kernel's IOMMU default set them) or not, after this profile's command line (disable_acs_redir clears them, except
    firmware's bits in the 6.11-6.14 window)."""
    if not redirect:
        return 0
    bits = acsbits.RR | acsbits.CR
    probe = replace(dev, acs=replace(dev.acs, cap=bits, ctrl=bits))
    return boot_ctrl(probe, bits, replace(profile.acs, iommu=False), fabric.upstream_bridge, BootLog([], set()))


NO_P2P_ACS_WHY = (
    "ACS P2P redirect and egress controls apply only to root ports, switch downstream ports and "
    "functions of multi-function or SR-IOV devices (PCIe Base Specification, section 6.12)"
)


def may_redirect(fabric: Fabric, dev: Device) -> bool:
    """Could this function's ACS control have RR, CR or EC set? Only where the PCIe spec defines those controls: a
    root port, a switch downstream port, any other bridge we cannot place, or a function of a multi-function or
    SR-IOV device. A switch upstream port or a single-function endpoint has none to set."""
    if dev.kind is DeviceKind.SWITCH_UPSTREAM:
        return False
    if dev.kind.is_bridge:
        return True
    return dev.is_vf or bool(fabric.siblings(dev)) or bool(fabric.virtfns(dev))
