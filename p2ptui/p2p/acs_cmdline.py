"""ACS control values as Linux programs them at boot: the IOMMU default, then pci=disable_acs_redir= and
pci=config_acs= (drivers/pci/pci.c: pci_std_enable_acs(), __pci_config_acs()), with the kernel's own selector
syntax and the three ways releases applied them.

The P2PDMA verdict only looks at the live RR/CR/EC bits; this module says what they are for a device under a given
boot configuration, and what the kernel logs while setting them.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from ..fabric import acs as acsbits
from ..fabric.acs import AcsSource
from ..fabric.model import Device

# What pci_std_enable_acs() adds when an IOMMU driver requested ACS. TB is left out: the kernel adds it only for
# untrusted/external-facing ports or with ATS disabled, which the model does not know, and P2PDMA ignores TB.
KERNEL_DEFAULT_BITS = acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF
U16 = 0xFFFF


class AcsHandling(StrEnum):
    """How a release applies the command line to the ACS control register."""

    CLEAR_REDIRECT = "pre-6.11"  # pci_disable_acs_redir(): clear RR|CR|EC from the value; no config_acs
    BUGGY_CONFIG = "6.11-6.14"  # 47c8846a49ba before the 9cf8a952d57b fix: firmware redirect bits survive
    CONFIG = "fixed"  # 6.15+ and fixed stables: listed devices get (firmware & ~mask) | (flags & mask)


def acs_handling(version: tuple[int, int, int]) -> AcsHandling:
    major_minor = version[:2]
    if major_minor < (6, 11):
        return AcsHandling.CLEAR_REDIRECT
    if major_minor >= (6, 15):
        return AcsHandling.CONFIG
    # "PCI: Fix the ACS flags computed for pci=config_acs/disable_acs_redir" (9cf8a952d57b) is in v6.15 and the
    # stable releases 6.12.23 and 6.14.2; for 6.13.11 it was seen only in that release's -rc1 review, so 6.13.11 is
    # the expected, not a confirmed, first fixed 6.13.y. 6.11.y was end of life before the fix.
    fixed_from = {(6, 12): 23, (6, 13): 11, (6, 14): 2}.get(major_minor)
    if fixed_from is not None and version[2] >= fixed_from:
        return AcsHandling.CONFIG
    return AcsHandling.BUGGY_CONFIG


@dataclass(frozen=True, slots=True)
class PciParams:
    """The pci= options that shape ACS. Each keeps the last occurrence, as pci_setup() overwrites its pointer."""

    disable_acs_redir: str | None = None
    config_acs: str | None = None


@dataclass(frozen=True, slots=True)
class BootAcs:
    """Everything that decides ACS control values at boot."""

    iommu: bool  # an IOMMU driver called pci_request_acs(): kernel default bits get added
    params: PciParams
    handling: AcsHandling


def split_cmdline(cmdline: str) -> list[str]:
    """Kernel command line words: double quotes group, no backslash escapes; '--' ends the kernel's part."""
    lexer = shlex.shlex(cmdline, posix=True)
    lexer.whitespace_split = True
    lexer.escape = ""
    lexer.quotes = '"'
    lexer.commenters = ""
    words = list(lexer)  # ValueError on an unbalanced quote
    return words[: words.index("--")] if "--" in words else words


@functools.lru_cache(maxsize=64)  # a verdict's cases complete the profile once each, from one command line
def parse_pci_params(cmdline: str) -> PciParams:
    disable = config = None
    for word in split_cmdline(cmdline):
        if not word.startswith("pci="):
            continue
        # pci_setup() cuts its value at every comma: device lists use ';' for that reason.
        for option in word[4:].split(","):
            if option.startswith("disable_acs_redir="):
                disable = option[len("disable_acs_redir=") :]
            elif option.startswith("config_acs="):
                config = option[len("config_acs=") :]
    return PciParams(disable, config)


