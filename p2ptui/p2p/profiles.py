"""Kernel profiles: which release's P2PDMA rules apply, on which CPU, with which IOMMU mode and command line.

The fabric's host facts are the defaults; explicit arguments (CLI flags) override them. A fact the fabric does not
give is either inferred, with the evidence in a note (the CPU vendor from its host bridges, the IOMMU from IOMMU
groups), or left unknown: the profile lists it in ``unknown`` and the verdict evaluates every value it can take
(p2p/outcomes.py). ``--assume`` fills unknown facts. A profile is immutable and hashable, so per-fabric indexes can be
cached by it.

A new kernel rule goes here: a release that changes behaviour is an ``Era`` member, and what it changes is a method
or property of KernelProfile (like common_outcome or host_bridge_warning) that both the single verdict (verdict.py)
and the vectorised matrix (matrix.py) call. A host bridge added to the kernel's whitelist is an entry in
whitelist.py.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import IntEnum, StrEnum

from ..errors import Diagnostic, InputError
from ..fabric.cpu_vendors import (
    AMD_ROOT_COMPLEX_FAMILY,
    HOST_BRIDGE_VENDORS,
    KNOWN_VENDORS,
    VENDOR_WORDS,
    ZEN_FAMILY,
)
from ..fabric.kernel_version import KernelVersionError, is_newest, parse_kernel_version
from ..fabric.model import Fabric, IommuMode
from . import acs_cmdline
from .acs_cmdline import AcsHandling, BootAcs
from .map_type import V52_HOST_BRIDGE_PENALTY, MapType
from .whitelist import (
    RepresentativeRule,
    WhitelistEntry,
    representative_rule,
    whitelist_for,
)

# The newest rules known: the PCI maintainer tree after 7.3-rc1 (Sept 2026), i.e. what 7.4 is expected to carry.
LATEST = (7, 4, 0)
FIRST_P2PDMA = (4, 20)
NAMED_PROFILES = ("4.20", "5.2", "5.4", "5.9", "5.14", "6.1", "6.12", "7.1", "latest")
# Releases at which some rule of the verdict changes (era, whitelist entries, representative rule, dma_virt_ops,
# the config_acs window): evaluating these covers every kernel with P2PDMA when the kernel is unknown.
RULE_RELEASES: tuple[tuple[int, int, int], ...] = (
    (4, 20, 0),
    (5, 2, 0),
    (5, 3, 0),
    (5, 4, 0),
    (5, 6, 0),
    (5, 7, 0),
    (5, 8, 0),
    (5, 9, 0),
    (5, 11, 0),
    (5, 14, 0),
    (5, 18, 0),
    (5, 19, 0),
    (6, 11, 0),
    (6, 15, 0),
    (7, 1, 0),
    (7, 1, 3),
    (7, 2, 0),
    (7, 3, 0),
    LATEST,
)
# "PCI/P2PDMA: ... pcim_p2pdma_init()/provider" refactor, v6.19: a provider without a memory pool (a DMABUF exporter)
# gets no p2pmem sysfs group, so "no p2pmem directory" no longer means "not a provider" from this release on.
POOLLESS_PROVIDER_HIDDEN = (6, 19, 0)
X86_ARCHES = frozenset({"x86_64", "x86", "i386", "i686", "amd64"})
MAX_CPU_FAMILY = 0xFFF  # as a fabric file allows; real x86 families stop at 0x10e (base 0xf + extended 0xff)
DEFAULT_AMD_FAMILY = 0x19  # "--cpu amd" means a current EPYC/Ryzen (Zen 3/4)
PRE_ZEN_FAMILY = 0x15  # an AMD family the AMD rule refuses (Bulldozer), for "depends on the CPU family"
IOMMU_WORDS = {
    "off": IommuMode.OFF,
    "pt": IommuMode.PASSTHROUGH,
    "passthrough": IommuMode.PASSTHROUGH,
    "on": IommuMode.TRANSLATED,
    "translated": IommuMode.TRANSLATED,
}


class Fact(StrEnum):
    """The facts of a machine a verdict depends on and an input may not record."""

    KERNEL = "kernel"
    CPU = "cpu"
    IOMMU = "iommu"
    ACS = "acs"  # ACS control of the functions on the paths
    HOST_BRIDGE = "host-bridge"  # the IDs of the device standing for a host bridge (whitelist)


class AcsAssumption(StrEnum):
    CLEAR = "clear"
    SET = "set"


class HostBridgeAssumption(StrEnum):
    WHITELISTED = "whitelisted"  # an entry without REQ_SAME_HOST_BRIDGE
    SAME_BRIDGE_ONLY = "same-bridge-only"  # an entry with REQ_SAME_HOST_BRIDGE
    NOT_WHITELISTED = "not-whitelisted"


ASSUME_HELP = (
    "acs-clear, acs-set, cpu=VENDOR[:FAMILY], iommu=on|off|pt, kernel=VERSION, host-bridges=whitelisted|not-whitelisted"
)


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
    unknown: frozenset[Fact] = frozenset()  # of KERNEL, CPU, IOMMU: facts the verdict must enumerate
    assume_acs: AcsAssumption | None = None  # fills unreadable ACS control on the paths
    assume_host_bridges: HostBridgeAssumption | None = None  # fills unreadable host-bridge IDs

    @property
    def has_p2pdma(self) -> bool:
        """P2PDMA arrived in v4.20 (drivers/pci/p2pdma.c): older kernels have nothing to decide with."""
        return self.release >= FIRST_P2PDMA

    def unknown_values(self) -> list[tuple[Fact, list]]:
        """Each unknown machine-wide fact with the values that cover every rule it feeds: the releases where a
        rule changes, a Zen AMD CPU or not, the IOMMU off or on (passthrough acts as on for the verdict)."""
        out: list[tuple[Fact, list]] = []
        if Fact.KERNEL in self.unknown:
            out.append((Fact.KERNEL, list(RULE_RELEASES)))
        if Fact.CPU in self.unknown:
            if self.cpu_vendor == "amd":
                out.append((Fact.CPU, [("amd", ZEN_FAMILY, self.arch), ("amd", PRE_ZEN_FAMILY, self.arch)]))
            else:
                out.append((Fact.CPU, [("amd", DEFAULT_AMD_FAMILY, "x86_64"), ("intel", 6, "x86_64")]))
        if Fact.IOMMU in self.unknown:
            out.append((Fact.IOMMU, [IommuMode.OFF, IommuMode.TRANSLATED]))
        return out

    def completed(
        self,
        version: tuple[int, int, int] | None = None,
        cpu: tuple[str, int | None, str] | None = None,
        iommu: IommuMode | None = None,
    ) -> KernelProfile:
        """This profile with unknown facts filled: one possible machine."""
        unknown = set(self.unknown)
        changes: dict = {}
        if version is not None:
            unknown.discard(Fact.KERNEL)
            changes["version"] = version
        if cpu is not None:
            unknown.discard(Fact.CPU)
            changes["cpu_vendor"], changes["cpu_family"], changes["arch"] = cpu
        if iommu is not None:
            unknown.discard(Fact.IOMMU)
            changes["iommu"] = iommu
        done = replace(self, unknown=frozenset(unknown), **changes)
        active = done.iommu is not IommuMode.OFF
        acs = _boot_acs(done.version, active, done.cmdline, "cmdline")
        booted = self.booted
        if iommu is not None and self.iommu is IommuMode.UNKNOWN:
            booted = replace(booted, iommu=active)  # the same machine: it booted with that IOMMU mode too
        return replace(done, acs=acs, booted=booted)

    @property
    def release(self) -> tuple[int, int]:
        return self.version[:2]

    @property
    def era(self) -> Era:
        v = self.release
        if v < (5, 2):  # (kernels before v4.20 have no P2PDMA at all: see has_p2pdma)
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
        if Fact.KERNEL in self.unknown:
            return "kernel unknown (every release with P2PDMA considered)"
        if not self.has_p2pdma:
            return f"no P2PDMA (kernel {self.kernel}; it arrived in v4.20)"
        text = f"v{self.release[0]}.{self.release[1]} rules"
        if self.kernel not in (f"{self.release[0]}.{self.release[1]}",):
            text += f" (kernel {self.kernel})"
        return text

    @property
    def whitelist(self) -> tuple[WhitelistEntry, ...]:
        return whitelist_for(self.version) if self.era >= Era.V5_4 else ()

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

    def common_outcome(self, redirected: bool, host_allowed: bool, dist):
        """(map type, distance) of a path with a common upstream device; ``dist`` may be a number or a numpy array
        (the matrix asks for a whole block at once). No ACS redirect: bus addresses. Redirected: v4.20/v5.2 refuse it
        with -2; v5.4+ send it through the host bridge, if the CPU rule or the whitelist allows that."""
        if not redirected:
            return MapType.BUS_ADDR, dist
        if self.era < Era.V5_4:
            return MapType.NOT_SUPPORTED, -2
        return (MapType.THRU_HOST_BRIDGE if host_allowed else MapType.NOT_SUPPORTED), dist

    def no_common_outcome(self, host_allowed: bool, v52_root_complexes: bool, dist):
        """(map type, distance) of a path with no common upstream device (different root ports, RCiEPs, host
        bridges). v4.20 refuses it (-1); v5.2 allows only its AMD Zen root complexes without an IOMMU, at 0x1000 more;
        v5.4+ go through the host bridge if the CPU rule or the whitelist allows it (no penalty)."""
        if self.era < Era.V5_4:
            if v52_root_complexes:
                return MapType.THRU_HOST_BRIDGE, V52_HOST_BRIDGE_PENALTY + dist
            return MapType.NOT_SUPPORTED, -1
        return (MapType.THRU_HOST_BRIDGE if host_allowed else MapType.NOT_SUPPORTED), dist

    @property
    def host_bridge_warning(self) -> bool:
        return self.era >= Era.V5_14

    @property
    def acs_list_size(self) -> int:
        """Bytes of the buffer the ACS list is printed into: a page until v5.13, 128 bytes on the stack after."""
        return 128 if self.era >= Era.V5_14 else 4096

    @property
    def dma_virt_ops_check(self) -> bool:
        # "PCI/P2PDMA: Introduce pci_p2pdma_[un]map_sg() ... reject dma_virt_ops" arrived in 5.3 (the check in
        # pci_p2pdma_distance_many); "RDMA/core: remove use of dma_virt_ops" and the removal of the DMA_VIRT_OPS hacks
        # took it out in 5.11. So 5.3 to 5.10.
        return (5, 3) <= self.release < (5, 11)

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
    if vendor_word not in VENDOR_WORDS:
        raise InputError(Diagnostic(f"unknown CPU vendor {vendor_word!r}", hint=f"one of {KNOWN_VENDORS}"))
    vendor, arch = VENDOR_WORDS[vendor_word]
    family: int | None = None
    if family_word:
        try:
            family = int(family_word[:-1], 16) if family_word.endswith("h") else int(family_word, 0)
        except ValueError:
            raise InputError(Diagnostic(f"bad CPU family {family_word!r}", hint="a number: 0x19, 25 or 19h")) from None
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


@dataclass(frozen=True)
class Assumptions:
    """What ``--assume`` fills in when the fabric does not know it."""

    acs: AcsAssumption | None = None
    host_bridges: HostBridgeAssumption | None = None
    cpu: str | None = None
    iommu: str | None = None
    kernel: str | None = None


def parse_assumptions(items: Sequence[str]) -> Assumptions:
    """``acs-clear``, ``acs-set``, ``cpu=amd:0x19``, ``iommu=on``, ``kernel=6.8``, ``host-bridges=whitelisted``."""
    fields: dict = {}
    for item in items:
        word = item.strip().lower()
        key, eq, value = word.partition("=")
        if word in ("acs-clear", "acs-set"):
            fields["acs"] = AcsAssumption(word[4:])
        elif eq and key == "acs" and value in ("clear", "set"):
            fields["acs"] = AcsAssumption(value)
        elif eq and key in ("host-bridges", "host-bridge") and value in {h.value for h in HostBridgeAssumption}:
            fields["host_bridges"] = HostBridgeAssumption(value)
        elif eq and key == "cpu" and value:
            parse_cpu(value)
            fields["cpu"] = value
        elif eq and key == "iommu" and value:
            parse_iommu(value)
            fields["iommu"] = value
        elif eq and key == "kernel" and value:
            parse_kernel(value)
            fields["kernel"] = value
        else:
            raise InputError(Diagnostic(f"--assume {item!r}: not an assumption p2ptui knows", hint=ASSUME_HELP))
    return Assumptions(**fields)


def profile_for(
    fabric: Fabric,
    kernel: str | None = None,
    cpu: str | None = None,
    cmdline: str | None = None,
    iommu: str | None = None,
    assume: Assumptions | Sequence[str] = (),
) -> KernelProfile:
    """The profile for ``fabric``: its host facts, overridden by whichever arguments are given; facts still unknown
    are inferred where the fabric gives evidence, then filled by ``assume``, else listed in ``unknown``."""
    assumed = assume if isinstance(assume, Assumptions) else parse_assumptions(assume)
    host = fabric.host
    notes: list[str] = []
    unknown: set[Fact] = set()
    booted_version = _host_version(host.kernel)
    if kernel is None and booted_version is None and assumed.kernel is not None:
        kernel = assumed.kernel
    if kernel is not None:
        version, label = parse_kernel(kernel), kernel.strip()
    elif booted_version is None:
        version, label = LATEST, "unknown"
        unknown.add(Fact.KERNEL)
    else:
        version, label = booted_version, host.kernel or ""
    if version > LATEST:
        notes.append(f"kernel {label} is newer than the newest rules known (v{LATEST[0]}.{LATEST[1]}); using those")
        version = LATEST
    vendor, family, arch = _cpu_fact(fabric, cpu, assumed, notes, unknown)
    mode = parse_iommu(iommu) if iommu is not None else host.iommu
    if mode is IommuMode.UNKNOWN:
        mode = _iommu_fact(fabric, assumed, notes, unknown)
    line = host.cmdline if cmdline is None else cmdline
    active = mode is not IommuMode.OFF
    acs = _boot_acs(version, active, line, "--cmdline" if cmdline is not None else "host cmdline")
    # How the fabric's hardware-read ACS values were formed (re-derived for a what-if): a kernel with P2PDMA rules.
    booted_rules = booted_version if booted_version is not None and booted_version[:2] >= FIRST_P2PDMA else LATEST
    booted = _boot_acs(booted_rules, host.iommu is not IommuMode.OFF, host.cmdline, "host cmdline")
    if acs.handling is AcsHandling.BUGGY_CONFIG and (acs.params.disable_acs_redir or acs.params.config_acs):
        notes.append(
            f"kernel {label}: pci=disable_acs_redir/config_acs as applied by 6.11-6.14 before the stable fix "
            "(firmware-set redirect bits stay set; several config_acs devices fail to parse)"
        )
    return KernelProfile(
        label,
        version,
        vendor,
        family,
        arch,
        mode,
        line,
        acs,
        booted,
        tuple(notes),
        frozenset(unknown),
        assumed.acs,
        assumed.host_bridges,
    )


def _cpu_fact(
    fabric: Fabric, cpu: str | None, assumed: Assumptions, notes: list[str], unknown: set[Fact]
) -> tuple[str | None, int | None, str]:
    """The CPU: given, read, inferred from the host bridges' IDs, assumed, or unknown."""
    if cpu is not None:
        return parse_cpu(cpu)
    host = fabric.host
    vendor = VENDOR_WORDS.get(host.cpu_vendor.lower(), (host.cpu_vendor.lower(), ""))[0] if host.cpu_vendor else None
    family, arch = host.cpu_family, host.arch
    if vendor is None or (vendor == "amd" and family is None):
        inferred, evidence = infer_cpu(fabric)
        if vendor is None and inferred[0] is not None:
            vendor = inferred[0]
            notes.append(f"CPU vendor inferred: {vendor} ({evidence})")
            if inferred[1] is not None and family is None:
                family = inferred[1]
                notes.append(f"CPU family inferred: {family:#x} or a family on the same side of Zen (0x17)")
        elif vendor == "amd" and inferred[1] is not None:
            family = inferred[1]
            notes.append(f"AMD CPU family inferred: {family:#x} ({evidence})")
    if vendor is None or (vendor == "amd" and family is None):
        if assumed.cpu is not None:
            return parse_cpu(assumed.cpu)
        if arch in X86_ARCHES:
            unknown.add(Fact.CPU)
    return vendor, family, arch


