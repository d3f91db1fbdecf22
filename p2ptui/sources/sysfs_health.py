"""Link health from sysfs: each function's AER error counters and the physical slot names the platform gives.

``aer_dev_correctable``, ``aer_dev_nonfatal`` and ``aer_dev_fatal`` list one counter per line and end with a
``TOTAL_ERR_*`` line; ``/sys/bus/pci/slots/NAME/address`` holds ``DDDD:BB:DD`` (all functions of that device sit in
the slot). Absent files are no news (no AER capability, no slot driver); unreadable ones are noted like the others.
"""

from __future__ import annotations

from dataclasses import replace

from ..errors import InputError
from ..fabric.bdf import BDF
from ..fabric.model import AerCounts, Fabric
from .sysfs_device import Problems
from .sysfs_files import Kind, SysfsFiles

AER_FILES = (("correctable", "aer_dev_correctable"), ("nonfatal", "aer_dev_nonfatal"), ("fatal", "aer_dev_fatal"))
SLOTS = "sys/bus/pci/slots"


def add_health(fabric: Fabric, files: SysfsFiles, rels: dict[BDF, str], problems: Problems) -> Fabric:
    """``fabric`` with slot names and AER counters from the function directories ``rels`` (address → directory)."""
    slots = read_slots(files, problems)
    changed = []
    for dev in fabric.devices:
        rel = rels.get(dev.bdf)
        aer = read_aer(files, rel, problems) if rel is not None else None
        slot = slots.get((dev.bdf.domain, dev.bdf.bus, dev.bdf.device))
        if aer is not None or slot is not None:
            changed.append(replace(dev, aer=aer, slot=slot))
    if problems.errors:
        raise InputError(problems.errors)
    return fabric.with_devices(changed) if changed else fabric


def read_aer(files: SysfsFiles, rel: str, problems: Problems) -> AerCounts | None:
    counts: dict[str, int] = {}
    for key, name in AER_FILES:
        path = f"{rel}/{name}"
        if files.kind(path) is not Kind.FILE:
            continue
        try:
            text = files.read(path, 4096).decode("ascii", "replace")
        except OSError as exc:
            problems.skip(path, exc)
            continue
        total = _total(text)
        if total is None:
            problems.error(path, "AER counters without a TOTAL_ERR_* line", "expected lines such as 'TOTAL_ERR_COR 0'")
            continue
        counts[key] = total
    return AerCounts(**counts) if counts else None


def _total(text: str) -> int | None:
    for line in text.splitlines():
        name, _, value = line.strip().partition(" ")
        if name.startswith("TOTAL_ERR_") and value.strip().isdigit():
            return int(value)
    return None


def read_slots(files: SysfsFiles, problems: Problems) -> dict[tuple[int, int, int], str]:
    """(domain, bus, device) → slot name."""
    out: dict[tuple[int, int, int], str] = {}
    try:
        listing = files.entries(SLOTS)
    except FileNotFoundError:
        return out
    except OSError as exc:
        problems.skip(SLOTS, exc)
        return out
    for name, kind in sorted(listing):
        path = f"{SLOTS}/{name}/address"
        if kind is not Kind.DIR or files.kind(path) is not Kind.FILE:
            continue
        try:
            text = files.read(path, 64).decode("ascii", "replace").strip()
        except OSError as exc:
            problems.skip(path, exc)
            continue
        try:
            bdf = BDF.parse(f"{text}.0")
        except ValueError:
            problems.error(path, f"slot address {text[:40]!r} is not DDDD:BB:DD")
            continue
        out.setdefault((bdf.domain, bdf.bus, bdf.device), name)
    return out