def cmdline_with_disable_acs_redir(cmdline: str, selectors: list[str]) -> tuple[str, str, list[str]]:
    """The command line with ``selectors`` added to pci=disable_acs_redir (kept ones first), the option text, and
    a line for each existing entry left out.

    Only the last disable_acs_redir counts, so existing selectors are merged into one new option rather than a
    second one hiding the first. The kernel stops reading the list at an entry it cannot parse, so such entries are
    dropped: kept, they would switch off every selector after them, the new ones included.
    """
    existing = parse_pci_params(cmdline).disable_acs_redir
    entries = existing.split(";") if existing else []
    if entries and not entries[-1]:
        entries.pop()  # one trailing ';' ends the kernel's loop cleanly
    merged: list[str] = []
    dropped: list[str] = []
    for entry in entries:
        why = selector_problem(entry)
        if why is None:
            if entry not in merged:
                merged.append(entry)
            continue
        note = f"dropped {entry!r}: {why}" if entry else f"dropped an empty entry: {why}"
        if note not in dropped:
            dropped.append(note)
    merged += [s for s in selectors if s not in merged]
    option = "pci=disable_acs_redir=" + ";".join(merged)
    return (f"{cmdline} {option}".strip(), option, dropped)


# -- device selectors: pci_dev_str_match() -------------------------------------------------------------------------
_HEX = r"\s*(?:0[xX])?([0-9a-fA-F]+)"
# Matched with fullmatch: sscanf's trailing %c makes any character after the last number an error.
_FULL_ADDR = re.compile(rf"{_HEX}:{_HEX}:{_HEX}\.{_HEX}")
_SHORT_ADDR = re.compile(rf"{_HEX}:{_HEX}\.{_HEX}")
_PATH_STEP = re.compile(rf"{_HEX}\.{_HEX}")
_ID_FIELD = re.compile(_HEX)

UpFn = Callable[[Device], Device | None]
NOT_A_SELECTOR = "not a device selector the kernel parses"


def selector_problem(entry: str) -> str | None:
    """Why pci_dev_str_match() stops a ';' list at this entry, whichever device it is matched against; None when the
    kernel reads past it. (A malformed path step is only reached for some devices, but for those the list ends.)"""
    if not entry:
        return "the kernel stops reading the list there"
    if entry.startswith("pci:"):
        parsed = _parse_ids(entry[4:])
        if parsed is None:
            return NOT_A_SELECTOR
        end = 4 + parsed[1]
        if end < len(entry):  # sscanf stopped early; the loop then finds no ';' and ends
            return f"the kernel reads it as {entry[:end]!r} and stops reading the list at {entry[end:]!r}"
        return None
    steps = entry.split("/")
    if all(_PATH_STEP.fullmatch(step) for step in steps[1:]) and (
        _FULL_ADDR.fullmatch(steps[0]) or _SHORT_ADDR.fullmatch(steps[0])
    ):
        return None
    return NOT_A_SELECTOR


def match_selector(text: str, dev: Device, up: UpFn) -> tuple[int, str]:
    """Does the selector at the start of ``text`` name ``dev``? Returns (1 match / 0 no / -1 unparsable, rest).

    ``rest`` starts at what follows the selector (a ';' or ',' when more follow); ``up`` is pci_upstream_bridge,
    which the ``bus:dev.fn/dev.fn/...`` path form climbs (a VF steps to its PF first).
    """
    if text.startswith("pci:"):
        return _match_ids(text[4:], dev)
    end = text.find(";")
    path, rest = (text, "") if end < 0 else (text[:end], text[end:])
    steps = path.split("/")
    cur: Device | None = dev
    for step in reversed(steps[1:]):
        m = _PATH_STEP.fullmatch(step)
        if not m:
            return -1, rest
        if cur is None or cur.bdf.devfn != _devfn(int(m[1], 16), int(m[2], 16)):
            return 0, rest
        cur = up(cur)
        if cur is None:
            return 0, rest
    m = _FULL_ADDR.fullmatch(steps[0])
    if m:
        seg, bus, slot, fn = (int(g, 16) for g in m.groups())
    else:
        m = _SHORT_ADDR.fullmatch(steps[0])
        if not m:
            return -1, rest
        seg, (bus, slot, fn) = 0, (int(g, 16) for g in m.groups())
    assert cur is not None
    hit = seg == cur.bdf.domain and bus == cur.bdf.bus and cur.bdf.devfn == _devfn(slot, fn)
    return (1 if hit else 0), rest


