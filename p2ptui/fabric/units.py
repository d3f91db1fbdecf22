"""Sizes in bytes and bandwidths in GB/s: parsing what people write, printing what they can read back."""

from __future__ import annotations

import re

_SIZE_UNITS = {
    "": 1,
    "b": 1,
    "k": 1 << 10,
    "kib": 1 << 10,
    "kb": 10**3,
    "m": 1 << 20,
    "mib": 1 << 20,
    "mb": 10**6,
    "g": 1 << 30,
    "gib": 1 << 30,
    "gb": 10**9,
    "t": 1 << 40,
    "tib": 1 << 40,
    "tb": 10**12,
    "p": 1 << 50,
    "pib": 1 << 50,
    "pb": 10**15,
}
_NUMBER_UNIT_RE = re.compile(r"^\s*(?P<num>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<unit>[A-Za-z/]*)\s*$")

# Bandwidth units, as multiples of 1 GB/s (10^9 bytes per second).
_BW_UNITS = {
    "": 1.0,
    "gb/s": 1.0,
    "gbps": 1.0,
    "mb/s": 1e-3,
    "tb/s": 1e3,
    "gib/s": (1 << 30) / 1e9,
    "mib/s": (1 << 20) / 1e9,
    "gbit/s": 1 / 8,
}


def parse_size(value: int | str) -> int:
    """Bytes from an int or a string like ``256MiB``, ``4k``, ``1 GB`` (K/M/G/T alone are binary, as in dd).

    Raises ValueError for malformed text, fractional byte counts and negative sizes.
    """
    if isinstance(value, bool):
        raise ValueError(f"expected a size, got {value!r}")
    number: float  # an int stays an int: only text is read as a float
    factor: int
    if isinstance(value, int):
        number, factor = value, 1
    else:
        match = _NUMBER_UNIT_RE.match(str(value))
        if not match or match["unit"].lower() not in _SIZE_UNITS:
            raise ValueError(f"malformed size {value!r}: expected bytes or a number with a unit such as 256MiB or 4k")
        number, factor = float(match["num"]), _SIZE_UNITS[match["unit"].lower()]
    size = number * factor
    if size != size or size in (float("inf"), float("-inf")):
        raise ValueError(f"size {value!r} is not a finite number")
    if size < 0:
        raise ValueError(f"negative size {value!r}")
    if size != int(size):
        raise ValueError(f"size {value!r} is not a whole number of bytes")
    return int(size)


def format_size(size: int) -> str:
    """The shortest exact IEC spelling (``256 MiB``), or plain bytes when no unit divides it."""
    for unit, factor in (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} B"


def human_size(size: float) -> str:
    """A rounded IEC size for display (``1.5 GiB``); not meant to be parsed back."""
    for unit, factor in (("PiB", 1 << 50), ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor:
            value = size / factor
            return f"{value:.0f} {unit}" if value == int(value) else f"{value:.1f} {unit}"
    return f"{size:.0f} B"


def parse_bandwidth(value: float | int | str) -> float:
    """GB/s from a number (taken as GB/s) or a string like ``7.1 GB/s``, ``900 MB/s``, ``50 GiB/s``."""
    if isinstance(value, bool):
        raise ValueError(f"expected a bandwidth, got {value!r}")
    if isinstance(value, (int, float)):
        gbps = float(value)
    else:
        match = _NUMBER_UNIT_RE.match(str(value))
        unit = match["unit"].lower() if match else ""
        if not match or unit not in _BW_UNITS:
            raise ValueError(f"malformed bandwidth {value!r}: expected GB/s, e.g. 7.1 or '7.1 GB/s' or '900 MB/s'")
        gbps = float(match["num"]) * _BW_UNITS[unit]
    if gbps < 0 or gbps != gbps:
        raise ValueError(f"bandwidth {value!r} must be a non-negative number")
    return gbps