def infer_cpu(fabric: Fabric) -> tuple[tuple[str | None, int | None], str]:
    """(vendor, family) the first functions of the root buses point to, with the evidence; (None, None) when they do
    not agree or say nothing. A machine's root complexes are its CPU's (the CPU vendors' own PCI IDs)."""
    vendors: set[str] = set()
    families: set[int] = set()
    evidence: list[str] = []
    for rb in fabric.root_buses:
        on_bus = fabric.on_root_bus(rb)
        first = on_bus[0] if on_bus else None
        if first is None or first.vendor_id is None:
            continue
        vendor = HOST_BRIDGE_VENDORS.get(first.vendor_id)
        if vendor is None:
            continue  # an accelerator or a vendor that makes no x86 CPUs leads this bus: it says nothing
        vendors.add(vendor)
        ids = (
            f"{first.vendor_id:04x}:{first.device_id:04x}" if first.device_id is not None else f"{first.vendor_id:04x}"
        )
        pinned = AMD_ROOT_COMPLEX_FAMILY.get(first.device_id or -1) if vendor == "amd" else None
        if pinned is not None:
            families.add(pinned[0])
            ids += f" ({pinned[1]})"
        if len(evidence) < 2:
            evidence.append(f"{first.bdf} is {ids}")
    if len(vendors) != 1:
        return (None, None), ""
    vendor = vendors.pop()
    family = families.pop() if len(families) == 1 else None
    return (vendor, family), "host bridge " + ", ".join(evidence)


