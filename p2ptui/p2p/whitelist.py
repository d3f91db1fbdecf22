"""The host-bridge whitelist of drivers/pci/p2pdma.c, release by release, and the rule that picks the device that
stands for a host bridge (drivers/pci/p2pdma.c: pci_p2pdma_whitelist[], pci_host_bridge_dev()).

Entries carry the release that added them (and removed them, for the AMD ones the CPU-family rule replaced), and
the stable releases that got them by backport, so a profile's table is the entries in force for its full version.
Entries seen only in a maintainer tree are candidates, flagged ``confirmed=False`` so views can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ..fabric.kinds import DeviceKind
from ..fabric.model import Device

Version = tuple[int, ...]  # (major, minor) or (major, minor, sublevel)

INTEL = 0x8086
AMD = 0x1022
GOOGLE = 0x1AE0
NVIDIA = 0x10DE
ZHAOXIN = 0x1D17
ALIBABA = 0x1DED


@dataclass(frozen=True, slots=True)
class WhitelistEntry:
    vendor: int
    device: int | None  # None = PCI_ANY_ID (wildcard entries exist from v7.1)
    req_same_host_bridge: bool
    label: str
    added: Version  # first mainline release that has it
    removed: Version | None = None
    confirmed: bool = True  # False: a candidate, seen only in a maintainer tree, not in any release yet
    stable: tuple[Version, ...] = ()  # stable releases that got it earlier by backport, e.g. (7, 1, 3)

    def matches(self, vendor: int | None, device: int | None) -> bool:
        return vendor == self.vendor and (self.device is None or device == self.device)

    def in_force(self, version: tuple[int, int, int]) -> bool:
        """In this kernel: from ``added`` on, or from a stable backport's sublevel within that series."""
        if self.removed is not None and version[:2] >= self.removed[:2]:
            return False
        if _at_least(version, self.added):
            return True
        return any(version[:2] == s[:2] and version[2] >= s[2] for s in self.stable)

    @property
    def ids(self) -> str:
        return f"{self.vendor:04x}:{'ANY' if self.device is None else format(self.device, '04x')}"


def _at_least(version: tuple[int, int, int], since: Version) -> bool:
    return version >= tuple(since) + (0,) * (3 - len(since))


def _e(
    vendor: int,
    device: int | None,
    same: bool,
    label: str,
    added: Version,
    removed: Version | None = None,
    confirmed: bool = True,
    stable: tuple[Version, ...] = (),
) -> WhitelistEntry:
    return WhitelistEntry(vendor, device, same, label, added, removed, confirmed, stable)


