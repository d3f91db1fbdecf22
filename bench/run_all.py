"""Run every benchmark the README's table cites, one after another, and say which met its budget.

Each bench runs in a child process exactly as the table's command column shows it; its whole output is kept in
``--out`` (one log per bench), and a summary gives each one's exit status (0: every budget met), wall time and
the load average before it started, so that the table can be re-measured in one go on a quiet machine:

    PYTHONPATH=. python bench/run_all.py [--out DIR] [--only NAME,...]

Exit 1 when any bench missed a budget (or failed to run).
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (script, arguments): the commands of the README's benchmark table, in its order.
BENCHES: list[tuple[str, list[str]]] = [
    ("bench_startup.py", []),
    ("bench_fabric_load.py", []),
    ("bench_sim_scale.py", []),
    ("bench_verdict.py", []),
    ("bench_matrix_scale.py", []),
    ("bench_sysfs_scan.py", []),
    ("bench_fuzz.py", []),
    ("bench_hwloc_load.py", []),
    ("bench_engine.py", ["--repeat", "3", "--io-repeat", "5"]),
    ("bench_pci_names.py", []),
    ("bench_tui.py", ["--runs", "3"]),
    ("bench_matrix.py", []),
    ("bench_fleet.py", []),
    ("fuzz_cli.py", []),
]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=None, help="directory for the logs (default: bench-results-DATE in the cwd)")
    parser.add_argument("--only", default="", help="comma-separated script names (without .py) to run")
    args = parser.parse_args()
    stamp = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H%MZ")
    out = Path(args.out or f"bench-results-{stamp}")
    out.mkdir(parents=True, exist_ok=True)
    chosen = {name.strip().removesuffix(".py") for name in args.only.split(",") if name.strip()}
    unknown = chosen - {script.removesuffix(".py") for script, _ in BENCHES}
    if unknown:
        print(f"run_all.py: no such bench: {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    rows = []
    for script, extra in BENCHES:
        if chosen and script.removesuffix(".py") not in chosen:
            continue
        load = os.getloadavg()[0]
        command = [sys.executable, str(HERE / script), *extra]
        started = time.perf_counter()
        with open(out / f"{script.removesuffix('.py')}.log", "w", encoding="utf-8") as log:
            status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
        seconds = time.perf_counter() - started
        verdict = "met" if status == 0 else f"MISSED (exit {status})"
        rows.append((script, " ".join(extra), verdict, seconds, load))
        print(f"{script:24s} {' '.join(extra):28s} {verdict:18s} {seconds:7.1f} s  load before {load:.2f}", flush=True)
    print(f"{sum(r[2] == 'met' for r in rows)} of {len(rows)} benches met every budget; logs in {out}")
    return 0 if all(r[2] == "met" for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
