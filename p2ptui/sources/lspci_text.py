"""The device blocks of ``lspci -vvv`` (with or without ``-nn`` and ``-D``).

A block starts with an unindented header (``c1:00.0 VGA compatible controller [0300]: NVIDIA … [10de:26b1] (rev a1)``)
and continues with indented lines. Only the lines the model needs are read, each with a regex for the shape lspci
prints; everything else (BARs, AER, VPD …) is skipped. A line that starts like one of those but does not have its
shape (a header whose address is no PCI address, an ACS flag that is not ``Name+``/``Name-``, a bus number that is
not hex) is a problem at its line and column: guessing past it would build a wrong tree or a wrong ACS state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..fabric import acs as acsbits
from ..fabric import pciids
from ..fabric.bdf import BDF
from ..fabric.checks import LINK_WIDTHS, PAYLOAD_SIZES
from ..fabric.limits import IOMMU_GROUP, decimal_within, spell
from ..fabric.pcie import gen_from_rate

HEADER = re.compile(
    r"^(?P<bdf>(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]) "
    r"(?P<cls>[A-Za-z][^:\[\]]*?)(?: \[(?P<code>[0-9a-fA-F]{4})\])?: (?P<desc>.*)$"
)
_REV = re.compile(r" \(rev ([0-9a-fA-F]{2})\)")
_PROG_IF = re.compile(r" \(prog-if ([0-9a-fA-F]{2})(?: \[[^\]]*\])?\)")
_IDS = re.compile(r" \[([0-9a-fA-F]{4}):([0-9a-fA-F]{4})\]$")
_DEVICE_NUMBER = re.compile(r"\bDevice ([0-9a-fA-F]{4})$")
_CLASS_NUMBER = re.compile(r"^Class ([0-9a-fA-F]{4})$")

_SUBSYSTEM = re.compile(r"^Subsystem: (.*)$")
# Numbers are ASCII digits of bounded length: int() refuses more than 4,300 digits, and no value here has ten.
_NUMA = re.compile(r"^NUMA node: (-?[0-9]{1,9})$")
_IOMMU_GROUP = re.compile(r"^IOMMU group: ([0-9]{1,20})$")  # range checked below
# Any unindented line shaped like a header, whatever its address holds: what HEADER refuses among these is damaged.
_HEADER_LIKE = re.compile(
    r"^(?P<bdf>[0-9A-Za-z]+(?::[0-9A-Za-z]+){1,2}\.[0-9A-Za-z]+) [A-Za-z][^:\[\]]*?(?: \[[^\]]*\])?: "
)
_BDF_SHAPE = re.compile(r"^(?:[0-9a-fA-F]{4,8}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$")
_BUS_FIELD = re.compile(r"\b(primary|secondary|subordinate)=([^,]*)")
_HEX2 = re.compile(r"^[0-9a-fA-F]{2}$")
_EXPRESS = re.compile(
    r"^Capabilities: \[[0-9a-fA-F]+\] Express \(v\d+\) (.+?)(?: \(Slot[+-]\))?(?:, (?:MSI|IntMsgNum) \S+)?$"
)
_CAPABILITY = re.compile(r"^Capabilities: \[[0-9a-fA-F]+(?: v\d+)?\] ")
_ACS_HEADER = re.compile(r"^Capabilities: \[[0-9a-fA-F]+(?: v\d+)?\] Access Control Services")
_LNKCAP = re.compile(r"^LnkCap:\s+Port #\d+, Speed (\S+?), Width x([0-9]{1,9})")
_LNKSTA = re.compile(r"^LnkSta:\s+Speed (\S+?)(?: \([^)]*\))?, Width x([0-9]{1,9})")
_PAYLOAD = re.compile(r"^MaxPayload ([0-9]{1,9}) bytes, MaxReadReq ([0-9]{1,9}) bytes")
_ACS_LINE = re.compile(r"^ACS(Cap|Ctl):(.*)$")
_DRIVER = re.compile(r"^Kernel driver in use: (\S+)")
_VF_COUNT = re.compile(r"Number of VFs: ([0-9]{1,9})")
_VF_LAYOUT = re.compile(r"VF offset: ([0-9]{1,9}), stride: ([0-9]{1,9})")

# lspci's names for the ACS bits (lib/header.h / ls-ecaps.c), in register order.
ACS_BIT_NAMES = {
    "SrcValid": acsbits.SV,
    "TransBlk": acsbits.TB,
    "ReqRedir": acsbits.RR,
    "CmpltRedir": acsbits.CR,
    "UpstreamFwd": acsbits.UF,
    "EgressCtrl": acsbits.EC,
    "DirectTrans": acsbits.DT,
}

# Class names as lspci prints them without -nn (the "C" section of pci.ids): enough to tell kinds apart.
CLASS_CODES = {
    "Non-VGA unclassified device": 0x0000,
    "VGA compatible unclassified device": 0x0001,
    "SCSI storage controller": 0x0100,
    "IDE interface": 0x0101,
    "RAID bus controller": 0x0104,
    "SATA controller": 0x0106,
    "Serial Attached SCSI controller": 0x0107,
    "Non-Volatile memory controller": 0x0108,
    "Mass storage controller": 0x0180,
    "Ethernet controller": 0x0200,
    "Network controller": 0x0280,
    "Infiniband controller": 0x0207,
    "Fabric controller": 0x0208,
    "VGA compatible controller": 0x0300,
    "XGA compatible controller": 0x0301,
    "3D controller": 0x0302,
    "Display controller": 0x0380,
    "Multimedia video controller": 0x0400,
    "Multimedia audio controller": 0x0401,
    "Audio device": 0x0403,
    "Multimedia controller": 0x0480,
    "RAM memory": 0x0500,
    "CXL": 0x0502,
    "Memory controller": 0x0580,
    "Host bridge": 0x0600,
    "ISA bridge": 0x0601,
    "PCI bridge": 0x0604,
    "Semi-transparent PCI-to-PCI bridge": 0x0609,
    "Bridge": 0x0680,
    "Serial controller": 0x0700,
    "Communication controller": 0x0780,
    "PIC": 0x0800,
    "IOMMU": 0x0806,
    "System peripheral": 0x0880,
    "Co-processor": 0x0B40,
    "FireWire (IEEE 1394)": 0x0C00,
    "USB controller": 0x0C03,
    "Fibre Channel": 0x0C04,
    "SMBus": 0x0C05,
    "InfiniBand": 0x0C06,
    "Serial bus controller": 0x0C80,
    "Encryption controller": 0x1080,
    "Signal processing controller": 0x1180,
    "Processing accelerators": 0x1200,
    "Non-Essential Instrumentation": 0x1300,
    "Unassigned class": 0xFF00,
}

ACS_HINT = "lspci prints all seven ACS flags as Name+ or Name-: " + " ".join(f"{name}-" for name in ACS_BIT_NAMES)
BDF_HINT = "lspci prints addresses as DDDD:BB:DD.F (-D) or BB:DD.F in hex, device 00-1f, function 0-7"
# Lines the reader takes facts from: one starting with the label but not in the shape lspci prints is damaged.
_STRICT_LABELS = ("NUMA node:", "IOMMU group:", "LnkCap:", "LnkSta:", "MaxPayload ", "Bus:")


@dataclass(frozen=True)
class Problem:
    """Something in the file that no lspci prints, at a 1-based line and (where known) column."""

    line: int
    column: int | None
    message: str
    hint: str = ""


@dataclass
class Record:
    """One function's ``lspci -vvv`` block: what it says, None for what it does not."""

    bdf: BDF
    line: int
    class_name: str
    class_code: int | None = None  # 24 bits
    product: str | None = None
    vendor_id: int | None = None
    device_id: int | None = None
    subsystem_vendor_id: int | None = None
    subsystem_device_id: int | None = None
    revision: int | None = None
    secondary: int | None = None
    subordinate: int | None = None
    port_type: str | None = None  # "Root Port", "Upstream Port", "Endpoint", ...
    capabilities: bool = False  # capability lines were readable (lspci ran as root)
    denied: bool = False  # "Capabilities: <access denied>"
    acs_seen: bool = False  # the ACS capability is listed (its bits may still be missing with -v)
    acs_cap: int | None = None
    acs_ctrl: int | None = None
    link_cap: tuple[int | None, int | None] | None = None  # (gen, width)
    link_sta: tuple[int | None, int | None] | None = None
    link_down: bool = False  # LnkSta shows Width x0: the link is down (an empty slot, a device off)
    mps: int | None = None
    mrrs: int | None = None
    driver: str | None = None
    numa_node: int | None = None
    iommu_group: int | None = None
    num_vfs: int = 0
    vf_offset: int | None = None
    vf_stride: int | None = None


