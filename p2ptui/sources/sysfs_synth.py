"""Write synthetic sysfs roots with real config-space bytes, for tests and benchmarks (the reader's counterpart,
as fabric.synth is the model's: no p2ptui command writes them).

A root looks like what the kernel shows (and hwloc-gather-topology copies): ``sys/devices/pciDDDD:BB/`` with
function directories nested along the bridges, the ``sys/bus/pci/devices`` links into them, class links
(nvme, net, infiniband), IOMMU groups, and ``proc/`` files for host facts. Config space is built byte by byte:
a type 0 or type 1 header with bus numbers, a capability list (PM, then PCI Express with port type, link and
MPS/MRRS) and, from 0x100, extended capabilities (AER, then ACS with capability and control registers), so
``lspci -A linux-sysfs -O sysfs.path=ROOT/sys/bus/pci -vvv`` decodes the same root.

Usage::

    from p2ptui.sources.sysfs_synth import Fn, HostSpec, write_sysfs, root_port, upstream, downstream, endpoint
    write_sysfs(tmp_path, {"0000:00": [root_port("00:01.0", upstream("01:00.0", downstream("02:00.0",
                endpoint("03:00.0", nvme="nvme0"))))]})
"""

from __future__ import annotations

import os
import struct
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PT_ENDPOINT = 0x0
PT_ROOT_PORT = 0x4
PT_UPSTREAM = 0x5
PT_DOWNSTREAM = 0x6
PT_PCIE_TO_PCI = 0x7
PT_RC_ENDPOINT = 0x9
RATES = {1: "2.5", 2: "5.0", 3: "8.0", 4: "16.0", 5: "32.0", 6: "64.0", 7: "128.0"}
PM_CAP = 0x40
PCIE_CAP = 0x60
AER_CAP = 0x100
ACS_CAP = 0x148  # right after AER's 0x48 bytes, as on many real ports


@dataclass
class Fn:
    """One PCI function. ``bdf`` may omit the domain (taken from its root bus)."""

    bdf: str
    vendor: int = 0x1B4B
    device: int = 0x0001
    class_code: int = 0x058000
    revision: int = 0x01
    subsystem: tuple[int, int] = (0x1B4B, 0x0001)
    port_type: int | None = PT_ENDPOINT  # None: conventional PCI, no PCI Express capability
    link: tuple[int, int, int, int] | None = (3, 4, 3, 4)  # gen, width, max gen, max width
    link_files: bool = True  # write current_link_* / max_link_* (kernels ≥ 4.13 do)
    mps: int = 256
    mrrs: int = 512
    acs: tuple[int, int] | None = None  # (capability, control) registers
    config_size: int | None = None  # bytes of config to write: None = the full space (4096 PCIe, 256 PCI)
    driver: str | None = None
    numa_node: int = -1
    iommu_group: int | None = None
    nvme: str | None = None
    net: str | None = None
    rdma: str | None = None
    p2pmem: tuple[int, int, bool, bool] | None = None  # size, available, published, allocate
    children: list[Fn] = field(default_factory=list)
    vfs: list[Fn] = field(default_factory=list)
    secondary: int | None = None  # secondary bus of a bridge with nothing below it
    extra_files: dict[str, bytes] = field(default_factory=dict)  # raw overrides, e.g. {"numa_node": b"99999\n"}

    @property
    def is_bridge(self) -> bool:
        return (
            self.port_type in (PT_ROOT_PORT, PT_UPSTREAM, PT_DOWNSTREAM, PT_PCIE_TO_PCI)
            or bool(self.children)
            or self.class_code >> 8 == 0x0604
        )


def _port(bdf: str, port_type: int, children: tuple[Fn, ...], kw: dict[str, Any], **defaults: Any) -> Fn:
    """A PCI-to-PCI bridge of ``port_type`` driven by pcieport, with ``defaults`` (IDs, link, ACS) where ``kw`` (the
    caller's keywords) gives none."""
    settings = {"driver": "pcieport", **defaults, **kw}
    return Fn(bdf, class_code=0x060400, port_type=port_type, children=list(children), **settings)


