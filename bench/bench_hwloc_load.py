"""How long a large hwloc XML takes to load: the target is a 5 MB file in at most 1 s.

The file is built from the real DGX-2 export in shared/data: its four host-bridge subtrees (two levels of PLX
PEX9781 switches, 16 V100, NVSwitches, OS devices) are copied into new PCI domains, one Package per copy, until the
document reaches the target size. That makes a PCI-heavy file (the worst case for the loader: nearly every element
becomes a function) rather than one padded with CPU objects. Run:

    /work/venv/bin/python bench/bench_hwloc_load.py [--mb 5] [--repeat 5]

It prints the file's size and function count, the time ElementTree alone needs to parse it (the floor), and the
time p2ptui.sources.hwloc.load needs (parse + tree + Fabric checks), best and median of the repeats.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

from p2ptui.sources import hwloc

# The real DGX-2 export in shared/data beside the repository, or under $P2PTUI_SHARED_DATA.
SOURCE = Path(os.environ.get("P2PTUI_SHARED_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
SOURCE = SOURCE / "hwloc" / "nvidiaDGX2.xml"
TARGET_SECONDS = 1.0


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=float, default=5.0, help="size of the generated file in MB (default 5)")
    parser.add_argument("--repeat", type=int, default=5, help="timed loads (default 5)")
    args = parser.parse_args()
    data = build(int(args.mb * 1_000_000))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "big-hwloc.xml"
        path.write_bytes(data)
        parse_times, load_times = [], []
        fabric = None
        for _ in range(args.repeat):
            start = time.perf_counter()
            ET.parse(path)
            parse_times.append(time.perf_counter() - start)
            start = time.perf_counter()
            fabric = hwloc.load(path)
            load_times.append(time.perf_counter() - start)
    assert fabric is not None
    print(f"file: {len(data) / 1e6:.2f} MB from {SOURCE.name}, {len(fabric)} functions on {len(fabric.root_buses)} root buses")
    print(f"ElementTree parse alone: best {min(parse_times):.3f} s, median {statistics.median(parse_times):.3f} s")
    print(
        f"hwloc.load: best {min(load_times):.3f} s, median {statistics.median(load_times):.3f} s "
        f"over {args.repeat} runs (time.perf_counter); target <= {TARGET_SECONDS:.1f} s for 5 MB: "
        + ("met" if statistics.median(load_times) <= TARGET_SECONDS else "MISSED")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