# Order follows the newest kernel table; vendor:device pairs are unique, so order never changes a match. Each release
# claim names the commit subject and the release (PCI pull requests, stable release notices).
_DSA_IAA_QAT: dict = {"added": (7, 2), "stable": ((7, 1, 3),)}
ENTRIES: tuple[WhitelistEntry, ...] = (
    # "PCI/P2PDMA: Add AMD Zen root complex to the whitelist" (0f97da831026): v5.2 as a root-complex check, a table
    # entry from the v5.4 rework; "PCI/P2PDMA: Add AMD Raven and Renoir Root Complexes to whitelist" (7d5b10fcb81e):
    # v5.8. All three dropped by "PCI/P2PDMA: Allow P2PDMA on AMD Zen and newer CPUs" (dea286bb71ba): v5.9.
    _e(AMD, 0x1450, False, "AMD Zen root complex", (5, 4), (5, 9)),
    _e(AMD, 0x15D0, False, "AMD Raven", (5, 8), (5, 9)),
    _e(AMD, 0x1630, False, "AMD Renoir", (5, 8), (5, 9)),
    # "PCI/P2PDMA: Whitelist some Intel host bridges" (494d63b0d5d0): v5.4.
    _e(INTEL, 0x3C00, True, "Intel Xeon E5 / Core i7 (Sandy Bridge-EP)", (5, 4)),
    _e(INTEL, 0x3C01, True, "Intel Xeon E5 / Core i7 (Sandy Bridge-EP)", (5, 4)),
    _e(INTEL, 0x2F00, True, "Intel Xeon E7 v3 / E5 v3 / Core i7 (Haswell-EP)", (5, 4)),
    _e(INTEL, 0x2F01, True, "Intel Xeon E7 v3 / E5 v3 / Core i7 (Haswell-EP)", (5, 4)),
    # "PCI/P2PDMA: Add Intel SkyLake-E to the whitelist" (bc123a515cb7): v5.6.
    _e(INTEL, 0x2030, False, "Intel Skylake-E root port A", (5, 6)),
    _e(INTEL, 0x2020, False, "Intel Skylake-E", (5, 6)),
    # "PCI/P2PDMA: Add additional Intel SkyLake-E root ports to the whitelist" (7b94b53db34f): v5.7.
    _e(INTEL, 0x2031, False, "Intel Skylake-E root port B", (5, 7)),
    _e(INTEL, 0x2032, False, "Intel Skylake-E root port C", (5, 7)),
    _e(INTEL, 0x2033, False, "Intel Skylake-E root port D", (5, 7)),
    # "PCI/P2PDMA: Add Intel 3rd Gen Intel Xeon Scalable Processors to whitelist" (feaea1fe8b36): v5.18.
    _e(INTEL, 0x09A2, False, "Intel 3rd gen Xeon Scalable (Ice Lake) and later Xeons", (5, 18)),
    # "PCI/P2PDMA: Allow QAT, DSA and IAA accelerators on recent Xeons" (0ba76b19fd4c, Cc stable): v7.2, and the
    # 7.1.y stable series from 7.1.3.
    _e(INTEL, 0x0B25, False, "Intel DSA (Sapphire Rapids)", **_DSA_IAA_QAT),
    _e(INTEL, 0x0CFE, False, "Intel IAX (Sapphire Rapids)", **_DSA_IAA_QAT),
    _e(INTEL, 0x11FB, False, "Intel DSA (Granite Rapids-D)", **_DSA_IAA_QAT),
    _e(INTEL, 0x1212, False, "Intel DSA (Diamond Rapids)", **_DSA_IAA_QAT),
    _e(INTEL, 0x1216, False, "Intel IAA (Diamond Rapids)", **_DSA_IAA_QAT),
    _e(INTEL, 0x4940, False, "Intel QAT 4xxx", **_DSA_IAA_QAT),
    _e(INTEL, 0x4942, False, "Intel QAT 401xx", **_DSA_IAA_QAT),
    _e(INTEL, 0x4944, False, "Intel QAT 402xx", **_DSA_IAA_QAT),
    _e(INTEL, 0x4946, False, "Intel QAT 420xx", **_DSA_IAA_QAT),
    _e(INTEL, 0x4948, False, "Intel QAT 6xxx", **_DSA_IAA_QAT),
    # "PCI/P2PDMA: Allow wildcard Device IDs" (1a1f96e3e2a8) + "PCI/P2PDMA: Add Google SoCs" (70cf146a674c): v7.1.
    _e(GOOGLE, None, False, "Google SoCs (any device)", (7, 1)),
    # "PCI/P2PDMA: Add Nvidia Vera Rubin CPUs to the whitelist" (894a78088fc3): merged for 7.3-rc1, so v7.3.
    _e(NVIDIA, 0x2F95, False, "Nvidia CPU (Vera Rubin)", (7, 3)),
    _e(NVIDIA, 0x2F96, False, "Nvidia CPU (Vera Rubin)", (7, 3)),
    _e(NVIDIA, 0x2F97, False, "Nvidia CPU (Vera Rubin)", (7, 3)),
    _e(NVIDIA, 0x2F98, False, "Nvidia CPU (Vera Rubin)", (7, 3)),
    # Candidates, in the PCI tree for 7.4 as of October 2026 and in no release yet: "PCI/P2PDMA: Add Zhaoxin host
    # bridges" (f7c2204047009), the Alibaba Yitian host bridge, and two Intel host bridges limited to one bridge.
    _e(ZHAOXIN, 0x1003, True, "Zhaoxin KX-6000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1005, True, "Zhaoxin KH-40000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1006, True, "Zhaoxin KX-6000G", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1007, True, "Zhaoxin KX-7000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1008, False, "Zhaoxin KH-50000", (7, 4), confirmed=False),
    _e(ALIBABA, 0x8000, False, "Alibaba Yitian", (7, 4), confirmed=False),
    _e(INTEL, 0x0C08, True, "Intel host bridge 0c08", (7, 4), confirmed=False),
    _e(INTEL, 0x6F00, True, "Intel Xeon E5 v4 (Broadwell-EP) host bridge", (7, 4), confirmed=False),
)

TABLE_SINCE: Version = (5, 4)  # before v5.4 there was no table (v5.2-5.3 had only the AMD root-complex check)
RC_WHITELIST_V52 = (AMD, 0x1450)  # v5.2's one whitelisted root complex


@lru_cache(maxsize=128)
def whitelist_for(version: Version) -> tuple[WhitelistEntry, ...]:
    """The entries in force in a kernel: (major, minor) means its first release, (major, minor, sublevel) a stable
    one (backports count)."""
    full = tuple(version) + (0,) * (3 - len(version))
    return tuple(e for e in ENTRIES if e.in_force(full))  # type: ignore[arg-type]


def lookup(table: tuple[WhitelistEntry, ...], vendor: int | None, device: int | None) -> WhitelistEntry | None:
    """The first entry that decides for these IDs, as the kernel scans its table."""
    for entry in table:
        if entry.matches(vendor, device):
            return entry
    return None


class RepresentativeRule(StrEnum):
    """How the kernel picks the device that stands for a host bridge."""

    NONE = "none"  # v4.20: no whitelist at all
    SLOT_00 = "slot 00.0"  # v5.2-v5.13: pci_get_slot(root bus, 00.0), wherever it sits in the list
    FIRST_00 = "first device, devfn 00.0"  # v5.14-v5.18: first device of the root bus, only if it is 00.0
    FIRST_00_OR_ROOT_PORT = "first device, devfn 00.0 or a root port"  # v5.19+ (Skylake-E root ports)


def representative_rule(version: Version) -> RepresentativeRule:
    if version < (5, 2):
        return RepresentativeRule.NONE
    if version < (5, 14):
        return RepresentativeRule.SLOT_00
    if version < (5, 19):
        return RepresentativeRule.FIRST_00
    # "PCI/P2PDMA: Whitelist Intel Skylake-E Root Ports at any devfn" (1af7c26c59eb): v5.19.
    return RepresentativeRule.FIRST_00_OR_ROOT_PORT


def pick_representative(on_bus: list[Device], rule: RepresentativeRule) -> Device | None:
    """The device standing for a host bridge, given the functions on its root bus in enumeration (devfn) order."""
    if not on_bus or rule is RepresentativeRule.NONE:
        return None
    if rule is RepresentativeRule.SLOT_00:
        return next((d for d in on_bus if d.bdf.devfn == 0), None)
    first = on_bus[0]
    if first.bdf.devfn == 0:
        return first
    if rule is RepresentativeRule.FIRST_00_OR_ROOT_PORT and first.kind is DeviceKind.ROOT_PORT:
        return first
    return None