def root_port(bdf: str, *children: Fn, **kw: Any) -> Fn:
    return _port(bdf, PT_ROOT_PORT, children, kw, vendor=0x8086, device=0x2030, link=(3, 16, 3, 16))


def upstream(bdf: str, *children: Fn, **kw: Any) -> Fn:
    return _port(bdf, PT_UPSTREAM, children, kw, vendor=0x10B5, device=0x8796, link=(3, 16, 3, 16))


def downstream(bdf: str, *children: Fn, **kw: Any) -> Fn:
    return _port(bdf, PT_DOWNSTREAM, children, kw, vendor=0x10B5, device=0x8796, link=(3, 4, 3, 4), acs=(0x7F, 0x00))


def endpoint(bdf: str, **kw) -> Fn:
    """An NVMe controller unless told otherwise (class_code=..., nvme/net/rdma names)."""
    kw.setdefault("vendor", 0x144D)
    kw.setdefault("device", 0xA808)
    kw.setdefault("class_code", 0x010802)
    kw.setdefault("driver", "nvme")
    return Fn(bdf, **kw)


def host_bridge(bdf: str, **kw) -> Fn:
    kw.setdefault("vendor", 0x8086)
    kw.setdefault("device", 0x2020)
    return Fn(bdf, class_code=0x060000, port_type=None, link=None, **kw)


@dataclass
class HostSpec:
    vendor_id: str | None = "GenuineIntel"  # None: no proc/cpuinfo
    family: int = 6
    model_name: str = "Intel(R) Xeon(R) Gold 6130 CPU @ 2.10GHz"
    kernel: str | None = "6.8.0-45-generic"
    cmdline: str | None = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro"
    iommu_units: tuple[str, ...] = ()  # e.g. ("dmar0",); () with class_iommu=True means no IOMMU
    class_iommu: bool = True  # write sys/class/iommu at all (hwloc snapshots do not)
    iommu_type: str = "DMA"  # domain type of every IOMMU group: DMA, DMA-FQ, identity


def full_bdf(bdf: str, domain: int) -> str:
    return bdf if bdf.count(":") == 2 else f"{domain:04x}:{bdf}"


def bus_of(bdf: str) -> int:
    return int(bdf.split(":")[-2], 16)


def config_bytes(fn: Fn, domain: int, multifunction: bool = False) -> bytes:
    """The function's config space as hardware would answer, cut to ``fn.config_size``."""
    bridge = fn.is_bridge
    size = 4096 if fn.port_type is not None else 256
    cfg = bytearray(size)
    struct.pack_into("<HHHH", cfg, 0, fn.vendor, fn.device, 0x0406, 0x0010)  # status: capability list
    cfg[0x08] = fn.revision
    cfg[0x09], cfg[0x0A], cfg[0x0B] = fn.class_code & 0xFF, (fn.class_code >> 8) & 0xFF, fn.class_code >> 16
    cfg[0x0E] = (1 if bridge else 0) | (0x80 if multifunction else 0)
    if bridge:
        cfg[0x18] = bus_of(fn.bdf)
        cfg[0x19] = _secondary(fn)
        cfg[0x1A] = _subordinate(fn)
    else:
        struct.pack_into("<HH", cfg, 0x2C, *fn.subsystem)
    cfg[0x34] = PM_CAP
    cfg[PM_CAP], cfg[PM_CAP + 1] = 0x01, PCIE_CAP if fn.port_type is not None else 0x00
    struct.pack_into("<H", cfg, PM_CAP + 2, 0x0003)  # PM version 3
    if fn.port_type is not None:
        cfg[PCIE_CAP], cfg[PCIE_CAP + 1] = 0x10, 0x00
        slot = 0x0100 if fn.port_type in (PT_ROOT_PORT, PT_DOWNSTREAM) else 0
        struct.pack_into("<H", cfg, PCIE_CAP + 2, 0x0002 | (fn.port_type << 4) | slot)
        struct.pack_into("<I", cfg, PCIE_CAP + 4, 0x0002)  # DevCap: 512-byte max payload supported
        devctl = (_size_code(fn.mps) << 5) | (_size_code(fn.mrrs) << 12)
        struct.pack_into("<H", cfg, PCIE_CAP + 8, devctl)
        if fn.link is not None:
            gen, width, max_gen, max_width = fn.link
            struct.pack_into("<I", cfg, PCIE_CAP + 0x0C, max_gen | (max_width << 4) | (1 << 24))
            struct.pack_into("<H", cfg, PCIE_CAP + 0x12, gen | (width << 4))
        next_ext = ACS_CAP if fn.acs is not None else 0
        struct.pack_into("<I", cfg, AER_CAP, 0x0001 | (1 << 16) | (next_ext << 20))
        if fn.acs is not None:
            struct.pack_into("<I", cfg, ACS_CAP, 0x000D | (1 << 16))
            struct.pack_into("<HH", cfg, ACS_CAP + 4, *fn.acs)
    return bytes(cfg[: fn.config_size or size])


