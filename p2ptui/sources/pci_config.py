"""Decode the binary PCI configuration space that sysfs exposes as ``config``.

Only what the fabric model needs: the header (IDs, header type, bridge bus numbers), the PCI Express capability
(port type, link capability and status, MPS/MRRS) and the ACS extended capability. Offsets are those of the PCI
Local Bus and PCIe Base specifications. How much of the space is there matters as much as what it says: sysfs
gives unprivileged readers only the first 64 bytes, and functions without extended space expose 256.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

HEADER_BYTES = 64  # what the kernel hands to readers without CAP_SYS_ADMIN
STANDARD_BYTES = 256  # conventional config space: the capability list lives here
EXTENDED_BYTES = 4096  # PCIe extended config space: ACS and other extended capabilities

STATUS_CAP_LIST = 0x10
CAP_POINTER = 0x34
CARDBUS_CAP_POINTER = 0x14
CAP_ID_PCIE = 0x10
EXT_CAP_START = 0x100
EXT_CAP_ID_ACS = 0x000D

# PCIe capability register offsets (from the capability's start) and the Device/Port Type field values.
PCIE_FLAGS = 0x02
PCIE_DEVCTL = 0x08
PCIE_LNKCAP = 0x0C
PCIE_LNKSTA = 0x12
PCIE_CAP_MIN_BYTES = 0x14  # flags through link status

TYPE_ENDPOINT = 0x0
TYPE_LEGACY_ENDPOINT = 0x1
TYPE_ROOT_PORT = 0x4
TYPE_UPSTREAM = 0x5
TYPE_DOWNSTREAM = 0x6
TYPE_PCIE_TO_PCI = 0x7
TYPE_PCI_TO_PCIE = 0x8
TYPE_RC_ENDPOINT = 0x9
TYPE_RC_EVENT_COLLECTOR = 0xA
PORT_TYPE_NAMES = {
    TYPE_ENDPOINT: "Endpoint",
    TYPE_LEGACY_ENDPOINT: "Legacy Endpoint",
    TYPE_ROOT_PORT: "Root Port",
    TYPE_UPSTREAM: "Upstream Port",
    TYPE_DOWNSTREAM: "Downstream Port",
    TYPE_PCIE_TO_PCI: "PCI-Express to PCI/PCI-X Bridge",
    TYPE_PCI_TO_PCIE: "PCI/PCI-X to PCI-Express Bridge",
    TYPE_RC_ENDPOINT: "Root Complex Integrated Endpoint",
    TYPE_RC_EVENT_COLLECTOR: "Root Complex Event Collector",
}
# Functions inside the root complex have no link of their own.
LINKLESS_TYPES = frozenset({TYPE_RC_ENDPOINT, TYPE_RC_EVENT_COLLECTOR})

# A well-formed list has at most 48 capabilities in 192 bytes and 960 extended ones in 3840: more means a loop.
MAX_CAPS = 48
MAX_EXT_CAPS = (EXTENDED_BYTES - EXT_CAP_START) // 4


@dataclass(frozen=True, slots=True)
class PcieCap:
    """The fields of the PCI Express capability that the model uses; widths and gens as encoded (0 = none)."""

    offset: int
    port_type: int
    mps: int  # bytes
    mrrs: int  # bytes
    max_speed: int  # Link Capabilities speed code: 1 = 2.5 GT/s ... 6 = 64 GT/s
    max_width: int
    speed: int  # Link Status current speed code
    width: int
    mps_code: int
    mrrs_code: int
    link_status: int = 0  # the raw register: 0xffff when the device did not answer


@dataclass(frozen=True, slots=True)
class AcsRegs:
    offset: int
    cap: int
    ctrl: int


@dataclass(frozen=True, slots=True)
class ConfigSpace:
    """What a config-space blob says, and how much of it was there to say it."""

    length: int
    vendor_id: int | None = None
    device_id: int | None = None
    revision: int | None = None
    class_code: int | None = None
    header_type: int | None = None  # 0 endpoint, 1 PCI-to-PCI bridge, 2 CardBus bridge (multi-function bit removed)
    secondary_bus: int | None = None
    subordinate_bus: int | None = None
    has_cap_list: bool = False
    caps_known: bool = False  # the standard capability list could be walked to its end
    pcie: PcieCap | None = None
    ext_known: bool = False  # the extended space was there to walk
    acs: AcsRegs | None = None
    # Malformed structures found on the way, as (what, where): walked past as the kernel walks past them.
    problems: tuple[tuple[str, str], ...] = field(default=())
    no_answer: bool = False  # vendor reads 0xffff: the function did not respond (gone, or powered off)

    @property
    def is_bridge_header(self) -> bool:
        return self.header_type == 1


def parse_config(data: bytes) -> ConfigSpace:
    """Decode as much as ``data`` holds; never raises for short or malformed input, it reports in ``problems``."""
    n = len(data)
    if n < HEADER_BYTES:
        short = (("the file holds less than the 64-byte header", f"{n} bytes"),)
        return ConfigSpace(length=n, problems=short if n else ())
    vendor, device, _command, status, rev_class = struct.unpack_from("<HHHHI", data, 0)
    if vendor == 0xFFFF:
        return ConfigSpace(length=n, no_answer=True)
    header_type = data[0x0E] & 0x7F
    values: dict = {
        "length": n,
        "vendor_id": vendor,
        "device_id": device,
        "revision": rev_class & 0xFF,
        "class_code": rev_class >> 8,
        "header_type": header_type,
        "has_cap_list": bool(status & STATUS_CAP_LIST),
    }
    if header_type == 1:
        values["secondary_bus"] = data[0x19]
        values["subordinate_bus"] = data[0x1A]
    problems: list[tuple[str, str]] = []
    if not values["has_cap_list"]:
        # No capability list: a conventional function with nothing to find, however much space there is.
        values["caps_known"] = n >= STANDARD_BYTES
        values["ext_known"] = False
        return ConfigSpace(**values)
    pointer_at = CARDBUS_CAP_POINTER if header_type == 2 else CAP_POINTER
    pcie, caps_known = _walk_caps(data, data[pointer_at], problems)
    values["pcie"] = pcie
    values["caps_known"] = caps_known
    if pcie is not None and n >= EXTENDED_BYTES:
        values["ext_known"] = True
        values["acs"] = _walk_ext_caps(data, problems)
    return ConfigSpace(**values, problems=tuple(problems))


def _walk_caps(data: bytes, pointer: int, problems: list[tuple[str, str]]) -> tuple[PcieCap | None, bool]:
    """Follow the standard capability list; (PCIe capability or None, whether the list was read to its end)."""
    n = min(len(data), STANDARD_BYTES)
    seen: set[int] = set()
    pos = pointer & 0xFC
    while pos:
        if pos < HEADER_BYTES:
            problems.append(("a capability pointer points into the header", f"{pos:#04x}"))
            return None, True
        if pos + 2 > n:
            return None, False  # the list goes on beyond what we were given
        if pos in seen or len(seen) >= MAX_CAPS:
            problems.append(("the capability list loops", f"at {pos:#04x}"))
            return None, True
        seen.add(pos)
        cap_id, nxt = data[pos], data[pos + 1]
        if cap_id == CAP_ID_PCIE:
            if pos + PCIE_CAP_MIN_BYTES > n:
                return None, False
            return _pcie_cap(data, pos), True
        if cap_id == 0xFF:
            problems.append(("a capability ID reads 0xff", f"at {pos:#04x}"))
            return None, True
        pos = nxt & 0xFC
    return None, True


def _pcie_cap(data: bytes, pos: int) -> PcieCap:
    flags = struct.unpack_from("<H", data, pos + PCIE_FLAGS)[0]
    devctl = struct.unpack_from("<H", data, pos + PCIE_DEVCTL)[0]
    lnkcap = struct.unpack_from("<I", data, pos + PCIE_LNKCAP)[0]
    lnksta = struct.unpack_from("<H", data, pos + PCIE_LNKSTA)[0]
    mps_code = (devctl >> 5) & 0x7
    mrrs_code = (devctl >> 12) & 0x7
    return PcieCap(
        offset=pos,
        port_type=(flags >> 4) & 0xF,
        mps=128 << mps_code,
        mrrs=128 << mrrs_code,
        max_speed=lnkcap & 0xF,
        max_width=(lnkcap >> 4) & 0x3F,
        speed=lnksta & 0xF,
        width=(lnksta >> 4) & 0x3F,
        mps_code=mps_code,
        mrrs_code=mrrs_code,
        link_status=lnksta,
    )


def _walk_ext_caps(data: bytes, problems: list[tuple[str, str]]) -> AcsRegs | None:
    seen: set[int] = set()
    pos = EXT_CAP_START
    while pos:
        if pos < EXT_CAP_START or pos + 4 > EXTENDED_BYTES:
            problems.append(("an extended capability pointer leaves the extended space", f"{pos:#05x}"))
            return None
        if pos in seen or len(seen) >= MAX_EXT_CAPS:
            problems.append(("the extended capability list loops", f"at {pos:#05x}"))
            return None
        seen.add(pos)
        header = struct.unpack_from("<I", data, pos)[0]
        if header in (0, 0xFFFFFFFF):
            return None  # an empty list, or space that reads as all ones (no extended space behind it)
        cap_id, nxt = header & 0xFFFF, (header >> 20) & 0xFFC
        if cap_id == EXT_CAP_ID_ACS:
            if pos + 8 > EXTENDED_BYTES:
                problems.append(("the ACS capability is cut off by the end of config space", f"at {pos:#05x}"))
                return None
            cap, ctrl = struct.unpack_from("<HH", data, pos + 4)
            return AcsRegs(pos, cap, ctrl)
        pos = nxt
    return None
