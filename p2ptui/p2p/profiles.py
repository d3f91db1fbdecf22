"""Kernel profiles: which release's P2PDMA rules apply, on which CPU, with which IOMMU mode and command line.

The fabric's host facts are the defaults; explicit arguments (CLI flags) override them. A profile is immutable and
hashable, so per-fabric indexes can be cached by it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import IntEnum

from ..errors import Diagnostic, InputError
from ..fabric.kernel_version import KernelVersionError, is_newest, parse_kernel_version
from ..fabric.model import Fabric, IommuMode
from . import acs_cmdline
from .acs_cmdline import AcsHandling, BootAcs
from .whitelist import RepresentativeRule, WhitelistEntry, representative_rule, whitelist_for

# The newest rules known: the PCI maintainer tree after 7.3-rc1 (Sept 2026), i.e. what 7.4 is expected to carry.
LATEST = (7, 4, 0)
FIRST_P2PDMA = (4, 20)
NAMED_PROFILES = ("4.20", "5.2", "5.4", "5.9", "5.14", "6.1", "6.12", "7.1", "latest")
X86_ARCHES = frozenset({"x86_64", "x86", "i386", "i686", "amd64"})
# Vendor words users and tools write, to the name the profile keeps and the architecture it implies.
CPU_VENDORS = {
    "intel": ("intel", "x86_64"),
    "genuineintel": ("intel", "x86_64"),
    "amd": ("amd", "x86_64"),
    "authenticamd": ("amd", "x86_64"),
    "hygon": ("hygon", "x86_64"),
    "hygongenuine": ("hygon", "x86_64"),
    "zhaoxin": ("zhaoxin", "x86_64"),
    "centaur": ("zhaoxin", "x86_64"),
    "arm": ("arm", "aarch64"),
    "ampere": ("ampere", "aarch64"),
    "nvidia": ("nvidia", "aarch64"),
    "ibm": ("ibm", "ppc64le"),
}
MAX_CPU_FAMILY = 0xFFF  # as a fabric file allows; real x86 families stop at 0x10e (base 0xf + extended 0xff)
DEFAULT_AMD_FAMILY = 0x19  # "--cpu amd" means a current EPYC/Ryzen (Zen 3/4)
ZEN_FAMILY = 0x17
IOMMU_WORDS = {
    "off": IommuMode.OFF,
    "pt": IommuMode.PASSTHROUGH,
    "passthrough": IommuMode.PASSTHROUGH,
    "on": IommuMode.TRANSLATED,
    "translated": IommuMode.TRANSLATED,
}


class Era(IntEnum):
    """Releases in which p2pdma.c's decision code changed shape."""

    V4_20 = 420  # int distances, -2 on ACS redirect, -1 without a common bridge
    V5_2 = 502  # + AMD Zen root complex (+0x1000) when no IOMMU is present
    V5_4 = 504  # map-type enum, host-bridge whitelist, ACS redirect goes through the host bridge
    V5_9 = 509  # + AMD family >= 0x17 allows every host-bridge path
    V5_14 = 514  # restructured (calc_map_type_and_dist), "Host bridge not in P2PDMA whitelist" warning


