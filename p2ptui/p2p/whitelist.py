"""The host-bridge whitelist of drivers/pci/p2pdma.c, release by release, and the rule that picks the device that
stands for a host bridge (spec §3).

Entries carry the release that added them (and removed them, for the AMD ones the CPU-family rule replaced), so a
profile's table is just the entries in force for its version. Releases the spec marks UNCONFIRMED are best guesses,
flagged ``confirmed=False`` so views can say so.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from ..fabric.kinds import DeviceKind
from ..fabric.model import Device

Version = tuple[int, int]

INTEL = 0x8086
AMD = 0x1022
GOOGLE = 0x1AE0
NVIDIA = 0x10DE
ZHAOXIN = 0x1D17


@dataclass(frozen=True, slots=True)
class WhitelistEntry:
    vendor: int
    device: int | None  # None = PCI_ANY_ID (wildcard entries exist from v7.1)
    req_same_host_bridge: bool
    label: str
    added: Version
    removed: Version | None = None
    confirmed: bool = True  # False: the release that added it is the spec's best guess

    def matches(self, vendor: int | None, device: int | None) -> bool:
        return vendor == self.vendor and (self.device is None or device == self.device)

    @property
    def ids(self) -> str:
        return f"{self.vendor:04x}:{'ANY' if self.device is None else format(self.device, '04x')}"


def _e(vendor: int, device: int | None, same: bool, label: str, added: Version, removed: Version | None = None,
       confirmed: bool = True) -> WhitelistEntry:  # fmt: skip
    return WhitelistEntry(vendor, device, same, label, added, removed, confirmed)


# Order follows the newest kernel table; vendor:device pairs are unique, so order never changes a match.
ENTRIES: tuple[WhitelistEntry, ...] = (
    # The AMD entries lived in the table from v5.4 (1450) and v5.8 (15d0, 1630) until the CPU-family rule of v5.9.
    _e(AMD, 0x1450, False, "AMD Zen root complex", (5, 4), (5, 9)),
    _e(AMD, 0x15D0, False, "AMD Raven", (5, 8), (5, 9)),
    _e(AMD, 0x1630, False, "AMD Renoir", (5, 8), (5, 9)),
    _e(INTEL, 0x3C00, True, "Intel Xeon E5 / Core i7 (Sandy Bridge-EP)", (5, 4)),
    _e(INTEL, 0x3C01, True, "Intel Xeon E5 / Core i7 (Sandy Bridge-EP)", (5, 4)),
    _e(INTEL, 0x2F00, True, "Intel Xeon E7 v3 / E5 v3 / Core i7 (Haswell-EP)", (5, 4)),
    _e(INTEL, 0x2F01, True, "Intel Xeon E7 v3 / E5 v3 / Core i7 (Haswell-EP)", (5, 4)),
    _e(INTEL, 0x2030, False, "Intel Skylake-E root port A", (5, 6)),
    _e(INTEL, 0x2020, False, "Intel Skylake-E", (5, 6)),
    _e(INTEL, 0x2031, False, "Intel Skylake-E root port B", (5, 7)),
    _e(INTEL, 0x2032, False, "Intel Skylake-E root port C", (5, 7)),
    _e(INTEL, 0x2033, False, "Intel Skylake-E root port D", (5, 7)),
    # feaea1fe8b36, early 2022: v5.18 is the spec's best guess for the release.
    _e(INTEL, 0x09A2, False, "Intel 3rd gen Xeon Scalable (Ice Lake) and later Xeons", (5, 18), confirmed=False),
    # 0ba76b19fd4c (mid-2026, Cc stable, in 7.1.y stable review 2026-07-02): mainline 7.2 is the best guess.
    _e(INTEL, 0x0B25, False, "Intel DSA (Sapphire Rapids)", (7, 2), confirmed=False),
    _e(INTEL, 0x0CFE, False, "Intel IAX (Sapphire Rapids)", (7, 2), confirmed=False),
    _e(INTEL, 0x11FB, False, "Intel DSA (Granite Rapids-D)", (7, 2), confirmed=False),
    _e(INTEL, 0x1212, False, "Intel DSA (Diamond Rapids)", (7, 2), confirmed=False),
    _e(INTEL, 0x1216, False, "Intel IAA (Diamond Rapids)", (7, 2), confirmed=False),
    _e(INTEL, 0x4940, False, "Intel QAT 4xxx", (7, 2), confirmed=False),
    _e(INTEL, 0x4942, False, "Intel QAT 401xx", (7, 2), confirmed=False),
    _e(INTEL, 0x4944, False, "Intel QAT 402xx", (7, 2), confirmed=False),
    _e(INTEL, 0x4946, False, "Intel QAT 420xx", (7, 2), confirmed=False),
    _e(INTEL, 0x4948, False, "Intel QAT 6xxx", (7, 2), confirmed=False),
    _e(GOOGLE, None, False, "Google SoCs (any device)", (7, 1)),
    # 894a78088fc3 (2026, "7.2/7.3" per the spec): 7.3 chosen, so no earlier release is credited with it.
    _e(NVIDIA, 0x2F95, False, "Nvidia CPU (Vera Rubin)", (7, 3), confirmed=False),
    _e(NVIDIA, 0x2F96, False, "Nvidia CPU (Vera Rubin)", (7, 3), confirmed=False),
    _e(NVIDIA, 0x2F97, False, "Nvidia CPU (Vera Rubin)", (7, 3), confirmed=False),
    _e(NVIDIA, 0x2F98, False, "Nvidia CPU (Vera Rubin)", (7, 3), confirmed=False),
    # f7c2204047009 sits in the PCI tree after 7.3-rc1: a 7.4 candidate, the newest rules p2ptui knows.
    _e(ZHAOXIN, 0x1003, True, "Zhaoxin KX-6000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1005, True, "Zhaoxin KH-40000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1006, True, "Zhaoxin KX-6000G", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1007, True, "Zhaoxin KX-7000", (7, 4), confirmed=False),
    _e(ZHAOXIN, 0x1008, False, "Zhaoxin KH-50000", (7, 4), confirmed=False),
)

TABLE_SINCE: Version = (5, 4)  # before v5.4 there was no table (v5.2-5.3 had only the AMD root-complex check)
RC_WHITELIST_V52 = (AMD, 0x1450)  # v5.2's one whitelisted root complex


@lru_cache(maxsize=64)
def whitelist_for(version: Version) -> tuple[WhitelistEntry, ...]:
    """The entries in force in a release (major, minor)."""
    return tuple(e for e in ENTRIES if e.added <= version and (e.removed is None or version < e.removed))


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
    # 1af7c26c59eb (April 2022): v5.19 is the spec's best guess for the release [UNCONFIRMED].
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
