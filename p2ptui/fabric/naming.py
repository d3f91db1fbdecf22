"""Names for functions: short ones for those that have none, in the kernel's style (nvme0, nic1, gpu3, rp0, dsp4),
and vendor and device names as lspci prints them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from . import pciids
from .kinds import BMC_DISPLAY_VENDORS, NAME_PREFIX, DeviceKind
from .model import Device
from .pciids import PciIds

_SYSTEM = object()  # device_names' default: the process's database


def default_names(kinds: Iterable[DeviceKind | str | None], taken: Iterable[str]) -> list[str]:
    """One fresh name per kind, numbered per prefix in the given order and skipping names already used. A string
    instead of a kind is the prefix itself, for functions the kind's prefix would misname (see name_prefix)."""
    used = set(taken)
    counters: dict[str, int] = {}
    names = []
    for kind in kinds:
        # DeviceKind is a str enum: test for the kind first, a plain string is a prefix
        prefix = NAME_PREFIX[kind or DeviceKind.OTHER] if kind is None or isinstance(kind, DeviceKind) else kind
        n = counters.get(prefix, 0)
        name = f"{prefix}{n}"
        while name in used:
            n += 1
            name = f"{prefix}{n}"
        counters[prefix] = n + 1
        used.add(name)
        names.append(name)
    return names


def name_prefix(kind: DeviceKind | None, class_code: int | None, vendor_id: int | None) -> DeviceKind | str | None:
    """What default_names numbers a function by: its kind, except a BMC's display controller, which is "vga"
    (vga0) rather than the "dev" of any other function (or the "gpu" its class code once earned it)."""
    if (
        kind is DeviceKind.OTHER
        and class_code is not None
        and class_code >> 16 == 0x03
        and vendor_id in BMC_DISPLAY_VENDORS
    ):
        return "vga"
    return kind


def unique_name(wanted: str, used: set[str]) -> str:
    """``wanted`` if free, else ``wanted`` with the first free ``-N`` suffix; the result is added to ``used``."""
    name, n = wanted, 1
    while name in used:
        n += 1
        name = f"{wanted}-{n}"
    used.add(name)
    return name


@dataclass(frozen=True)
class DeviceNames:
    """What to call a function, as lspci would: ``vendor`` and ``device`` names, and ``text``, the two as one line.

    Names the source carries win (hwloc's PCIVendor/PCIDevice/GPUModel, lspci's text, a YAML ``product``); the PCI
    ID database fills in the rest; every field is None when neither knows.
    """

    vendor: str | None = None
    device: str | None = None
    text: str | None = None


def device_names(dev: Device, db: PciIds | None | object = _SYSTEM) -> DeviceNames:
    """``dev``'s names; ``db`` defaults to the process's PCI ID database (pciids.database())."""
    ids = pciids.database() if db is _SYSTEM else db
    assert ids is None or isinstance(ids, PciIds)
    vendor = ids.vendor(dev.vendor_id) if ids is not None else None
    known = ids.device(dev.vendor_id, dev.device_id) if ids is not None else None
    product = dev.product.strip() if dev.product else None
    if product and vendor and product.casefold() == vendor.casefold():
        product = None  # the source knew only the vendor (hwloc: PCIVendor without PCIDevice): the database says more
    if product:
        # Sources write "Vendor Device" (hwloc, lspci) or just the device (YAML); old exports spell vendors their way.
        prefix = vendor.casefold() + " " if vendor else None
        device = product[len(prefix) :] if prefix and product.casefold().startswith(prefix) else product
        return DeviceNames(vendor, device or None, product)
    if vendor is None:
        return DeviceNames()
    # lspci's words for a device its database does not list: "Device 14a4".
    shown = known or (f"Device {dev.device_id:04x}" if dev.device_id is not None else None)
    return DeviceNames(vendor, known, f"{vendor} {shown}" if shown else vendor)
