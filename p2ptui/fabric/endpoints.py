"""Which functions are P2P endpoints: the devices a peer-to-peer DMA user asks about, by PCI class.

A real server has dozens to hundreds of PCI functions that are neither bridges nor anything P2P can use: chipset
"system peripherals" (0x0880), performance counters (0x1101), SMBus, USB, SATA and ISA bridges, audio. ``nvidia-smi
topo -m`` shows GPUs and NICs; hwloc keeps only "important" PCI devices by default. p2ptui keeps a function when
its kind or class (PCI Code and ID Assignment Specification, base class / subclass) says it is one of:

* ``nvme``        NVMe controllers (01/08): the usual P2P memory provider and client
* ``storage``     other discrete storage controllers: SCSI (01/00), RAID (01/04), SAS (01/07), UFS (01/09), other
                  mass storage (01/80), Fibre Channel (0c/04). Left out: IDE, floppy, IPI, ATA and SATA (01/01-01/06),
                  the chipset's disk ports, whose disks are not PCI functions
* ``nic``         network controllers (02/xx) and InfiniBand (0c/06): RDMA clients
* ``gpu``         display and 3D controllers (03/xx)
* ``multimedia``  video capture and other multimedia controllers that DMA frames (04/00, 04/80); audio and
                  telephony (04/01-04/03, e.g. a GPU's HDMI audio function) are left out
* ``accelerator`` processing accelerators (12/xx) and co-processors, processors (0b/xx): Xeon Phi, NEC vector
                  engines, QAT; and DMA engines known by their driver (Intel DSA/IAA ``idxd``, QuickData ``ioatdma``,
                  AMD ``ptdma``/``ae4dma``, PLX ``plx_dma``, Switchtec ``switchtec_dma``), which call themselves
                  "system peripherals" (08/80) like the chipset functions around them
* ``memory``      CXL memory devices (05/02). Plain "RAM memory" (05/00) is mostly chipset SRAM and is left out
* ``fpga``        functions the source calls FPGAs, and functions of FPGA vendors (Xilinx 10ee, Altera 1172), whose
                  class is whatever the design chose
* ``other``       any other function that has a P2P memory pool: it can be a provider, so it matters

Bridges and host bridges are never endpoints. ``check`` takes any function; this filter is for listings.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum

from .kinds import DeviceKind
from .model import Device, Fabric


class EndpointClass(StrEnum):
    NVME = "nvme"
    STORAGE = "storage"
    NIC = "nic"
    GPU = "gpu"
    MULTIMEDIA = "multimedia"
    ACCELERATOR = "accelerator"
    MEMORY = "memory"
    FPGA = "fpga"
    OTHER = "other"


# Kinds the readers already decided from the class code or the port type (or a YAML author stated).
_BY_KIND = {
    DeviceKind.NVME: EndpointClass.NVME,
    DeviceKind.NIC: EndpointClass.NIC,
    DeviceKind.GPU: EndpointClass.GPU,
    DeviceKind.FPGA: EndpointClass.FPGA,
    DeviceKind.ACCELERATOR: EndpointClass.ACCELERATOR,
}
# (base class, subclass) pairs; a subclass of None stands for every subclass of the base class.
_BY_CLASS: dict[tuple[int, int | None], EndpointClass] = {
    (0x01, 0x08): EndpointClass.NVME,
    (0x01, 0x00): EndpointClass.STORAGE,
    (0x01, 0x04): EndpointClass.STORAGE,
    (0x01, 0x07): EndpointClass.STORAGE,
    (0x01, 0x09): EndpointClass.STORAGE,
    (0x01, 0x80): EndpointClass.STORAGE,
    (0x0C, 0x04): EndpointClass.STORAGE,
    (0x02, None): EndpointClass.NIC,
    (0x0C, 0x06): EndpointClass.NIC,
    (0x03, None): EndpointClass.GPU,
    (0x04, 0x00): EndpointClass.MULTIMEDIA,
    (0x04, 0x80): EndpointClass.MULTIMEDIA,
    (0x0B, None): EndpointClass.ACCELERATOR,
    (0x12, None): EndpointClass.ACCELERATOR,
    (0x05, 0x02): EndpointClass.MEMORY,
}
FPGA_VENDORS = frozenset({0x10EE, 0x1172})  # Xilinx (AMD), Altera (Intel)
# Linux dmaengine drivers of PCI DMA engines: data movers a P2P user pairs with NVMe and NICs (as dmaengine clients).
DMA_ENGINE_DRIVERS = frozenset({"idxd", "ioatdma", "ptdma", "ae4dma", "plx_dma", "switchtec_dma"})

# Words users type for --only, beside the class names themselves.
ALIASES = {
    "network": EndpointClass.NIC,
    "infiniband": EndpointClass.NIC,
    "display": EndpointClass.GPU,
    "3d": EndpointClass.GPU,
    "coprocessor": EndpointClass.ACCELERATOR,
    "co-processor": EndpointClass.ACCELERATOR,
    "cxl": EndpointClass.MEMORY,
    "video": EndpointClass.MULTIMEDIA,
    "pool": EndpointClass.OTHER,
}


def endpoint_class(dev: Device) -> EndpointClass | None:
    """Why ``dev`` is a P2P endpoint, or None when it is not one (a bridge, a chipset function without a pool)."""
    if not dev.kind.is_endpoint:
        return None
    by_kind = _BY_KIND.get(dev.kind)
    if by_kind is not None:
        return by_kind
    if dev.class_code is not None:
        base, sub = dev.class_code >> 16, (dev.class_code >> 8) & 0xFF
        found = _BY_CLASS.get((base, sub)) or _BY_CLASS.get((base, None))
        if found is not None:
            return found
    if dev.driver in DMA_ENGINE_DRIVERS:
        return EndpointClass.ACCELERATOR
    if dev.vendor_id in FPGA_VENDORS:
        return EndpointClass.FPGA
    if dev.pool is not None:
        return EndpointClass.OTHER
    return None


def p2p_endpoints(
    fabric: Fabric, *, everything: bool = False, only: Iterable[EndpointClass] | None = None
) -> list[Device]:
    """The P2P endpoints in bus order. ``everything``: every function that is not a bridge (``--all``), whatever
    its class; ``only``: just these classes (applied after ``everything``, so ``--all --only gpu`` is the GPUs)."""
    wanted = frozenset(only) if only is not None else None
    out = []
    for dev in fabric.endpoints():
        cls = endpoint_class(dev)
        if cls is None and not everything:
            continue
        if wanted is not None and cls not in wanted:
            continue
        out.append(dev)
    return out


def parse_only(text: str) -> frozenset[EndpointClass]:
    """``gpu,nic,nvme`` as a set of classes; ValueError naming the word that is neither a class nor an alias."""
    out = set()
    for word in (w.strip().lower() for w in text.split(",")):
        if not word:
            continue
        try:
            out.add(ALIASES.get(word) or EndpointClass(word))
        except ValueError:
            raise ValueError(f"{word!r} is not an endpoint class (one of: {', '.join(CLASS_NAMES)})") from None
    if not out:
        raise ValueError(f"no endpoint class given (one of: {', '.join(CLASS_NAMES)})")
    return frozenset(out)


CLASS_NAMES: Sequence[str] = tuple(c.value for c in EndpointClass)
