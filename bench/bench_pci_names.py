"""Time naming every function of a real machine from a full PCI ID database (budget: ≤ 50 ms for a fresh process's
first 127 names, read and index included; ≤ 20 µs per name once the vendors are indexed).

Run: python bench/bench_pci_names.py [--pci-ids FILE] [--repeat N]
Uses the system's pci.ids (/usr/share/misc/pci.ids ...) unless --pci-ids names one; the Dell DCS8000Z hwloc file
(127 non-bridge functions, 8 vendors) from tests/data supplies the IDs, with its product names cleared so every name
comes from the database. Each cold run reads and indexes the file anew, as a new process would.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

from p2ptui.fabric import pciids
from p2ptui.fabric.naming import device_names
from p2ptui.fabric.pciids import PciIds
from p2ptui.sources import open_fabric

COLD_BUDGET_S = 0.050
WARM_BUDGET_S = 20e-6
DELL = Path(__file__).resolve().parents[1] / "tests" / "data" / "hwloc" / "linux-32em64t-2n8c+dax+nvme+mic+dimms.xml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pci-ids", help="database to read (default: the system's)")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    path = args.pci_ids or next((p for p in pciids.SEARCH_PATHS if os.path.isfile(p)), None)
    if path is None:
        print("no pci.ids on this machine: install pciutils or hwdata, or give --pci-ids", file=sys.stderr)
        return 2
    devices = [replace(d, product=None) for d in open_fabric(str(DELL))]
    cold = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        db = PciIds.read(path)
        names = [device_names(d, db) for d in devices]
        cold.append(time.perf_counter() - start)
    named = sum(1 for n in names if n.device)
    start = time.perf_counter()
    for _ in range(10):
        for d in devices:
            device_names(d, db)
    warm = (time.perf_counter() - start) / (10 * len(devices))
    size = Path(path).stat().st_size / 1e6
    print(f"database: {path} ({size:.2f} MB, {db.vendor_count} vendors)")
    print(f"fabric: {DELL.name}: {len(devices)} functions, {named} named by the database")
    print(
        f"cold (read + index + {len(devices)} names): min {min(cold) * 1e3:.1f} ms  median "
        f"{statistics.median(cold) * 1e3:.1f} ms  (budget {COLD_BUDGET_S * 1e3:.0f} ms)"
    )
    print(f"warm: {warm * 1e6:.1f} µs per name (budget {WARM_BUDGET_S * 1e6:.0f} µs)")
    ok = statistics.median(cold) <= COLD_BUDGET_S and warm <= WARM_BUDGET_S
    print("within budget" if ok else "OVER BUDGET")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
