"""What Linux decides for a P2P provider and its clients: pci_p2pdma_distance_many() and the map type of each
client, with the kernel's messages (drivers/pci/p2pdma.c: calc_map_type_and_dist(), upstream_bridge_distance()).

One walk serves every era; the profile decides what the walk's outcome means: v4.20/v5.2 return -2/-1 from an int
distance, v5.4+ return a map type plus distance, v5.9+ let AMD Zen through, v5.14+ warn about the whitelist.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum

from ..errors import Diagnostic, InputError
from ..fabric.model import Device, Fabric
from . import messages
from .acs_cmdline import cmdline_with_disable_acs_redir
from .context import NO_P2P_ACS_WHY, VerdictContext
from .map_type import V52_HOST_BRIDGE_PENALTY, MapType
from .messages import NonPciClient
from .profiles import Era, KernelProfile
from .topo import TopoClass, topo_class

__all__ = ["V52_HOST_BRIDGE_PENALTY", "MapType"]  # re-exported: their home is map_type.py


class HopRole(StrEnum):
    """Where a function sits on a provider-client path."""

    PROVIDER = "provider"
    CLIENT = "client"
    COMMON = "common"  # the common upstream device, where BUS_ADDR traffic turns around
    PROVIDER_SIDE = "provider side"  # between the provider and the common device (or the host bridge)
    CLIENT_SIDE = "client side"


@dataclass(frozen=True)
class Hop:
    """One function on the path, with the ACS facts the kernel looked at there."""

    device: Device
    role: HopRole
    acs_ctrl: int | None  # live ACS control under the profile (0 without a capability); None when unknown
    unknown: bool  # ACS could not be read from the input
    redirects: bool  # the kernel counts it as an ACS redirect on this path
    ignored: bool = False  # a redirect the no-common-bridge branch collects and drops
    assumed: str | None = None  # unreadable ACS filled by "--assume" or by one "outcome" of a depends verdict

    @property
    def acs_present(self) -> bool:
        return self.device.acs.present


@dataclass(frozen=True)
class ClientVerdict:
    client: Device | None  # None: not a PCI device (see ``foreign``)
    map_type: MapType
    distance: int  # da+db or len+len; v5.2 may add 0x1000; -1/-2 before v5.4
    provider_chain: list[Device]  # [provider, up(provider), ...]
    client_chain: list[Device]
    common: Device | None
    acs_redirect: list[Device]  # the kernel's order: provider side bottom-up (common included), then client side
    acs_ignored: list[Device] = field(default_factory=list)  # hits the no-common-bridge branch collects and drops
    acs_unknown: list[Device] = field(default_factory=list)  # inspected devices whose ACS could not be read
    messages: tuple[str, ...] = ()  # what the kernel printed for this client
    evaluated: bool = True  # False: distance_many returned before looking at this client
    foreign: NonPciClient | None = None
    hops: tuple[Hop, ...] = ()  # the path, hop by hop (see ``path``), with role and ACS state
    topo: TopoClass | None = None  # nvidia-smi topo -m class of the pair; None for a non-PCI client

    @property
    def path(self) -> list[Device]:
        """Provider ... common ... client, hop by hop, the common device once. Without a common device: the
        provider's whole chain, then the client's from the top down (the host bridge sits between them)."""
        if self.client is None:
            return list(self.provider_chain[:1])
        if self.common is None:
            return self.provider_chain + self.client_chain[::-1]
        up = self.provider_chain[: self.provider_chain.index(self.common) + 1]
        down = self.client_chain[: self.client_chain.index(self.common)]
        return up + down[::-1]

    @property
    def route(self) -> list[Device]:
        """The functions P2P TLPs actually cross: the path for BUS_ADDR; otherwise up to the root complex and back
        down, so a common device on a redirected path is crossed twice."""
        if self.map_type is MapType.BUS_ADDR or self.client is None:
            return self.path
        return self.provider_chain + self.client_chain[::-1]


@dataclass(frozen=True)
class Verdict:
    provider: Device
    clients: list[ClientVerdict]
    distance: int  # exactly pci_p2pdma_distance_many()'s return value
    messages: list[str]  # the kernel's lines, with prefix "<driver or pci> <BDF>: "
    disable_acs_redir: str | None  # e.g. "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    profile: KernelProfile | None = None
    boot_messages: list[str] = field(default_factory=list)  # ACS set-up lines for devices on these paths
    notes: list[str] = field(default_factory=list)  # inferences with their evidence, hardware bits re-derived
    # Certain: one outcome whatever the facts the fabric does not give. Otherwise ``outcomes`` lists each distinct
    # outcome with the assumptions that produce it, ``depends_on`` the unknown facts that matter, and the fields
    # above hold the worst outcome (what the expert gate judges by).
    certain: bool = True
    outcomes: tuple = ()  # of outcomes.Outcome
    depends_on: tuple = ()  # of outcomes.Unknown

    @property
    def supported(self) -> bool:
        """Supported, for certain when ``certain`` (for a "depends" verdict: in its worst outcome)."""
        return self.distance >= 0 and all(c.map_type is not MapType.NOT_SUPPORTED for c in self.clients)

    @property
    def p2pdma_absent(self) -> bool:
        """The kernel has no P2PDMA at all (before v4.20): nothing was decided, every client is refused."""
        return self.profile is not None and not self.profile.has_p2pdma


Client = Device | NonPciClient | str | None


def check(
    fabric: Fabric,
    provider: Device | str,
    clients: Sequence[Client],
    profile: KernelProfile | None = None,
    verbose: bool = True,
) -> Verdict:
    """pci_p2pdma_distance_many(provider, clients, verbose) and the map type per client. None as a client means
    "not a PCI device"; devices may also be given by name or address. When facts the verdict depends on are unknown,
    every outcome they allow is evaluated (see p2p/outcomes.py)."""
    from .outcomes import check_under_unknowns

    return check_under_unknowns(fabric, provider, clients, profile, verbose)


def check_certain(ctx: VerdictContext, provider: Device | str, clients: Sequence[Client], verbose: bool) -> Verdict:
    """The verdict with the facts in ``ctx`` taken as they are."""
    p = _index_of(ctx, provider)
    prov = ctx.index.devices[p]
    results: list[ClientVerdict] = []
    printed: list[str] = []
    total = 0
    failed = not clients  # distance_many with no clients is -1
    stopped = False
    for client in clients:
        foreign: NonPciClient | None = None  # a client that is not a PCI function
        c: int | None = None
        if client is None or isinstance(client, NonPciClient):
            foreign = NonPciClient() if client is None else client
            if foreign.pci_parent is not None and not (foreign.dma_virt_ops and ctx.profile.dma_virt_ops_check):
                c = _index_of(ctx, foreign.pci_parent)
        else:
            c = _index_of(ctx, client)
        if c is None:
            assert foreign is not None
            cv = _not_pci(ctx, p, foreign, verbose and not stopped)
            results.append(cv if not stopped else _silent(cv))
            if not stopped:
                printed.extend(cv.messages)
                failed = stopped = True  # the kernel returns -1 at once, whatever verbose says
            continue
        cv = pair_verdict(ctx, p, c, verbose and not stopped, silent=stopped)
        if foreign is not None:
            cv = _replace(cv, foreign=foreign)
        results.append(cv)
        if stopped:
            continue
        printed.extend(cv.messages)
        if cv.map_type is MapType.NOT_SUPPORTED:
            failed = True
            if not verbose:
                stopped = True
                continue
        total += cv.distance
    distance = -1 if failed else total
    return Verdict(
        prov,
        results,
        distance,
        printed,
        _fix_option(ctx, results),
        ctx.profile,
        _boot_lines(ctx, results),
        _notes(ctx, results),
    )


def pair_verdict(ctx: VerdictContext, p: int, c: int, verbose: bool, silent: bool = False) -> ClientVerdict:
    """calc_map_type_and_dist() (v5.4+) or upstream_bridge_distance() (v4.20/v5.2) for one provider/client pair.

    A verdict weighed case by case (2,048 cases for 11 clients below ports of unreadable ACS) gives its cases'
    contexts one memo: a case changes the facts of a few paths, so most pairs come out as in an earlier case. The
    key is everything the answer reads: the profile, and the ACS facts and host-bridge standings of the pair's
    paths. ``silent``: as distance_many left it, having returned before this client (no lines, not evaluated)."""
    memo = ctx.pair_memo
    if memo is None:
        cv = _pair_verdict(ctx, p, c, verbose)
        return _silent(cv) if silent else cv
    index = ctx.index
    chains = index.chains[p] + index.chains[c]
    rb_p, rb_c = index.root_bus[p], index.root_bus[c]
    key = (
        p,
        c,
        verbose,
        silent,
        # By identity: hashing a profile costs more than the rest of the key, and the memo lives only while its
        # check holds the contexts (and so their profiles), so no other profile can take this one's id meanwhile.
        id(ctx.profile),
        tuple([(ctx.redirect[i], ctx.ctrl[i], ctx.acs_unknown[i], ctx.acs_assumed[i]) for i in chains]),
        ctx.hb_state.get(rb_p),
        ctx.hb_state.get(rb_c),
        ctx.rc_v52[rb_p],
        ctx.rc_v52[rb_c],
    )
    known = memo.get(key)
    if known is None:
        known = _pair_verdict(ctx, p, c, verbose)
        known = memo[key] = _silent(known) if silent else known
    return known


def _pair_verdict(ctx: VerdictContext, p: int, c: int, verbose: bool) -> ClientVerdict:
    index = ctx.index
    devs = index.devices
    redirect = ctx.redirect
    chain_p = index.chains[p]
    chain_c = index.chains[c]
    pos_c = index.chain_pos(c)
    hits: list[int] = []
    common = -1
    da = db = 0
    for da, a in enumerate(chain_p):  # noqa: B007 - da is read after the break
        if redirect[a]:  # checked before the search, so the common device itself is inspected
            hits.append(a)
        found = pos_c.get(a)
        if found is not None:
            common, db = a, found
            break
    ignored: list[int] = []
    if common < 0:
        da, db = len(chain_p), len(chain_c)
        ignored, hits = hits, []
    else:
        hits.extend(b for b in chain_c[:db] if redirect[b])
    dist = da + db
    era = ctx.profile.era
    client, provider = devs[c], devs[p]
    lines: list[str] = []
    acs_redirects = common >= 0 and bool(hits)
    rb_p, rb_c = index.root_bus[p], index.root_bus[c]
    host_ok, warnings = True, tuple[str, ...]()
    if not (common >= 0 and not hits) and era >= Era.V5_4 and not ctx.profile.cpu_allows_p2p:
        host_ok, warnings = ctx.host_bridges_allowed(rb_p, rb_c, acs_redirects)
    # What the walk's outcome means is the profile's rule, shared with the vectorised matrix.
    if common >= 0:
        map_type, dist = ctx.profile.common_outcome(bool(hits), host_ok, dist)
    else:
        map_type, dist = ctx.profile.no_common_outcome(host_ok, ctx.rc_v52[rb_p] and ctx.rc_v52[rb_c], dist)
    if acs_redirects and verbose:
        lines.append(messages.acs_redirect(era, client, provider))
        lines.append(messages.acs_hint(client, _listed(ctx, hits)))
    lines.extend(warnings)
    if map_type is MapType.NOT_SUPPORTED and verbose and not (era < Era.V5_4 and common >= 0):
        lines.append(messages.no_common_bridge(era, client, provider))
    # Without a common device ACS plays no part, so unreadable ACS only matters on a common-bridge path.
    inspected = chain_p[: da + 1] + chain_c[:db] if common >= 0 else ()
    unknown = [devs[i] for i in inspected if ctx.acs_unknown[i]]
    hops = _hops(ctx, chain_p, chain_c, common, set(hits), set(ignored))
    return ClientVerdict(
        client,
        map_type,
        dist,
        [devs[i] for i in chain_p],
        [devs[i] for i in chain_c],
        devs[common] if common >= 0 else None,
        [devs[i] for i in hits],
        [devs[i] for i in ignored],
        unknown,
        tuple(lines),
        hops=hops,
        topo=topo_class(index, p, c),
    )


def _hops(
    ctx: VerdictContext,
    chain_p: tuple[int, ...],
    chain_c: tuple[int, ...],
    common: int,
    hits: set[int],
    ignored: set[int],
) -> tuple[Hop, ...]:
    """The path in ClientVerdict.path's order, each function with its role and ACS facts."""
    if common >= 0:
        up = list(chain_p[: chain_p.index(common) + 1])
        down = list(chain_c[: chain_c.index(common)])[::-1]
    else:
        up, down = list(chain_p), list(chain_c)[::-1]
    ends = {chain_p[0]: HopRole.PROVIDER, chain_c[0]: HopRole.CLIENT}
    out: list[Hop] = []
    for side, members in ((HopRole.PROVIDER_SIDE, up), (HopRole.CLIENT_SIDE, down)):
        for i in members:
            role = HopRole.COMMON if i == common else ends.get(i, side)
            if chain_p[0] == chain_c[0] and i == common:
                role = HopRole.PROVIDER  # the provider is its own client
            unknown = ctx.acs_unknown[i]
            out.append(
                Hop(
                    ctx.index.devices[i],
                    role,
                    None if unknown else ctx.ctrl[i],
                    unknown,
                    i in hits,
                    i in ignored,
                    ctx.acs_assumed[i],
                )
            )
    return tuple(out)


