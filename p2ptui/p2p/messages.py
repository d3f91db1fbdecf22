"""The lines drivers/pci/p2pdma.c prints (upstream_bridge_distance_warn(), __host_bridge_whitelist()), word for word
per era, with dev_printk's "<driver or bus> <name>: "
prefix."""

from __future__ import annotations

from dataclasses import dataclass

from ..fabric.model import Device
from .profiles import Era


@dataclass(frozen=True, slots=True)
class NonPciClient:
    """A DMA client that is not a PCI function itself: a platform DMA engine, an RDMA or block device struct.

    ``pci_parent`` is the nearest PCI function above it in the device tree, if any (the kernel walks dev->parent to
    find one, so an IB device resolves to its HCA); ``dma_virt_ops`` marks software RDMA devices that v5.0-v5.11
    rejected before looking further.
    """

    name: str = "non-pci-device"
    bus: str = "platform"
    driver: str | None = None
    pci_parent: str | None = None  # BDF or name of the PCI function above it
    dma_virt_ops: bool = False

    @property
    def prefix(self) -> str:
        return f"{self.driver or self.bus} {self.name}: "


def prefix(dev: Device) -> str:
    """dev_printk's prefix: the bound driver's name, or the bus name ``pci`` for a function without a driver."""
    return f"{dev.driver or 'pci'} {dev.bdf}: "


def acs_list(names: list[str], size: int) -> str:
    """The ACS device list as the kernel prints it from a seq_buf of ``size`` bytes.

    Each entry is written as "<bdf>;" and the last ';' is dropped. When the entries overflow the buffer, the
    seq_buf keeps the truncated text vsnprintf wrote (size - 1 characters) and the ';' removal lands outside it
    [DERIVED from seq_buf's overflow handling; 128 bytes from v5.14 hold nine 13-character entries].
    """
    text = "".join(f"{n};" for n in names)
    if len(text) < size:
        return text[:-1]
    return text[: size - 1]


def acs_redirect(era: Era, client: Device, provider: Device) -> str:
    if era >= Era.V5_4:
        return prefix(client) + f"ACS redirect is set between the client and provider ({provider.bdf})"
    return (
        prefix(client)
        + f"cannot be used for peer-to-peer DMA as ACS redirect is set between the client and provider ({provider.bdf})"
    )


def acs_hint(client: Device, listed: str) -> str:
    text = f"to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir={listed}"
    return prefix(client) + text


def not_whitelisted(representative: Device) -> str:
    # The kernel always knows the IDs; a fabric read without them (lspci -t) shows what it lacks instead of zeros.
    vendor = f"{representative.vendor_id:04x}" if representative.vendor_id is not None else "????"
    device = f"{representative.device_id:04x}" if representative.device_id is not None else "????"
    return prefix(representative) + f"Host bridge not in P2PDMA whitelist: {vendor}:{device}"


def no_common_bridge(era: Era, client: Device, provider: Device) -> str:
    tail = " or whitelisted host bridge" if era >= Era.V5_4 else ""
    return (
        prefix(client)
        + f"cannot be used for peer-to-peer DMA as the client and provider ({provider.bdf}) do not share an upstream "
        + f"bridge{tail}"
    )


def not_pci(client: NonPciClient) -> str:
    return client.prefix + "cannot be used for peer-to-peer DMA as it is not a PCI device"


def dma_virt_ops(client: NonPciClient) -> str:
    return client.prefix + "cannot be used for peer-to-peer DMA because the driver makes use of dma_virt_ops"