@dataclass
class Parsed:
    records: list[Record] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    # Values no PCI device should have (a link width of x63, a NUMA node beyond the kernel's): left unknown, one
    # note per kind; what was odd -> "line N (value)".
    oddities: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class _Line:
    """The detail line being read: its number, its stripped text and where that text starts, for columns."""

    number: int
    text: str
    indent: int
    problems: list[Problem]
    oddities: dict[str, list[str]]

    def problem(self, message: str, at: int | None = 0, hint: str = "") -> None:
        column = None if at is None else self.indent + at + 1
        self.problems.append(Problem(self.number, column, message, hint))

    def odd(self, kind: str, value: str) -> None:
        """A value left unknown: ``kind`` says what was odd (one note each), ``value`` what the line held."""
        self.oddities.setdefault(kind, []).append(f"line {self.number} ({value})")


def parse_records(lines: list[str]) -> Parsed:
    """Every ``lspci -vvv`` block in ``lines`` (other text, e.g. shell prompts or markdown, is skipped) and the
    problems found in them."""
    parsed = Parsed()
    current: Record | None = None
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r\n")
        if not line.strip():
            current = None
            continue
        if line[0] not in " \t":
            current = _start(line, number, parsed.problems)
            if current is not None:
                parsed.records.append(current)
            continue
        if current is not None:
            text = line.lstrip()
            _detail(current, _Line(number, text.rstrip(), len(line) - len(text), parsed.problems, parsed.oddities))
    return parsed


