"""Every sysfs snapshot in shared/data loads, and its PCI tree matches hwloc's own reading (the .console beside it).

hwloc's `lstopo -v` output shows only what hwloc keeps by default, so our fabric is projected the same way before
comparing: functions listed in sys/bus/pci/devices (hwloc enumerates those), endpoints of the classes hwloc calls
important, bridge-class functions that are not PCI-to-PCI bridges dropped, and PCI bridges kept only when
something kept hangs below them.
"""

from __future__ import annotations

import re
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from real_data import require

from p2ptui.fabric import Fabric
from p2ptui.fabric.pcie import raw_gbps
from p2ptui.sources import open_fabric, sysfs

DATA = require("sysfs")
TARBALLS = sorted(DATA.glob("*.tar.bz2"))
LINE_RE = re.compile(
    r"^(?P<indent> *)(?P<type>HostBridge|PCIBridge|PCI) L#\d+ \((?P<attrs>[^()]*(?:\([^()]*\)[^()]*)*)\)"
)
ATTR_RE = re.compile(r"(\w+)=(\S+)")
BDF_MEMBER_RE = re.compile(r"/sys/bus/pci/devices/([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7])$")


@dataclass
class Node:
    type: str
    attrs: dict[str, str]
    children: list[Node] = field(default_factory=list)

    def key(self) -> tuple:
        a = self.attrs
        if self.type == "HostBridge":
            return ("HostBridge", a["buses"].split("-")[0].replace("[", ""))
        return (self.type, a["busid"], a["id"], a["class"][:4])


def parse_console(path: Path) -> list[Node]:
    roots: list[Node] = []
    stack: list[tuple[int, Node]] = []
    for line in path.read_text().splitlines():
        assert " x { " not in line, "collapsed console output is not expected in these files"
        m = LINE_RE.match(line)
        if not m:
            continue
        node = Node(m["type"], dict(ATTR_RE.findall(m["attrs"])))
        indent = len(m["indent"])
        while stack and stack[-1][0] >= indent:
            stack.pop()
        (stack[-1][1].children if stack else roots).append(node)
        stack.append((indent, node))
    return roots


def console_count(path: Path, what: str) -> int:
    m = re.search(rf"Special depth -\d+:\s+(\d+) {what} ", path.read_text())
    assert m, what
    return int(m[1])


def linked_functions(tarball: Path) -> set[str]:
    """The functions the snapshot lists in sys/bus/pci/devices, read with tarfile (not with our reader)."""
    with tarfile.open(tarball) as tar:
        return {m[1] for name in tar.getnames() if (m := BDF_MEMBER_RE.search(name))}


def function_dirs(tarball: Path) -> set[str]:
    with tarfile.open(tarball) as tar:
        names = [n for n in tar.getnames() if "/sys/devices/pci" in n]
    bdf = re.compile(r"^[0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]$")
    return {n.rsplit("/", 1)[-1] for n in names if bdf.match(n.rsplit("/", 1)[-1])}


def important(class_code: int) -> bool:
    """hwloc's hwloc_filter_check_pcidev_subtype_important(), minus bridges (handled separately)."""
    class16, base = class_code >> 8, class_code >> 16
    return base in (0x00, 0x01, 0x02, 0x03, 0x0B, 0x12) or class16 in (0x0C04, 0x0C06, 0x0502)


def project(fabric: Fabric, linked: set[str]) -> list[Node]:
    """Our fabric as hwloc's default lstopo would show it."""

    def visit(dev) -> list[Node]:
        below = [n for child in fabric.children(dev) for n in visit(child)]
        if str(dev.bdf) not in linked:
            return below  # hwloc never saw it; what is below hangs on the nearest bridge it did see
        ids = f"{dev.vendor_id:04x}:{dev.device_id:04x}"
        attrs = {"busid": str(dev.bdf), "id": ids, "class": f"{dev.class_code >> 8:04x}"}
        if dev.link is not None and dev.link.gen and dev.link.width:
            attrs["link"] = f"{raw_gbps(dev.link.gen, dev.link.width):.2f}GB/s"
        if dev.kind.is_bridge:
            return [Node("PCIBridge", attrs, below)] if below else []
        if dev.class_code >> 16 == 0x06 or not important(dev.class_code):
            return below
        return [Node("PCI", attrs, below)]

    out = []
    for rb in fabric.root_buses:
        kids = [n for dev in fabric.on_root_bus(rb) for n in visit(dev)]
        if kids:
            out.append(Node("HostBridge", {"buses": f"{rb.domain:04x}:[{rb.bus:02x}"}, kids))
    return out


