"""A matrix that fits (issue 14, item 3): the all-pairs verdict at 4,096 and 16,384 endpoints, and `matrix --json`.

Run: python bench/bench_matrix_scale.py [--repeat 3] [--quick]
Fabrics from p2ptui.fabric.synth.large_fabric(n) (a PCI segment per 128 endpoints, four root ports each feeding a
32-port switch, one endpoint per downstream port), as bench_verdict.py uses. Each measurement runs in a child
process of its own, so its peak RSS (os.wait4's ru_maxrss: the whole process, Python, numpy and the fabric included)
and CPU time are its own:
  1. pair_matrix(fabric) at 4,096 and 16,384 endpoints: the first call (the per-fabric index built inside it), wall
     and CPU seconds, and the child's peak RSS;
  2. `p2ptui matrix FILE --json` on the 4,096-endpoint fabric saved as p2ptui JSON, stdout to a file: wall from
     start to exit (interpreter start, load, matrix, every byte written), CPU and peak RSS; the output is checked to
     be the whole JSON object;
  3. unless --quick, `matrix --json` at 16,384 endpoints with stdout to /dev/null (about 8 GB of text) under a
     2 GiB address-space cap: it must finish (exit 0, no MemoryError); its wall time and peak RSS are printed.
Medians of --repeat runs. Budgets: 16,384-endpoint matrix <= 2 s wall and <= 600 MB; `--json` for 4,096 endpoints
<= 3 s wall and <= 400 MB; 16,384 `--json` exits 0 under the cap. Exit 1 on a miss. The machine is shared: wall
times swing with its load, so CPU seconds are printed beside them.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MATRIX_WALL_S = 2.0
MATRIX_RSS_MB = 600.0
JSON_WALL_S = 3.0
JSON_RSS_MB = 400.0
JSON_16K_CAP = 2 << 30


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


def _child(cmd: list[str], stdout, limit: int | None = None) -> tuple[int, float, float, float, str]:
    """Run ``cmd``; (exit status, wall s, CPU s, peak RSS MB, stderr) of that child alone (os.wait4)."""

    def cap() -> None:
        if limit is not None:
            import resource

            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=stdout, stderr=err, env=_env(), preexec_fn=cap)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        message = err.read().decode(errors="replace")
    return proc.returncode, wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, message


def one_matrix(n: int) -> None:
    """In the child: build the fabric, time the first pair_matrix() call, print wall and CPU seconds as JSON."""
    from p2ptui.fabric.synth import large_fabric
    from p2ptui.p2p.matrix import pair_matrix
    from p2ptui.p2p.profiles import profile_for

    fabric = large_fabric(n)
    profile = profile_for(fabric)
    start, cpu = time.perf_counter(), time.process_time()
    m = pair_matrix(fabric, profile)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    print(json.dumps({"wall": wall, "cpu": cpu, "cells": m.map_type.shape[0] * m.map_type.shape[1]}))


def bench_matrix(n: int, repeat: int) -> bool:
    runs = []
    for _ in range(repeat):
        with tempfile.TemporaryFile() as out:
            status, _, _, rss, err = _child([sys.executable, __file__, "--one-matrix", str(n)], out)
            out.seek(0)
            if status != 0:
                print(f"matrix {n}: child failed ({status}): {err.strip()}")
                return False
            runs.append({**json.loads(out.read()), "rss": rss})
    wall, cpu, rss = (statistics.median(r[k] for r in runs) for k in ("wall", "cpu", "rss"))
    held = n == 16_384
    ok = not held or (wall <= MATRIX_WALL_S and rss <= MATRIX_RSS_MB)
    budget = f"budget <= {MATRIX_WALL_S:.0f} s, <= {MATRIX_RSS_MB:.0f} MB: {'PASS' if ok else 'FAIL'}"
    print(
        f"matrix {n:>6} endpoints ({runs[0]['cells'] / 1e6:.0f} M pairs), first call: wall {wall:.3f} s, "
        f"CPU {cpu:.3f} s; peak RSS {rss:.0f} MB (median of {repeat})  [{budget if held else 'no budget'}]"
    )
    return ok


def bench_json(n: int, repeat: int, fabric_file: Path) -> bool:
    runs = []
    for _ in range(repeat):
        with tempfile.NamedTemporaryFile(suffix=".json") as out:
            cmd = [sys.executable, "-m", "p2ptui", "matrix", str(fabric_file), "--json"]
            status, wall, cpu, rss, err = _child(cmd, out)
            size = os.path.getsize(out.name)
            with open(out.name, "rb") as f:
                head = f.read(12)
                f.seek(max(0, size - 4096))
                tail = f.read()
            whole = head == b'{"devices": ' and tail.endswith(b"}\n") and b'"profile": {' in tail
            if status != 0 or not whole:
                print(f"matrix --json {n}: failed (exit {status}, whole object: {whole}): {err.strip()[-400:]}")
                return False
            runs.append((wall, cpu, rss, size))
    wall, cpu, rss, size = (statistics.median(r[k] for r in runs) for k in range(4))
    ok = wall <= JSON_WALL_S and rss <= JSON_RSS_MB
    print(
        f"matrix --json {n} endpoints ({size / 1e6:.0f} MB of JSON to a file): wall {wall:.2f} s, CPU {cpu:.2f} s, "
        f"peak RSS {rss:.0f} MB (median of {repeat})  [budget <= {JSON_WALL_S:.0f} s, <= {JSON_RSS_MB:.0f} MB: "
        f"{'PASS' if ok else 'FAIL'}]"
    )
    return ok


def bench_json_capped(n: int, fabric_file: Path) -> bool:
    with open(os.devnull, "wb") as null:
        cmd = [sys.executable, "-m", "p2ptui", "matrix", str(fabric_file), "--json"]
        status, wall, cpu, rss, err = _child(cmd, null, JSON_16K_CAP)
    ok = status == 0
    print(
        f"matrix --json {n} endpoints to /dev/null under a {JSON_16K_CAP >> 30} GiB address-space cap: exit {status}, "
        f"wall {wall:.1f} s, CPU {cpu:.1f} s, peak RSS {rss:.0f} MB  [budget: exits 0: {'PASS' if ok else 'FAIL'}]"
    )
    if not ok:
        print(err.strip()[-400:])
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="skip the 16,384-endpoint --json run (minutes)")
    parser.add_argument("--one-matrix", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_matrix:
        one_matrix(args.one_matrix)
        return 0
    from p2ptui.fabric.synth import large_fabric
    from p2ptui.formats.writers import write_fabric

    results = [bench_matrix(4096, args.repeat), bench_matrix(16_384, args.repeat)]
    with tempfile.TemporaryDirectory() as tmp:
        small = Path(tmp) / "large-4096.json"
        write_fabric(large_fabric(4096), small)
        results.append(bench_json(4096, args.repeat, small))
        if not args.quick:
            big = Path(tmp) / "large-16384.json"
            write_fabric(large_fabric(16_384), big)
            results.append(bench_json_capped(16_384, big))
    print("all budgets met" if all(results) else "SOME BUDGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