def _start(line: str, number: int, problems: list[Problem]) -> Record | None:
    """The record a header line opens; None for other unindented text, and for damaged headers (a problem)."""
    match = HEADER.match(line)
    if match is None:
        like = _HEADER_LIKE.match(line)
        if like is not None:
            if _BDF_SHAPE.match(like["bdf"]):
                problems.append(
                    Problem(
                        number,
                        1,
                        "device header not in the form lspci prints",
                        "expected 'BB:DD.F Class name [cccc]: Vendor Device [vvvv:dddd]'",
                    )
                )
            else:
                problems.append(Problem(number, 1, f"{like['bdf']!r} is not a PCI address", BDF_HINT))
        return None
    try:
        bdf = BDF.parse(match["bdf"])
    except ValueError as exc:
        problems.append(Problem(number, 1, f"{match['bdf']!r} is not a PCI address ({exc})", BDF_HINT))
        return None
    rec = Record(bdf=bdf, line=number, class_name=match["cls"].strip())
    desc = match["desc"]
    rev = _REV.search(desc)
    prog_if = _PROG_IF.search(desc)
    desc = _PROG_IF.sub("", _REV.sub("", desc)).strip()
    ids = _IDS.search(desc)
    if ids:
        rec.vendor_id, rec.device_id = int(ids[1], 16), int(ids[2], 16)
        desc = desc[: ids.start()].strip()
    else:
        rec.vendor_id, rec.device_id = vendor_and_device(desc)
    rec.product = desc or None
    rec.revision = int(rev[1], 16) if rev else None
    code = int(match["code"], 16) if match["code"] else _class_from_name(rec.class_name)
    if code is not None:
        rec.class_code = (code << 8) | (int(prog_if[1], 16) if prog_if else 0)
    return rec


def _class_from_name(name: str) -> int | None:
    number = _CLASS_NUMBER.match(name)
    return int(number[1], 16) if number else CLASS_CODES.get(name)


def vendor_and_device(name: str) -> tuple[int | None, int | None]:
    """IDs from the names lspci prints without ``-n``, through the PCI ID database lspci took them from: the vendor
    whose name starts the text, the device by its exact name or lspci's ``Device 14a4`` for one the database lacks.
    Without a database, both unknown."""
    db = pciids.database()
    found = db.vendor_prefix(name) if db is not None else None
    if db is None or found is None:
        return None, None
    vendor, vendor_name = found
    rest = name[len(vendor_name) :].strip()
    number = _DEVICE_NUMBER.search(rest)
    if number and rest == number[0]:
        return vendor, int(number[1], 16)
    return vendor, db.device_by_name(vendor, rest)


def _detail(rec: Record, at: _Line) -> None:
    text = at.text
    if text.startswith("Capabilities:"):
        if "<access denied>" in text:
            rec.denied = True
            return
        if _CAPABILITY.match(text):
            rec.capabilities = True
        express = _EXPRESS.match(text)
        if express:
            rec.port_type = express[1].strip()
        elif _ACS_HEADER.match(text):
            rec.acs_seen = True
        return
    if m := _SUBSYSTEM.match(text):
        ids = _IDS.search(m[1])
        if ids:
            rec.subsystem_vendor_id, rec.subsystem_device_id = int(ids[1], 16), int(ids[2], 16)
        else:
            rec.subsystem_vendor_id, rec.subsystem_device_id = vendor_and_device(m[1])
    elif m := _NUMA.match(text):
        node = int(m[1])
        if not -1 <= node < 4096:
            at.odd("NUMA nodes beyond the kernel's 4096, left unknown", str(node))
        rec.numa_node = node if 0 <= node < 4096 else None
    elif m := _IOMMU_GROUP.match(text):
        rec.iommu_group = decimal_within(m[1], IOMMU_GROUP)
        if rec.iommu_group is None:
            at.problem(f"IOMMU group {m[1][:20]} is out of range ({spell(IOMMU_GROUP)})", m.start(1))
    elif text.startswith("Bus:"):
        _bus(rec, at)
    elif m := _LNKCAP.match(text):
        rec.link_cap = (_gen(m, 1, at), _width(m, 2, at))
    elif m := _LNKSTA.match(text):
        rec.link_sta = (_gen(m, 1, at), _width(m, 2, at))
        rec.link_down = m[2] == "0"
    elif m := _PAYLOAD.match(text):
        rec.mps, rec.mrrs = _payload(m, 1, at), _payload(m, 2, at)
    elif m := _ACS_LINE.match(text):
        rec.acs_seen = True
        value = _acs_flags(f"ACS{m[1]}", m[2], m.start(2), at)
        if m[1] == "Cap":
            rec.acs_cap = value
        else:
            rec.acs_ctrl = value
    elif text.startswith(_STRICT_LABELS):
        label = next(label for label in _STRICT_LABELS if text.startswith(label))
        at.problem(f"{label.strip(': ')} line not in the form lspci prints: {text[:60]!r}", 0)
    elif m := _DRIVER.match(text):
        rec.driver = m[1]
    else:
        if m := _VF_COUNT.search(text):
            rec.num_vfs = int(m[1])
        if m := _VF_LAYOUT.search(text):
            rec.vf_offset, rec.vf_stride = int(m[1]), int(m[2])