@dataclass(frozen=True, slots=True)
class KernelProfile:
    kernel: str  # as given: "6.8.0-45-generic", "5.4", "latest"
    version: tuple[int, int, int]  # release whose rules apply (major, minor, sublevel)
    cpu_vendor: str | None
    cpu_family: int | None
    arch: str
    iommu: IommuMode
    cmdline: str
    acs: BootAcs  # how ACS control values are formed under this profile
    booted: BootAcs  # ...and how they were formed on the machine the fabric was read from
    notes: tuple[str, ...] = ()

    @property
    def release(self) -> tuple[int, int]:
        return self.version[:2]

    @property
    def era(self) -> Era:
        v = self.release
        if v < (5, 2):
            return Era.V4_20
        if v < (5, 4):
            return Era.V5_2
        if v < (5, 9):
            return Era.V5_4
        if v < (5, 14):
            return Era.V5_9
        return Era.V5_14

    @property
    def label(self) -> str:
        """The rules in force, for people: ``v6.8 rules (kernel 6.8.0-45-generic)``."""
        text = f"v{self.release[0]}.{self.release[1]} rules"
        if self.kernel not in (f"{self.release[0]}.{self.release[1]}",):
            text += f" (kernel {self.kernel})"
        return text

    @property
    def whitelist(self) -> tuple[WhitelistEntry, ...]:
        return whitelist_for(self.release) if self.era >= Era.V5_4 else ()

    @property
    def representative_rule(self) -> RepresentativeRule:
        return representative_rule(self.release)

    @property
    def iommu_active(self) -> bool:
        """An IOMMU driver is bound (translated or passthrough): ACS gets requested, v5.2's AMD rule is off."""
        return self.iommu is not IommuMode.OFF

    @property
    def cpu_allows_p2p(self) -> bool:
        """v5.9+: x86 AMD family 0x17 (Zen) or newer allows every host-bridge path, whatever the bridge IDs."""
        if self.era < Era.V5_9 or self.arch not in X86_ARCHES or self.cpu_vendor != "amd":
            return False
        return (self.cpu_family if self.cpu_family is not None else ZEN_FAMILY) >= ZEN_FAMILY

    @property
    def host_bridge_warning(self) -> bool:
        return self.era >= Era.V5_14

    @property
    def acs_list_size(self) -> int:
        """Bytes of the buffer the ACS list is printed into: a page until v5.13, 128 bytes on the stack after."""
        return 128 if self.era >= Era.V5_14 else 4096

    @property
    def dma_virt_ops_check(self) -> bool:
        # Present while dma_virt_ops existed: in the v5.2 and v5.4 sources, gone in v5.15-based trees; the 5.0-5.11
        # range is the spec's best guess [UNCONFIRMED].
        return (5, 0) <= self.release < (5, 12)

    def with_cmdline(self, cmdline: str) -> KernelProfile:
        """The same profile booted with another command line."""
        return replace(self, cmdline=cmdline, acs=_boot_acs(self.version, self.iommu_active, cmdline, "cmdline"))


def parse_kernel(text: str) -> tuple[int, int, int]:
    """A kernel version as people and ``uname -r`` write it; raises InputError for what is not one."""
    if is_newest(text):
        return LATEST
    try:
        major, minor, sublevel = parse_kernel_version(text)
    except KernelVersionError as exc:
        named = ", ".join(v for v in NAMED_PROFILES if v != "latest")
        hint = f"expected {exc.expected}; named profiles: {named}"
        raise InputError(Diagnostic(exc.problem, hint=hint)) from None
    version = (major, minor, sublevel or 0)
    if version[:2] < FIRST_P2PDMA:
        raise InputError(
            Diagnostic(
                f"kernel {text} has no PCI P2PDMA: it appeared in v4.20",
                hint="for a distribution kernel with backports, pass the upstream release whose rules it carries",
            )
        )
    return version


def parse_cpu(text: str) -> tuple[str, int | None, str]:
    """``intel``, ``amd``, ``amd:0x19``, ``amd:25``, ``amd:19h`` -> (vendor, family, arch)."""
    vendor_word, _, family_word = text.strip().lower().partition(":")
    if vendor_word not in CPU_VENDORS:
        known = "intel, amd[:FAMILY], hygon, zhaoxin, arm, ampere, nvidia, ibm"
        raise InputError(Diagnostic(f"unknown CPU vendor {vendor_word!r}", hint=f"one of {known}"))
    vendor, arch = CPU_VENDORS[vendor_word]
    family: int | None = None
    if family_word:
        try:
            family = int(family_word[:-1], 16) if family_word.endswith("h") else int(family_word, 0)
        except ValueError:
            raise InputError(
                Diagnostic(f"bad CPU family {family_word!r}", hint="a number: 0x19, 25 or 19h")
            ) from None
        if not 0 <= family <= MAX_CPU_FAMILY:
            shown = family_word if len(family_word) <= 20 else family_word[:19] + "…"
            hint = f"0 to {MAX_CPU_FAMILY:#x}, as in a fabric file: e.g. 0x19, 25 or 19h"
            raise InputError(Diagnostic(f"CPU family {shown} is out of range", hint=hint))
    elif vendor == "amd":
        family = DEFAULT_AMD_FAMILY
    elif vendor == "intel":
        family = 6
    return vendor, family, arch


