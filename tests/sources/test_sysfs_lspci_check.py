"""Cross-check: pciutils' lspci decodes the synthetic roots the same way our reader does (so the fixtures are real
config space, and the reader agrees with an independent decoder). Skipped where lspci is not installed."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from sysfs_fixtures import Fn, iter_functions, root_port, switch_fabric, write_sysfs

from p2ptui.fabric import AcsSource, DeviceKind, Fabric
from p2ptui.fabric.acs import BIT_NAMES
from p2ptui.sources import sysfs

LSPCI = shutil.which("lspci")
pytestmark = pytest.mark.skipif(LSPCI is None, reason="lspci (Debian package pciutils) is not installed")

HEADER_RE = re.compile(r"^([0-9a-f]{4,8}:[0-9a-f]{2}:[0-9a-f]{2}\.[0-7]) ")
EXPRESS_RE = re.compile(
    r"Capabilities: \[[0-9a-f]+\] Express \(v\d\) "
    r"(Root Port|Upstream Port|Downstream Port|Endpoint|PCI-Express to PCI/PCI-X Bridge)"
)
LNKSTA_RE = re.compile(r"LnkSta:\s+Speed ([\d.]+)GT/s[^,]*, Width x(\d+)")
LNKCAP_RE = re.compile(r"LnkCap:\s+Port #\d+, Speed ([\d.]+)GT/s, Width x(\d+)")
DEVCTL_RE = re.compile(r"MaxPayload (\d+) bytes, MaxReadReq (\d+) bytes")
BUS_RE = re.compile(r"Bus: primary=([0-9a-f]+), secondary=([0-9a-f]+), subordinate=([0-9a-f]+)")
ACS_RE = re.compile(r"ACS(Cap|Ctl):\s+(.*)$")
LSPCI_ACS = {
    "SrcValid": "SV",
    "TransBlk": "TB",
    "ReqRedir": "RR",
    "CmpltRedir": "CR",
    "UpstreamFwd": "UF",
    "EgressCtrl": "EC",
    "DirectTrans": "DT",
}
PORT_KINDS = {
    "Root Port": DeviceKind.ROOT_PORT,
    "Upstream Port": DeviceKind.SWITCH_UPSTREAM,
    "Downstream Port": DeviceKind.SWITCH_DOWNSTREAM,
    "PCI-Express to PCI/PCI-X Bridge": DeviceKind.PCI_BRIDGE,
}
GENS = {"2.5": 1, "5": 2, "8": 3, "16": 4, "32": 5, "64": 6}


def lspci(root: Path, *flags: str) -> str:
    res = subprocess.run(
        [LSPCI, "-A", "linux-sysfs", "-O", f"sysfs.path={root}/sys/bus/pci", *flags],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return res.stdout


def parse_vvv(text: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    cur: dict = {}
    for line in text.splitlines():
        m = HEADER_RE.match(line)
        if m:
            cur = out.setdefault(m[1], {"acs": {}})
            continue
        s = line.strip()
        if (m := EXPRESS_RE.search(s)) is not None:
            cur["port"] = m[1]
        elif (m := LNKSTA_RE.search(s)) is not None:
            cur["lnksta"] = (GENS[m[1]], int(m[2]))
        elif (m := LNKCAP_RE.search(s)) is not None:
            cur["lnkcap"] = (GENS[m[1]], int(m[2]))
        elif (m := DEVCTL_RE.search(s)) is not None:
            cur["devctl"] = (int(m[1]), int(m[2]))
        elif (m := BUS_RE.search(s)) is not None:
            cur["bus"] = tuple(int(x, 16) for x in m.groups())
        elif (m := ACS_RE.search(s)) is not None:
            bits = 0
            for flag in m[2].split():
                name, sign = flag[:-1], flag[-1]
                if sign == "+":
                    bits |= BIT_NAMES[LSPCI_ACS[name]]
            cur["acs"][m[1]] = bits
        elif s.startswith("Capabilities: <access denied>"):
            cur["denied"] = True
        elif s.startswith("Kernel driver in use:"):
            cur["driver"] = s.split(":", 1)[1].strip()
        elif s.startswith("IOMMU group:"):
            cur["group"] = int(s.split(":", 1)[1])
    return out


def parent_by_bus_ranges(info: dict[str, dict], bdf: str) -> str | None:
    """The bridge lspci's tree puts a function under: the deepest one whose bus range holds its bus."""
    domain, bus = bdf.rsplit(":", 2)[0], int(bdf.split(":")[-2], 16)
    best = None
    for other, data in info.items():
        if "bus" not in data or not other.startswith(domain + ":"):
            continue
        _, secondary, subordinate = data["bus"]
        if secondary <= bus <= subordinate and (best is None or secondary > info[best]["bus"][1]):
            best = other
    return best


