"""Fleet budgets: diff 1,000 node snapshots (≤ 10 s, ≤ 2 GiB) and collect 256 simulated nodes (≤ 30 s).

Run: python bench/bench_fleet.py [--nodes 1000] [--collect-nodes 256] [--drift 0.03] [--seed 7]

Diff: a DGX-class fabric (p2ptui.fleet.synth.dgx_spec: 4 root complexes, 4 Gen4 switches, 8 GPUs, 4 NICs,
4 NVMe drives; 44 functions) in --nodes variations, seeded: every node is renumbered by its BIOS with probability
0.1 (bus numbers +4: no drift), and drifts in each way with probability --drift (one way at most): ACS redirect
on one GPU's switch port, one GPU link at x8, a NIC missing, an extra NVMe drive, another kernel, another command
line, AER errors on one GPU (each such node distinct). Each distinct variant is written once as a sysfs root and packed with
the collector's set of attributes; nodes with the same variant get the same file, as healthy nodes of one image
do. Times p2ptui.fleet.fleet.diff_fleet on the directory (read, align, drift, verdict matrices, grouping) and checks
it finds exactly the drifted nodes. Peak memory is the largest resident set of this process and its workers.

Collect: --collect-nodes node names, each a link to one of four node roots, collected through ClusterShell's exec
worker with `--exec 'P2PTUI_SYSROOT=ROOTS/%h'`: the real collector script per node, decoded, checked and
stored. Exit 1 when a budget is missed or a result is wrong.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import resource
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from p2ptui.fleet.collect import CollectOptions, collect, parse_nodeset
from p2ptui.fleet.fleet import diff_fleet
from p2ptui.fleet.snapshots import Status
from p2ptui.fleet.synth import amd_host, dgx_spec, write_node

DIFF_BUDGET_S = 10.0
MEMORY_BUDGET = 2 << 30
COLLECT_BUDGET_S = 30.0
SKIPPED = {"irq", "enable", "resource", "secondary_bus_number", "subordinate_bus_number"}  # the collector skips these
DRIFTS = ("redirect", "narrow", "missing", "extra", "kernel", "cmdline", "aer")


def node_variant(rng: random.Random, drift: float) -> tuple:
    """(bus shift, ((kind, which),) or ()): each kind of drift with probability ``drift``, one kind at most."""
    shift = 4 if rng.random() < 0.1 else 0
    roll = rng.random()
    if roll < drift * len(DRIFTS):
        kind = DRIFTS[int(roll / drift)]
        return (shift, ((kind, rng.randrange(2)),))
    return (shift, ())


def write_variant(root: Path, variant: tuple) -> Path:
    shift, knobs = variant
    kw: dict = {"shift": shift}
    host: dict = {}
    for kind, which in knobs:
        if kind == "redirect":
            kw["redirect_port"] = which * 5
        elif kind == "narrow":
            kw["narrow_gpu"] = 2 + which * 5
        elif kind == "missing":
            kw["missing_nic"] = which * 3
        elif kind == "extra":
            kw["extra_nvme"] = 1 + which
        elif kind == "kernel":
            host["kernel"] = "6.8.0-51-generic"
        elif kind == "cmdline":
            host["cmdline"] = "BOOT_IMAGE=/vmlinuz root=/dev/sda1 ro iommu=pt"
    return write_node(root, dgx_spec(**kw), amd_host(**host))


def with_aer(packed: bytes, gpu: int, count: int) -> bytes:
    """A packed snapshot with AER correctable errors on its ``gpu``-th GPU (this node's own count)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(packed)) as src, tarfile.open(fileobj=out, mode="w:gz") as dst:
        gpus = sorted(
            m.name.rsplit("/", 1)[0]
            for m in src.getmembers()
            if m.name.endswith("/vendor") and src.extractfile(m).read() == b"0x10de\n"
        )
        for member in src.getmembers():
            dst.addfile(member, src.extractfile(member) if member.isfile() else None)
        data = f"RxErr {count}\nTOTAL_ERR_COR {count}\n".encode()
        info = tarfile.TarInfo(f"{gpus[gpu]}/aer_dev_correctable")
        info.size = len(data)
        dst.addfile(info, io.BytesIO(data))
    return out.getvalue()


def pack(root: Path) -> bytes:
    """The root as a .tar.gz with the attributes the collector copies."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", format=tarfile.GNU_FORMAT) as tar:
        tar.add(root, arcname="snapshot", filter=lambda m: None if m.name.rsplit("/", 1)[-1] in SKIPPED else m)
    return buf.getvalue()


def peak_memory() -> int:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(own, workers) * 1024


def bench_diff(tmp: Path, nodes: int, drift: float, seed: int) -> bool:
    rng = random.Random(seed)
    variants = {}
    fleet_dir = tmp / "fleet"
    fleet_dir.mkdir()
    started = time.perf_counter()
    drifted = set()
    distinct: set[bytes] = set()
    for i in range(nodes):
        shift, knobs = node_variant(rng, drift)
        aer = knobs and knobs[0][0] == "aer"
        variant = (shift, () if aer else knobs)
        if variant not in variants:
            variants[variant] = pack(write_variant(tmp / "roots" / f"v{len(variants)}", variant))
        data = with_aer(variants[variant], knobs[0][1], i + 1) if aer else variants[variant]
        distinct.add(hashlib.sha256(data).digest())
        name = f"node{i + 1:04d}"
        (fleet_dir / f"{name}.tar.gz").write_bytes(data)
        if knobs:
            drifted.add(name)
    print(
        f"diff: {nodes} nodes, {len(distinct)} distinct snapshots, {len(drifted)} drifted "
        f"(written in {time.perf_counter() - started:.1f} s)"
    )
    start = time.perf_counter()
    result = diff_fleet(fleet_dir)
    elapsed = time.perf_counter() - start
    memory = peak_memory()
    found = set(result.drifted)
    ok = found == drifted and not result.unavailable
    print(
        f"diff: {elapsed:.2f} s (budget {DIFF_BUDGET_S:g} s), peak memory {memory / (1 << 20):.0f} MiB "
        f"(budget {MEMORY_BUDGET >> 20} MiB); reference {result.reference}, {len(result.groups)} drift groups, "
        f"kinds {', '.join(f'{k.value} {n}' for k, n in result.kind_counts().items())}"
    )
    if found != drifted:
        print(f"diff: WRONG: missed {sorted(drifted - found)[:5]}, extra {sorted(found - drifted)[:5]}")
    return ok and elapsed <= DIFF_BUDGET_S and memory <= MEMORY_BUDGET


def bench_collect(tmp: Path, count: int, args_fanout: int) -> bool:
    roots = tmp / "collect-roots"
    images = [
        write_node(roots / "image" / f"i{k}", dgx_spec(**knobs), amd_host())
        for k, knobs in enumerate(({}, {"shift": 4}, {"narrow_gpu": 3}, {"redirect_port": 1}))
    ]
    for i in range(count):
        (roots / f"sim{i + 1:03d}").symlink_to(images[i % len(images)])
    out = tmp / "collected"
    out.mkdir()
    nodes = parse_nodeset(f"sim[001-{count:03d}]")
    start = time.perf_counter()
    cpu_before = _cpu()
    report = collect(nodes, out, CollectOptions(f"P2PTUI_SYSROOT={roots}/%h", fanout=args_fanout, timeout=120))
    elapsed = time.perf_counter() - start
    cpu = _cpu() - cpu_before
    ok = all(r.status is Status.NEW for r in report.results)
    print(
        f"collect: {count} simulated nodes through the exec worker in {elapsed:.2f} s (budget {COLLECT_BUDGET_S:g} s), "
        f"fanout {args_fanout}; CPU {cpu:.1f} s in all ({cpu / count * 1000:.0f} ms a node), load average "
        f"{os.getloadavg()[0]:.1f}" + ("" if ok else f"; FAILED: {[(r.node, r.reason) for r in report.failed][:3]}")
    )
    return ok and elapsed <= COLLECT_BUDGET_S


def _cpu() -> float:
    """CPU seconds of this process and its finished children: what the collection costs, whatever the load."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--collect-nodes", type=int, default=256)
    parser.add_argument("--drift", type=float, default=0.03, help="probability of each kind of drift per node")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--fanout", type=int, default=16, help="nodes collected at once")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="p2ptui-bench-fleet-") as tmp:
        diff_ok = bench_diff(Path(tmp), args.nodes, args.drift, args.seed) if args.nodes else True
        collect_ok = bench_collect(Path(tmp), args.collect_nodes, args.fanout) if args.collect_nodes else True
    print("bench_fleet: " + ("ok" if diff_ok and collect_ok else "MISSED"))
    return 0 if diff_ok and collect_ok else 1


if __name__ == "__main__":
    sys.exit(main())
