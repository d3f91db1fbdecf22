"""lspci as an independent decoder of sysfs roots: run pciutils' lspci on a root, parse its -vvv dump, and check that
a fabric our reader loaded says the same (used by the synthetic-root and the captured-kernel cross-checks)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from p2ptui.fabric import AcsSource, DeviceKind, Fabric
from p2ptui.fabric.acs import BIT_NAMES

LSPCI = shutil.which("lspci")  # None where pciutils is not installed: the tests that need it skip

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
