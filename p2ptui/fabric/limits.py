"""The bounds every reader, the model and the YAML writer and loader share, so that whatever one reader accepts
the YAML writer can write and the loader reads back (load → convert → load gives the same fabric).

The depth of a PCI tree is bounded here rather than by each reader: the YAML format nests two levels per bridge
(a device mapping and its ``children`` list), the YAML loader refuses documents nested deeper than
``MAX_YAML_NESTING`` (libyaml's composer recurses in C and would crash the process on very deep input), and the
model refuses any tree deeper than ``MAX_BRIDGE_DEPTH`` so that a reader's output always fits. Real machines are
under ten bridges deep; PCIe's 256 bus numbers would allow a chain of 255.
"""

from __future__ import annotations

# The YAML loader's limit on nested collections (see yaml_text); the writer stays well within it.
MAX_YAML_NESTING = 200

# Bridges between a root bus and the deepest function below it (a function on a root bus is at depth 0).
MAX_BRIDGE_DEPTH = 64

# YAML levels above a root-bus device (document, root_complexes, a root complex, its devices, the device), per
# bridge below it (children, device), and inside the deepest device (vfs, a VF, its acs mapping, a bit list).
_YAML_LEVELS_TO_ROOT_DEVICE = 5
_YAML_LEVELS_PER_BRIDGE = 2
_YAML_LEVELS_INSIDE_DEVICE = 4


def yaml_nesting_for_depth(depth: int) -> int:
    """How deeply the YAML writer nests a fabric whose deepest function is ``depth`` bridges below its root bus."""
    return _YAML_LEVELS_TO_ROOT_DEVICE + _YAML_LEVELS_PER_BRIDGE * depth + _YAML_LEVELS_INSIDE_DEVICE


assert yaml_nesting_for_depth(MAX_BRIDGE_DEPTH) <= MAX_YAML_NESTING, "the writer must stay within the loader's limit"

# Value ranges (inclusive). The YAML loader, the model's checks and every reader use these.
CPU_FAMILY = (0, 0xFFF)  # x86: base family (4 bits) + extended family (8 bits) is at most 0x10e
IOMMU_GROUP = (0, 0x7FFF_FFFF)  # the kernel's group id is an int
NUMA_NODE = (-1, 4095)  # -1: the kernel's "no node"; MAX_NUMNODES is at most 1 << 10 on today's configs
REVISION = (0, 0xFF)


def within(value: int, bounds: tuple[int, int]) -> bool:
    return bounds[0] <= value <= bounds[1]


def bounded(value: int | None, bounds: tuple[int, int]) -> int | None:
    """``value`` when it lies within ``bounds``, else None (unknown): for readers that keep a device whose
    attribute is out of range rather than refuse the machine."""
    return value if value is not None and within(value, bounds) else None


def decimal_within(text: str, bounds: tuple[int, int]) -> int | None:
    """A decimal number written in ASCII digits (an optional minus sign) within ``bounds``, else None (unknown).
    Digits beyond what the bounds can hold are not converted, so a thousand-digit value costs nothing."""
    digits = text.strip()
    body = digits.removeprefix("-")
    if not (body.isascii() and body.isdigit()) or len(body) > len(str(max(abs(bounds[0]), abs(bounds[1])))):
        return None
    return bounded(int(digits), bounds)


def spell(bounds: tuple[int, int]) -> str:
    return f"{bounds[0]} to {bounds[1]}"
