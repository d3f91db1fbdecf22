"""The bounds every transfer input must respect, and the parsers of the numbers people type for them.

One place for the copy CLI, plans and the TUI's copy form (through ``TransferSpec.problems``), so that a value
one of them refuses is refused by all, with the same words. Each bound says why it is where it is:

* size ≤ 1 PiB: more than any device or memory a copy could read or fill (the largest drives hold ~0.1 PiB);
* chunk ≤ 1 GiB: a chunk is one DMA buffer per thread; p2pmem pools and host staging buffers are far smaller;
* threads 1..1024: each is a real thread (and a queue slot) in the real engine;
* start ≤ 1 day: the simulator would jump there, but the real engine waits on the wall clock, silently;
* rates ≤ 10 TB/s and IOMMU pages of 4 KiB to 1 GiB (powers of two, as IOMMU page tables map them).

Numbers must be finite: YAML's ``.inf`` and ``.nan`` (and Python's ``inf``) are refused with a message that says so.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from ..fabric.units import format_size, parse_bandwidth
from ..formats.yaml_nodes import MAX_BANDWIDTH_GBPS

MAX_SIZE = 1 << 50  # 1 PiB
MAX_CHUNK = 1 << 30  # 1 GiB
MAX_THREADS = 1024
MAX_START = 86_400.0  # seconds: one day
REAL_CHUNK_ALIGN = 4096  # O_DIRECT alignment that covers 512-B and 4Kn devices; also the real engine's least chunk
MIN_IOMMU_PAGE = 4096
MAX_IOMMU_PAGE = 1 << 30
MAX_RATE_GBPS = MAX_BANDWIDTH_GBPS
IOMMU_PAGE_HINT = (
    "IOMMUs map power-of-two pages: 4KiB (the default), 2MiB for hugepage-backed buffers, 1GiB; Arm "
    "SMMUs also 16KiB or 64KiB"
)

# YAML 1.1's spellings of the non-finite floats, and Python's, lower-cased: refused by name, not as "malformed".
_NOT_FINITE = re.compile(r"^[-+]?\.?(inf|infinity|nan)$", re.IGNORECASE)


@dataclass(frozen=True)
class Problem:
    """Why one field of a transfer cannot be used; ``field`` is the TransferSpec attribute ("" = the whole copy),
    so the CLI can name its flag and a plan the key it came from."""

    field: str
    message: str


def bytes_text(value: float) -> str:
    return format_size(int(value)) if value < 1 << 60 else f"{value:.3g} B"


def seconds_problem(value: float, what: str) -> str | None:
    """Why ``value`` cannot be a time in a run (a start time, an event's time), or None."""
    if not math.isfinite(value):
        return f"{what} time {value} is not a finite number of seconds"
    if value < 0:
        return f"{what} time must not be negative, not {value:g} s"
    if value > MAX_START:
        return (
            f"{what} time {value:g} s is more than a day away ({MAX_START:g} s): the simulator would jump there, "
            "but the real engine would wait that long on the wall clock"
        )
    return None


def parse_number(text: str) -> float:
    """A finite decimal number; ValueError in the parsers' ``problem: expected ...`` shape."""
    raw = text.strip()
    if _NOT_FINITE.match(raw):
        raise ValueError(f"{raw!r} is not a finite number: expected a number such as 0.5 or 2e-3")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a number: expected a number such as 0.5 or 2e-3") from None
    if not math.isfinite(value):  # 1e400 overflows to inf
        raise ValueError(f"{raw!r} is not a finite number: expected a number such as 0.5 or 2e-3")
    return value


def parse_rate(text: str) -> float:
    """A positive rate in GB/s (``3.2``, ``900 MB/s``), at most 10 TB/s (more is a unit slip). ValueError messages
    read after the rate's name: "read rate must be ..."."""
    raw = text.strip()
    if _NOT_FINITE.match(raw):
        raise ValueError(f"must be a finite number, not {raw!r}: expected GB/s, e.g. 3.2 or '900 MB/s'")
    if raw.startswith("-"):
        raise ValueError(f"must be a positive number of GB/s, not {raw}: expected e.g. 3.2 or '900 MB/s'")
    try:
        value = parse_bandwidth(raw)
    except ValueError:
        raise ValueError(f"{raw!r} is not a rate: expected GB/s, e.g. 3.2 or '900 MB/s'") from None
    return check_rate(value)


def check_rate(value: float) -> float:
    """``value`` GB/s as a usable rate (positive, finite, at most 10 TB/s); ValueError otherwise."""
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number of GB/s, not {value}: expected e.g. 3.2 or '900 MB/s'")
    if value <= 0:
        raise ValueError(f"must be a positive number of GB/s, not {value:g}: expected e.g. 3.2 or '900 MB/s'")
    if value > MAX_RATE_GBPS:
        raise ValueError(
            f"must be at most 10 TB/s, not {value:g} GB/s (beyond any PCIe link or memory): expected "
            "GB/s; check the unit"
        )
    return value


def parse_device_rate(item: str) -> tuple[str, float | None, float | None]:
    """``DEV=READ[,WRITE]`` (``--device-rate``) as (device, read GB/s, write GB/s); an empty side is unknown."""
    name, sep, values = item.partition("=")
    parts = values.split(",")
    if not sep or not name.strip() or len(parts) > 2 or not any(p.strip() for p in parts):
        raise ValueError("expected DEV=READ[,WRITE] in GB/s, e.g. nvme0=3.2,2.0 or nvme0=,2.0")
    rates: list[float | None] = [None, None]
    for i, (side, text) in enumerate(zip(("read", "write"), parts, strict=False)):
        if text.strip():
            try:
                rates[i] = parse_rate(text)
            except ValueError as exc:
                joiner = " " if str(exc).startswith("must") else ": "
                raise ValueError(f"{side} rate{joiner}{exc}") from None
    return name.strip(), rates[0], rates[1]


def iommu_page_problem(size: int) -> str | None:
    """IOMMU page tables map power-of-two pages: 4 KiB, 2 MiB and 1 GiB on x86, 16 or 64 KiB granules on Arm."""
    if size < MIN_IOMMU_PAGE or size > MAX_IOMMU_PAGE or size & (size - 1):
        return f"IOMMU page size {size} B is not a power of two from 4 KiB to 1 GiB"
    return None
