"""CPU vendors: the one table of the words tools and people write for them, and what a host bridge's PCI IDs tell
about the CPU (the AMD rule of the P2P verdict looks at the boot CPU's vendor and family).

Linux keeps Centaur (``CentaurHauls``) and Zhaoxin (``  Shanghai  ``) apart (X86_VENDOR_CENTAUR and
X86_VENDOR_ZHAOXIN), and so does this table.
"""

from __future__ import annotations

# Lower-case word (CPUID vendor string, /proc/cpuinfo, hwloc, NCCL, a CLI flag) -> (vendor, the architecture it
# implies).
VENDOR_WORDS: dict[str, tuple[str, str]] = {
    "intel": ("intel", "x86_64"),
    "genuineintel": ("intel", "x86_64"),
    "amd": ("amd", "x86_64"),
    "authenticamd": ("amd", "x86_64"),
    "hygon": ("hygon", "x86_64"),
    "hygongenuine": ("hygon", "x86_64"),
    "centaur": ("centaur", "x86_64"),
    "centaurhauls": ("centaur", "x86_64"),
    "zhaoxin": ("zhaoxin", "x86_64"),
    "shanghai": ("zhaoxin", "x86_64"),
    "arm": ("arm", "aarch64"),
    "ampere": ("ampere", "aarch64"),
    "nvidia": ("nvidia", "aarch64"),
    "ibm": ("ibm", "ppc64le"),
}
KNOWN_VENDORS = "intel, amd[:FAMILY], hygon, centaur, zhaoxin, arm, ampere, nvidia, ibm"


def cpu_vendor(text: str | None) -> str | None:
    """The model's lower-case vendor for any word in VENDOR_WORDS (GenuineIntel -> intel); an unlisted word is kept,
    lower-cased; None when nothing is given."""
    if not text or not text.strip():
        return None
    word = text.strip().lower()
    return VENDOR_WORDS.get(word, (word, ""))[0]


# PCI vendor of a host bridge -> the CPU vendor whose root complex it is.
HOST_BRIDGE_VENDORS: dict[int, str] = {0x8086: "intel", 0x1022: "amd", 0x1D94: "hygon", 0x1D17: "zhaoxin"}

# AMD root complexes whose name in pci.ids (/usr/share/misc/pci.ids) pins the CPU family, or at least the side of
# family 0x17 (Zen) it is on, which is all the kernel's AMD rule asks.
AMD_ROOT_COMPLEX_FAMILY: dict[int, tuple[int, str]] = {
    0x1450: (0x17, "Family 17h (Models 00h-0fh) Root Complex"),
    0x1480: (0x17, "Starship/Matisse Root Complex"),
    0x14B5: (0x17, "Family 17h-19h PCIe Root Complex"),
    0x15D0: (0x17, "Raven/Raven2 Root Complex"),
    0x1630: (0x17, "Renoir/Cezanne Root Complex"),
    0x1645: (0x17, "VanGogh Root Complex"),
    0x1410: (0x15, "Family 15h (Models 10h-1fh) Processor Root Complex"),
    0x1422: (0x15, "Family 15h (Models 30h-3fh) Processor Root Complex"),
    0x1576: (0x15, "Family 15h (Models 60h-6fh) Processor Root Complex"),
    0x1510: (0x14, "Family 14h Processor Root Complex"),
    0x1536: (0x16, "Family 16h Processor Root Complex"),
    0x1566: (0x16, "Family 16h (Models 30h-3fh) Processor Root Complex"),
    0x1705: (0x12, "Family 12h Processor Root Complex"),
}

ZEN_FAMILY = 0x17  # AMD family 17h: the first Zen CPUs, where the kernel's AMD rule (v5.9) begins


def root_complex_fits(vendor_id: int, device_id: int | None, cpu: str | None, family: int | None) -> bool:
    """Could a host bridge with these IDs be the root complex of a machine with this CPU? A host bridge of a CPU
    vendor belongs to that vendor's CPUs only, and an AMD root complex named for a family sits on its side of Zen;
    other vendors' host bridges (SoCs, chipsets) and unknown CPUs rule nothing out."""
    own = HOST_BRIDGE_VENDORS.get(vendor_id)
    if own is None or cpu is None:
        return True
    if own != cpu:
        return False
    pinned = AMD_ROOT_COMPLEX_FAMILY.get(device_id) if own == "amd" and device_id is not None else None
    return pinned is None or family is None or (pinned[0] >= ZEN_FAMILY) == (family >= ZEN_FAMILY)
