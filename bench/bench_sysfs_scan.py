"""Time scanning a 2,000-function sysfs root (budgets: ≤ 1 s; its .tar.gz snapshot ≤ 2× the directory).

Run: python bench/bench_sysfs_scan.py [--functions N] [--repeat N] [--cold]
Writes a synthetic sysfs root with tests/sources/sysfs_fixtures.py (real config-space bytes, root ports with
Gen4 switches of NVMe drives over several PCI domains) into a temp dir, then times p2ptui.sources.sysfs.load on it
(tree walk + every attribute and config file read + host facts + model build and validation) with
time.perf_counter: one warm-up, then N runs; prints min/median/max. It also times the same root packed as a
.tar.gz snapshot, and `p2ptui scan ROOT -o FILE` end to end in a fresh interpreter (includes Python start-up and
YAML writing). --cold drops the page cache before each directory run (root only; affects the whole machine).
Exits 1 when the directory scan misses its budget or the snapshot takes more than TAR_RATIO_BUDGET times the
directory scan (medians), printing the measured numbers and the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "tests" / "sources"))

from sysfs_fixtures import large_spec, tar_root, write_sysfs  # noqa: E402

from p2ptui.sources import sysfs  # noqa: E402

BUDGET_S = 1.0
TAR_RATIO_BUDGET = 2.0  # the same tree as a .tar.gz snapshot, against the directory (issue 14 item 7)


def timed(fn, repeat: int, before=None) -> tuple[list[float], object]:
    result = fn()  # warm-up
    times = []
    for _ in range(repeat):
        if before:
            before()
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return times, result


def drop_caches() -> None:
    os.sync()
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def summary(times: list[float]) -> str:
    return (
        f"min {min(times):.3f} s  median {statistics.median(times):.3f} s  max {max(times):.3f} s  ({len(times)} runs)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--functions", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--cold", action="store_true", help="drop the page cache before each run (root only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2ptui-bench-") as tmp:
        root = Path(tmp) / "root"
        start = time.perf_counter()
        write_sysfs(root, large_spec(args.functions))
        written = time.perf_counter() - start
        files = sum(len(f) + len(d) for _, d, f in os.walk(root))
        times, fabric = timed(lambda: sysfs.load(root), args.repeat, drop_caches if args.cold else None)
        print(
            f"root: {len(fabric)} functions ({len(fabric.endpoints())} endpoints) on {len(fabric.root_buses)} "
            f"root buses, {files} files and dirs, written in {written:.1f} s"
        )
        median = statistics.median(times)
        cache = "cold page cache" if args.cold else "warm page cache"
        print(f"sysfs.load(directory), {cache}: {summary(times)}")
        snap = tar_root(root, Path(tmp) / "root.tar.gz", arcname="root")
        tar_times, tar_fabric = timed(lambda: sysfs.load(snap), max(3, args.repeat // 2))
        print(f"sysfs.load(.tar.gz snapshot, {snap.stat().st_size / 1e6:.2f} MB): {summary(tar_times)}")
        if tar_fabric.devices != fabric.devices:
            print("the snapshot does not read as the same devices as the directory")
            return 1
        ratio = statistics.median(tar_times) / median
        out = Path(tmp) / "out.yaml"
        cli = []
        for _ in range(3):
            start = time.perf_counter()
            subprocess.run(
                [sys.executable, "-m", "p2ptui", "scan", str(root), "-o", str(out), "--force"],
                check=True,
                capture_output=True,
            )
            cli.append(time.perf_counter() - start)
        print(f"p2ptui scan ROOT -o FILE --force (new process, start-up included): {summary(cli)}")
    verdict = "within" if median <= BUDGET_S else "OVER"
    print(f"budget {BUDGET_S:.1f} s for the directory scan: median {median:.3f} s is {verdict} budget")
    tar_verdict = "within" if ratio <= TAR_RATIO_BUDGET else "OVER"
    print(
        f"budget {TAR_RATIO_BUDGET:.1f}x the directory for the .tar.gz snapshot: {ratio:.2f}x is {tar_verdict} budget"
    )
    return 0 if median <= BUDGET_S and ratio <= TAR_RATIO_BUDGET else 1


if __name__ == "__main__":
    sys.exit(main())
