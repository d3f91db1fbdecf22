"""Seeded mutations of real inputs, and what every reader must do with them.

The contract: whatever bytes a reader is given, it returns a Fabric or raises InputError (one clear line per
problem), within a few seconds; and a Fabric it returns is written by ``convert`` (YAML and JSON) and read back
equal. Used by tests/fuzz/test_fuzz_readers.py (a few hundred cases per reader) and bench/bench_fuzz.py (10,000+).

Seeds are the real files in tests/data and the bundled fabrics; every case is derived from one seed and one
``random.Random`` seeded by (run seed, reader, case number), so a failing case is reproduced by its number.
"""

from __future__ import annotations

import bz2
import functools
import io
import random
import re
import signal
import tarfile
import tempfile
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from p2ptui.errors import InputError
from p2ptui.fabric.model import Fabric
from p2ptui.formats import dumps_fabric, load_fabric, loads_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.formats.writers import dumps_json
from p2ptui.sources import open_fabric
from p2ptui.sources.json_source import loads_json

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "tests" / "data"
READERS = ("yaml", "json", "lspci", "hwloc", "nccl", "sysfs", "plan")
OUTCOMES = ("loaded", "refused", "traceback", "hang")
MAX_SEED_BYTES = 120_000  # large-synthetic (0.5 MB) would make each case slow without finding more
PLAN_FABRIC = "nvmeof-target"

# Values that have broken readers elsewhere: empty, signs, overflowing numbers, non-ASCII digits, NaN, huge text.
ODD_VALUES = (
    b"",
    b"-1",
    b"0",
    b"255",
    b"65535",
    b"99999999999",
    b"99999999999999999999",
    b"0x",
    b"0xffffffff",
    b"\xd9\xa3",
    b"\xc2\xb2",
    b"NaN",
    b"inf",
    b"1e309",
    b"-0",
    b"2.5",
    b"\xff\xfe",
    b"x" * 300,
    b"9" * 5000,
    b"Unknown",
    b"unknown",
    b"gen9 x64",
    b"~",
    b"null",
    b"[]",
    b"{}",
    b"'",
    b'"',
    b"&a",
    b"*a",
    b"%",
    b"\t",
)


@dataclass(frozen=True)
class Seed:
    reader: str
    name: str
    data: bytes
    suffix: str  # kept on the mutated copy: YAML is claimed by its suffix, the rest by content


@dataclass(frozen=True)
class Outcome:
    reader: str
    case: int
    seed: str
    mutation: str
    kind: str  # one of OUTCOMES
    detail: str = ""


class CaseTimeout(BaseException):
    """Raised by the alarm inside a case that runs too long (BaseException: no reader's handler swallows it)."""


# -- seeds ------------------------------------------------------------------------------------------------------------
@functools.cache
def seeds() -> dict[str, list[Seed]]:
    yamls = [e.path for e in bundled() if e.path.stat().st_size <= MAX_SEED_BYTES]
    found: dict[str, list[Seed]] = {
        "yaml": [Seed("yaml", p.name, p.read_bytes(), ".yaml") for p in yamls],
        "json": [Seed("json", p.stem + ".json", dumps_json(load_fabric(p)).encode(), ".json") for p in yamls],
        "lspci": [
            Seed("lspci", p.name, p.read_bytes(), ".txt")
            for p in sorted(DATA.glob("lspci/*"))
            if p.name.endswith((".md", "lspci-tv.txt"))
        ],
        "hwloc": [
            Seed("hwloc", p.name, p.read_bytes(), ".xml")
            for p in sorted(DATA.glob("hwloc/*.xml"))
            if p.stat().st_size <= MAX_SEED_BYTES
        ],
        "nccl": [Seed("nccl", p.name, p.read_bytes(), ".xml") for p in sorted(DATA.glob("nccl/*.xml"))],
        # Mutated as plain tar (the readers' part, not bzip2's); the smaller snapshot keeps cases quick.
        "sysfs": [
            Seed("sysfs", p.name, bz2.decompress(p.read_bytes()), ".tar")
            for p in sorted(DATA.glob("sysfs/*.bz2"))
            if p.stat().st_size <= 40_000
        ]
        + [synthetic_snapshot()],
        "plan": [Seed("plan", "plan.yaml", PLAN.encode(), ".yaml")],
    }
    return found