def flatten(nodes: list[Node], depth: int = 0) -> list[tuple]:
    out = []
    for n in nodes:
        out.append((depth, *n.key()))
        out.extend(flatten(n.children, depth + 1))
    return out


def links(nodes: list[Node]) -> dict[str, str]:
    out = {}
    for n in nodes:
        if "link" in n.attrs:
            out[n.attrs["busid"]] = n.attrs["link"]
        out.update(links(n.children))
    return out


def test_there_is_data():
    assert len(TARBALLS) >= 2


@pytest.mark.parametrize("tarball", TARBALLS, ids=lambda p: p.name)
def test_every_function_directory_is_loaded(tarball):
    fabric = sysfs.load(tarball)
    assert {str(d.bdf) for d in fabric} == function_dirs(tarball)


@pytest.mark.parametrize("tarball", TARBALLS, ids=lambda p: p.name)
def test_tree_matches_hwloc_console(tarball):
    console = tarball.with_name(tarball.name.removesuffix(".tar.bz2") + ".console")
    expected = parse_console(console)
    fabric = open_fabric(str(tarball))  # through detection, as users pass it
    ours = project(fabric, linked_functions(tarball))
    assert flatten(ours) == flatten(expected)
    bridges = sum(1 for row in flatten(ours) if row[1] in ("HostBridge", "PCIBridge"))
    assert bridges == console_count(console, "Bridge")
    assert sum(1 for row in flatten(ours) if row[1] == "PCI") == console_count(console, "PCIDev")
    # hwloc prints the current link (GB/s over all lanes) where sysfs has it: same generation and width here.
    expected_links = {k: v for k, v in links(expected).items() if v != "0.00GB/s"}
    assert len(expected_links) == (28 if "8ve" in tarball.name else 0)  # the parser does see them
    assert {k: v for k, v in links(ours).items() if k in expected_links} == expected_links


def test_8ve_snapshot_details():
    fabric = sysfs.load(DATA / "32intel64-2p8co2t+8ve.tar.bz2")
    assert len(fabric) == 29 and len(fabric.root_buses) == 3
    # The Lewisburg bridge 5f:03.0 is in the directory tree but missing from sys/bus/pci/devices, which is why
    # hwloc (reading only the links) hangs the i40e NICs straight below 5e:00.0. We keep the real parent.
    nic = fabric.find("enp96s0f0")
    assert str(nic.parent) == "0000:5f:03.0"
    assert any("5f:03.0" in n and "not linked" in n for n in fabric.notes)
    assert [d.name for d in fabric if d.kind.value == "accelerator"] == [f"accel{i}" for i in range(8)]
    assert fabric.host.cpu_vendor == "intel" and fabric.host.kernel == "3.10.0-1160.15.2.el7.x86_64"
    assert "crashkernel=auto" in fabric.host.cmdline
    assert any("run as root or load `lspci -vvv` output" in n for n in fabric.notes)
    assert all(not d.acs.known for d in fabric)


def test_2pa_snapshot_details():
    fabric = sysfs.load(DATA / "2pa-pcidomain32bits.tar.bz2")
    assert [str(rb) for rb in fabric.root_buses] == ["0000:00", "10000:00"]
    assert fabric.find("ens3").bdf.short() == "00:03.0"
    assert fabric.host.kernel == "4.9.0-3-amd64"  # from hwloc's uname record: this snapshot has no proc/version
    assert any("command line unknown" in n for n in fabric.notes)
