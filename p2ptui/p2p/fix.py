"""The fix for a redirected path: the pci=disable_acs_redir= option, whether it works on this kernel, and its cost.

Its cost is isolation. A port without RR/CR lets the functions below it reach their peers without the IOMMU seeing
the traffic, so pci_device_group() no longer treats them as isolated: walking up from a function, the first port
whose ACS path is incomplete hands its own IOMMU group to everything below it, and multi-function endpoints share
one group across functions. p2ptui lists the groups that merge that way [DERIVED from pci_device_group()].
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..fabric.model import Device, Fabric
from .acs_cmdline import AcsHandling, cmdline_with_disable_acs_redir
from .verdict import MapType, Verdict, check, fix_devices


@dataclass(frozen=True)
class GroupMerge:
    port: Device  # the device whose redirect bits are cleared
    group: int | None  # its IOMMU group, which the others join
    joining: list[Device]  # functions below it (or sibling functions) that end up in that group

    def describe(self) -> str:
        others = sorted({d.iommu_group for d in self.joining if d.iommu_group is not None} - {self.group})
        names = ", ".join(f"{d.name} ({d.bdf})" for d in self.joining)
        if self.group is None or not others:
            return f"{self.port.name} ({self.port.bdf}) loses ACS isolation; below it: {names or 'nothing'}"
        merged = ", ".join(str(g) for g in others)
        return f"IOMMU group {self.group} of {self.port.name} ({self.port.bdf}) absorbs group(s) {merged}: {names}"


@dataclass(frozen=True)
class AcsFix:
    option: str  # pci=disable_acs_redir=...
    cmdline: str  # the whole command line with it
    devices: list[Device]
    works: bool  # every client of the verdict is BUS_ADDR after a reboot with it
    after: Verdict
    merges: list[GroupMerge]
    notes: list[str] = field(default_factory=list)

    @property
    def cost(self) -> list[str]:
        lines = [
            "removes ACS isolation on "
            + ", ".join(f"{d.name} ({d.bdf})" for d in self.devices)
            + ": functions below these ports can reach their peers without the IOMMU checking it"
        ]
        return lines + [m.describe() for m in self.merges]


def acs_fix(fabric: Fabric, verdict: Verdict) -> AcsFix | None:
    """The fix for the ACS redirects a verdict found, tested by re-running the verdict as the machine would boot."""
    if verdict.disable_acs_redir is None or verdict.profile is None:
        return None
    devices = fix_devices(verdict.clients)
    profile = verdict.profile
    cmdline, option, dropped = cmdline_with_disable_acs_redir(profile.cmdline, [str(d.bdf) for d in devices])
    after_profile = profile.with_cmdline(cmdline)
    clients = [cv.foreign if cv.client is None else cv.client for cv in verdict.clients]
    after = check(fabric, verdict.provider, clients, after_profile)
    works = all(cv.map_type is MapType.BUS_ADDR for cv in after.clients if cv.common is not None)
    notes = dropped + list(after.notes[len(profile.notes) :])
    if after_profile.acs.handling is AcsHandling.BUGGY_CONFIG:
        notes.append(
            f"kernel {profile.kernel} applies disable_acs_redir with the 6.11-6.14 bug: redirect bits set by firmware "
            "stay set; use 6.15+, a fixed stable (6.12.23+, 6.13.11+, 6.14.2+) or an older kernel"
        )
    if not works:
        notes.append("after a reboot with this option the path would still not be BUS_ADDR")
    return AcsFix(option, cmdline, devices, works, after, iommu_group_merges(fabric, devices), notes)


def iommu_group_merges(fabric: Fabric, devices: list[Device]) -> list[GroupMerge]:
    merges = []
    for dev in devices:
        # A port hands its group down its subtree; an endpoint's functions alias each other within the slot.
        joining = _below(fabric, dev) if dev.kind.is_bridge else fabric.siblings(dev)
        merges.append(GroupMerge(dev, dev.iommu_group, joining))
    return merges


def _below(fabric: Fabric, dev: Device) -> list[Device]:
    out: list[Device] = []
    stack = list(reversed(fabric.children(dev)))
    while stack:
        d = stack.pop()
        out.append(d)
        stack.extend(reversed(fabric.children(d)))
    return out
