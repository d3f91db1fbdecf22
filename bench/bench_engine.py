"""The copy engine against its anchors: cases B1–B9 below, plus the large-fabric budget.

Run: python bench/bench_engine.py [--size 256MiB] [--repeat 5] [--skip-real | --only sim|files|memory]
* B1–B7: the simulator's rates and completion times against their closed forms (protocol bound, efficiency
  1.0 so the numbers read like the protocol-bound table), printed as expected vs measured (simulated).
* 1,000 concurrent simulated transfers (random sizes 256 MiB–4 GiB, half of them staged through a random provider,
  1–4 threads) on p2ptui.fabric.synth.large_fabric(1024) (≥ 2,000 functions): wall time from the first add() to the
  last completion, median of --repeat runs; budget 2 s.
* B8: the real engine file → file with O_DIRECT, 1 lane, chunk 1 MiB and 64 KiB, against
  ``dd iflag=direct oflag=direct conv=fsync bs=<chunk>`` on the same source (each writes a fresh destination); ratio
  of rates, median of --io-repeat alternating runs, with the spread of the per-run ratios (each engine run against
  the dd run beside it). dd's own reported seconds; the engine's own timing (threads start to fsync): no process
  start-up in either rate. Same bytes and block size, one read and one write at a time each way, but not dd's loop:
  the engine's lane reads chunk k+1 while chunk k is written (two buffer slots), and its host buffer sits in
  transparent huge pages where the kernel gives them, so a 1 MiB chunk is one DMA segment (dd's 4 KiB-page buffer
  is 256, which a virtio disk's 254-segment limit splits into two requests). Beside it, no budget, the engine with
  --serial: p2pmem-test's loop (one slot, read then write), the same structure as dd's.
  Pass: ≥ 1.0 × dd at 1 MiB, ≥ 0.45 × dd at 64 KiB. Beside it, no budget: fio (psync, queue depth 1, direct, same
  block size) reading the source and writing a file, combined one after the other (dd's loop), and run together
  (one read job and one write job at once: what overlapping the two directions can reach on this disk).
* B9: the real engine memory → memory (one pass), 1 thread, against one np.copyto of the same size: fresh buffers
  (a copy job: new destination) and warm ones (the mover into a touched buffer); ratio of rates (bytes counted
  once), median of --repeat. Pass: warm ≥ 0.90 × np.copyto. There is no staged (two-pass) memory row: only file
  copies stage (B8); a memory copy is one pass whatever --via says. The mover copies pieces of at least 256 MiB
  (real_memory.MOVE_PIECE): glibc's memcpy uses non-temporal stores only above its threshold (240 MiB here), and
  1 MiB pieces ran at 0.5-0.8 × the anchor for that reason alone.
A missed budget exits 1.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

from p2ptui.engine.real import RealEngine
from p2ptui.engine.real_files import write_random
from p2ptui.engine.real_memory import copy_memory, make_source
from p2ptui.engine.resources import DeviceRate, RcCap, SimConfig
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import HOST, Op, TransferSpec
from p2ptui.fabric.synth import large_fabric
from p2ptui.fabric.units import format_size, parse_size
from p2ptui.formats import loads_fabric

GB = 10**9
USABLE16 = 8e9 * 128 / 130 / 8 * 16 * (1 - 4 / 1538)  # Gen3 x16 wire bytes/s after 128b/130b and SKP
W16, W4 = USABLE16 * 256 / 280, USABLE16 / 4 * 256 / 280  # posted writes, MPS 256, 24-B overhead


def _fabric(ports: list[tuple[str, int]], cpu="amd", acs=False, iommu="off", memory=None, rc=None, switch=True):
    """A Gen3 root complex with the named x-width endpoints below one switch, or each on its own root port."""
    ctrl = "[RR, CR]" if acs else "[]"
    fam = "0x19" if cpu == "amd" else "0x6"
    host = f"host: {{cpu: {{vendor: {cpu}, family: {fam}}}, kernel: 6.8.0, iommu: {iommu}"
    host += f", memory_bandwidth: {memory}}}" if memory else "}"
    p2p = f"\n    p2p: {{{', '.join(f'{k}: {v}' for k, v in rc.items())}}}" if rc else ""
    if switch:
        kids = "\n".join(
            f"""              - {{bdf: '02:{i:02x}.0', kind: switch_downstream, link: gen3 x{w}, acs: {{cap: [RR, CR], ctrl: {ctrl}}},
                 children: [{{bdf: '{i + 3:02x}:00.0', kind: gpu, name: {n}, link: gen3 x{w}, p2pmem: 1GiB}}]}}"""
            for i, (n, w) in enumerate(ports)
        )
        body = f"""      - bdf: '00:01.0'
        kind: root_port
        link: gen3 x16
        children:
          - bdf: '01:00.0'
            kind: switch_upstream
            link: gen3 x16
            children:
{kids}"""
    else:
        body = "\n".join(
            f"""      - {{bdf: '00:{i + 1:02x}.0', kind: root_port, link: gen3 x{w},
         children: [{{bdf: '{i + 1:02x}:00.0', kind: gpu, name: {n}, link: gen3 x{w}, p2pmem: 1GiB}}]}}"""
            for i, (n, w) in enumerate(ports)
        )
    return loads_fabric(
        f"format: p2ptui-fabric/1\nname: bench\n{host}\nroot_complexes:\n  - bus: 0000:00{p2p}\n    devices:\n{body}\n"
    )


def _sim(fabric, specs, **config):
    sim = Simulation(fabric, SimConfig(efficiency=1.0, **config))
    results = [sim.add(s) for s in specs]
    sim.run()
    return results


def _row(case: str, what: str, expected: float, measured: float, unit: str = "GB/s") -> bool:
    scale = 1e9 if unit == "GB/s" else 1.0
    ok = abs(measured - expected) <= 1e-9 * abs(expected)
    print(
        f"{case:4} {what:58} expected {expected / scale:10.4f} {unit:4}  measured {measured / scale:10.4f}  "
        f"{'ok' if ok else 'DIFF'}"
    )
    return ok


def simulated_cases() -> bool:
    print("B1-B7: simulator vs closed forms (protocol bound, efficiency 1.0; measured = simulated)")
    ok = []
    sw = _fabric([("ep1", 16), ("ep2", 16), ("ep3", 4)])
    [r] = _sim(sw, [TransferSpec("ep1", "ep2", GB)])
    ok += [
        _row("B1", "P2P write under one switch: rate", W16, r.bytes_per_s),
        _row("B1", "  completion time (s)", GB / W16, r.seconds, "s"),
    ]
    a, b = _sim(sw, [TransferSpec("ep1", HOST, GB), TransferSpec("ep2", HOST, GB // 2)])
    ok += [
        _row("B2", "two flows share the uplink; B (0.5 GB) ends (s)", GB / W16, b.ended_at, "s"),
        _row("B2", "  then A takes the whole link, ends (s)", 1.5 * GB / W16, a.ended_at, "s"),
    ]
    sim = Simulation(sw, SimConfig(efficiency=1.0))
    sim.add(TransferSpec("ep3", HOST, 100 * GB))
    sim.add(TransferSpec("ep2", HOST, 100 * GB))
    sim.advance(0.1)
    narrow, wide = (t.rate for t in sim.sample().transfers)
    ok += [
        _row("B3", "x4 and x16 share an x16 uplink: x4 flow", W4, narrow),
        _row("B3", "  x16 flow (max-min: the rest, not half)", W16 - W4, wide),
    ]
    rp = _fabric([("target", 16)] + [(f"nvme{i}", 4) for i in range(4)], switch=False, rc={"write": 7.1})
    rates = {f"nvme{i}": DeviceRate(read=3.2) for i in range(4)}
    res = _sim(rp, [TransferSpec(f"nvme{i}", "target", GB) for i in range(4)], device_rates=rates)
    ok.append(_row("B4", "4 NVMe → target through a 7.1 GB/s RC cap: per flow", 7.1e9 / 4, res[0].bytes_per_s))
    sw5 = _fabric([("target", 16)] + [(f"nvme{i}", 4) for i in range(4)])
    res = _sim(sw5, [TransferSpec(f"nvme{i}", "target", GB) for i in range(4)], device_rates=rates)
    ok.append(_row("B4", "  same behind a switch: total (device-limited)", 12.8e9, sum(r.bytes_per_s for r in res)))
    bounce = _fabric([("target", 16)] + [(f"nvme{i}", 4) for i in range(4)], cpu="intel", acs=True, memory=20)
    res = _sim(bounce, [TransferSpec(f"nvme{i}", "target", GB, threads=2) for i in range(4)], device_rates=rates)
    ok.append(_row("B4b", "bounce, 20 GB/s DRAM crossed twice: per flow", 2.5e9, res[0].bytes_per_s))
    two = _fabric([("ep1", 16), ("ep2", 16)], switch=False)
    for what, cfg, expected in (
        ("P2P read through RC, 64-B completions", {"completion_size": 64}, USABLE16 * 64 / 84),
        ("  256-B completions", {}, USABLE16 * 256 / 276),
        ("  32 tags × 512 B / 2 µs", {"read_tags": 32, "read_rtt_us": 2.0}, 32 * 512 / 2e-6),
        ("  RC read cap 7.06 GB/s", {"rc_caps": {"pci0000:00": RcCap(read=7.06)}}, 7.06e9),
    ):
        [r] = _sim(two, [TransferSpec("ep1", "ep2", GB, op=Op.READ)], **cfg)
        ok.append(_row("B5", what, expected, r.bytes_per_s))
    ab, _ = _sim(sw, [TransferSpec("ep1", "ep2", GB), TransferSpec("ep2", "ep1", GB)])
    ok.append(_row("B6", "full duplex: each way (reverse DLLPs, not halved)", USABLE16 * 256 / 288, ab.bytes_per_s))
    on = _fabric([("nfp", 16), ("peer", 16)], switch=False, iommu="translated")
    nfp = {"nfp": DeviceRate(read=24.3 / 8, write=28.1 / 8)}
    [seq] = _sim(on, [TransferSpec("nfp", "peer", GB)])
    ok.append(_row("B7a", "IOMMU on, sequential 4 KiB pages through RC (no loss)", W16, seq.bytes_per_s))
    rd, wr = _sim(
        on,
        [
            TransferSpec(HOST, "nfp", GB, dma_size=64, window=64 << 20),
            TransferSpec("nfp", HOST, GB, dma_size=64, window=64 << 20, start=10),
        ],
        device_rates=nfp,
    )
    ok += [
        _row("B7b", "64-B reads over 64 MiB (pcie-bench: -65 %)", 9.8e9 / 8, rd.bytes_per_s),
        _row("B7b", "64-B writes over 64 MiB (pcie-bench: -54 %)", 11.2e9 / 8, wr.bytes_per_s),
    ]
    print(
        f"     losses vs no IOMMU: reads {1 - rd.bytes_per_s / (28.1e9 / 8):.1%}, "
        f"writes {1 - wr.bytes_per_s / (24.3e9 / 8):.1%}"
    )
    return all(ok)


def large_case(repeat: int) -> bool:
    fabric = large_fabric(1024)
    endpoints, providers = fabric.endpoints(), fabric.providers()
    times, runs = [], []
    for _ in range(repeat):
        rng = random.Random(1)
        start = time.perf_counter()
        sim = Simulation(fabric)
        for i in range(1000):
            a, b = rng.sample(endpoints, 2)
            via = rng.choice(providers).name if i % 2 else None
            sim.add(TransferSpec(a.name, b.name, rng.randint(256, 4096) << 20, via=via, threads=rng.choice([1, 2, 4])))
        added = time.perf_counter()
        events = sim.run()
        end = time.perf_counter()
        times.append(end - start)
        runs.append((added - start, end - added, len(events), sim.now))
    median = statistics.median(times)
    add, run, events, horizon = runs[times.index(median)] if median in times else runs[0]
    done = sum(r.state.value == "done" for r in sim.results.values())
    print(
        f"\nlarge: {len(fabric)} functions, 1000 concurrent transfers, {done} done, {events} events, "
        f"{horizon:.2f} virtual s"
    )
    print(
        f"large: wall {median:.3f} s median of {repeat} (routes {add:.3f} s + simulation {run:.3f} s); "
        f"min {min(times):.3f} max {max(times):.3f}; budget 2 s: {'PASS' if median <= 2 else 'FAIL'}"
    )
    return median <= 2 and done == 1000


def _quiet(dst: str) -> None:
    """Remove the last run's destination and flush what that leaves to write back, outside the timing."""
    if os.path.exists(dst):
        os.unlink(dst)
    os.sync()