def _iommu_fact(fabric: Fabric, assumed: Assumptions, notes: list[str], unknown: set[Fact]) -> IommuMode:
    grouped = sum(1 for d in fabric.devices if d.iommu_group is not None)
    if grouped:
        notes.append(
            f"IOMMU inferred on: {grouped} functions are in IOMMU groups (translated or passthrough; the "
            "verdict is the same for both)"
        )
        return IommuMode.TRANSLATED
    if assumed.iommu is not None:
        return parse_iommu(assumed.iommu)
    unknown.add(Fact.IOMMU)
    return IommuMode.UNKNOWN


def _host_version(kernel: str | None) -> tuple[int, int, int] | None:
    """The fabric's own kernel, as it ran (a pre-P2PDMA one included); None when missing or unreadable."""
    if not kernel:
        return None
    if is_newest(kernel):
        return LATEST
    try:
        major, minor, sublevel = parse_kernel_version(kernel)
    except KernelVersionError:
        return None
    return min((major, minor, sublevel or 0), LATEST)


def _boot_acs(version: tuple[int, int, int], iommu: bool, cmdline: str, what: str) -> BootAcs:
    try:
        params = acs_cmdline.parse_pci_params(cmdline)
    except ValueError as exc:
        raise InputError(Diagnostic(f"{what}: cannot split the kernel command line: {exc}")) from None
    return BootAcs(iommu, params, acs_cmdline.acs_handling(version))
