"""Synthetic fleet nodes, for tests and benchmarks: sysfs roots of a GPU switch box and of a DGX-class box, with
knobs for the ways a node drifts from its peers (bus numbers, link widths, ACS redirect, a missing or an extra
device). Built with sources.sysfs_synth, so every node is read by the real sysfs reader."""

from __future__ import annotations

from pathlib import Path

from ..sources.sysfs_synth import Fn, HostSpec, downstream, endpoint, host_bridge, root_port, upstream, write_sysfs

GPU = dict(vendor=0x10DE, device=0x20B0, class_code=0x030200, driver="nvidia")
NIC = dict(vendor=0x15B3, device=0x101B, class_code=0x020000, driver="mlx5_core")


def gpu_box(
    base: int = 0, *, gpu_width: int = 16, redirect: bool = False, nic: bool = True, deep: int = 0
) -> dict[str, list[Fn]]:
    """A root port, a switch with a GPU and an RDMA NIC (and an NVMe drive); bus numbers start ``base`` higher.

    ``redirect`` sets ACS P2P request/completion redirect on the GPU's downstream port; ``deep`` nests that many
    extra switch levels above the devices (long sysfs paths)."""
    b = base + 2 * deep
    gpu = endpoint(f"{b + 3:02x}:00.0", link=(4, gpu_width, 4, 16), iommu_group=20, **GPU)
    ports = [
        downstream(f"{b + 2:02x}:00.0", gpu, link=(4, gpu_width, 4, 16), acs=(0x5F, 0x0D if redirect else 0x00)),
    ]
    if nic:
        nic_fn = endpoint(f"{b + 4:02x}:00.0", link=(4, 16, 4, 16), rdma="mlx5_0", net="ib0", iommu_group=21, **NIC)
        ports.append(downstream(f"{b + 2:02x}:01.0", nic_fn, link=(4, 16, 4, 16), acs=(0x5F, 0x00)))
    ssd = endpoint(f"{b + 5:02x}:00.0", nvme="nvme0", link=(4, 4, 4, 4), iommu_group=22)
    ports.append(downstream(f"{b + 2:02x}:02.0", ssd, link=(4, 4, 4, 4), acs=(0x5F, 0x00)))
    top: Fn = upstream(f"{b + 1:02x}:00.0", *ports, link=(4, 16, 4, 16))
    for level in reversed(range(deep)):
        bus = base + 1 + 2 * level
        top = upstream(f"{bus:02x}:00.0", downstream(f"{bus + 1:02x}:00.0", top, link=(4, 16, 4, 16)))
    return {"0000:00": [host_bridge("00:00.0"), root_port("00:01.0", top, link=(4, 16, 4, 16))]}


def write_node(root: Path, spec: dict[str, list[Fn]], host: HostSpec | None = None) -> Path:
    return write_sysfs(root, spec, host or HostSpec(iommu_units=("dmar0",)))


def dgx_spec(
    *,
    shift: int = 0,
    narrow_gpu: int | None = None,
    redirect_port: int | None = None,
    missing_nic: int | None = None,
    extra_nvme: int | None = None,
) -> dict[str, list[Fn]]:
    """A DGX-class box: four root complexes, each a root port and a Gen4 switch with two GPUs, a NIC and an NVMe
    drive (49 functions with the host bridges). Drift knobs: ``shift`` moves every bus number up (a BIOS that
    numbers differently), ``narrow_gpu`` trains that GPU at x8, ``redirect_port`` sets ACS redirect on that GPU's
    downstream port, ``missing_nic`` drops that switch's NIC, ``extra_nvme`` adds a drive on a fifth port there."""
    buses: dict[str, list[Fn]] = {}
    for sw in range(4):
        root = 0x40 * sw
        b = root + shift
        ports = []
        for p in range(2):
            g = 2 * sw + p
            width = 8 if narrow_gpu == g else 16
            gpu = endpoint(
                f"{b + 3 + p:02x}:00.0",
                link=(4, width, 4, 16),
                iommu_group=100 + g,
                numa_node=sw // 2,
                p2pmem=(64 << 30, 64 << 30, True, True),
                **GPU,
            )
            ports.append(
                downstream(
                    f"{b + 2:02x}:{p:02x}.0",
                    gpu,
                    link=(4, width, 4, 16),
                    acs=(0x5F, 0x0D if redirect_port == g else 0x00),
                )
            )
        if missing_nic != sw:
            nic = endpoint(
                f"{b + 5:02x}:00.0",
                link=(4, 16, 4, 16),
                rdma=f"mlx5_{sw}",
                iommu_group=120 + sw,
                numa_node=sw // 2,
                **NIC,
            )
            ports.append(downstream(f"{b + 2:02x}:02.0", nic, link=(4, 16, 4, 16), acs=(0x5F, 0x00)))
        ssd = endpoint(f"{b + 6:02x}:00.0", link=(4, 4, 4, 4), iommu_group=130 + sw, numa_node=sw // 2)
        ports.append(downstream(f"{b + 2:02x}:03.0", ssd, link=(4, 4, 4, 4), acs=(0x5F, 0x00)))
        if extra_nvme == sw:
            more = endpoint(f"{b + 7:02x}:00.0", link=(4, 4, 4, 4), iommu_group=140 + sw, numa_node=sw // 2)
            ports.append(downstream(f"{b + 2:02x}:04.0", more, link=(4, 4, 4, 4), acs=(0x5F, 0x00)))
        switch = upstream(f"{b + 1:02x}:00.0", *ports, vendor=0x1000, device=0xC010, link=(4, 16, 4, 16))
        rp = root_port(
            f"{root:02x}:01.0",
            switch,
            vendor=0x1022,
            device=0x1483,
            link=(4, 16, 4, 16),
            numa_node=sw // 2,
            acs=(0x1F, 0x00),
        )
        buses[f"0000:{root:02x}"] = [host_bridge(f"{root:02x}:00.0", vendor=0x1022, device=0x1480), rp]
    return buses


def amd_host(**kw) -> HostSpec:
    kw.setdefault("iommu_units", ("ivhd0",))
    return HostSpec(vendor_id="AuthenticAMD", family=0x17, model_name="AMD EPYC 7742 64-Core Processor", **kw)