def _devfn(slot: int, fn: int) -> int:
    return ((slot & 0x1F) << 3) | (fn & 0x07)


def _match_ids(text: str, dev: Device) -> tuple[int, str]:
    """``vendor:device[:subvendor:subdevice]`` in hex; 0 matches anything (unlike PCI_ANY_ID inside the kernel)."""
    parsed = _parse_ids(text)
    if parsed is None:
        return -1, text
    (vendor, device, sub_vendor, sub_device), consumed = parsed
    hit = (
        (not vendor or vendor == dev.vendor_id)
        and (not device or device == dev.device_id)
        and (not sub_vendor or sub_vendor == dev.subsystem_vendor_id)
        and (not sub_device or sub_device == dev.subsystem_device_id)
    )
    return (1 if hit else 0), text[consumed:]


def _parse_ids(text: str) -> tuple[tuple[int, int, int, int], int] | None:
    """sscanf's "%hx:%hx:%hx:%hx%n", else "%hx:%hx%n": the IDs (0 for subsystem IDs not given) and the characters
    read; None when neither form reads."""
    fields: list[int] = []
    pos = 0
    ends: list[int] = []
    while len(fields) < 4:
        if fields:
            if not text.startswith(":", pos):
                break
            pos += 1
        m = _ID_FIELD.match(text, pos)
        if not m:
            break
        fields.append(int(m[1], 16) & U16)  # %hx keeps the low 16 bits
        pos = m.end()
        ends.append(pos)
    if len(fields) == 4:
        return (fields[0], fields[1], fields[2], fields[3]), ends[3]
    if len(fields) >= 2:
        return (fields[0], fields[1], 0, 0), ends[1]
    return None


# -- applying the parameters ----------------------------------------------------------------------------------------
@dataclass
class BootLog:
    """Kernel lines printed while ACS is set up. ``once`` lines (pr_*_once) appear a single time per boot."""

    lines: list[str]
    once: set[str]

    def add_once(self, line: str) -> None:
        if line not in self.once:
            self.once.add(line)
            self.lines.append(line)


def boot_ctrl(dev: Device, fw_ctrl: int, boot: BootAcs, up: UpFn, log: BootLog) -> int:
    """The ACS control value pci_enable_acs() writes for ``dev`` (capability present), as the register reads back."""
    cap = dev.acs.cap
    ctrl = fw_ctrl
    if boot.iommu:
        ctrl |= cap & KERNEL_DEFAULT_BITS
    prefix = f"pci {dev.bdf}: "
    params = boot.params
    if boot.handling is AcsHandling.CLEAR_REDIRECT:
        if params.disable_acs_redir is not None:
            matched = _scan(params.disable_acs_redir, dev, up, log, None)
            if matched:
                ctrl &= ~acsbits.REDIRECT_BITS
                log.lines.append(prefix + "disabled ACS redirect")
        if params.config_acs is not None:
            log.add_once(f"PCI: Unknown option `config_acs={params.config_acs}'")
    else:
        redirect = acsbits.REDIRECT_BITS
        for text, fixed_mask, fixed_flags in (
            (params.disable_acs_redir, redirect, ~redirect & U16),
            (params.config_acs, 0, 0),
        ):
            if text is None:
                continue
            found = _scan(text, dev, up, log, (fixed_mask, fixed_flags, boot.handling is AcsHandling.BUGGY_CONFIG))
            if found is None or found is False:
                continue
            mask, flags = found
            if boot.handling is AcsHandling.CONFIG:
                ctrl = (fw_ctrl & ~mask) | (flags & mask)
            else:
                ctrl = ((ctrl & ~mask) | (fw_ctrl & mask) | flags) & U16
            log.lines.append(prefix + f"Configured ACS to {ctrl:#06x}")
    # Control bits of capabilities a port does not implement are hardwired to 0.
    return ctrl & cap & acsbits.ALL_BITS


