"""The TUI's one door into the P2P core: profiles, verdicts, ACS state, topo classes, the matrix.

Everything here forwards to p2ptui.p2p; the TUI decides nothing about P2P itself. A what-if is a set of profile
overrides (kernel, CPU, IOMMU mode, command line) given to profile_for, exactly like the CLI's flags.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..fabric.endpoints import p2p_endpoints
from ..fabric.model import Device, Fabric
from ..p2p.fabric_state import (
    acs_redirect_states,
    redirecting,
    refused_root_complexes,
)
from ..p2p.fix import AcsFix, acs_fix
from ..p2p.matrix import PairMatrix, pair_matrix
from ..p2p.profiles import KernelProfile, profile_for
from ..p2p.providers import ProviderSearch, find_provider
from ..p2p.verdict import Verdict, check
from .selection import Selection


@dataclass(frozen=True)
class WhatIf:
    """Profile overrides; None keeps what the fabric's host says."""

    kernel: str | None = None
    cpu: str | None = None
    iommu: str | None = None
    cmdline: str | None = None
    assume: tuple[str, ...] = ()  # fills facts the fabric does not give: acs-clear, cpu=amd:0x19, ... (--assume)

    @property
    def empty(self) -> bool:
        return all(v is None for v in (self.kernel, self.cpu, self.iommu, self.cmdline)) and not self.assume

    def describe(self) -> str:
        parts = [
            f"kernel {self.kernel}" if self.kernel else "",
            f"CPU {self.cpu}" if self.cpu else "",
            f"IOMMU {self.iommu}" if self.iommu else "",
            f"cmdline '{self.cmdline}'" if self.cmdline is not None else "",
            f"assume {', '.join(self.assume)}" if self.assume else "",
        ]
        return ", ".join(p for p in parts if p) or "as booted"


def profile(fabric: Fabric, whatif: WhatIf | None = None) -> KernelProfile:
    w = whatif or WhatIf()
    return profile_for(fabric, kernel=w.kernel, cpu=w.cpu, cmdline=w.cmdline, iommu=w.iommu, assume=w.assume)


def verdict(fabric: Fabric, selection: Selection, prof: KernelProfile) -> Verdict | None:
    if not selection.complete:
        return None
    assert selection.exporter is not None  # complete: an exporter and at least one importer
    provider = fabric.device(selection.exporter)
    return check(fabric, provider, [fabric.device(b) for b in selection.importers], prof)


def acs_redirect_fn(fabric: Fabric, prof: KernelProfile) -> Callable[[Device], bool | None]:
    """Whether each device's live ACS control redirects P2P under this profile (kernel defaults derived)."""
    states = acs_redirect_states(fabric, prof)
    return lambda dev: states[dev.bdf]


def matrix(fabric: Fabric, prof: KernelProfile, everything: bool = False) -> PairMatrix:
    """The P2P endpoints' matrix (fabric/endpoints.py's definition); ``everything``: every non-bridge function."""
    return pair_matrix(fabric, prof, p2p_endpoints(fabric, everything=everything))


def find(fabric: Fabric, importers: list[Device], prof: KernelProfile, seed: int | None) -> ProviderSearch:
    """pci_p2pmem_find_many for the importers: every tie, and the kernel's random pick among them."""
    return find_provider(fabric, importers, prof, seed=seed)


def fix(fabric: Fabric, v: Verdict) -> AcsFix | None:
    return acs_fix(fabric, v)


def pitfalls(fabric: Fabric, prof: KernelProfile) -> list[tuple[str, str]]:
    """This fabric's concrete risks, as (topic, text), for the expert-mode confirmation. The facts come from the
    P2P core's context and gate: which root complexes Linux refuses P2P through, which ports' ACS isolation the
    fix would give up, and what writing real data risks."""
    from ..p2p.gate import gate_acs_whatif

    out: list[tuple[str, str]] = []
    for rb, rep in refused_root_complexes(fabric, prof):
        out.append(
            (
                "root complex",
                f"{rb.host_bridge}: first device {rep.name} [{rep.ids}] is not in the "
                f"kernel's P2P whitelist under {prof.label}; Linux refuses P2P through it (NOT_SUPPORTED). "
                "Expert mode only simulates such paths, labelled SIMULATED.",
            )
        )
    devices = redirecting(fabric, prof)
    if devices:
        for reason in gate_acs_whatif(fabric, devices, True).reasons:
            out.append(("ACS isolation", reason.text))
    out.append(
        (
            "block devices",
            "the real engine may write to an existing file or an unmounted block device "
            "(/dev/nvme…): its data is destroyed; mounted devices stay refused even in expert mode.",
        )
    )
    out.append(("cross-socket", "real copies across the inter-socket link (topo -m SYS) load the SMP interconnect."))
    return out


def redirect_devices(fabric: Fabric, prof: KernelProfile) -> set:
    return {d.bdf for d in redirecting(fabric, prof)}
