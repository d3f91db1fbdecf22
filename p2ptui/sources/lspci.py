"""lspci output as a Fabric: ``lspci -vvv`` blocks (with or without -nn / -D), ``lspci -tv``, or both in one file.

The tree comes from ``-tv`` where present, else from the bridges' ``Bus: secondary=`` lines. Each function's class,
port type, links, ACS, driver, NUMA node and IOMMU group come from its ``-vvv`` block; functions without one keep
those facts unknown. Captures that also hold ``lscpu`` / ``numactl --hardware`` output (as machine write-ups do)
give the CPU and, on single-node machines, the NUMA node.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric.acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from ..fabric.bdf import BDF, format_bus
from ..fabric.kinds import DeviceKind
from ..fabric.limits import CPU_FAMILY, decimal_within
from ..fabric.model import Fabric, Host, IommuMode, Link, RootBus
from .assemble import IOMMU_UNKNOWN_NOTE, Draft, build_fabric, cpu_vendor, listing
from .lspci_text import HEADER, Record, parse_records, vendor_and_device
from .lspci_tree import Tree, TreeEntry, is_tree_line, parse_tree
from .xml_input import read_input

_PORT_TYPES = {
    "Root Port": DeviceKind.ROOT_PORT,
    "Upstream Port": DeviceKind.SWITCH_UPSTREAM,
    "Downstream Port": DeviceKind.SWITCH_DOWNSTREAM,
    "PCI-Express to PCI/PCI-X Bridge": DeviceKind.PCI_BRIDGE,
    "PCI/PCI-X to PCI-Express Bridge": DeviceKind.PCI_BRIDGE,
}
_BRIDGE_CLASSES = (0x0604, 0x0609)
# lspci -tv prints no class: endpoint kinds are guessed from the vendor and device names it prints instead.
# ASPEED: a BMC's VGA ("ASPEED Graphics Family"), not a GPU.
_NOT_GUESSED = re.compile(r"RAID|SATA|\bSAS\b|AHCI|Audio|USB|SMBus|ASPEED", re.I)
_NAME_KINDS = (
    (re.compile(r"NVMe|Non-Volatile memory", re.I), DeviceKind.NVME),
    (re.compile(r"Ethernet|Network|ConnectX|InfiniBand|BlueField|\bEFA\b", re.I), DeviceKind.NIC),
    (
        re.compile(r"\bVGA\b|Graphics|\bGPU\b|\[(?:GeForce|RTX|Quadro|Tesla|TITAN|Radeon|Instinct)", re.I),
        DeviceKind.GPU,
    ),
)
_LSCPU = {
    "vendor": re.compile(r"^\s*Vendor ID:\s+(\S+)\s*$"),
    "family": re.compile(r"^\s*CPU family:\s+([0-9]+)\s*$"),
    "model": re.compile(r"^\s*Model name:\s+(\S.*?)\s*$"),
    "arch": re.compile(r"^Architecture:\s+(\S+)\s*$"),
    "nodes": re.compile(r"^\s*NUMA node\(s\):\s+([0-9]{1,9})\s*$"),
}
_NUMACTL_NODES = re.compile(r"^available: ([0-9]{1,9}) nodes?\b")


def sniff(path: Path, head: bytes) -> bool:
    if not head or b"\0" in head:
        return False
    for line in head.decode("utf-8-sig", "replace").splitlines():
        if (line[:1] not in (" ", "\t", "") and HEADER.match(line)) or is_tree_line(line):
            return True
    return False


def load(path: Path) -> Fabric:
    path = Path(path)
    data = read_input(path)
    if b"\0" in data[:65536]:
        raise InputError(Diagnostic("binary data, not lspci output", Location(str(path))))
    lines = data.decode("utf-8-sig", "replace").splitlines()
    parsed = parse_records(lines)
    problems = [Diagnostic(p.message, Location(str(path), p.line, p.column), p.hint) for p in parsed.problems]
    tree: Tree | None = None
    try:
        tree = parse_tree(lines, str(path))
    except InputError as exc:
        problems += exc.diagnostics  # one run shows every damaged line, the tree's and the -vvv blocks' alike
    if problems or tree is None:
        raise InputError(sorted(problems, key=_line_of))
    records = parsed.records
    if not records and not tree.entries:
        raise InputError(
            Diagnostic(
                "no lspci output found",
                Location(str(path)),
                "expected `lspci -vvv` blocks ('c1:00.0 VGA compatible controller: …') or `lspci -tv` lines",
            )
        )
    return _Merge(path, records, tree, _machine(lines), parsed.oddities).fabric()


def _line_of(diag: Diagnostic) -> int:
    if diag.location is None or diag.location.line is None:
        return 0
    return diag.location.line


def _machine(lines: list[str]) -> dict[str, str]:
    """CPU and NUMA facts from lscpu / numactl --hardware output pasted into the same file."""
    facts: dict[str, str] = {}
    for line in lines:
        for key, pattern in _LSCPU.items():
            match = pattern.match(line)
            if match and key not in facts:
                facts[key] = match[1]
        match = _NUMACTL_NODES.match(line)
        if match and "nodes" not in facts:
            facts["nodes"] = match[1]
    return facts


class _Merge:
    def __init__(
        self,
        path: Path,
        records: list[Record],
        tree: Tree,
        machine: dict[str, str],
        oddities: dict[str, list[str]] | None = None,
    ):
        self.path = path
        self.oddities = oddities or {}
        self.records: dict[BDF, Record] = {}
        self.record_conflicts: list[Record] = []  # a second block for an address that says something else
        for rec in records:
            first = self.records.setdefault(rec.bdf, rec)  # a block pasted twice: the first is as good as the second
            if first is not rec and _identity(first) != _identity(rec):
                self.record_conflicts.append(rec)
        self.entries: dict[BDF, TreeEntry] = {e.bdf: e for e in tree.entries}
        self.conflicts = tree.conflicts
        self.roots: dict[tuple[int, int], None] = dict.fromkeys(tree.root_buses)
        self.cut_after = tree.cut_after
        self.machine = machine
        self.guessed_roots: list[str] = []
        self.guessed_kinds: list[str] = []
        self.acs_missing: list[str] = []  # "BDF (no ACSCtl line)": ACS listed, its registers not all shown
        self.link_missing: list[str] = []
        self.single_node = machine.get("nodes") == "1"

    def fabric(self) -> Fabric:
        bdfs = sorted(set(self.records) | set(self.entries))
        parents = self._parents(bdfs)
        physfns = self._virtfns(bdfs, parents)
        drafts = [self._draft(bdf, parents[bdf], physfns.get(bdf)) for bdf in bdfs]
        # An address the tree draws twice: the second drawing, with its own parent and line, for build_fabric to
        # set aside as conflicting (it keeps the -vvv facts of the address, which do not say where it sits).
        drafts += [self._conflict_draft(entry) for entry in self.conflicts]
        drafts += [self._record_conflict_draft(rec, parents.get(rec.bdf)) for rec in self.record_conflicts]
        self._link_drawn_parents(drafts)
        for draft in drafts:
            if draft.parent is None and draft.bdf.bus_id not in self.roots:
                self.roots[draft.bdf.bus_id] = None
        numa = self._root_numa(drafts)
        root_buses = [RootBus(d, b, numa_node=numa.get((d, b))) for d, b in self.roots]
        name = self.path.stem
        parts = []
        if self.records:
            parts.append(f"-vvv for {len(self.records)} of {len(bdfs)} functions")
        if self.entries:
            parts.append("-tv tree")
        return build_fabric(
            str(self.path),
            name,
            root_buses,
            drafts,
            self._host(),
            self._notes(drafts),
            f"lspci output ({', '.join(parts)})",
        )

    # -- the tree -------------------------------------------------------------------------------------------------
    def _parents(self, bdfs: list[BDF]) -> dict[BDF, BDF | None]:
        owner: dict[tuple[int, int], BDF] = {}
        for entry in self.entries.values():
            if entry.secondary is not None:
                owner.setdefault((entry.bdf.domain, entry.secondary), entry.bdf)
        for rec in self.records.values():
            if rec.secondary is not None:
                owner.setdefault((rec.bdf.domain, rec.secondary), rec.bdf)
        parents: dict[BDF, BDF | None] = {}
        evident: set[tuple[int, int]] | None = None
        for bdf in bdfs:
            if bdf in self.entries:
                parents[bdf] = self.entries[bdf].parent
                continue
            parent = owner.get(bdf.bus_id)
            parents[bdf] = parent if parent != bdf else None
            if parents[bdf] is None and bdf.bus_id not in self.roots:
                self.roots[bdf.bus_id] = None
                evident = self._evident_roots() if evident is None else evident
                if bdf.bus_id not in evident:
                    self.guessed_roots.append(format_bus(*bdf.bus_id))
        return parents

    def _evident_roots(self) -> set[tuple[int, int]]:
        """Buses a host bridge function or a root port shows to be root buses, not ones whose bridge is missing
        from a partial dump (``lspci -vvv -s``). Gathered once: asked per bus, a dump of thousands of domains
        read every record for each."""
        return {
            rec.bdf.bus_id
            for rec in self.records.values()
            if (rec.class_code is not None and rec.class_code >> 8 == 0x0600)
            or (rec.port_type or "").startswith(("Root Port", "Root Complex"))
        }

    def _virtfns(self, bdfs: list[BDF], parents: dict[BDF, BDF | None]) -> dict[BDF, BDF]:
        """VFs an SR-IOV PF has enabled, by the routing IDs its First VF Offset and VF Stride give.

        Each PF looks at whichever is fewer: the routing IDs its VFs would take, or the functions present in their
        span. Counting out every VF a block claims let one damaged block hang the reader (a stride of 0 never
        leaves the 16-bit space, and "Number of VFs: 999999999" is a nine-digit loop) and made a dump of many PFs
        each claiming 65,535 VFs cost 30 ms a PF."""
        present: dict[int, list[int]] = {}  # routing IDs present, sorted, by domain
        for bdf in bdfs:
            present.setdefault(bdf.domain, []).append((bdf.bus << 8) | bdf.devfn)
        for rids in present.values():
            rids.sort()
        physfns: dict[BDF, BDF] = {}
        for pf in self.records.values():
            if not pf.num_vfs or pf.vf_offset is None or pf.vf_stride is None:
                continue
            own = (pf.bdf.bus << 8) | pf.bdf.devfn
            first, stride = own + pf.vf_offset, pf.vf_stride
            count = pf.num_vfs if stride else 1  # a stride of 0 puts every VF on the first one's ID
            last = min(0xFFFF, first + (count - 1) * stride)
            rids = present.get(pf.bdf.domain, [])
            low, high = bisect_left(rids, first), bisect_right(rids, last)
            if high - low <= count:
                found = [r for r in rids[low:high] if not stride or (r - first) % stride == 0]
            else:
                taken = set(rids[low:high])
                found = [r for r in range(first, last + 1, stride or 1) if r in taken]
            for rid in found:
                if rid != own:
                    vf = BDF(pf.bdf.domain, rid >> 8, (rid >> 3) & 0x1F, rid & 7)
                    physfns[vf] = pf.bdf
                    parents[vf] = parents[pf.bdf]
        return physfns

    # -- one function ---------------------------------------------------------------------------------------------
    def _draft(self, bdf: BDF, parent: BDF | None, physfn: BDF | None) -> Draft:
        rec = self.records.get(bdf)
        entry = self.entries.get(bdf)
        line = entry.line if entry is not None else rec.line  # type: ignore[union-attr]
        values: dict = {"physfn": physfn}
        kind = None
        bridge = (entry is not None and entry.secondary is not None) or (rec is not None and rec.secondary is not None)
        if rec is not None:
            values.update(self._record_values(rec, physfn))
            kind = _PORT_TYPES.get(rec.port_type or "")
            bridge = bridge or (rec.class_code is not None and rec.class_code >> 8 in _BRIDGE_CLASSES)
        elif entry is not None:
            values["product"] = entry.name
            if entry.vendor_id is not None:
                values["vendor_id"], values["device_id"] = entry.vendor_id, entry.device_id
            else:
                values["vendor_id"], values["device_id"] = vendor_and_device(entry.name or "")
            if not bridge:
                kind = self._guess_kind(bdf, entry.name)
        if values.get("numa_node") is None and self.single_node:
            values["numa_node"] = 0
        return Draft(bdf, parent, Location(str(self.path), line), bridge=bridge, kind=kind, values=values)

    def _link_drawn_parents(self, drafts: list[Draft]) -> None:
        """Each tree entry's parent is the bridge drawn where the tree says, not merely one at that address."""
        drawn = {(d.bdf, d.where().line): i for i, d in enumerate(drafts)}
        # by address and line; a lookup by a draft without a line finds nothing
        entries: dict[tuple[BDF, int | None], TreeEntry] = {
            (e.bdf, e.line): e for e in [*self.entries.values(), *self.conflicts]
        }
        for draft in drafts:
            entry = entries.get((draft.bdf, draft.where().line))
            if entry is not None and entry.parent is not None and draft.parent == entry.parent:
                draft.parent_at = drawn.get((entry.parent, entry.parent_line))

    def _conflict_draft(self, entry: TreeEntry) -> Draft:
        bridge = entry.secondary is not None
        values: dict = {"product": entry.name, "vendor_id": entry.vendor_id, "device_id": entry.device_id}
        return Draft(entry.bdf, entry.parent, Location(str(self.path), entry.line), bridge=bridge, values=values)

    def _record_conflict_draft(self, rec: Record, parent: BDF | None) -> Draft:
        values = self._record_values(rec, None)
        return Draft(
            rec.bdf,
            parent,
            Location(str(self.path), rec.line),
            bridge=rec.secondary is not None,
            kind=_PORT_TYPES.get(rec.port_type or ""),
            values=values,
        )

    def _record_values(self, rec: Record, physfn: BDF | None) -> dict:
        values: dict[str, object] = {
            "vendor_id": rec.vendor_id,
            "device_id": rec.device_id,
            "class_code": rec.class_code,
            "subsystem_vendor_id": rec.subsystem_vendor_id,
            "subsystem_device_id": rec.subsystem_device_id,
            "revision": rec.revision,
            "product": rec.product,
            "driver": rec.driver,
            "numa_node": rec.numa_node,
            "iommu_group": rec.iommu_group,
        }
        if rec.link_cap is not None or rec.link_sta is not None:
            cap = rec.link_cap or (None, None)
            sta = rec.link_sta or (None, None)
            values["link"] = Link(
                gen=sta[0],
                width=sta[1],
                max_gen=cap[0],
                max_width=cap[1],
                mps=rec.mps,
                mrrs=rec.mrrs,
                down=rec.link_down and sta == (None, None),
            )
        if _has_link(rec, physfn) and (rec.link_cap is None or rec.link_sta is None):
            self.link_missing.append(f"{rec.bdf} (no {_missing('LnkCap', rec.link_cap, 'LnkSta', rec.link_sta)})")
        if not rec.denied and rec.capabilities:
            # The capabilities were read: a PCI Express port type says whether it is an RCiEP; none is no RCiEP.
            values["integrated"] = (rec.port_type or "").startswith("Root Complex Integrated")
        if rec.denied or not rec.capabilities:
            values["acs"] = ACS_UNKNOWN
        elif rec.acs_cap is not None and rec.acs_ctrl is not None:
            values["acs"] = Acs(AcsSource.HARDWARE, cap=rec.acs_cap, ctrl=rec.acs_ctrl)
        elif rec.acs_seen:
            # Listed, but a register not shown (lspci -v rather than -vvv, or a cut or edited dump): a missing
            # ACSCtl is no evidence that redirect is off, so the state stays unknown.
            values["acs"] = ACS_UNKNOWN
            self.acs_missing.append(f"{rec.bdf} (no {_missing('ACSCap', rec.acs_cap, 'ACSCtl', rec.acs_ctrl)})")
        else:
            values["acs"] = ACS_NONE
        return values

    def _guess_kind(self, bdf: BDF, name: str | None) -> DeviceKind | None:
        if not name or _NOT_GUESSED.search(name):
            return None
        for pattern, kind in _NAME_KINDS:
            if pattern.search(name):
                self.guessed_kinds.append(f"{bdf.short()} {kind.value}")
                return kind
        return None

    # -- machine facts and notes ----------------------------------------------------------------------------------
    def _root_numa(self, drafts: list[Draft]) -> dict[tuple[int, int], int | None]:
        numa: dict[tuple[int, int], int | None] = {}
        by_bdf = {d.bdf: d for d in drafts}
        # The bus at the top of each function's chain, kept for every function a walk passes: walking each chain
        # from every function on it cost N × depth (8,000 bridges drawn one below the other: 11 s).
        top_bus: dict[BDF, tuple[int, int]] = {}
        for draft in drafts:
            node = draft.values.get("numa_node")
            if node is None:
                continue
            # Up from the draft's own parent (an address given twice has two); ancestors are the entries by_bdf
            # holds, so theirs can be kept.
            top, seen = draft, {draft.bdf}
            chain: list[BDF] = []
            bus: tuple[int, int] | None = None
            while top.parent is not None and top.parent in by_bdf:
                if top.parent in top_bus:
                    bus = top_bus[top.parent]
                    break
                if top.parent in seen:  # a damaged file may loop: the walk ends where it would come round
                    chain = []
                    break
                top = by_bdf[top.parent]
                chain.append(top.bdf)
                seen.add(top.bdf)
            bus = top.bdf.bus_id if bus is None else bus
            for bdf in chain:
                top_bus[bdf] = bus
            numa.setdefault(bus, node)
        if self.single_node:
            for bus_id in self.roots:
                numa.setdefault(bus_id, 0)
        return numa

    def _host(self) -> Host:
        m = self.machine
        return Host(
            cpu_vendor=cpu_vendor(m.get("vendor")),
            cpu_family=decimal_within(m["family"], CPU_FAMILY) if "family" in m else None,
            cpu_model=m.get("model"),
            arch=m.get("arch", Host().arch),
            iommu=IommuMode.UNKNOWN,
        )

    def _notes(self, drafts: list[Draft]) -> list[str]:
        notes = [IOMMU_UNKNOWN_NOTE]
        total = len(drafts)
        if not self.records:
            notes.append(
                "only `lspci -tv` output: class codes, port types, links and ACS are unknown for every function; "
                "add `sudo lspci -vvv` output for them"
            )
        else:
            bare = [str(d.bdf) for d in drafts if d.bdf not in self.records]
            if bare:
                notes.append(
                    f"{len(bare)} of {total} functions appear only in the `lspci -tv` tree, so their class, links and "
                    "ACS are unknown: add `sudo lspci -vvv` output for all devices (without -s)"
                )
            denied = [str(r.bdf) for r in self.records.values() if r.denied]
            if denied:
                notes.append(
                    f"links and ACS unknown for {listing(denied)}: lspci ran without root "
                    "(`Capabilities: <access denied>`); run `sudo lspci -vvv`"
                )
        for line in self.cut_after:
            notes.append(
                f"the `lspci -tv` tree stops at line {line} with branches still open: the capture looks cut, so "
                "functions drawn below that point are missing; paste the whole `lspci -tv` output"
            )
        if self.acs_missing:
            notes.append(
                f"ACS unknown for {listing(self.acs_missing)}: the ACS capability is listed but not all of its "
                "register lines are (`lspci -v` rather than -vvv, or a cut or edited dump); `sudo lspci -vvv` "
                "prints them"
            )
        if self.link_missing:
            notes.append(
                f"link speed or width unknown for {listing(self.link_missing)}: their PCI Express capability has "
                "no LnkCap/LnkSta line (older pciutils, or a cut dump); `sudo lspci -vvv` with pciutils 3.0 or later "
                "prints them"
            )
        if self.guessed_kinds:
            notes.append(f"endpoint kinds guessed from device names (no class code): {listing(self.guessed_kinds)}")
        unknown_ids = sum(1 for d in drafts if None in (d.values.get("vendor_id"), d.values.get("device_id")))
        if unknown_ids:
            notes.append(f"vendor or device ID unknown for {unknown_ids} functions: `lspci -nn` prints them")
        if self.guessed_roots:
            notes.append(
                f"buses {listing(self.guessed_roots)} have no bridge in the file and are taken as root buses; give "
                "`lspci -tv` or the complete `lspci -vvv` output for the real tree"
            )
        for kind, where in self.oddities.items():
            notes.append(f"{kind}: {listing(where)}")
        if self.single_node:
            notes.append("NUMA node 0 for every device: lscpu / numactl in the same file report a single NUMA node")
        return notes


def _identity(rec: Record) -> tuple:
    """What makes two -vvv blocks for one address the same function (a block pasted twice) or two different ones."""
    return (rec.vendor_id, rec.device_id, rec.class_code, rec.secondary, rec.port_type)


def _missing(first: str, first_value: object, second: str, second_value: object) -> str:
    names = [name for name, value in ((first, first_value), (second, second_value)) if value is None]
    return f"{'/'.join(names)} line{'s' if len(names) > 1 else ''}"


def _has_link(rec: Record, physfn: BDF | None) -> bool:
    """A PCI Express function with a link of its own: integrated endpoints and event collectors have none, and a
    VF's link registers are reserved (its PF's link carries it)."""
    return physfn is None and rec.port_type is not None and not rec.port_type.startswith("Root Complex")