def synthetic_snapshot() -> Seed:
    """A small snapshot with what the hwloc ones lack (config space with ACS, P2P pools, VFs, IOMMU groups)."""
    from p2ptui.sources.sysfs_synth import HostSpec, switch_fabric, tar_root, write_sysfs

    with tempfile.TemporaryDirectory(prefix="p2ptui-fuzz-seed-") as tmp:
        root = write_sysfs(Path(tmp) / "box", switch_fabric(3, vfs=2), HostSpec(iommu_units=("dmar0",)))
        return Seed(
            "sysfs", "synthetic-switch.tar", tar_root(root, Path(tmp) / "box.tar", arcname="box").read_bytes(), ".tar"
        )


PLAN = """\
format: p2ptui-plan/1
description: two drives into one CMB while the NIC streams
sim:
  efficiency: 0.90
  read_tags: 32
  read_rtt_us: 2
  iommu_page_size: 4KiB
  memory_bandwidth: 50 GB/s
devices:
  nvme0: {read: 3.2, write: 2.0}
transfers:
  - name: a
    src: nvme0
    dst: nvme1
    via: nvme2
    size: 1GiB
    chunk: 1MiB
    threads: 2
    start: 0.5
  - src: host
    dst: nvme3
    size: 256MiB
    dma_size: 64
    window: 64MiB
"""


# -- mutations --------------------------------------------------------------------------------------------------------
Mutation = Callable[[bytes, random.Random, str], bytes]


def flip_bytes(data: bytes, rng: random.Random, reader: str) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8)):
        if out:
            out[rng.randrange(len(out))] = rng.randrange(256)
    return bytes(out)


def truncate(data: bytes, rng: random.Random, reader: str) -> bytes:
    return data[: rng.randrange(len(data) + 1)]


def _lines(data: bytes) -> list[bytes]:
    return data.splitlines(keepends=True) or [b""]


def duplicate_lines(data: bytes, rng: random.Random, reader: str) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    j = min(len(lines), i + rng.randint(1, 6))
    return b"".join(lines[:j] + lines[i:j] + lines[j:])


def delete_lines(data: bytes, rng: random.Random, reader: str) -> bytes:
    lines = _lines(data)
    i = rng.randrange(len(lines))
    return b"".join(lines[:i] + lines[i + rng.randint(1, 4) :])


def swap_lines(data: bytes, rng: random.Random, reader: str) -> bytes:
    lines = _lines(data)
    i, j = rng.randrange(len(lines)), rng.randrange(len(lines))
    lines[i], lines[j] = lines[j], lines[i]
    return b"".join(lines)


_VALUE = re.compile(rb'(?<==")[^"]*(?=")|(?<=: )[^\n,}\]]+|(?<=\b0x)[0-9a-fA-F]+|\b\d+\b')


def edit_values(data: bytes, rng: random.Random, reader: str) -> bytes:
    """Replace a few values (XML attributes, YAML/JSON scalars, numbers in text) with odd ones."""
    spans = [m.span() for m in _VALUE.finditer(data)]
    if not spans:
        return flip_bytes(data, rng, reader)
    out = data
    for start, end in sorted(rng.sample(spans, min(len(spans), rng.randint(1, 3))), reverse=True):
        out = out[:start] + rng.choice(ODD_VALUES) + out[end:]
    return out


def huge_numbers(data: bytes, rng: random.Random, reader: str) -> bytes:
    """Every number on one line made thousands of digits long (Python's int() refuses over 4,300) or non-ASCII."""
    lines = _lines(data)
    numbered = [i for i, line in enumerate(lines) if re.search(rb"[0-9]", line)]
    if not numbered:
        return flip_bytes(data, rng, reader)
    i = rng.choice(numbered)
    lines[i] = re.sub(rb"[0-9]+", rng.choice((b"9" * 5000, b"\xd9\xa3", b"1" * 25)), lines[i])
    return b"".join(lines)


