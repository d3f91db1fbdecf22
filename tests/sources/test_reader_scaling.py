"""Damaged but plausible files load in time linear in their size. Each shape here made a reader quadratic (or, for
the SR-IOV stride, endless) until it was fixed; the CPU budgets are a few times what the linear code takes on the
2-core development machine and a fraction of what the old code took, so a return to the old cost fails."""

from __future__ import annotations

import time
from pathlib import Path

from p2ptui.fabric import BDF
from p2ptui.sources import lspci, nccl

CONNECTX5 = "Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]"


def cpu_seconds(load, path: Path):
    start = time.process_time()
    fabric = load(path)
    return fabric, time.process_time() - start


def sriov_block(address: str, vfs: int, stride: int) -> str:
    return (
        f"{address} {CONNECTX5}\n"
        "\tCapabilities: [180 v1] Single Root I/O Virtualization (SR-IOV)\n"
        f"\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: {vfs}, Function Dependency Link: 00\n"
        f"\t\tVF offset: 2, stride: {stride}, Device ID: 1018\n\n"
    )


def test_an_sriov_stride_of_zero_does_not_count_out_a_billion_vfs(tmp_path: Path) -> None:
    """A stride of 0 never leaves the 16-bit routing ID space: the old loop ran "Number of VFs" times."""
    path = tmp_path / "stride0.txt"
    path.write_text(sriov_block("0000:01:00.0", 999_999_999, 0) + f"0000:01:00.2 {CONNECTX5}\n\n")
    fabric, spent = cpu_seconds(lspci.load, path)
    assert spent < 2.0
    assert fabric.device(BDF(0, 1, 0, 2)).physfn == BDF(0, 1, 0, 0)  # every VF of a zero stride is the first one


def test_many_pfs_claiming_65535_vfs_cost_what_the_file_holds(tmp_path: Path) -> None:
    """Each PF counted out all 65,535 routing IDs it claims (30 ms a PF); now only the functions present count."""
    blocks = [sriov_block(f"{i // 256:04x}:00:{(i % 256) >> 3:02x}.{i & 7}", 65535, 1) for i in range(600)]
    path = tmp_path / "pfs.txt"
    path.write_text("".join(blocks))
    fabric, spent = cpu_seconds(lspci.load, path)
    assert spent < 2.0, f"{spent:.2f} s for 600 PFs (18 s when each counted out its VFs)"
    # Stride 1 from devfn + 2: a PF's VFs would be the PFs two and more functions on, which the file gives.
    assert fabric.device(BDF(0, 0, 0, 2)).physfn == BDF(0, 0, 0, 0)


def test_thousands_of_domains_with_unowned_buses(tmp_path: Path) -> None:
    """Each bus no bridge owns looked through every record for a host bridge or root port (O(N²))."""
    path = tmp_path / "domains.txt"
    path.write_text("".join(f"{i:04x}:01:00.0 {CONNECTX5}\n\tNUMA node: 0\n\n" for i in range(6000)))
    fabric, spent = cpu_seconds(lspci.load, path)
    assert spent < 2.0, f"{spent:.2f} s for 6,000 domains (about 4 s before)"
    assert len(fabric) == 6000 and len(fabric.root_buses) == 6000
    (guessed,) = [n for n in fabric.notes if "no bridge in the file" in n]
    assert guessed.startswith("buses 0000:01, 0001:01, 0002:01, 0003:01, 0004:01, 0005:01 and 5994 more have")


def test_a_tree_drawn_thousands_of_bridges_deep(tmp_path: Path) -> None:
    """Every function's NUMA node was carried to the top of its chain by a walk of the whole chain (N × depth)."""
    parts = ["-[0000:00]-"]
    for k in range(6000):
        parts.append(f"{'+-' if k == 0 else '----'}{(k // 256) % 32:02x}.{k // 8192}-[{(k + 1) % 256:02x}]")
    path = tmp_path / "chain.txt"
    # A short tree first: detection reads the first 64 KiB, and the chain's one line is longer.
    path.write_text("-[0000:80]-+-00.0  Intel Corporation Device 1234\n" + "".join(parts) + "----00.0  NVMe\n")
    fabric, spent = cpu_seconds(lspci.load, path)
    assert spent < 2.0, f"{spent:.2f} s for a chain of 6,000 bridges (8 s before)"
    assert len(fabric) + len(fabric.unplaced) == 6000 + 2


def test_an_nccl_switch_with_thousands_of_devices(tmp_path: Path) -> None:
    """The devices that do not fit below a switch were found by `in` on a list of nodes compared field by field."""
    children = [
        f'      <pci busid="0000:{2 + i // 256:02x}:{(i % 256) >> 3:02x}.{i & 7}" class="0x020000" vendor="0x15b3" '
        'device="0x1017" link_speed="16 GT/s" link_width="16"/>'
        for i in range(8000)
    ]
    path = tmp_path / "topo.xml"
    path.write_text(
        '<system version="2">\n  <cpu numaid="0" affinity="ff" arch="x86_64" vendor="GenuineIntel" familyid="6">\n'
        '    <pci busid="0000:01:00.0" class="0x060400" link_speed="16 GT/s" link_width="16">\n'
        + "\n".join(children)
        + "\n    </pci>\n  </cpu>\n</system>\n"
    )
    fabric, spent = cpu_seconds(nccl.load, path)
    assert spent < 2.0, f"{spent:.2f} s for a switch of 8,000 devices (5.7 s before)"
    assert len([d for d in fabric if d.kind.is_endpoint]) == 8000
