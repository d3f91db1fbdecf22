"""PCIe Access Control Services: the capability and control bits, and what a device's ACS state is known to be."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Bit positions are the same in the ACS Capability and ACS Control registers (PCIe base spec, ACS extended cap 0x000D).
SV = 0x01  # source validation
TB = 0x02  # translation blocking
RR = 0x04  # P2P request redirect
CR = 0x08  # P2P completion redirect
UF = 0x10  # upstream forwarding
EC = 0x20  # P2P egress control
DT = 0x40  # direct translated P2P

BIT_NAMES: dict[str, int] = {"SV": SV, "TB": TB, "RR": RR, "CR": CR, "UF": UF, "EC": EC, "DT": DT}
LONG_NAMES: dict[str, str] = {
    "SV": "source validation",
    "TB": "translation blocking",
    "RR": "P2P request redirect",
    "CR": "P2P completion redirect",
    "UF": "upstream forwarding",
    "EC": "P2P egress control",
    "DT": "direct translated P2P",
}
ALL_BITS = SV | TB | RR | CR | UF | EC | DT

# The kernel's pci_bridge_has_acs_redir(): any of these in the live control register means P2P TLPs may be sent up
# to the root complex. UF, SV, TB and DT do not count.
REDIRECT_BITS = RR | CR | EC


class AcsSource(StrEnum):
    """How much we know about a function's ACS registers."""

    NONE = "none"  # the function has no ACS extended capability
    UNKNOWN = "unknown"  # could not be read (config space truncated to 64 bytes, tool without -vvv, ...)
    HARDWARE = "hardware"  # capability and control registers as read from the device
    KERNEL_DEFAULT = "kernel-default"  # capability known; control is what Linux would program at boot


@dataclass(frozen=True, slots=True)
class Acs:
    """A function's ACS state.

    ``ctrl`` is the live control register and only means something with source HARDWARE. With KERNEL_DEFAULT the
    control value is derived by the verdict from ``firmware_ctrl``, the IOMMU mode and the kernel command line,
    exactly as pci_enable_acs() would at boot.
    """

    source: AcsSource = AcsSource.NONE
    cap: int = 0
    ctrl: int = 0
    firmware_ctrl: int = 0

    @property
    def present(self) -> bool:
        return self.source in (AcsSource.HARDWARE, AcsSource.KERNEL_DEFAULT)

    @property
    def known(self) -> bool:
        return self.source is not AcsSource.UNKNOWN


ACS_NONE = Acs()
ACS_UNKNOWN = Acs(AcsSource.UNKNOWN)


def bit_names(value: int) -> list[str]:
    """Names of the set bits, in register order; bits with no name are shown as hex."""
    names = [name for name, bit in BIT_NAMES.items() if value & bit]
    rest = value & ~ALL_BITS
    if rest:
        names.append(f"{rest:#x}")
    return names


def describe(value: int) -> str:
    return " ".join(bit_names(value)) if value else "-"
