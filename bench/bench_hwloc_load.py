"""How long a large hwloc XML takes to load: a 5 MB file in at most 2 × ElementTree's own parse of it (issue 14).

The file is built from the real DGX-2 export in tests/data/hwloc: its four host-bridge subtrees (two levels of PLX
PEX9781 switches, 16 V100, NVSwitches, OS devices) are copied into new PCI domains, one Package per copy, until the
document reaches the target size. That makes a PCI-heavy file (the worst case for the loader: nearly every element
becomes a function) rather than one padded with CPU objects. Run:

    /work/venv/bin/python bench/bench_hwloc_load.py [--mb 5] [--repeat 5]

It prints the file's size and function count, the time ElementTree alone needs to parse it (the anchor: the
floor of any reader built on it), and the time p2ptui.sources.hwloc.load needs (parse + tree + Fabric checks),
medians of the repeats (CPU and wall time), alternating the two, each in a fresh process that has imported
the reader (as `p2ptui show big.xml` would have): a parse measured in a process where earlier loads left their
fabrics alive pays for the collector walking them, which flattered the ratio. Exit 1 when the median load exceeds 2 × the
median parse on CPU time (a miss is measured once more: the machine is shared).
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from p2ptui.fabric.checks import structure_problems
from p2ptui.fabric.gc_pause import gc_paused
from p2ptui.fabric.model import Device
from p2ptui.sources import hwloc
from p2ptui.sources.xml_input import parse_xml, read_input

# The real DGX-2 export kept in the repository (provenance in tests/data/README.md).
SOURCE = Path(__file__).resolve().parents[1] / "tests" / "data" / "hwloc" / "nvidiaDGX2.xml"
FACTOR = 2.0


def build(target_bytes: int) -> bytes:
    tree = ET.parse(SOURCE)
    machine = tree.getroot().find("object[@type='Machine']")
    template_package = machine.find("object[@type='Package']")
    host_bridges = [o for o in machine.iter("object") if o.get("bridge_type") == "0-1"]
    gp_index = 10_000
    domain = 1
    size = len(ET.tostring(tree.getroot()))
    while size < target_bytes:
        package = ET.SubElement(machine, "object", dict(template_package.attrib, os_index=str(domain + 1)))
        for bridge in host_bridges:
            clone = copy.deepcopy(bridge)
            for obj in clone.iter("object"):
                gp_index += 1
                obj.set("gp_index", str(gp_index))
                obj.set("id", f"obj{gp_index}")
                for attr in ("pci_busid", "bridge_pci"):
                    if attr in obj.attrib:
                        obj.set(attr, f"{domain:04x}" + obj.get(attr)[4:])
            package.append(clone)
        size += len(ET.tostring(package))
        domain += 1
    return b'<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(tree.getroot())


# One timed step in a process of its own: both children import the reader first, so each starts from the same
# heap (the collector's cost during a parse grows with what is already alive) and neither pays for the other's
# leftovers. It prints CPU seconds, wall seconds and, for a load, the fabric's size.
_CHILD = """
import sys, time, xml.etree.ElementTree as ET
from pathlib import Path
from p2ptui.fabric.checks import structure_problems
from p2ptui.fabric.gc_pause import gc_paused
from p2ptui.fabric.model import Device
from p2ptui.sources import hwloc
from p2ptui.sources.xml_input import parse_xml, read_input
step, path = sys.argv[1], Path(sys.argv[2])
wall, cpu = time.perf_counter(), time.process_time()
result = ET.parse(path) if step == "parse" else hwloc.load(path)
cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
sizes = (len(result), len(result.root_buses)) if step == "load" else (0, 0)
print(cpu, wall, *sizes)
"""


def measure(path: Path, repeat: int) -> tuple[dict[str, list[float]], tuple[int, int]]:
    """CPU and wall seconds of each parse and load, alternating the two, each in a fresh process. Both are
    single-threaded work on a file in the page cache, so CPU time is what the code costs, whatever else the shared
    machine runs; wall time is printed beside it."""
    times: dict[str, list[float]] = {"parse cpu": [], "parse wall": [], "load cpu": [], "load wall": []}
    sizes = (0, 0)
    root = str(Path(__file__).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    for _ in range(repeat):
        for step in ("parse", "load"):
            out = subprocess.run(
                [sys.executable, "-c", _CHILD, step, str(path)], env=env, capture_output=True, text=True, check=True
            ).stdout.split()
            times[f"{step} cpu"].append(float(out[0]))
            times[f"{step} wall"].append(float(out[1]))
            if step == "load":
                sizes = (int(out[2]), int(out[3]))
    return times, sizes


def phases(path: Path) -> None:
    """Where a load's time goes (the second of two runs in this process, the collector paused as load pauses it): the floor the
    budget runs into is the Python spent per PCI function after the parse (the walk, the drafts, the model's
    frozen Device objects and its structure checks), not the parse."""
    fields = [f.name for f in dataclasses.fields(Device)]
    for _ in range(2):  # the first run warms what a fresh process pays once (imports, caches)
        steps = _phase_times(path, fields)
    print("  where a load's CPU time goes (one run in this process, collector paused):")
    for what, seconds in steps:
        if what:
            print(f"    {what:62} {seconds * 1e3:6.1f} ms")


def _phase_times(path: Path, fields: list[str]) -> list[tuple[str, float]]:
    steps: list[tuple[str, float]] = []
    with gc_paused():
        clock = time.process_time()

        def lap(what: str) -> None:
            nonlocal clock
            now = time.process_time()
            steps.append((what, now - clock))
            clock = now

        data = read_input(path)
        lap("read")
        doc = parse_xml(path, data)
        lap("parse")
        reader = hwloc._Reader(doc, hwloc._major_version(doc))
        reader.walk()
        lap("walk (drafts)")
        fabric = reader.fabric(path)
        lap("build (kinds, names, Devices, checks, indexes)")
        del reader, doc, data
        lap("free the tree and drafts")
        structure_problems(fabric.root_buses, fabric.devices)
        lap("  of build: the structure checks alone")
        kwargs = [{name: getattr(d, name) for name in fields} for d in fabric.devices]
        lap("")
        for one in kwargs:
            Device(**one)
        lap(f"  of build: {len(kwargs)} frozen Devices from ready arguments")
    return steps


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=5.0, help="size of the generated file in MB (default 5)")
    parser.add_argument("--repeat", type=int, default=5, help="timed loads (default 5)")
    args = parser.parse_args()
    data = build(int(args.mb * 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big-hwloc.xml"
        path.write_bytes(data)
        hwloc.load(path)  # warm: the page cache
        for attempt in (1, 2):
            times, (functions, root_buses) = measure(path, args.repeat)
            median = {name: statistics.median(values) for name, values in times.items()}
            parse, load = median["parse cpu"], median["load cpu"]
            ok = load <= FACTOR * parse
            print(
                f"run {attempt}: file {len(data) / 1e6:.2f} MB from {SOURCE.name}, {functions} functions on "
                f"{root_buses} root buses; load average {os.getloadavg()[0]:.2f}"
            )
            for name in ("parse", "load"):
                what = "ElementTree parse alone" if name == "parse" else "hwloc.load"
                print(
                    f"  {what}: median {median[name + ' cpu']:.3f} s CPU (best {min(times[name + ' cpu']):.3f}), "
                    f"{median[name + ' wall']:.3f} s wall, over {args.repeat} runs"
                )
            print(
                f"  load / parse = {load / parse:.2f} × on CPU ({median['load wall'] / median['parse wall']:.2f} × on "
                f"wall; budget ≤ {FACTOR:g} × on CPU): {'PASS' if ok else 'FAIL'}"
            )
            if ok:
                return 0
        phases(path)
    return 1


if __name__ == "__main__":
    raise SystemExit(main())
