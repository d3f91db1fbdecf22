"""Names for functions that have none, in the kernel's style: nvme0, nic1, gpu3, rp0, dsp4."""

from __future__ import annotations

from collections.abc import Iterable

from .kinds import NAME_PREFIX, DeviceKind


def default_names(kinds: Iterable[DeviceKind | None], taken: Iterable[str]) -> list[str]:
    """One fresh name per kind, numbered per prefix in the given order and skipping names already used."""
    used = set(taken)
    counters: dict[str, int] = {}
    names = []
    for kind in kinds:
        prefix = NAME_PREFIX[kind or DeviceKind.OTHER]
        n = counters.get(prefix, 0)
        while f"{prefix}{n}" in used:
            n += 1
        name = f"{prefix}{n}"
        counters[prefix] = n + 1
        used.add(name)
        names.append(name)
    return names


def unique_name(wanted: str, used: set[str]) -> str:
    """``wanted`` if free, else ``wanted`` with the first free ``-N`` suffix; the result is added to ``used``."""
    name, n = wanted, 1
    while name in used:
        n += 1
        name = f"{wanted}-{n}"
    used.add(name)
    return name