def _dd(src: str, dst: str, chunk: int) -> float:
    _quiet(dst)
    out = subprocess.run(
        ["dd", f"if={src}", f"of={dst}", f"bs={chunk}", "iflag=direct", "oflag=direct", "conv=fsync"],
        capture_output=True,
        text=True,
        check=True,
    ).stderr
    return float(re.search(r"copied, ([0-9.e+-]+) s", out).group(1))


def _engine_copy(engine: RealEngine, src: str, dst: str, size: int, chunk: int, serial: bool = False) -> float:
    _quiet(dst)
    job = engine.prepare(TransferSpec("ep1", "ep2", size, chunk=chunk, src_file=src, dst_file=dst, serial=serial))
    job.run()
    if job.result.state.value != "done":
        raise RuntimeError(job.result.error)
    return job.result.seconds


_FIO_COMMON = ["--direct=1", "--ioengine=psync", "--iodepth=1", "--numjobs=1", "--output-format=json"]


def _fio_job(path: str, rw: str, size: int, chunk: int) -> list[str]:
    """One fio job: a sequential pass over ``path`` at queue depth 1 in the copy's block size; writes end with an
    fsync, as the copy does."""
    job = [f"--name={rw}", f"--filename={path}", f"--rw={rw}", f"--bs={chunk}", f"--size={size}"]
    return job + (["--end_fsync=1"] if rw == "write" else [])


