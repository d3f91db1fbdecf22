"""The expert gate: may p2ptui do this, and why (or why not)?

Every decision is allowed, needs expert mode, or refused, with the reasons a person needs. P2P that Linux calls
NOT_SUPPORTED is never allowed: a real transfer is refused, and in expert mode the simulator may run it, labelled as
such. Expert mode is off unless turned on explicitly: --expert on the command line or a confirmed toggle in the TUI,
never a configuration file alone. The kernel has no such switch (CONFIG_PCI_P2PDMA never depended on
CONFIG_EXPERT, and NOT_SUPPORTED makes the mapping fail); this is p2ptui's own policy.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum

from ..fabric.model import Device, Fabric
from .fix import iommu_group_merges
from .profiles import POOLLESS_PROVIDER_HIDDEN, Fact, KernelProfile
from .topo import TopoClass
from .verdict import MapType, Verdict


class Decision(StrEnum):
    ALLOWED = "allowed"
    NEEDS_EXPERT = "needs-expert"
    REFUSED = "refused"


_SEVERITY = {Decision.ALLOWED: 0, Decision.NEEDS_EXPERT: 1, Decision.REFUSED: 2}
EXPERT_UNLOCK = "expert mode: --expert (CLI) or the confirmed toggle (TUI)"
EXPERT_OFF_HINT = "expert mode is off: turn it on with --expert (CLI) or the confirmed toggle (TUI)"


@dataclass(frozen=True)
class Reason:
    """One finding of the gate: how it weighs (``decision``), what it is (``text``) and what would permit it
    (``unlock``: expert mode for a needs-expert finding, None when nothing p2ptui offers does)."""

    decision: Decision
    text: str
    unlock: str | None = None

    @property
    def blocking(self) -> bool:
        return self.decision is not Decision.ALLOWED

    def to_json(self) -> dict:
        return {"decision": self.decision.value, "text": self.text, "unlock": self.unlock}


SIMULATED_LABEL = "SIMULATED - Linux refuses this P2P path (NOT_SUPPORTED); real hardware would not do this"


@dataclass(frozen=True)
class ExpertMode:
    enabled: bool = False
    source: str = "default"  # "cli" (--expert) or "tui" (a confirmed toggle)

    @classmethod
    def from_cli(cls, flag: bool) -> ExpertMode:
        return cls(True, "cli") if flag else cls()

    @classmethod
    def from_tui(cls, confirmed: bool) -> ExpertMode:
        """The TUI toggle counts only once the person confirmed the warning dialog."""
        return cls(True, "tui") if confirmed else cls()


@dataclass(frozen=True)
class GateDecision:
    action: str
    decision: Decision
    expert: bool  # whether expert mode was on
    reasons: tuple[Reason, ...]
    simulated_only: bool = False  # may run only in the simulator, shown with ``label``
    label: str | None = None

    @property
    def permitted(self) -> bool:
        """May it go ahead now? Allowed, or needing expert mode while expert mode is on."""
        return self.decision is Decision.ALLOWED or (self.decision is Decision.NEEDS_EXPERT and self.expert)

    @property
    def unlock_hint(self) -> str | None:
        """What to do when only expert mode stands in the way and it is off."""
        return EXPERT_OFF_HINT if self.decision is Decision.NEEDS_EXPERT and not self.expert else None

    @property
    def blocking(self) -> tuple[Reason, ...]:
        return tuple(r for r in self.reasons if r.blocking)

    def to_json(self) -> dict:
        return {
            "action": self.action,
            "decision": self.decision.value,
            "permitted": self.permitted,
            "expert": self.expert,
            "simulated_only": self.simulated_only,
            "label": self.label,
            "reasons": [r.to_json() for r in self.reasons],
            "unlock_hint": self.unlock_hint,
        }


@dataclass
class _Parts:
    decision: Decision = Decision.ALLOWED
    reasons: list[Reason] = field(default_factory=list)
    simulated_only: bool = False
    label: str | None = None

    def add(self, decision: Decision, reason: str) -> None:
        if _SEVERITY[decision] > _SEVERITY[self.decision]:
            self.decision = decision
        unlock = EXPERT_UNLOCK if decision is Decision.NEEDS_EXPERT else None
        self.reasons.append(Reason(decision, reason, unlock))

    def done(self, action: str, expert: ExpertMode | bool) -> GateDecision:
        on = expert.enabled if isinstance(expert, ExpertMode) else bool(expert)
        return GateDecision(action, self.decision, on, tuple(self.reasons), self.simulated_only, self.label)


def gate_transfer(
    fabric: Fabric, verdict: Verdict, expert: ExpertMode | bool = False, *, real: bool = False, uses_pool: bool = True
) -> GateDecision:
    """A transfer over ``verdict``'s paths, staged in the provider's P2P memory when ``uses_pool``; ``real``
    moves bytes on this machine, otherwise the simulator runs it."""
    parts = _Parts()
    if not verdict.certain:
        # The verdict's clients hold its worst outcome: the gate judges by that, and says so.
        unknown = "; ".join(u.label for u in verdict.depends_on)
        parts.add(
            Decision.ALLOWED,
            f"the verdict depends on facts the fabric does not give ({unknown}): judged by its worst outcome",
        )
    for cv in verdict.clients:
        who = cv.foreign.name if cv.client is None and cv.foreign else (cv.client.name if cv.client else "?")
        if cv.map_type is MapType.NOT_SUPPORTED:
            why = f"Linux refuses P2P between {verdict.provider.name} and {who} (NOT_SUPPORTED"
            why += f", distance {verdict.distance})" if verdict.distance < 0 else ")"
            if real:
                parts.add(Decision.REFUSED, why + ": the kernel will not map it, nothing to run")
            else:
                parts.add(Decision.NEEDS_EXPERT, why + ": only an expert-mode simulation, clearly labelled")
                parts.simulated_only = True
                parts.label = SIMULATED_LABEL
        elif cv.map_type is MapType.THRU_HOST_BRIDGE:
            parts.add(
                Decision.ALLOWED,
                f"{verdict.provider.name} → {who}: through the host bridge (mapped by the "
                "IOMMU or as CPU physical addresses)",
            )
        else:
            turn = cv.common.name if cv.common else "?"
            parts.add(Decision.ALLOWED, f"{verdict.provider.name} → {who}: bus addresses, turns around at {turn}")
    _cross_socket(fabric, verdict, parts, real)
    if uses_pool:
        _pool(verdict.provider, parts, real, verdict.profile)
    return parts.done("transfer" if real else "simulated transfer", expert)


def _cross_socket(fabric: Fabric, verdict: Verdict, parts: _Parts, real: bool) -> None:
    for cv in verdict.clients:
        if cv.client is None or cv.map_type is MapType.NOT_SUPPORTED:
            continue
        if cv.topo is TopoClass.SYS:
            numa_p, numa_c = _numa(fabric, verdict.provider), _numa(fabric, cv.client)
            why = (
                f"{verdict.provider.name} (NUMA {numa_p}) → {cv.client.name} (NUMA {numa_c}) crosses the "
                "inter-socket link (UPI/xGMI): slow and load on the SMP interconnect"
            )
            parts.add(Decision.NEEDS_EXPERT if real else Decision.ALLOWED, why)


def _numa(fabric: Fabric, dev: Device) -> int | None:
    rb = fabric.root_bus_of(dev)
    return rb.numa_node if rb.numa_node is not None and rb.numa_node >= 0 else dev.numa_node


def _pool(provider: Device, parts: _Parts, real: bool, profile: KernelProfile | None = None) -> None:
    pool = provider.pool
    if pool is None:
        why = f"{provider.name} ({provider.bdf}) has no P2P memory to stage data in"
        if profile is not None and profile.version >= POOLLESS_PROVIDER_HIDDEN and Fact.KERNEL not in profile.unknown:
            why += (
                " (from 6.19 a provider registered without a pool, such as a DMABUF exporter, has no p2pmem sysfs "
                "group, so the input cannot show it as a provider either)"
            )
        parts.add(Decision.REFUSED, why)
        return
    if not pool.published:
        why = (
            f"{provider.name}'s P2P memory is not published: it is private to its driver, never picked by "
            "find-provider or nvmet (the sysfs allocate file does not check the flag)"
        )
        parts.add(Decision.NEEDS_EXPERT if real else Decision.ALLOWED, why)
    if real and not pool.allocate:
        parts.add(Decision.REFUSED, f"{provider.name} has no p2pmem/allocate file (kernel < 6.2 or no sysfs group)")


def gate_pool(provider: Device, expert: ExpertMode | bool = False, *, real: bool = True) -> GateDecision:
    """Using ``provider``'s pool on its own (e.g. mmap of p2pmem/allocate)."""
    parts = _Parts()
    _pool(provider, parts, real)
    if not parts.reasons:
        parts.add(Decision.ALLOWED, f"{provider.name}'s P2P memory is published")
    return parts.done("use P2P pool", expert)


