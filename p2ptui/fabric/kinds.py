"""What a PCI function is: its kind, and how kinds follow from class codes and positions in the tree."""

from __future__ import annotations

from enum import StrEnum


class DeviceKind(StrEnum):
    HOST_BRIDGE = "host_bridge"
    ROOT_PORT = "root_port"
    SWITCH_UPSTREAM = "switch_upstream"
    SWITCH_DOWNSTREAM = "switch_downstream"
    PCI_BRIDGE = "pci_bridge"
    NVME = "nvme"
    NIC = "nic"
    GPU = "gpu"
    FPGA = "fpga"
    ACCELERATOR = "accelerator"
    OTHER = "other"

    @property
    def is_bridge(self) -> bool:
        """Owns a secondary bus: other functions can sit below it."""
        return self in BRIDGE_KINDS

    @property
    def is_endpoint(self) -> bool:
        """A function that does DMA or exposes memory: not a bridge, not the host bridge."""
        return self not in BRIDGE_KINDS and self is not DeviceKind.HOST_BRIDGE

    @property
    def label(self) -> str:
        return _LABELS[self]


BRIDGE_KINDS = frozenset(
    {DeviceKind.ROOT_PORT, DeviceKind.SWITCH_UPSTREAM, DeviceKind.SWITCH_DOWNSTREAM, DeviceKind.PCI_BRIDGE}
)
ENDPOINT_KINDS = tuple(k for k in DeviceKind if k.is_endpoint)

_LABELS = {
    DeviceKind.HOST_BRIDGE: "host bridge",
    DeviceKind.ROOT_PORT: "root port",
    DeviceKind.SWITCH_UPSTREAM: "switch upstream port",
    DeviceKind.SWITCH_DOWNSTREAM: "switch downstream port",
    DeviceKind.PCI_BRIDGE: "PCI bridge",
    DeviceKind.NVME: "NVMe controller",
    DeviceKind.NIC: "network controller",
    DeviceKind.GPU: "GPU",
    DeviceKind.FPGA: "FPGA",
    DeviceKind.ACCELERATOR: "accelerator",
    DeviceKind.OTHER: "other endpoint",
}

# Prefixes for names given to functions that have none, in the style of the kernel's own names (nvme0, ...).
NAME_PREFIX = {
    DeviceKind.HOST_BRIDGE: "hb",
    DeviceKind.ROOT_PORT: "rp",
    DeviceKind.SWITCH_UPSTREAM: "usp",
    DeviceKind.SWITCH_DOWNSTREAM: "dsp",
    DeviceKind.PCI_BRIDGE: "br",
    DeviceKind.NVME: "nvme",
    DeviceKind.NIC: "nic",
    DeviceKind.GPU: "gpu",
    DeviceKind.FPGA: "fpga",
    DeviceKind.ACCELERATOR: "accel",
    DeviceKind.OTHER: "dev",
}

# A Root Complex Integrated Endpoint (RCiEP, PCIe Device/Port Type 9): an endpoint of any kind (NVMe, GPU,
# accelerator: Intel's DSA/IAA/QAT engines are RCiEPs) that sits on a root bus inside the root complex and has no
# PCIe link. The model keeps its endpoint kind and marks it ``Device.integrated``; views use these words for it.
RCIEP_LABEL = "RCiEP"
NO_LINK_INTEGRATED = "no link (integrated in the root complex)"

CLASS_HOST_BRIDGE = 0x0600
CLASS_PCI_BRIDGE = 0x0604


# Vendors whose display controllers are the video output of a baseboard management controller, not GPUs: they
# do no DMA of interest, and naming them gpuN made a BMC's VGA look like one more GPU for P2P.
BMC_DISPLAY_VENDORS = {0x1A03: "ASPEED"}


def endpoint_kind_from_class(class_code: int | None, vendor_id: int | None = None) -> DeviceKind:
    """The endpoint kind a 24-bit class code suggests (base class, subclass, prog-if); OTHER when it says nothing.

    FPGAs present whatever class their design chooses, so no class code maps to FPGA. A BMC's display controller
    (an ASPEED VGA) is OTHER, never a GPU.
    """
    if class_code is None:
        return DeviceKind.OTHER
    base, sub = class_code >> 16, (class_code >> 8) & 0xFF
    if base == 0x01 and sub == 0x08:
        return DeviceKind.NVME
    if base == 0x02:
        return DeviceKind.NIC
    if base == 0x0C and sub == 0x06:  # InfiniBand serial bus controller (older HCAs)
        return DeviceKind.NIC
    if base == 0x03:
        return DeviceKind.OTHER if vendor_id in BMC_DISPLAY_VENDORS else DeviceKind.GPU
    if base == 0x12 or (base == 0x0B and sub == 0x40):  # processing accelerator, co-processor
        return DeviceKind.ACCELERATOR
    return DeviceKind.OTHER


def bridge_kind_for_position(parent_kind: DeviceKind | None) -> DeviceKind:
    """The PCIe port type a bridge must have, given the kind of the bridge above it (None = on a root bus).

    Used only where a source does not state the port type (hwloc, NCCL): sysfs and lspci read it from the
    PCIe capability.
    """
    if parent_kind is None:
        return DeviceKind.ROOT_PORT
    if parent_kind in (DeviceKind.ROOT_PORT, DeviceKind.SWITCH_DOWNSTREAM):
        return DeviceKind.SWITCH_UPSTREAM
    if parent_kind is DeviceKind.SWITCH_UPSTREAM:
        return DeviceKind.SWITCH_DOWNSTREAM
    return DeviceKind.PCI_BRIDGE
