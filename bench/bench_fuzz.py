"""Fuzz every reader with mutated real inputs (budget: 0 tracebacks, 0 hangs; every accepted input round-trips).

Run: python bench/bench_fuzz.py [--cases N] [--seed S] [--readers yaml,json,...] [--timeout SECONDS]
Cases are split over the readers in proportion to READER_SHARE (the sysfs tarball's cases are the slowest, so it
gets fewer), 10,000 in all by default. Each case mutates one seed from tests/data or the bundled fabrics (byte
flips, truncations, line duplications, deletions and swaps, odd attribute values, deep nesting; see
bench/fuzz_cases.py), loads it through detection as `p2ptui show` would, under a per-case timeout, and
converts what loaded to YAML and JSON and back. Prints counts per reader and outcome (loaded / refused /
traceback / hang), the share that loads, and the first tracebacks; exits 1 on any traceback or hang.
"""

from __future__ import annotations

import argparse
import collections
import sys
import time

from fuzz_cases import OUTCOMES, READERS, cases, run_case  # bench/ itself: the script's directory is on sys.path

READER_SHARE = {"yaml": 16, "json": 14, "lspci": 16, "hwloc": 16, "nccl": 16, "sysfs": 8, "plan": 14}
SHOW_FAILURES = 5


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000, help="cases in all, split over the readers")
    parser.add_argument("--seed", type=int, default=0, help="run seed: the same seed replays the same cases")
    parser.add_argument("--readers", default=",".join(READERS), help="comma-separated subset of " + ",".join(READERS))
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before a case counts as a hang")
    args = parser.parse_args()
    readers = [r for r in args.readers.split(",") if r]
    unknown = set(readers) - set(READERS)
    if unknown:
        parser.error(f"unknown readers: {', '.join(sorted(unknown))}")
    share = sum(READER_SHARE[r] for r in readers)
    counts: dict[str, collections.Counter] = {}
    failures = []
    start = time.perf_counter()
    for reader in readers:
        n = max(1, round(args.cases * READER_SHARE[reader] / share))
        counts[reader] = collections.Counter()
        began = time.perf_counter()
        for case, seed, mutation, data in cases(reader, n, args.seed):
            outcome = run_case(reader, case, seed, mutation, data, args.timeout)
            counts[reader][outcome.kind] += 1
            if outcome.kind in ("traceback", "hang"):
                failures.append(outcome)
        took = time.perf_counter() - began
        row = "  ".join(f"{kind} {counts[reader][kind]:>5}" for kind in OUTCOMES)
        loads = counts[reader]["loaded"] / n
        print(f"{reader:<6} {n:>6} cases  {row}  loads {loads:6.1%}  ({took:.1f} s)", flush=True)
    total = sum(counts.values(), collections.Counter())
    n = sum(total.values())
    row = "  ".join(f"{kind} {total[kind]:>5}" for kind in OUTCOMES)
    print(
        f"{'all':<6} {n:>6} cases  {row}  loads {total['loaded'] / max(n, 1):6.1%}  "
        f"({time.perf_counter() - start:.1f} s, seed {args.seed})"
    )
    for outcome in failures[:SHOW_FAILURES]:
        print(f"\n--- {outcome.reader} case {outcome.case} ({outcome.seed}, {outcome.mutation}): {outcome.kind}")
        print(outcome.detail.rstrip()[-2000:])
    bad = total["traceback"] + total["hang"]
    print(
        f"\nbudget: 0 tracebacks and 0 hangs; measured {total['traceback']} and {total['hang']}: "
        f"{'met' if not bad else 'MISSED'}"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
