"""Turn PCI functions as a source describes them (lspci, hwloc, NCCL, and sysfs after its port-type pre-step) into
a Fabric: the one assembly path every source shares.

These sources say less than the model holds: port types are missing, or contradict where a function sits (a VM
showing a switch port on a root bus); most functions have no OS name; links and ACS may be unknown. Here kinds
are settled (what the source states when it fits the tree, else what the position implies), names are given,
endpoints on a root bus without a link are taken as integrated (RCiEPs) unless the source says, and the tree is
built with what contradicts the rest set aside or marked (tolerate.py), each named by its line or address.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import Diagnostic, InputError, Location
from ..fabric.acs import ACS_UNKNOWN
from ..fabric.bdf import BDF
from ..fabric.cpu_vendors import cpu_vendor  # noqa: F401 - the readers import it from here
from ..fabric.kinds import DeviceKind, bridge_kind_for_position, endpoint_kind_from_class
from ..fabric.model import Device, Fabric, FabricError, Host, RootBus
from ..fabric.naming import default_names, name_prefix, unique_name
from .tolerate import tolerant_fabric


def acs_unknown_note(source: str) -> str:
    return (
        f"ACS state unknown: {source} does not record it; load `sudo lspci -vvv` output or a sysfs tree read as root "
        "to know whether switch ports redirect peer-to-peer traffic"
    )


IOMMU_UNKNOWN_NOTE = (
    "IOMMU mode unknown: the file does not say whether the IOMMU is off, in passthrough or translating; a sysfs "
    "snapshot (kernel command line, /sys/kernel/iommu_groups) tells it"
)


@dataclass
class Draft:
    """One PCI function as read from a file, before its kind and name are settled."""

    bdf: BDF
    parent: BDF | None
    # Where the file gives it; a reader whose positions cost a pass of their own (XML) gives a function that
    # works it out, called only for the entries a note or an error names.
    location: Location | Callable[[], Location]
    bridge: bool = False  # owns a secondary bus (functions may sit below it)
    kind: DeviceKind | None = None  # as the file states it; None: from the class code or the position
    name: str | None = None  # the OS's name for it (nvme0, eth0, mlx5_0), when the file has one
    values: dict[str, Any] = field(default_factory=dict)  # further Device fields (vendor_id, link, acs, ...)
    # Which draft is the parent, by index, when the reader knows it from the file's nesting; None: the nearest
    # earlier draft at ``parent`` (readers list a parent before its children). Tells, for an address the file
    # gives twice, which entry a child sits below.
    parent_at: int | None = None
    label: str = ""  # how notes name the entry when the location has no line (a sysfs function: its address)

    def where(self) -> Location:
        return self.location if isinstance(self.location, Location) else self.location()


def host_bridge_class(class_code: int | None) -> bool:
    """Class 0x0600xx: a host bridge function (the root complex's own registers), not a PCI-to-PCI bridge."""
    return class_code is not None and class_code >> 8 == 0x0600


def settle_kinds(drafts: list[Draft]) -> tuple[list[DeviceKind], list[str]]:
    """Each draft's kind (in the drafts' order), settled parents first; and a line per stated port type that had
    to give way to position. A child of an address the file gives twice follows the first entry's kind."""
    by_bdf: dict[BDF, Draft] = {}
    early: list[Draft] = []  # drafts listed before their parent's address first appears (or whose parent is absent)
    for d in drafts:
        if d.parent is not None and d.parent not in by_bdf:
            early.append(d)
        by_bdf.setdefault(d.bdf, d)
    order: Sequence[int] = range(len(drafts))
    if any(d.parent in by_bdf for d in early):  # readers list parents first; only a broken file needs sorting
        depth = _depths(drafts, by_bdf)
        order = sorted(order, key=lambda i: (depth[drafts[i].parent], drafts[i].bdf))
    kinds: dict[BDF, DeviceKind] = {}
    settled: list[DeviceKind] = [DeviceKind.OTHER] * len(drafts)
    overridden: list[str] = []
    for i in order:
        draft = drafts[i]
        parent_kind = kinds.get(draft.parent) if draft.parent is not None else None
        stated = draft.kind
        if draft.bridge or (stated is not None and stated.is_bridge):
            if stated is not None and stated.is_bridge and _fits(stated, draft.parent, parent_kind):
                kind = stated
            else:
                kind = bridge_kind_for_position(parent_kind)
                if stated is not None:
                    overridden.append(f"{draft.bdf} ({stated.label} in the file, {kind.label} here)")
        else:
            class_code = draft.values.get("class_code")
            if stated is not None:
                kind = stated
            elif host_bridge_class(class_code):
                kind = DeviceKind.HOST_BRIDGE
            else:
                kind = endpoint_kind_from_class(class_code, draft.values.get("vendor_id"))
            if kind is DeviceKind.HOST_BRIDGE and draft.parent is not None:
                kind = DeviceKind.OTHER  # the model keeps host bridges on root buses
        kinds.setdefault(draft.bdf, kind)
        settled[i] = kind
    notes = []
    if overridden:
        notes.append(
            "port types that cannot stand where the function sits were replaced by the kind its position implies: "
            + listing(overridden)
        )
    return settled, notes


def _depths(drafts: list[Draft], by_bdf: dict[BDF, Draft]) -> dict[BDF | None, int]:
    """How many drafts stand above a draft whose parent is the key (0 for None or an absent address), each address
    walked once: a file whose parents come round in a cycle (two bridges each claiming the other's bus, in a
    damaged lspci capture) would otherwise cost a walk of the whole file for every function below the cycle. On
    or below a cycle the depth is the bound, one more than the number of addresses, so those sort last."""
    bound = len(by_bdf) + 1
    depth: dict[BDF | None, int] = {None: 0}
    for draft in drafts:
        chain: list[BDF] = []
        seen: set[BDF] = set()
        up = draft.parent
        while up not in depth and up in by_bdf and up not in seen:
            chain.append(up)
            seen.add(up)
            up = by_bdf[up].parent
        below = bound if up in seen else depth.get(up, 0)  # came round, a known depth, or above the file
        for bdf in reversed(chain):
            below = min(bound, below + 1)
            depth[bdf] = below
        if draft.parent not in depth:
            depth[draft.parent] = 0  # an address the file does not give
    return depth


def _fits(kind: DeviceKind, parent: BDF | None, parent_kind: DeviceKind | None) -> bool:
    if parent is None:
        return kind not in (DeviceKind.SWITCH_UPSTREAM, DeviceKind.SWITCH_DOWNSTREAM)
    if kind is DeviceKind.ROOT_PORT:
        return False
    if kind is DeviceKind.SWITCH_DOWNSTREAM:
        return parent_kind is DeviceKind.SWITCH_UPSTREAM
    if kind is DeviceKind.SWITCH_UPSTREAM:
        return parent_kind in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM, DeviceKind.PCI_BRIDGE)
    return True