def parse_iommu(text: str) -> IommuMode:
    try:
        return IOMMU_WORDS[text.strip().lower()]
    except KeyError:
        raise InputError(Diagnostic(f"unknown IOMMU mode {text!r}", hint="off, pt or on")) from None


def profile_for(
    fabric: Fabric,
    kernel: str | None = None,
    cpu: str | None = None,
    cmdline: str | None = None,
    iommu: str | None = None,
) -> KernelProfile:
    """The profile for ``fabric``: its host facts, overridden by whichever arguments are given."""
    host = fabric.host
    notes: list[str] = []
    booted_version, booted_note = _host_version(host.kernel)
    if kernel is not None:
        version, label = parse_kernel(kernel), kernel.strip()
    else:
        version, label = booted_version, host.kernel or "latest"
        if booted_note:
            notes.append(booted_note)
    if version > LATEST:
        notes.append(f"kernel {label} is newer than the newest rules known (v{LATEST[0]}.{LATEST[1]}); using those")
        version = LATEST
    if cpu is not None:
        vendor, family, arch = parse_cpu(cpu)
    else:
        vendor = (host.cpu_vendor or "").lower() or None
        vendor = CPU_VENDORS.get(vendor, (vendor, None))[0] if vendor else None
        family, arch = host.cpu_family, host.arch
        if vendor == "amd" and family is None:
            notes.append("AMD CPU family unknown: taken as Zen or newer (0x17+)")
    mode = parse_iommu(iommu) if iommu is not None else host.iommu
    if mode is IommuMode.UNKNOWN:
        notes.append("IOMMU mode unknown: taken as enabled (ACS redirect defaults on, v5.2 AMD rule off)")
    line = host.cmdline if cmdline is None else cmdline
    active = mode is not IommuMode.OFF
    acs = _boot_acs(version, active, line, "--cmdline" if cmdline is not None else "host cmdline")
    booted = _boot_acs(booted_version, host.iommu is not IommuMode.OFF, host.cmdline, "host cmdline")
    if acs.handling is AcsHandling.BUGGY_CONFIG and (acs.params.disable_acs_redir or acs.params.config_acs):
        notes.append(
            f"kernel {label}: pci=disable_acs_redir/config_acs as applied by 6.11-6.14 before the stable fix "
            "(firmware-set redirect bits stay set; several config_acs devices fail to parse)"
        )
    return KernelProfile(label, version, vendor, family, arch, mode, line, acs, booted, tuple(notes))


def _host_version(kernel: str | None) -> tuple[tuple[int, int, int], str | None]:
    """The fabric's own kernel; a missing, unreadable or pre-P2PDMA one falls back to the newest rules."""
    if not kernel:
        return LATEST, "the fabric does not say which kernel it ran: using the newest rules"
    try:
        version = parse_kernel(kernel)
    except InputError as exc:
        return LATEST, f"{exc.diagnostics[0].message}: using the newest rules"
    return min(version, LATEST), None


def _boot_acs(version: tuple[int, int, int], iommu: bool, cmdline: str, what: str) -> BootAcs:
    try:
        params = acs_cmdline.parse_pci_params(cmdline)
    except ValueError as exc:
        raise InputError(Diagnostic(f"{what}: cannot split the kernel command line: {exc}")) from None
    return BootAcs(iommu, params, acs_cmdline.acs_handling(version))