def _size_code(size: int) -> int:
    return {128: 0, 256: 1, 512: 2, 1024: 3, 2048: 4, 4096: 5}[size]


def _secondary(fn: Fn) -> int:
    if fn.children:
        return bus_of(fn.children[0].bdf)
    return fn.secondary if fn.secondary is not None else bus_of(fn.bdf) + 1


def _subordinate(fn: Fn) -> int:
    top = _secondary(fn)
    for child in fn.children:
        top = max(top, bus_of(child.bdf), *(bus_of(vf.bdf) for vf in child.vfs))
        if child.is_bridge:
            top = max(top, _subordinate(child))
    return top


class _Writer:
    def __init__(self, root: Path):
        self.root = root
        self.sys = root / "sys"

    def file(self, path: Path, data: bytes | str) -> None:
        path.write_bytes(data.encode() if isinstance(data, str) else data)

    def link(self, path: Path, target: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(target, path.parent), path)

    def function(self, fn: Fn, parent_dir: Path, domain: int, siblings: list[Fn], pf_dir: Path | None = None) -> Path:
        bdf = full_bdf(fn.bdf, domain)
        d = parent_dir / bdf
        d.mkdir(parents=True)
        multi = any(s is not fn and s.bdf.rsplit(".", 1)[0] == fn.bdf.rsplit(".", 1)[0] for s in siblings)
        files = {
            "vendor": f"0x{fn.vendor:04x}\n",
            "device": f"0x{fn.device:04x}\n",
            "class": f"0x{fn.class_code:06x}\n",
            "revision": f"0x{fn.revision:02x}\n",
            "subsystem_vendor": f"0x{fn.subsystem[0]:04x}\n",
            "subsystem_device": f"0x{fn.subsystem[1]:04x}\n",
            "numa_node": f"{fn.numa_node}\n",
            "irq": "0\n",
            "enable": "1\n",
            "resource": "0x0000000000000000 0x0000000000000000 0x0000000000000000\n" * 13,
        }
        if fn.link is not None and fn.link_files and fn.port_type is not None:
            gen, width, max_gen, max_width = fn.link
            files["current_link_speed"] = f"{RATES[gen]} GT/s PCIe\n"
            files["current_link_width"] = f"{width}\n"
            files["max_link_speed"] = f"{RATES[max_gen]} GT/s PCIe\n"
            files["max_link_width"] = f"{max_width}\n"
        if fn.is_bridge:
            files["secondary_bus_number"] = f"{_secondary(fn)}\n"
            files["subordinate_bus_number"] = f"{_subordinate(fn)}\n"
        for name, data in files.items():
            self.file(d / name, data)
        self.file(d / "config", config_bytes(fn, domain, multi))
        for name, raw in fn.extra_files.items():
            self.file(d / name, raw)
        self.link(self.sys / "bus/pci/devices" / bdf, d)
        if fn.driver:
            drv = self.sys / "bus/pci/drivers" / fn.driver
            drv.mkdir(parents=True, exist_ok=True)
            self.link(d / "driver", drv)
        if fn.iommu_group is not None:
            group = self.sys / "kernel/iommu_groups" / str(fn.iommu_group)
            (group / "devices").mkdir(parents=True, exist_ok=True)
            self.link(d / "iommu_group", group)
            self.link(group / "devices" / bdf, d)
        for cls, member in (("nvme", fn.nvme), ("net", fn.net), ("infiniband", fn.rdma)):
            if member:
                (d / cls / member).mkdir(parents=True)
                self.link(self.sys / "class" / cls / member, d / cls / member)
        if fn.p2pmem is not None:
            size, available, published, allocate = fn.p2pmem
            (d / "p2pmem").mkdir()
            self.file(d / "p2pmem/size", f"{size}\n")
            self.file(d / "p2pmem/available", f"{available}\n")
            self.file(d / "p2pmem/published", f"{int(published)}\n")
            if allocate:
                self.file(d / "p2pmem/allocate", b"")
        if pf_dir is not None:
            self.link(d / "physfn", pf_dir)
        for i, vf in enumerate(fn.vfs):
            vf_dir = self.function(vf, parent_dir, domain, [], pf_dir=d)
            self.link(d / f"virtfn{i}", vf_dir)
        if fn.vfs:
            self.file(d / "sriov_totalvfs", f"{len(fn.vfs)}\n")
            self.file(d / "sriov_numvfs", f"{len(fn.vfs)}\n")
        for child in fn.children:
            self.function(child, d, domain, fn.children)
        return d

    def host(self, spec: HostSpec, groups: set[int]) -> None:
        proc = self.root / "proc"
        (proc / "sys/kernel").mkdir(parents=True, exist_ok=True)
        if spec.vendor_id is not None:
            block = (
                f"processor\t: 0\nvendor_id\t: {spec.vendor_id}\ncpu family\t: {spec.family}\nmodel\t\t: 85\n"
                f"model name\t: {spec.model_name}\nstepping\t: 4\n\n"
            )
            self.file(proc / "cpuinfo", block + block.replace("processor\t: 0", "processor\t: 1"))
        if spec.kernel is not None:
            self.file(proc / "sys/kernel/osrelease", f"{spec.kernel}\n")
            self.file(proc / "version", f"Linux version {spec.kernel} (builder@fixture) #1 SMP\n")
        if spec.cmdline is not None:
            self.file(proc / "cmdline", f"{spec.cmdline}\n")
        if spec.class_iommu:
            (self.sys / "class/iommu").mkdir(parents=True, exist_ok=True)
            for unit in spec.iommu_units:
                target = self.sys / "devices/virtual/iommu" / unit
                target.mkdir(parents=True)
                self.link(self.sys / "class/iommu" / unit, target)
        for group in groups:
            self.file(self.sys / "kernel/iommu_groups" / str(group) / "type", f"{spec.iommu_type}\n")


