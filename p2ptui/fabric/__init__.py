"""The fabric model: host facts and the PCI tree, and the PCIe math over it. Textual-free; sources fill it, the
verdict and engine read it. Files (YAML, JSON, DOT, the safe writer) are p2ptui.formats' job, one layer up."""

from .acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from .bdf import BDF
from .kinds import DeviceKind
from .model import Device, Fabric, FabricError, Host, IommuMode, Link, P2PPool, RootBus

__all__ = [
    "ACS_NONE",
    "ACS_UNKNOWN",
    "Acs",
    "AcsSource",
    "BDF",
    "Device",
    "DeviceKind",
    "Fabric",
    "FabricError",
    "Host",
    "IommuMode",
    "Link",
    "P2PPool",
    "RootBus",
]
