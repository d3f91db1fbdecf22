"""Host facts and device names from the same root as the PCI tree: procfs for the CPU and kernel, sysfs classes
for the IOMMU and for the names people know devices by (nvme0, eth0, mlx5_0)."""

from __future__ import annotations

import os
import posixpath
from dataclasses import dataclass, field

from ..fabric.bdf import BDF
from ..fabric.cpu_vendors import cpu_vendor
from ..fabric.kernel_version import release_or_note
from ..fabric.limits import CPU_FAMILY, decimal_within
from ..fabric.model import Host, IommuMode
from .sysfs_files import Kind, SysfsFiles
from .sysfs_tree import parse_bdf_dir

HWLOC_INFO = "proc/hwloc-nofile-info"  # hwloc-gather-topology's record of uname
# Where names come from, most specific first: a function keeps the first name found.
NAME_CLASSES = ("nvme", "net", "infiniband")
MAX_GROUPS_CHECKED = 64  # groups of one boot share the default domain type; a sample says it


@dataclass
class HostFacts:
    host: Host
    notes: list[str] = field(default_factory=list)
    hostname: str | None = None


def read_host(files: SysfsFiles, live: bool, any_iommu_group: bool, skipped: list[str] | None = None) -> HostFacts:
    """Host facts; files that exist but cannot be read are added to ``skipped`` by path (absent ones are not)."""
    notes: list[str] = []
    skipped = [] if skipped is None else skipped
    cpu = _cpuinfo(_text(files, "proc/cpuinfo", 64 << 10, skipped))
    info = _hwloc_info(_text(files, HWLOC_INFO, 4096, skipped))
    kernel = _kernel(files, info, skipped)
    arch = info.get("Architecture")
    hostname = info.get("HostName")
    if live:
        uname = os.uname()
        kernel = kernel or uname.release
        arch = arch or uname.machine
        hostname = hostname or uname.nodename
    cmdline = _text(files, "proc/cmdline", 64 << 10, skipped)
    if cpu.get("vendor") is None:
        notes.append("CPU vendor unknown (no readable proc/cpuinfo): the AMD rule of the P2P verdict cannot apply")
    if kernel is None:
        notes.append("kernel version unknown (no proc/version or proc/sys/kernel/osrelease)")
    if cmdline is None:
        notes.append(
            "kernel command line unknown (no proc/cmdline): ACS and IOMMU options cannot be taken into account"
        )
    iommu, iommu_note = _iommu(files, cmdline or "", any_iommu_group, skipped)
    if iommu_note:
        notes.append(iommu_note)
    host = Host(
        cpu_vendor=cpu.get("vendor"),
        cpu_family=cpu.get("family"),
        cpu_model=cpu.get("model"),
        arch=arch or ("x86_64" if cpu.get("vendor") in ("intel", "amd", "hygon") else Host().arch),
        kernel=kernel,
        cmdline=" ".join((cmdline or "").split()),
        iommu=iommu,
    )
    return HostFacts(host, notes, hostname)


def class_names(files: SysfsFiles, skipped: list[str] | None = None) -> dict[BDF, str]:
    """Names from /sys/class/{nvme,net,infiniband}: each entry links into the function's directory."""
    names: dict[BDF, str] = {}
    skipped = [] if skipped is None else skipped
    for cls in NAME_CLASSES:
        listing = _entries(files, f"sys/class/{cls}", skipped)
        for name, kind in sorted(listing or ()):
            if kind is not Kind.LINK:
                continue
            try:
                target = files.readlink(f"sys/class/{cls}/{name}")
            except OSError as exc:
                _skip(files, f"sys/class/{cls}/{name}", exc, skipped)
                continue
            bdf = _last_bdf(target)
            if bdf is not None and bdf not in names:
                names[bdf] = name
    return names


def _last_bdf(path: str) -> BDF | None:
    """The function a class device hangs under: the last PCI address in its path (virtio0/net/eth0 sits below)."""
    for part in reversed(posixpath.normpath(path).split("/")):
        bdf = parse_bdf_dir(part)
        if bdf is not None:
            return bdf
    return None