def _listed(ctx: VerdictContext, hits: list[int]) -> str:
    return messages.acs_list([str(ctx.index.devices[i].bdf) for i in hits], ctx.profile.acs_list_size)


def _not_pci(ctx: VerdictContext, p: int, foreign: NonPciClient, verbose: bool) -> ClientVerdict:
    lines: tuple[str, ...] = ()
    if verbose:
        virt = foreign.dma_virt_ops and ctx.profile.dma_virt_ops_check
        lines = (messages.dma_virt_ops(foreign) if virt else messages.not_pci(foreign),)
    provider_chain = [ctx.index.devices[i] for i in ctx.index.chains[p]]
    return ClientVerdict(None, MapType.NOT_SUPPORTED, -1, provider_chain, [], None, [], messages=lines, foreign=foreign)


def _silent(cv: ClientVerdict) -> ClientVerdict:
    return _replace(cv, messages=(), evaluated=False)


def _replace(cv: ClientVerdict, **changes) -> ClientVerdict:
    return replace(cv, **changes)


def _index_of(ctx: VerdictContext, dev: Device | str) -> int:
    index = ctx.index
    if isinstance(dev, Device):
        i = index.index.get(dev.bdf)
        if i is not None:
            return _placed(index.devices[i], i)
        ref = str(dev.bdf)
    else:
        try:
            return _placed(index.fabric.find(dev), index.index[index.fabric.find(dev).bdf])
        except KeyError:
            ref = dev
    for aside in index.fabric.unplaced:  # set aside as conflicting: say so rather than "no device"
        if ref == aside.name:
            _placed(aside, -1)
    raise InputError(
        Diagnostic(f"no device {ref!r} in fabric {index.fabric.name!r}", hint="name a device by its name or BDF")
    )