def write_sysfs(root: Path, buses: dict[str, list[Fn]], host: HostSpec | None = None) -> Path:
    """Write a sysfs root under ``root`` (created); ``buses`` maps ``DDDD:BB`` to the functions on that root bus."""
    root = Path(root)
    w = _Writer(root)
    (w.sys / "bus/pci/devices").mkdir(parents=True, exist_ok=True)
    (w.sys / "class").mkdir(parents=True, exist_ok=True)
    groups: set[int] = set()
    for bus, fns in buses.items():
        domain = int(bus.split(":")[0], 16)
        bridge_dir = w.sys / "devices" / f"pci{bus}"
        bridge_dir.mkdir(parents=True)
        for fn in fns:
            w.function(fn, bridge_dir, domain, fns)
        groups.update(_groups(fns))
    w.host(host or HostSpec(), groups)
    return root


def _groups(fns: list[Fn]) -> set[int]:
    out: set[int] = set()
    for fn in fns:
        if fn.iommu_group is not None:
            out.add(fn.iommu_group)
        out |= _groups(fn.children) | _groups(fn.vfs)
    return out


def tar_root(root: Path, out: Path, arcname: str = "snapshot") -> Path:
    """Pack a root the way hwloc-gather-topology does (GNU tar, everything under one top directory)."""
    compression = {".bz2": "bz2", ".gz": "gz", ".xz": "xz"}.get(out.suffix, "")
    with tarfile.open(out, f"w:{compression}", format=tarfile.GNU_FORMAT) as tar:  # type: ignore[call-overload]  # a mode made at run time
        tar.add(root, arcname=arcname)
    return out