def gate_acs_whatif(fabric: Fabric, devices: list[Device], expert: ExpertMode | bool = False) -> GateDecision:
    """A what-if with ACS redirect disabled on ``devices`` (the pci=disable_acs_redir fix)."""
    parts = _Parts()
    names = ", ".join(f"{d.name} ({d.bdf})" for d in devices)
    parts.add(
        Decision.NEEDS_EXPERT,
        f"disabling ACS redirect on {names} removes isolation: peers below these ports "
        "reach each other without the IOMMU seeing it (VMs and VFIO lose that protection)",
    )
    for merge in iommu_group_merges(fabric, devices):
        parts.add(Decision.NEEDS_EXPERT, merge.describe())
    parts.simulated_only = True
    parts.label = "WHAT-IF - ACS redirect disabled on " + names
    return parts.done("what-if: disable ACS redirect", expert)


def gate_write(
    path: str,
    expert: ExpertMode | bool = False,
    *,
    stat_fn: Callable[[str], os.stat_result] = os.stat,
    mounts_text: str | None = None,
) -> GateDecision:
    """A real write to ``path``: a new file is fine; an existing file or a block device destroys data; a mounted
    block device, or anything else, is refused."""
    parts = _Parts()
    try:
        st = stat_fn(path)
    except FileNotFoundError:
        parts.add(Decision.ALLOWED, f"{path} does not exist yet: a new file")
        return parts.done("write", expert)
    except OSError as exc:
        parts.add(Decision.REFUSED, f"cannot inspect {path}: {exc.strerror or exc}")
        return parts.done("write", expert)
    if stat.S_ISBLK(st.st_mode):
        mounted = _mounted_from(path, mounts_text)
        if mounted:
            parts.add(Decision.REFUSED, f"{path} is in use: {mounted}")
        else:
            parts.add(Decision.NEEDS_EXPERT, f"{path} is a block device: writing destroys the data on it")
    elif stat.S_ISREG(st.st_mode):
        parts.add(Decision.NEEDS_EXPERT, f"{path} exists: writing overwrites it ({st.st_size} bytes)")
    else:
        parts.add(Decision.REFUSED, f"{path} is neither a regular file nor a block device")
    return parts.done("write", expert)


def _mounted_from(path: str, mounts_text: str | None) -> str | None:
    """The first mount of ``path`` or one of its partitions (nvme0n1 -> nvme0n1p1), from /proc/self/mounts."""
    if mounts_text is None:
        try:
            with open("/proc/self/mounts", encoding="utf-8", errors="replace") as f:
                mounts_text = f.read()
        except OSError:
            return None
    names = {path, os.path.realpath(path)}
    for line in mounts_text.splitlines():
        fields = line.split()
        if len(fields) < 2 or not fields[0].startswith("/dev/"):
            continue
        source = fields[0]
        for name in names:
            if source == name or (source.startswith(name) and source[len(name) :].lstrip("p").isdigit()):
                return f"{source} is mounted on {fields[1]}"
    return None