def _bus(rec: Record, at: _Line) -> None:
    """``Bus: primary=17, secondary=18, subordinate=1c, sec-latency=0``: the bus range a bridge forwards."""
    fields = {m[1]: m for m in _BUS_FIELD.finditer(at.text)}
    for name in ("primary", "secondary", "subordinate"):
        m = fields.get(name)
        if m is None:
            at.problem(f"Bus: line has no {name}= field", None, "lspci prints primary=, secondary= and subordinate=")
            return
        if not _HEX2.match(m[2]):
            at.problem(f"Bus: {name} bus {m[2][:20]!r} is not a two-digit hex number", m.start(2))
            return
    secondary, subordinate = int(fields["secondary"][2], 16), int(fields["subordinate"][2], 16)
    if subordinate < secondary:
        at.problem(
            f"Bus: subordinate bus {subordinate:02x} is below secondary bus {secondary:02x}",
            fields["subordinate"].start(2),
            "a bridge forwards the range secondary..subordinate",
        )
        return
    if secondary == subordinate == 0:
        return  # firmware left the bridge unconfigured: it forwards no bus (bus 00 is not below it)
    rec.secondary, rec.subordinate = secondary, subordinate


def _acs_flags(label: str, body: str, start: int, at: _Line) -> int | None:
    """The register value an ACSCap/ACSCtl line shows; None (and a problem) unless all seven flags read cleanly."""
    value = 0
    seen: set[str] = set()
    for token in re.finditer(r"\S+", body):
        name, sign = token[0][:-1], token[0][-1:]
        if sign not in ("+", "-") or name not in ACS_BIT_NAMES:
            cut = token.end() == len(body) and any(known.startswith(token[0]) for known in ACS_BIT_NAMES)
            message = (
                f"{label} line stops inside a flag ({token[0]!r}): the dump looks cut"
                if cut
                else f"{label} flag {token[0][:30]!r} is not one lspci prints"
            )
            at.problem(message, start + token.start(), ACS_HINT)
            return None
        if name in seen:
            at.problem(f"{label} lists {name} twice", start + token.start(), ACS_HINT)
            return None
        seen.add(name)
        if sign == "+":
            value |= ACS_BIT_NAMES[name]
    missing = [name for name in ACS_BIT_NAMES if name not in seen]
    if missing:
        at.problem(f"{label} line lacks {', '.join(missing)}: cut or edited", start + len(body), ACS_HINT)
        return None
    return value


def _gen(m: re.Match, group: int, at: _Line) -> int | None:
    text = m[group]
    if text.lower() == "unknown":
        return None
    rate = re.fullmatch(r"(\d+(?:\.\d+)?)GT/s", text)
    if rate:
        try:
            return gen_from_rate(float(rate[1]))
        except ValueError:
            pass
    at.odd("link speeds no PCIe generation has, left unknown", text)
    return None


def _width(m: re.Match, group: int, at: _Line) -> int | None:
    width = int(m[group])
    if width == 0:
        return None  # x0: the link is down
    if width not in LINK_WIDTHS:
        reason = " (x63: the register reads all ones, a device powered off or gone)" if width == 63 else ""
        at.odd(f"link widths no PCIe link has{reason}, left unknown", f"x{width}")
        return None
    return width


def _payload(m: re.Match, group: int, at: _Line) -> int | None:
    size = int(m[group])
    if size not in PAYLOAD_SIZES:
        at.odd("payload sizes (MPS/MRRS) that are no PCIe value, left unknown", f"{size} bytes")
        return None
    return size