def deep_nesting(data: bytes, rng: random.Random, reader: str) -> bytes:
    """Nest far deeper than any machine: bridges in a chain, brackets, member paths."""
    depth = rng.choice((70, 130, 300, 1200))
    if reader in ("yaml", "plan"):
        return data + b"\nextra: " + b"[" * depth + b"]" * depth + b"\n" if rng.random() < 0.5 else yaml_chain(depth)
    if reader == "json":
        return b'{"devices": ' + b"[" * depth + b"]" * depth + b"}"
    if reader == "hwloc":
        inner = b"".join(
            b'<object type="Bridge" bridge_type="1-1" pci_busid="0000:%02x:00.0" depth="0">' % (i % 256)
            for i in range(depth)
        )
        return data.replace(b"</topology>", inner + b"</object>" * depth + b"</topology>", 1)
    if reader == "nccl":
        inner = b"".join(
            b'<pci busid="0000:%02x:00.0" class="0x060400" link_speed="16 GT/s" link_width="16">' % (i % 256)
            for i in range(depth)
        )
        return data.replace(b"</cpu>", inner + b"</pci>" * depth + b"</cpu>", 1)
    if reader == "lspci":
        return lspci_chain(min(depth, 250))
    if reader == "sysfs":
        return tar_with_member(data, "/".join(["d"] * depth) + "/f", b"1\n")
    return data


def yaml_chain(depth: int) -> bytes:
    """A YAML fabric whose only root port has a chain of ``depth`` PCI bridges below it."""
    lines = ["root_complexes:", "  - bus: 0000:00", "    devices:"]
    indent = "      "
    for level in range(depth):
        bus = level % 256
        lines += [
            f"{indent}- bdf: {bus:02x}:00.0",
            f"{indent}  kind: {'root_port' if level == 0 else 'pci_bridge'}",
            f"{indent}  children:",
        ]
        indent += "    "
    lines.append(f"{indent}- bdf: {depth % 256:02x}:00.0")
    return ("\n".join(lines) + "\n").encode()


def lspci_chain(depth: int) -> bytes:
    """``lspci -vvv`` text of a root port and a chain of ``depth - 1`` PCI bridges, one bus each, and an NVMe."""
    records = []
    for bus in range(depth):
        port = "Root Port (Slot+)" if bus == 0 else "Upstream Port"
        records.append(
            f"{bus:02x}:00.0 PCI bridge [0604]: Vendor [10b5:8747]\n"
            f"\tBus: primary={bus:02x}, secondary={bus + 1:02x}, subordinate={depth:02x}, sec-latency=0\n"
            f"\tCapabilities: [68] Express (v2) {port}, MSI 00\n"
        )
    records.append(f"{depth:02x}:00.0 Non-Volatile memory controller [0108]: Vendor [144d:a808]\n")
    return "\n".join(records).encode()


def tar_with_member(data: bytes, name: str, content: bytes) -> bytes:
    """``data`` (a tar archive) with one more file member, appended before its end marker."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    end = _tar_end(data)
    return data[:end] + out.getvalue()


def _tar_end(data: bytes) -> int:
    """Where the end-of-archive marker (the first all-zero header) starts."""
    pos = 0
    while pos + 512 <= len(data):
        header = data[pos : pos + 512]
        if header == bytes(512):
            return pos
        try:
            size = int(header[124:136].split(b"\0", 1)[0].strip() or b"0", 8)
        except ValueError:  # a header an earlier mutation damaged: append at the very end instead
            return len(data)
        pos += 512 + (size + 511) // 512 * 512
    return len(data)


def edit_tar_member(data: bytes, rng: random.Random, reader: str) -> bytes:
    """One sysfs attribute file's bytes replaced with an odd value (sizes and checksums stay right)."""
    try:
        src = tarfile.open(fileobj=io.BytesIO(data))
        members = [m for m in src.getmembers() if m.isfile() and 0 < m.size < 64 and "/sys/" in m.name]
    except tarfile.TarError:
        return flip_bytes(data, rng, reader)
    if not members:
        return flip_bytes(data, rng, reader)
    victim = rng.choice(members).name
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for member in src.getmembers():
            stream = src.extractfile(member) if member.isfile() else None
            if member.name == victim:
                value = rng.choice(ODD_VALUES) + b"\n"
                member.size = len(value)
                stream = io.BytesIO(value)
            tar.addfile(member, stream)
    return out.getvalue()