def assign_names(drafts: list[Draft], kinds: list[DeviceKind]) -> list[str]:
    """Per draft: its OS name where the file has one (made unique), else kind + index (nvme0, gpu1, dsp3) in bus
    order. Two drafts with one address still get two names, so only the address is reported as a duplicate."""
    order = sorted(range(len(drafts)), key=lambda i: drafts[i].bdf)
    used: set[str] = set()
    names: dict[int, str] = {}
    for i in order:
        if drafts[i].name:
            names[i] = unique_name(drafts[i].name, used)  # type: ignore[arg-type]
    rest = [i for i in order if i not in names]
    prefixes = (
        name_prefix(kinds[i], drafts[i].values.get("class_code"), drafts[i].values.get("vendor_id")) for i in rest
    )
    for i, name in zip(rest, default_names(prefixes, used), strict=False):
        names[i] = name
    return [names[i] for i in range(len(drafts))]


def build_fabric(
    path: str,
    name: str,
    root_buses: Iterable[RootBus],
    drafts: list[Draft],
    host: Host,
    notes: Iterable[str] = (),
    description: str = "",
) -> Fabric:
    """The Fabric of what the file says. What contradicts the rest (a second entry for one address, a bus two
    bridges claim) is set aside or marked, with a note naming the file's lines (tolerate.py); an InputError only
    when nothing sensible can be built."""
    kinds, kind_notes = settle_kinds(drafts)
    names = assign_names(drafts, kinds)
    devices = []
    inferred = []
    # An endpoint on a root bus with no link is marked integrated as its Device is made, not replaced afterwards.
    for d, kind, device_name in zip(drafts, kinds, names, strict=False):
        values = d.values if "acs" in d.values else {"acs": ACS_UNKNOWN, **d.values}
        if d.parent is None and "integrated" not in values and _linkless_endpoint(kind, values):
            values = {**values, "integrated": True}
            inferred.append(str(d.bdf))
        devices.append(Device(d.bdf, kind, device_name, d.parent, **values))
    if inferred:
        kind_notes.append(
            f"{len(inferred)} endpoint{'s' if len(inferred) > 1 else ''} on a root bus with no link in the file, "
            f"taken as integrated in the root complex (RCiEP, no link): {listing(inferred)}"
        )
    try:
        return tolerant_fabric(
            name,
            root_buses,
            devices,
            lambda i: drafts[i].label or _line(drafts[i].where()),
            host,
            description,
            tuple(notes) + tuple(kind_notes),
            _parent_indices(drafts),
        )
    except FabricError as exc:
        raise InputError(
            [
                Diagnostic(
                    p.message,
                    drafts[p.index].where() if p.index is not None else Location(path),
                    _hint(p.hint, drafts),
                )
                for p in exc.problems
            ]
        ) from None


def _parent_indices(drafts: list[Draft]) -> list[int | None]:
    latest: dict[BDF, int] = {}
    out: list[int | None] = []
    for i, draft in enumerate(drafts):
        if draft.parent_at is not None:
            out.append(draft.parent_at)
        else:
            out.append(latest.get(draft.parent) if draft.parent is not None else None)
        latest[draft.bdf] = i
    return out


def _linkless_endpoint(kind: DeviceKind, values: dict[str, Any]) -> bool:
    """An endpoint (not a VF) with no link: on a root bus, inside the root complex, whatever the file calls it."""
    return values.get("physfn") is None and kind.is_endpoint and values.get("link") is None


def _line(location: Location) -> str:
    return f"line {location.line}" if location.line is not None else "no line: added by the reader"


def _hint(hint: str, drafts: list[Draft]) -> str:
    """The model counts devices in the order given; a file's reader wants the line instead."""
    match = re.fullmatch(r"first used by device #(\d+)", hint)
    if match and 0 < int(match[1]) <= len(drafts):
        first = drafts[int(match[1]) - 1].where()
        return f"first on line {first.line}" if first.line is not None else hint
    return hint


def listing(items: list[str], limit: int = 6) -> str:
    """``a, b, c and 4 more``: keeps notes one readable line on machines with hundreds of functions."""
    shown = ", ".join(items[:limit])
    return shown + (f" and {len(items) - limit} more" if len(items) > limit else "")
