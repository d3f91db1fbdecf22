"""Make a Fabric of what a machine's description says, setting aside what contradicts the rest.

A file another tool wrote (hwloc, NCCL, lspci) or a live sysfs is evidence about a real machine, not a contract:
one function that cannot stand where it was put must not refuse the whole machine. So the model's structure
checks run here first, and each problem is answered the way the kernel or pciutils would walk past it:

- a fact out of range (link, pool, ACS, NUMA node, IOMMU group) becomes unknown;
- a port type that cannot stand where the function sits gives way to the type its position implies;
- a VF whose PF is missing is kept as a function of its own;
- a second entry for an address already placed is set aside (``Fabric.unplaced``), and both it and the entry
  kept are marked ``conflict``; a function on a bus another bridge owns stays where the file puts it, marked.

One note per kind of problem says what was done, naming the entries (lines of the file, or sysfs paths). Our own
YAML format is a contract and never comes through here.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from ..fabric.acs import ACS_UNKNOWN, AcsSource
from ..fabric.kinds import DeviceKind, bridge_kind_for_position
from ..fabric.model import Device, Fabric, FabricError, Host, RootBus, StructureProblem

# What becomes unknown when a value is out of range, by the field the structure check names.
_UNKNOWABLE: dict[str, dict[str, Any]] = {
    "link": {"link": None},
    "pool": {"pool": None},
    "acs": {"acs": ACS_UNKNOWN},
    "numa_node": {"numa_node": None},
    "iommu_group": {"iommu_group": None},
    "integrated": {"integrated": False},
}
LIST_LIMIT = 6


@dataclass
class _Tally:
    """Entries per kind of problem, so each kind is one note."""

    unknown: dict[str, list[str]] = field(default_factory=dict)  # field -> "BDF (where): message"
    retyped: list[str] = field(default_factory=list)
    acs_stray: list[str] = field(default_factory=list)
    orphans: list[str] = field(default_factory=list)
    set_aside: list[str] = field(default_factory=list)
    marked: list[str] = field(default_factory=list)
    followed: list[str] = field(default_factory=list)

    def notes(self) -> list[str]:
        notes = []
        for name, items in self.unknown.items():
            notes.append(
                f"{_count(items, 'function')} with a {name.replace('_', ' ')} value no PCI device can have: "
                f"left unknown: {_listing(items)}"
            )
        if self.acs_stray:
            notes.append(
                f"{_count(self.acs_stray, 'function')} set ACS control bits their ACS capability does not offer; "
                f"like the kernel, only the offered ones are read: {_listing(self.acs_stray)}"
            )
        if self.retyped:
            notes.append(
                "port types that cannot stand where the function sits were replaced by the kind its position "
                f"implies: {_listing(self.retyped)}"
            )
        if self.orphans:
            notes.append(
                f"{_count(self.orphans, 'VF')} whose physical function is absent or not a PF, kept as "
                f"functions of their own: {_listing(self.orphans)}"
            )
        if self.set_aside:
            notes.append(
                f"{_count(self.set_aside, 'entry', 'entries')} contradicting what the rest of the source says, set "
                f"aside under 'unplaced' and marked conflict (no verdict uses them): {_listing(self.set_aside)}"
            )
        if self.followed:
            notes.append(
                f"{_count(self.followed, 'entry', 'entries')} below a set-aside entry went with it under "
                f"'unplaced': {_listing(self.followed)}"
            )
        if self.marked:
            notes.append(
                f"{_count(self.marked, 'function')} kept where the source puts them but marked conflict (their "
                f"place is contradicted; verdicts refuse them as pair ends): {_listing(self.marked)}"
            )
        return notes


def tolerant_fabric(
    name: str,
    root_buses: Iterable[RootBus],
    devices: Sequence[Device],
    where: Callable[[int], str],
    host: Host,
    description: str = "",
    notes: Iterable[str] = (),
    parents: Sequence[int | None] | None = None,
) -> Fabric:
    """The Fabric of ``devices`` (``where(i)`` names the line or path device i came from, for notes: asked only
    for the devices a note names), with every
    structural problem answered as the module says. ``parents[i]``, where given, is the index of the entry device
    i sits below in the source, so that what sits below a set-aside entry follows it (an address the source gives
    twice says nothing about which entry a child's parent address means). FabricError only when a problem cannot
    be answered."""
    buses = tuple({rb.bus_id: rb for rb in reversed(list(root_buses))}.values())  # one per bus, the first kept
    state = _State(list(devices), where, list(range(len(devices))), list(parents or [None] * len(devices)))
    given = tuple(notes)
    for _ in range(len(devices) + 3):  # each round fixes at least one device; the bound stops a loop on a bug
        try:  # the model checks the structure itself: a sound source costs one check
            return Fabric(
                name,
                buses,
                tuple(state.devs),
                host,
                description,
                given + tuple(state.tally.notes()),
                tuple(state.unplaced),
            )
        except FabricError as exc:
            problems = exc.problems
        if not state.answer(problems):
            # Point at the devices as they were given, not at their places in the shrunk list.
            raise FabricError([replace(p, index=None if p.index is None else state.ids[p.index]) for p in problems])
    raise FabricError(problems)


@dataclass
class _State:
    devs: list[Device]
    where: Callable[[int], str]  # how notes name a device, by its position in the list given
    ids: list[int]  # each device's position in the list given, which ``parent_ids`` refers to
    parent_ids: list[int | None]
    unplaced: list[Device] = field(default_factory=list)
    set_aside_ids: set[int] = field(default_factory=set)
    tally: _Tally = field(default_factory=_Tally)

    def answer(self, problems: list[StructureProblem]) -> bool:
        """Answer one round of problems in place; whether anything changed."""
        devs, place = self.devs, self.place
        by_bdf: dict = {}
        for dev in devs:
            by_bdf.setdefault(dev.bdf, dev)
        drop: set[int] = set()
        tally = self.tally
        for p in problems:
            i = p.index
            if i is None or i in drop:
                continue
            dev = devs[i]
            label = f"{dev.bdf} ({place(i)})"
            if p.field == "acs" and dev.acs.source is AcsSource.HARDWARE and dev.acs.ctrl & ~dev.acs.cap & 0xFFFF:
                # Hardware keeps control bits it does not offer at 0, and the kernel tests only the offered ones.
                devs[i] = replace(dev, acs=replace(dev.acs, ctrl=dev.acs.ctrl & dev.acs.cap))
                tally.acs_stray.append(f"{label}: {dev.acs.ctrl & ~dev.acs.cap:#x}")
            elif p.field in _UNKNOWABLE:
                devs[i] = replace(dev, **_UNKNOWABLE[p.field])
                tally.unknown.setdefault(p.field, []).append(label)
            elif p.field == "physfn":
                devs[i] = replace(dev, physfn=None)
                tally.orphans.append(label)
            elif p.field == "kind" and (kind := _positional_kind(dev, by_bdf)) is not dev.kind:
                devs[i] = replace(dev, kind=kind)
                tally.retyped.append(f"{label}: {dev.kind.label} in the source, {kind.label} here")
            elif p.other is not None and p.other not in drop:
                first = devs[p.other]
                self._set_aside(i, f"the source also gives {dev.bdf} at {place(p.other)}", drop)
                if not first.conflict:
                    devs[p.other] = replace(first, conflict=f"the source also gives {dev.bdf} at {place(i)}")
                tally.set_aside.append(f"{label}, a second entry for {place(p.other)}")
            elif p.bus_conflict and not dev.conflict:
                devs[i] = replace(dev, conflict=p.message)
                tally.marked.append(f"{label}: {p.message}")
            else:
                self._set_aside(i, p.message, drop)
                tally.set_aside.append(f"{label}: {p.message}")
        self._follow(drop)
        if drop:  # rebuilt, not deleted from one by one: that moved the rest of the list for each entry
            devs[:] = [dev for i, dev in enumerate(devs) if i not in drop]
            self.ids[:] = [n for i, n in enumerate(self.ids) if i not in drop]
        return any(p.index is not None for p in problems)

    def place(self, i: int) -> str:
        return self.where(self.ids[i])

    def _set_aside(self, i: int, reason: str, drop: set[int]) -> None:
        self.unplaced.append(replace(self.devs[i], conflict=reason))
        self.set_aside_ids.add(self.ids[i])
        drop.add(i)

    def _follow(self, drop: set[int]) -> None:
        """Entries below a set-aside entry (by the source's nesting) go with it."""
        changed = True
        while changed:
            changed = False
            for j, dev in enumerate(self.devs):
                parent = self.parent_ids[self.ids[j]]
                if j not in drop and parent is not None and parent in self.set_aside_ids:
                    self._set_aside(j, f"below {dev.parent} in the source, an entry set aside", drop)
                    self.tally.followed.append(f"{dev.bdf} ({self.place(j)})")
                    changed = True


def _positional_kind(dev: Device, by_bdf: dict) -> DeviceKind:
    parent = by_bdf.get(dev.parent) if dev.parent is not None else None
    if dev.kind is DeviceKind.HOST_BRIDGE:
        return DeviceKind.OTHER  # a host bridge function below a bridge is some other device wearing the class
    if dev.kind.is_bridge:
        return bridge_kind_for_position(parent.kind if parent is not None else None)
    return dev.kind


def _count(items: list, one: str, many: str = "") -> str:
    return f"{len(items)} {one if len(items) == 1 else many or one + 's'}"


def _listing(items: list[str]) -> str:
    shown = "; ".join(items[:LIST_LIMIT])
    return shown + (f"; and {len(items) - LIST_LIMIT} more" if len(items) > LIST_LIMIT else "")