MUTATIONS: dict[str, list[Mutation]] = {
    reader: [
        flip_bytes,
        truncate,
        duplicate_lines,
        delete_lines,
        swap_lines,
        edit_values,
        edit_values,
        huge_numbers,
        deep_nesting,
    ]
    for reader in READERS
}
MUTATIONS["sysfs"] = [flip_bytes, flip_bytes, truncate, edit_tar_member, edit_tar_member, edit_tar_member, deep_nesting]


def cases(reader: str, count: int, run_seed: int = 0) -> Iterator[tuple[int, Seed, str, bytes]]:
    """``count`` mutated inputs for ``reader``: (case number, seed, mutation names, bytes)."""
    pool = seeds()[reader]
    for case in range(count):
        rng = random.Random(f"{run_seed}:{reader}:{case}")
        seed = pool[case % len(pool)]
        data, names = seed.data, []
        for _ in range(1 if rng.random() < 0.7 else rng.randint(2, 3)):
            mutate = rng.choice(MUTATIONS[reader])
            names.append(mutate.__name__)
            data = mutate(data, rng, reader)
        yield case, seed, "+".join(names), data


# -- running one case ---------------------------------------------------------------------------------------------
def _alarm(signum, frame):  # the signal handler's signature
    raise CaseTimeout()


def run_case(reader: str, case: int, seed: Seed, mutation: str, data: bytes, timeout: float = 10.0) -> Outcome:
    """Load ``data`` as a user would (through detection), then round-trip what loaded through YAML and JSON."""
    with tempfile.TemporaryDirectory(prefix="p2ptui-fuzz-") as tmp:
        path = Path(tmp) / f"case{seed.suffix}"
        path.write_bytes(data)
        previous = signal.signal(signal.SIGALRM, _alarm)
        signal.setitimer(signal.ITIMER_REAL, timeout)
        try:
            fabric = _load(reader, path)
            problem = round_trip_problem(fabric) if isinstance(fabric, Fabric) else None
            kind, detail = ("traceback", problem) if problem else ("loaded", "")
        except InputError as exc:
            kind, detail = "refused", str(exc).splitlines()[0]
        except CaseTimeout:
            kind, detail = "hang", f"more than {timeout:g} s"
        except Exception:  # noqa: BLE001 - any other exception is what the fuzzer looks for
            kind, detail = "traceback", traceback.format_exc()
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    return Outcome(reader, case, seed.name, mutation, kind, detail)


def _load(reader: str, path: Path) -> object:
    if reader == "plan":
        from p2ptui.engine.plan import load_plan

        return load_plan(path, open_fabric(PLAN_FABRIC))
    return open_fabric(str(path))


def round_trip_problem(fabric: Fabric) -> str | None:
    """What breaks when ``fabric`` is converted to YAML and to JSON and read back; None when both give it back."""
    text = dumps_fabric(fabric)
    try:
        back = loads_fabric(text, "<convert>", default_name=fabric.name)
    except InputError as exc:
        return f"convert wrote YAML that does not load: {str(exc).splitlines()[0]}"
    if back != fabric:
        return "YAML round trip changed the fabric"
    try:
        again = loads_json(dumps_json(fabric).encode(), "<convert>", fabric.name)
    except InputError as exc:
        return f"convert wrote JSON that does not load: {str(exc).splitlines()[0]}"
    if again != fabric:
        return "JSON round trip changed the fabric"
    return None
