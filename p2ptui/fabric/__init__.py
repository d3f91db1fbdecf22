"""The fabric model: host facts and the PCI tree. Textual-free; sources fill it, the verdict and engine read it."""

from .acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from .bdf import BDF
from .kinds import DeviceKind
from .model import Device, Fabric, FabricError, Host, IommuMode, Link, P2PPool, RootBus
from .yaml_load import load_fabric, loads_fabric
from .yaml_save import dumps_fabric, save_fabric

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
    "dumps_fabric",
    "load_fabric",
    "loads_fabric",
    "save_fabric",
]