def _scan(text: str, dev: Device, up: UpFn, log: BootLog, config: tuple[int, int, bool] | None):
    """Walk a ';'-separated parameter as the kernel does for one device.

    ``config`` None: the pre-6.11 disable_acs_redir loop; returns True on a match.
    Otherwise (mask, flags, buggy): the 6.11+ __pci_config_acs() loop; returns (mask, flags) on a match, None if the
    device is not named or the parameter is rejected for it.
    """
    prefix = f"pci {dev.bdf}: "
    if config is not None:
        fixed_mask, fixed_flags, buggy = config
        mask, flags = fixed_mask, fixed_flags
    p = text
    ret = 0
    while p:
        if config is not None and (not mask if buggy else not fixed_mask):
            at = p.find("@")
            if at < 0:
                log.lines.append(prefix + "ACS Flags missing")
                return None
            if not buggy:
                mask = flags = 0
            for shift, ch in enumerate(reversed(p[:at])):
                if ch == "0":
                    mask |= 1 << shift
                elif ch == "1":
                    mask |= 1 << shift
                    flags |= 1 << shift
                elif ch not in "xX":
                    log.lines.append(prefix + "Invalid ACS flags... Ignoring")
                    return None
            p = p[at + 1 :]
        if config is not None and mask & ~acsbits.ALL_BITS:
            log.lines.append(prefix + "Invalid ACS flags specified")
            return None
        ret, p = match_selector(p, dev, up)
        if ret < 0:
            if config is None:
                log.add_once(f"PCI: Can't parse disable_acs_redir parameter: {text}")
            else:
                log.add_once("PCI: Can't parse ACS command line parameter")
            break
        if ret == 1:
            break
        if not p or p[0] not in ";,":
            break
        p = p[1:]
    if ret != 1:
        return None if config is not None else False
    return (mask, flags) if config is not None else True


def no_cap_warning(dev: Device, boot: BootAcs, up: UpFn, log: BootLog) -> None:
    """Before 6.11 a device without an ACS capability named in disable_acs_redir got a warning; later releases skip
    such devices silently."""
    if boot.handling is not AcsHandling.CLEAR_REDIRECT or boot.params.disable_acs_redir is None:
        return
    if _scan(boot.params.disable_acs_redir, dev, up, log, None):
        log.lines.append(
            f"pci {dev.bdf}: cannot disable ACS redirect for this hardware as it does not have ACS capabilities"
        )


def same_boot(a: BootAcs, b: BootAcs) -> bool:
    """Would both configurations program the same ACS values? The release only matters when parameters are given."""
    if a.iommu != b.iommu or a.params != b.params:
        return False
    return a.handling == b.handling or a.params == PciParams()


def live_ctrl(dev: Device, boot: BootAcs, booted: BootAcs, up: UpFn, log: BootLog) -> tuple[int, str | None]:
    """The live ACS control value of ``dev`` under ``boot``, and a note when it rests on an assumption.

    HARDWARE values were read on a machine booted as ``booted``; when ``boot`` differs (a what-if, or command-line
    flags) the value is re-derived as if rebooted, taking the read value for firmware plus kernel defaults: with an
    IOMMU the bits the kernel adds (SV RR CR UF) are assumed to be the kernel's, the rest firmware's.
    """
    acs = dev.acs
    if acs.source is AcsSource.KERNEL_DEFAULT:
        return boot_ctrl(dev, acs.firmware_ctrl, boot, up, log), None
    if acs.source is not AcsSource.HARDWARE:
        if acs.source is AcsSource.NONE:
            no_cap_warning(dev, boot, up, log)
        return 0, None
    if same_boot(boot, booted):
        return acs.ctrl, None
    firmware = acs.ctrl & ~KERNEL_DEFAULT_BITS if booted.iommu else acs.ctrl
    note = None
    if acs.ctrl & acsbits.REDIRECT_BITS:
        note = f"{dev.bdf}: ACS control {acsbits.describe(acs.ctrl)} was read from hardware; for this what-if the " + (
            "RR/CR bits are taken as the kernel's IOMMU default" if booted.iommu else "bits are taken as firmware's"
        )
    return boot_ctrl(dev, firmware, boot, up, log), note
