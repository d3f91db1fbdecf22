"""Time loading the bundled ≥2,000-device fabric from YAML (issue budget: ≤ 0.5 s).

Run: python bench/bench_fabric_load.py [--repeat N]
Measures wall time of p2ptui.fabric.load_fabric (read + YAML compose + validation + model build) with
time.perf_counter, N runs after one warm-up, and prints min/median/max.
"""

from __future__ import annotations

import argparse
import statistics
import time

from p2ptui.fabric import dumps_fabric, load_fabric
from p2ptui.fabric.gallery import find_bundled

BUDGET_S = 0.5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    path = find_bundled("large-synthetic")
    fabric = load_fabric(path)  # warm-up: imports, page cache
    times = []
    for _ in range(args.repeat):
        start = time.perf_counter()
        load_fabric(path)
        times.append(time.perf_counter() - start)
    save_times = []
    for _ in range(3):
        start = time.perf_counter()
        dumps_fabric(fabric)
        save_times.append(time.perf_counter() - start)
    median = statistics.median(times)
    print(f"fabric: {path.name}: {len(fabric)} functions, {len(fabric.endpoints())} endpoints, "
          f"{path.stat().st_size / 1e6:.2f} MB")  # fmt: skip
    print(f"load_fabric: min {min(times):.3f} s  median {median:.3f} s  max {max(times):.3f} s  ({args.repeat} runs)")
    print(f"dumps_fabric: median {statistics.median(save_times):.3f} s")
    print(f"budget {BUDGET_S} s: {'PASS' if median <= BUDGET_S else 'FAIL'}")
    return 0 if median <= BUDGET_S else 1


if __name__ == "__main__":
    raise SystemExit(main())