def _placed(dev: Device, i: int) -> int:
    """A pair end must have a known place: a function the source contradicts (Device.conflict) has none."""
    if dev.conflict:
        raise InputError(
            Diagnostic(
                f"{dev.name} ({dev.bdf}): no verdict, its place in the fabric is in conflict: {dev.conflict}",
                hint="the source gives this function twice or on a bus another bridge owns; fix the file",
            )
        )
    return i


def _fix_option(ctx: VerdictContext, results: list[ClientVerdict]) -> str | None:
    """The pci=disable_acs_redir option that clears every redirect on these common-device paths (those the kernel
    complained about, and those of clients it never reached), merged with the selectors the command line already
    has (only the last such option counts) except those the kernel cannot parse (acs_fix() says which)."""
    wanted = [str(d.bdf) for d in fix_devices(results)]
    if not wanted:
        return None
    return cmdline_with_disable_acs_redir(ctx.profile.cmdline, wanted)[1]


def fix_devices(results: Sequence[ClientVerdict]) -> list[Device]:
    """The functions pci=disable_acs_redir must name: every redirect on a common-device path, in the kernel's order,
    once (the fix's one list: the verdict's option and acs_fix() both use it)."""
    out: list[Device] = []
    for cv in results:
        if cv.common is not None:
            out.extend(d for d in cv.acs_redirect if d not in out)
    return out


def _boot_lines(ctx: VerdictContext, results: list[ClientVerdict]) -> list[str]:
    if not ctx.boot_log:
        return []
    names = {f"pci {d.bdf}: " for cv in results for d in (cv.provider_chain + cv.client_chain)}
    return [line for line in ctx.boot_log if line.startswith("PCI:") or line[: line.find(": ") + 2] in names]


def _notes(ctx: VerdictContext, results: list[ClientVerdict]) -> list[str]:
    """The profile's notes, then what p2ptui inferred or re-derived about the ACS of functions on these paths."""
    notes = list(ctx.profile.notes)
    index = ctx.index.index
    seen: set[int] = set()
    inferred: list[str] = []
    for cv in results:
        for dev in cv.provider_chain + cv.client_chain:
            i = index[dev.bdf]
            if i in seen:
                continue
            seen.add(i)
            if i in ctx.acs_notes:
                notes.append(ctx.acs_notes[i])
            elif ctx.acs_inferred_clear[i]:
                inferred.append(dev.name)
    if inferred:
        notes.append(f"ACS unreadable on {', '.join(inferred)}: inferred not redirecting, as {NO_P2P_ACS_WHY}")
    return notes