def iter_functions(fns: list[Fn]):
    """Every function of a spec (children and VFs included), depth first."""
    for fn in fns:
        yield fn
        yield from iter_functions(fn.vfs)
        yield from iter_functions(fn.children)


def switch_fabric(downstream_ports: int = 4, vfs: int = 0) -> dict[str, list[Fn]]:
    """A typical P2P box: a root port, a Gen4 switch with NVMe drives (CMB pools) and an RDMA NIC with VFs."""
    ports = []
    for i in range(downstream_ports):
        bus = 3 + i
        if i == 0:
            nic = endpoint(
                f"{bus:02x}:00.0",
                vendor=0x15B3,
                device=0x101B,
                class_code=0x020000,
                driver="mlx5_core",
                net="ens1f0np0",
                rdma="mlx5_0",
                link=(4, 16, 4, 16),
                iommu_group=20,
                numa_node=0,
                vfs=[
                    endpoint(
                        f"{bus:02x}:00.{k + 1}",
                        vendor=0x15B3,
                        device=0x101C,
                        class_code=0x020000,
                        driver="mlx5_core",
                        link=None,
                        iommu_group=40 + k,
                        numa_node=0,
                    )
                    for k in range(vfs)
                ],
            )
            ports.append(downstream(f"02:{i:02x}.0", nic, link=(4, 16, 4, 16), iommu_group=10 + i))
        else:
            ssd = endpoint(
                f"{bus:02x}:00.0",
                nvme=f"nvme{i - 1}",
                link=(4, 4, 4, 4),
                iommu_group=20 + i,
                numa_node=0,
                p2pmem=((i * 64) << 20, (i * 32) << 20, True, i % 2 == 1),
                acs=None,
            )
            ports.append(downstream(f"02:{i:02x}.0", ssd, link=(4, 4, 4, 4), iommu_group=10 + i, acs=(0x5F, 0x0D)))
    sw = upstream("01:00.0", *ports, vendor=0x1000, device=0xC010, link=(4, 16, 4, 16), iommu_group=2)
    rp = root_port("00:01.0", sw, link=(4, 16, 4, 16), iommu_group=1, acs=(0x1F, 0x00))
    return {"0000:00": [host_bridge("00:00.0"), rp]}


def large_spec(functions: int, ports_per_switch: int = 15) -> dict[str, list[Fn]]:
    """At least ``functions`` functions: root ports, each with a switch of NVMe drives, spread over as many PCI
    domains as the 256 bus numbers per domain require. Each domain starts with a host bridge function."""
    group = 2 + 2 * ports_per_switch  # root port, upstream port, downstream ports, one drive each
    buses_per_group = 2 + ports_per_switch
    per_domain = (255 - 1) // buses_per_group
    buses: dict[str, list[Fn]] = {}
    count = 0
    domain = 0
    while count < functions:
        fns: list[Fn] = [host_bridge("00:00.0", numa_node=domain % 2)]
        count += 1
        next_bus = 1
        for g in range(per_domain):
            if count >= functions:
                break
            up_bus, dsp_bus = next_bus, next_bus + 1
            ports = []
            for p in range(ports_per_switch):
                ep_bus = dsp_bus + 1 + p
                drive = endpoint(
                    f"{ep_bus:02x}:00.0", nvme=None, link=(4, 4, 4, 4), iommu_group=None, numa_node=domain % 2
                )
                ports.append(downstream(f"{dsp_bus:02x}:{p:02x}.0", drive, link=(4, 4, 4, 4)))
            sw = upstream(f"{up_bus:02x}:00.0", *ports)
            fns.append(root_port(f"00:{g + 1:02x}.0", sw, numa_node=domain % 2))
            count += group
            next_bus = dsp_bus + 1 + ports_per_switch
        buses[f"{domain:04x}:00"] = fns
        domain += 1
    return buses
