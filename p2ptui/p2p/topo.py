"""nvidia-smi ``topo -m`` path classes for a pair of functions, beside the kernel's verdict.

nvidia-smi's legend (data/FORMATS.md "Path classes"): X self; PIX at most a single PCIe bridge; PXB multiple PCIe
bridges without the host bridge; PHB through a PCIe host bridge; NODE between host bridges within a NUMA node; SYS
across the SMP interconnect between NUMA nodes. A switch counts as one bridge (older drivers said "a single PCIe
switch"): its downstream ports share the upstream port's count; each root port and PCI bridge counts on its own.
Two functions of one device are PIX, as nvidia-smi reports a dual-port NIC. Unknown NUMA nodes count as the same
node, so SYS is only claimed when both sides are known to differ.
"""

from __future__ import annotations

from enum import StrEnum

from .context import FabricIndex


class TopoClass(StrEnum):
    X = "X"
    PIX = "PIX"
    PXB = "PXB"
    PHB = "PHB"
    NODE = "NODE"
    SYS = "SYS"


TOPO_CLASSES = tuple(TopoClass)
TOPO_CODE = {t: i for i, t in enumerate(TOPO_CLASSES)}


def bridges_between(index: FabricIndex, a: int, b: int, common: int) -> int:
    """Bridges (a switch counting once) on the path a ... common ... b, for a, b below ``common``.

    ``units[d]`` counts the bridge units on chain(d); units are contiguous along a chain, so the units strictly
    below and including the common device's are a difference of counts.
    """
    units, up = index.units, index.up
    above_a = units[up[a]] if up[a] >= 0 else 0
    above_b = units[up[b]] if up[b] >= 0 else 0
    return above_a + above_b - 2 * units[common] + 1


def cross_root_class(index: FabricIndex, rb_a: int, rb_b: int) -> TopoClass:
    """The class of a path that leaves the PCIe tree: one host bridge, two in a node, or two across nodes."""
    if rb_a == rb_b:
        return TopoClass.PHB
    numa_a, numa_b = index.rb_numa[rb_a], index.rb_numa[rb_b]
    if numa_a is not None and numa_b is not None and numa_a != numa_b:
        return TopoClass.SYS
    return TopoClass.NODE


def topo_class(index: FabricIndex, a: int, b: int) -> TopoClass:
    """The nvidia-smi class of functions ``a`` and ``b`` (device indices)."""
    if a == b:
        return TopoClass.X
    pos_b = index.chain_pos(b)
    for x in index.chains[a]:
        if x in pos_b:
            return TopoClass.PIX if bridges_between(index, a, b, x) <= 1 else TopoClass.PXB
    return cross_root_class(index, index.root_bus[a], index.root_bus[b])