def _fio_run(jobs: list[str]) -> list[dict]:
    out = subprocess.run(["fio", *_FIO_COMMON, *jobs], capture_output=True, text=True, check=True).stdout
    return json.loads(out)["jobs"]


def _fio(path: str, rw: str, size: int, chunk: int) -> float:
    """fio's own bytes/s for one sequential pass over ``path`` (direct I/O, psync, queue depth 1, the copy's block
    size; writes end with an fsync), start-up excluded."""
    [job] = _fio_run(_fio_job(path, rw, size, chunk))
    return float(job[rw]["bw_bytes"])


def _fio_both(src: str, dst: str, size: int, chunk: int) -> float:
    """A read job over ``src`` and a write job into ``dst`` running at once (queue depth 1 each): the slower one's
    bytes/s, which is what a copy overlapping its reads and writes could reach."""
    _quiet(dst)
    read, write = _fio_run(_fio_job(src, "read", size, chunk) + _fio_job(dst, "write", size, chunk))
    return float(min(read["read"]["bw_bytes"], write["write"]["bw_bytes"]))


def _spread(ours: list[float], theirs: list[float], size: int) -> str:
    """Rates' ranges and the per-run ratios (each engine run against the dd run beside it): min, quartiles, max."""
    ratios = sorted(t / o for o, t in zip(ours, theirs, strict=True))
    quartiles = statistics.quantiles(ratios, n=4) if len(ratios) > 1 else ratios * 3
    return (
        f"p2ptui {size / max(ours) / 1e9:.3f}-{size / min(ours) / 1e9:.3f} GB/s, dd {size / max(theirs) / 1e9:.3f}-"
        f"{size / min(theirs) / 1e9:.3f} GB/s; ratio per run min {ratios[0]:.2f} q1 {quartiles[0]:.2f} "
        f"median {quartiles[1]:.2f} q3 {quartiles[2]:.2f} max {ratios[-1]:.2f}, {sum(r >= 1 for r in ratios)} of "
        f"{len(ratios)} ≥ 1.00"
    )


