"""PCI addresses: domain, bus, device, function."""

from __future__ import annotations

import re
from typing import NamedTuple

# Domains are 16 bits on most machines but 32 bits where firmware (VMD, Hyper-V, some KVM guests) hands them out.
_BDF_RE = re.compile(
    r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<device>[0-9a-fA-F]{1,2})\.(?P<function>[0-7])$"
)
# DDDD:BB:DD.F at full widths, the device number at most 1f: parsed without the range checks of BDF().
_FULL_FORM = re.compile(r"([0-9a-fA-F]{4}):([0-9a-fA-F]{2}):([01][0-9a-fA-F])\.([0-7])")
_BUS_RE = re.compile(r"^(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2})$")


class BDFSyntaxError(ValueError):
    """Text that is not shaped like a PCI address at all (as opposed to one whose numbers are out of range)."""


class _Fields(NamedTuple):
    domain: int
    bus: int
    device: int
    function: int


class BDF(_Fields):
    """A PCI function address, printed as the kernel's pci_name() does: ``DDDD:BB:DD.F``.

    A named tuple rather than a dataclass: addresses key every lookup a fabric makes (half a million on a
    15,000-function hwloc file), and a tuple hashes, compares and sorts in C where a dataclass runs Python code
    for each. The order is the tuple's: domain, bus, device, function, the kernel's enumeration order.
    """

    __slots__ = ()

    def __new__(cls, domain: int, bus: int, device: int, function: int) -> BDF:
        if not 0 <= domain <= 0xFFFFFFFF:
            raise ValueError(f"PCI domain {domain:#x} does not fit in 32 bits")
        if not 0 <= bus <= 0xFF:
            raise ValueError(f"PCI bus {bus:#x} is out of range 00-ff")
        if not 0 <= device <= 0x1F:
            raise ValueError(f"PCI device {device:#x} is out of range 00-1f")
        if not 0 <= function <= 7:
            raise ValueError(f"PCI function {function} is out of range 0-7")
        return tuple.__new__(cls, (domain, bus, device, function))

    @classmethod
    def parse(cls, text: str, default_domain: int = 0, *, domain_required: bool = False) -> BDF:
        """Parse ``[DDDD:]BB:DD.F`` (the one address parser every source uses); raises BDFSyntaxError for text of
        another shape and ValueError for numbers out of range, saying what is wrong."""
        full = _FULL_FORM.fullmatch(text)
        if full is not None:  # the form nearly every source writes; its shape alone keeps each number in range
            domain, bus, device, function = full.groups()
            return tuple.__new__(cls, (int(domain, 16), int(bus, 16), int(device, 16), int(function)))
        match = _BDF_RE.match(text.strip())
        if not match or (domain_required and match["domain"] is None):
            form = "DDDD:BB:DD.F" if domain_required else "[DDDD:]BB:DD.F"
            raise BDFSyntaxError(f"malformed PCI address {text!r}: expected {form} in hex, e.g. 0000:03:00.0")
        domain = match["domain"]
        return cls(
            int(domain, 16) if domain is not None else default_domain,
            int(match["bus"], 16),
            int(match["device"], 16),
            int(match["function"]),
        )

    @classmethod
    def from_pci_name(cls, text: str) -> BDF | None:
        """The address a name in the kernel's exact pci_name() form stands for (a sysfs directory such as
        ``0000:03:00.0``: lower-case hex, full widths), or None for any other name."""
        try:
            bdf = cls.parse(text, domain_required=True)
        except ValueError:
            return None
        return bdf if str(bdf) == text else None

    @property
    def devfn(self) -> int:
        return (self.device << 3) | self.function

    @property
    def bus_id(self) -> tuple[int, int]:
        """(domain, bus): identifies the bus this function sits on."""
        return (self.domain, self.bus)

    def __str__(self) -> str:
        return f"{self.domain:04x}:{self.bus:02x}:{self.device:02x}.{self.function:x}"

    def short(self) -> str:
        """The address without the domain when the domain is 0, as lspci prints it."""
        text = str(self)
        return text[5:] if self.domain == 0 else text


def parse_bus(text: str, default_domain: int = 0) -> tuple[int, int]:
    """Parse a root bus written ``[DDDD:]BB`` into (domain, bus)."""
    match = _BUS_RE.match(text.strip())
    if not match:
        raise ValueError(f"malformed PCI bus {text!r}: expected [DDDD:]BB in hex, e.g. 0000:80")
    domain = match["domain"]
    return (int(domain, 16) if domain is not None else default_domain, int(match["bus"], 16))


def format_bus(domain: int, bus: int) -> str:
    return f"{domain:04x}:{bus:02x}"