def _text(files: SysfsFiles, rel: str, limit: int, skipped: list[str]) -> str | None:
    try:
        return files.read(rel, limit).decode("utf-8", "replace")
    except OSError as exc:
        _skip(files, rel, exc, skipped)
        return None


def _entries(files: SysfsFiles, rel: str, skipped: list[str]) -> list[tuple[str, Kind]] | None:
    try:
        return files.entries(rel)
    except OSError as exc:
        _skip(files, rel, exc, skipped, "cannot list ")
        return None


def _skip(files: SysfsFiles, rel: str, exc: OSError, skipped: list[str], doing: str = "") -> None:
    """Note what exists but could not be read (a non-root user); what is absent is no news (older kernels,
    snapshots that leave it out)."""
    if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
        reason = exc.strerror or str(exc)
        skipped.append(f"{files.show(rel)}: {doing}({reason})" if doing else f"{files.show(rel)}: {reason}")


def _cpuinfo(text: str | None) -> dict:
    """Vendor, family and model name of the first processor (all processors of a machine match)."""
    out: dict = {}
    if not text:
        return out
    for line in text.splitlines():
        if not line.strip():
            if out:
                break
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        if key == "vendor_id" and "vendor" not in out:
            out["vendor"] = cpu_vendor(value)
        elif key == "cpu family" and value.isascii() and value.isdigit():
            out["family"] = decimal_within(
                value, CPU_FAMILY
            )  # out of range: unknown, as the YAML loader would refuse it
        elif key == "model name" and value:
            out["model"] = value
    return out


def _hwloc_info(text: str | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in (text or "").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            out[key.strip()] = value.strip()
    return out


def _kernel(files: SysfsFiles, info: dict[str, str], skipped: list[str]) -> str | None:
    """The kernel release from osrelease, proc/version, or hwloc's gather info; a garbled one stays unknown."""
    candidates = []
    release = _text(files, "proc/sys/kernel/osrelease", 256, skipped)
    if release and release.strip():
        candidates.append((release, files.show("proc/sys/kernel/osrelease")))
    version = _text(files, "proc/version", 4096, skipped)
    if version:
        words = version.split()
        if len(words) >= 3 and words[:2] == ["Linux", "version"]:
            candidates.append((words[2], files.show("proc/version")))
    if info.get("OSRelease"):
        candidates.append((info["OSRelease"], "the snapshot's OSRelease"))
    for text, where in candidates:
        kernel, note = release_or_note(text, where)
        if kernel is not None:
            return kernel
        if note is not None:
            skipped.append(note)
    return None


def _iommu(files: SysfsFiles, cmdline: str, any_iommu_group: bool, skipped: list[str]) -> tuple[IommuMode, str | None]:
    """Whether an IOMMU translates DMA: present units from sys/class/iommu, the mode from the groups' domain type."""
    listing = _entries(files, "sys/class/iommu", skipped)
    units = None if listing is None else [name for name, _ in listing]
    if units is None and not any_iommu_group:
        return IommuMode.UNKNOWN, "IOMMU state unknown: this root has no readable sys/class/iommu"
    if not units and not any_iommu_group:
        return IommuMode.OFF, None
    types = _group_types(files, skipped)
    if types & {"DMA", "DMA-FQ"}:
        return IommuMode.TRANSLATED, None
    if types == {"identity"}:
        return IommuMode.PASSTHROUGH, None
    words = cmdline.split()
    if "iommu=pt" in words or "iommu.passthrough=1" in words:
        return IommuMode.PASSTHROUGH, None
    return IommuMode.UNKNOWN, (
        "IOMMU present but its mode is unknown (no readable sys/kernel/iommu_groups/*/type): "
        "translated and passthrough treat P2P differently"
    )


def _group_types(files: SysfsFiles, skipped: list[str]) -> set[str]:
    types: set[str] = set()
    groups = _entries(files, "sys/kernel/iommu_groups", skipped)
    checked = 0
    for name, kind in groups or ():
        if kind is not Kind.DIR:
            continue
        checked += 1
        text = _text(files, f"sys/kernel/iommu_groups/{name}/type", 64, skipped)
        if text and text.strip():
            types.add(text.strip())
        if len(types) > 1 or checked >= MAX_GROUPS_CHECKED:
            break
    return types