def file_cases(size: int, io_repeat: int, workdir: str) -> bool:
    """B8: the real engine's O_DIRECT file copy against dd and fio, each rate from its own timer."""
    fabric = _fabric([("ep1", 16), ("ep2", 16)])
    engine = RealEngine(fabric)
    src = os.path.join(workdir, "src")
    fd = os.open(src, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
    try:
        write_random(fd, src, size, seed=1)
    finally:
        os.close(fd)
    ok = True
    print(
        f"\nB8: file → file, {format_size(size)} on {workdir}, 1 thread, O_DIRECT, median of {io_repeat} "
        "alternating runs; rates from each tool's own timer (no process start-up)"
    )
    for chunk, floor in ((1 << 20, 1.0), (64 << 10, 0.45)):
        ours, theirs, serial = [], [], []
        for i in range(io_repeat):
            steps = [
                lambda chunk=chunk, theirs=theirs: theirs.append(_dd(src, src + ".dd", chunk)),
                lambda chunk=chunk, ours=ours: ours.append(_engine_copy(engine, src, src + ".p2ptui", size, chunk)),
                lambda chunk=chunk, serial=serial: serial.append(
                    _engine_copy(engine, src, src + ".p2ptui", size, chunk, serial=True)
                ),
            ]
            for step in steps if i % 2 == 0 else reversed(steps):
                step()
        rate_ours, rate_dd = size / statistics.median(ours), size / statistics.median(theirs)
        ratio = rate_ours / rate_dd
        ok &= ratio >= floor
        print(
            f"B8   chunk {format_size(chunk):>8}: p2ptui {rate_ours / 1e9:6.3f} GB/s  dd {rate_dd / 1e9:6.3f} GB/s  "
            f"ratio {ratio:.2f} (need ≥ {floor:.2f}): {'PASS' if ratio >= floor else 'FAIL'}"
        )
        print(f"     spread over {io_repeat} runs: {_spread(ours, theirs, size)}")
        rate_serial = size / statistics.median(serial)
        print(
            f"     --serial (p2pmem-test's loop: one slot, read then write): {rate_serial / 1e9:.3f} GB/s, "
            f"{rate_serial / rate_dd:.2f} × dd (no budget)"
        )
        if shutil.which("fio"):
            _quiet(src + ".fio")
            reads = [_fio(src, "read", size, chunk) for _ in range(3)]
            writes = [_fio(src + ".fio", "write", size, chunk) for _ in range(3)]
            both = [_fio_both(src, src + ".fio", size, chunk) for _ in range(3)]
            read, write, together = statistics.median(reads), statistics.median(writes), statistics.median(both)
            serial = 1 / (1 / read + 1 / write)  # dd's loop: read a block, then write it
            print(
                f"     fio (psync, qd 1): read {read / 1e9:.3f} GB/s, write {write / 1e9:.3f} GB/s; one after the "
                f"other = {serial / 1e9:.3f} GB/s, both at once = {together / 1e9:.3f} GB/s each way; p2ptui / "
                f"those = {rate_ours / serial:.2f}, {rate_ours / together:.2f} (no budget)"
            )
        else:
            print("     fio not installed: no fio anchor (apt-get install fio)")
    return ok


def _np_copy(src: np.ndarray, dst: np.ndarray | None) -> float:
    """Seconds of one np.copyto, into ``dst`` (warm) or into a fresh np.empty (its pages faulted in by the copy)."""
    target = np.empty_like(src) if dst is None else dst
    start = time.perf_counter()
    np.copyto(target, src)
    return time.perf_counter() - start


def memory_cases(repeat: int) -> bool:
    """B9: memory → memory. The engine copies memory in one pass (chunked np.copyto per thread; a staging buffer is
    used by file copies only), so its anchor is one np.copyto of the same size. Fresh: the destination is new, its
    pages faulted in by the copy, as a copy job does (and np.copyto into a new np.empty). Warm: into a buffer
    already touched, the mover alone (engine.real_memory.copy_memory) against np.copyto into the same buffer.
    Rates count the bytes once (bcopy convention)."""
    msize, chunk = 512 << 20, 1 << 20
    fabric = _fabric([("ep1", 16), ("ep2", 16)])
    engine = RealEngine(fabric)
    src = make_source(msize, None)
    warm = np.ones_like(src)
    rows: dict[str, tuple[list[float], list[float]]] = {
        "direct, fresh (copy job)": ([], []),
        "direct, warm (mover)": ([], []),
    }
    for _ in range(repeat):
        job = engine.prepare(TransferSpec("ep1", "ep2", msize, chunk=chunk))
        job.run()
        rows["direct, fresh (copy job)"][0].append(job.result.seconds)
        rows["direct, fresh (copy job)"][1].append(_np_copy(src, None))
        rows["direct, warm (mover)"][0].append(copy_memory(src, warm, chunk, 1).seconds)
        rows["direct, warm (mover)"][1].append(_np_copy(src, warm))
    print(f"\nB9: memory → memory, {format_size(msize)}, 1 thread, chunk {format_size(chunk)}, median of {repeat}")
    ok = True
    for what, (ours, anchor) in rows.items():
        rate_ours, rate_np = msize / statistics.median(ours), msize / statistics.median(anchor)
        ratio = rate_ours / rate_np
        need = 0.9 if what == "direct, warm (mover)" else None
        verdict = "(no budget)" if need is None else f"(need ≥ {need:.2f}): {'PASS' if ratio >= need else 'FAIL'}"
        if need is not None:
            ok &= ratio >= need
        print(
            f"B9   {what:27} p2ptui {rate_ours / 1e9:6.2f} GB/s  np.copyto {rate_np / 1e9:6.2f} GB/s  "
            f"ratio {ratio:.2f} {verdict}"
        )
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=parse_size, default=parse_size("256MiB"), help="B8 file size (default 256MiB)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per simulated and memory case (median)")
    parser.add_argument("--io-repeat", type=int, default=9, help="runs per B8 chunk size (median; VM disks are noisy)")
    parser.add_argument("--skip-real", action="store_true", help="only the simulator cases (same as --only sim)")
    parser.add_argument(
        "--only",
        choices=("sim", "files", "memory"),
        default=None,
        help="run one group alone: sim (B1-B7 and the large fabric), files (B8) or memory (B9)",
    )
    parser.add_argument("--dir", default=None, help="where B8 writes its files (default: a temp dir under the cwd)")
    args = parser.parse_args()
    groups = {args.only} if args.only else {"sim"} if args.skip_real else {"sim", "files", "memory"}
    ok = True
    if "sim" in groups:
        ok &= simulated_cases()
        ok &= large_case(args.repeat)
    if "files" in groups:
        if shutil.which("dd") is None:
            print("B8: dd not found, skipped")
        else:
            workdir = tempfile.mkdtemp(prefix="p2ptui-bench-", dir=args.dir or os.getcwd())
            try:
                ok &= file_cases(args.size, args.io_repeat, workdir)
            finally:
                shutil.rmtree(workdir, ignore_errors=True)
    if "memory" in groups:
        ok &= memory_cases(args.repeat)
    print(f"\noverall: {'PASS' if ok else 'FAIL'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