def check_against_lspci(root: Path, fabric: Fabric) -> dict[str, dict]:
    info = parse_vvv(lspci(root, "-D", "-nn", "-vvv"))
    assert set(info) == {str(d.bdf) for d in fabric}
    for dev in fabric:
        data = info[str(dev.bdf)]
        parent = parent_by_bus_ranges(info, str(dev.bdf))
        assert (str(dev.parent) if dev.parent else None) == parent, dev.bdf
        assert data.get("driver") == dev.driver and data.get("group") == dev.iommu_group
        if data.get("denied"):
            assert dev.acs.source is AcsSource.UNKNOWN
            continue
        if data.get("port") in PORT_KINDS:
            assert dev.kind is PORT_KINDS[data["port"]], dev.bdf
        if data["acs"]:
            assert dev.acs.source is AcsSource.HARDWARE
            assert (dev.acs.cap, dev.acs.ctrl) == (data["acs"]["Cap"], data["acs"]["Ctl"]), dev.bdf
        else:
            assert dev.acs.source is AcsSource.NONE, dev.bdf
        if dev.link is not None and "lnksta" in data and data["lnksta"][1]:
            assert (dev.link.gen, dev.link.width) == data["lnksta"], dev.bdf
            # lspci prints "Speed unknown, Width x0" where the capability leaves them 0; we say None then.
            assert (dev.link.max_gen, dev.link.max_width) == data.get("lnkcap", (None, None)), dev.bdf
            assert (dev.link.mps, dev.link.mrrs) == data["devctl"], dev.bdf
    tree = lspci(root, "-tv")
    assert len(re.findall(r"(?<=-)[0-9a-f]{2}\.[0-7]", tree)) == len(fabric)
    return info


def test_switch_fabric_agrees_with_lspci(tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(4, vfs=2))
    fabric = sysfs.load(root)
    info = check_against_lspci(root, fabric)
    assert info["0000:02:01.0"]["acs"] == {"Cap": 0x5F, "Ctl": 0x0D}  # the parse itself sees the registers
    assert info["0000:00:01.0"]["port"] == "Root Port"


def test_mixed_domains_bridges_and_link_states_agree_with_lspci(tmp_path):
    legacy = Fn("05:01.0", port_type=None, link=None, class_code=0x020000)
    spec = {
        "0000:00": [
            Fn("00:1e.0", class_code=0x060401, port_type=None, link=None, children=[legacy]),
            root_port("00:1c.0", secondary=7, acs=(0x7F, 0x1D)),
        ],
        "0001:40": [
            root_port(
                "40:01.0",
                Fn("41:00.0", class_code=0x030200, link=(3, 8, 5, 16), mps=128, mrrs=4096),
                link=(3, 8, 5, 16),
                acs=(0x5F, 0x00),
            )
        ],
    }
    root = write_sysfs(tmp_path / "mixed", spec)
    fabric = sysfs.load(root)
    check_against_lspci(root, fabric)
    link = fabric.find("0001:41:00.0").link
    assert link.width_degraded and link.speed_below_max  # gen3 x8 of gen5 x16


def test_64_byte_configs_are_access_denied_for_lspci_and_unknown_for_us(tmp_path):
    spec = switch_fabric(3)
    for fn in iter_functions(spec["0000:00"]):
        fn.config_size = 64
    root = write_sysfs(tmp_path / "snap", spec)
    fabric = sysfs.load(root)
    info = check_against_lspci(root, fabric)
    assert all(data.get("denied") for data in info.values())
