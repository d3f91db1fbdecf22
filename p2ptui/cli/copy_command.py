"""``p2ptui copy``: run one transfer, or a plan of several, on the simulator or for real, and report them."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from ..engine.plan import Plan, load_plan
from ..engine.real import RealEngine
from ..engine.report import result_dict, text_report
from ..engine.resources import DeviceRate, SimConfig
from ..engine.runner import Runner
from ..engine.samples import Sample, TransferEvent
from ..engine.sim import Simulation
from ..engine.transfer import DEFAULT_CHUNK, Op, TransferSpec, TransferState
from ..errors import Diagnostic, InputError
from ..fabric.units import parse_bandwidth, parse_size
from ..sources import open_fabric

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "copy",
        help="copy over a fabric: simulate it, or move and verify real bytes",
        description="Run a transfer (or a plan of several) and report its route, the P2P and bounce predictions "
        "and the measured rate. Devices are names or addresses in FABRIC; 'host' is host memory.",
    )
    p.add_argument("fabric", metavar="FABRIC")
    p.add_argument("--src", help="source device (or 'host')")
    p.add_argument("--dst", help="destination device (or 'host')")
    p.add_argument("--via", metavar="PROVIDER", help="stage the data in this provider's P2P memory")
    p.add_argument("--size", type=_size, help="bytes to copy, e.g. 4GiB (real file copies default to the source's size)")
    p.add_argument("--chunk", type=_size, default=DEFAULT_CHUNK, help="bytes per DMA/read+write (default 1MiB)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="threads = queue depth (default 1)")
    p.add_argument("--op", choices=[o.value for o in Op], default=Op.WRITE.value,
                   help="direct copies: the source writes (default) or the destination reads")  # fmt: skip
    p.add_argument("--engine", choices=("sim", "real"), default="sim")
    p.add_argument("--src-file", metavar="F", help="real engine: copy this file (or block device)")
    p.add_argument("--dst-file", metavar="G", help="real engine: to this file (or block device)")
    p.add_argument("--check", action="store_true", help="real engine: write seeded random data, verify the copy")
    p.add_argument("--seed", type=int, default=0, help="seed for --check data (default 0)")
    p.add_argument("--expert", action="store_true", help="expert mode: simulate paths the kernel refuses; with "
                   "--yes, let the real engine overwrite files and block devices")  # fmt: skip
    p.add_argument("--yes", action="store_true", help="confirm a destructive write (needs --expert)")
    p.add_argument("--plan", metavar="PLAN.yaml", help="run the transfers of a plan together (docs/copy.md)")
    p.add_argument("--efficiency", type=float, help="per-link efficiency on top of the protocol bound (default 0.90)")
    p.add_argument("--device-rate", action="append", default=[], metavar="DEV=READ[,WRITE]",
                   help="a device's media rates in GB/s, e.g. nvme0=3.2,2.0 (repeatable)")  # fmt: skip
    p.add_argument("--speed", default="max", help="simulator pace: 'max' (as fast as possible) or a factor of "
                   "real time, e.g. 1 or 10")  # fmt: skip
    p.add_argument("--p2pmem-file", metavar="PATH", help="real engine: use PATH as the provider's p2pmem/allocate")
    p.add_argument("--json", action="store_true", help="machine-readable output (docs/copy.md)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(run=cmd_copy)


def _size(text: str) -> int:
    try:
        return parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_copy(args: argparse.Namespace) -> int:
    fabric = open_fabric(args.fabric)
    config = _config(args)
    plan = _plan(args, fabric, config)
    if args.engine == "sim":
        if args.src_file or args.dst_file or any(s.src_file for s in plan.transfers):
            raise InputError(Diagnostic("--src-file/--dst-file need --engine real; the simulator moves no bytes"))
        engine = Simulation(fabric, plan.config, expert=args.expert)
        speed = _speed(args.speed)
    else:
        if args.yes and not args.expert:
            raise InputError(Diagnostic("--yes only confirms expert mode: add --expert"))
        if plan.events:
            raise InputError(Diagnostic("plan events (unplug, unpublish) can only be injected into the simulator"))
        files = {plan.transfers[0].via: args.p2pmem_file} if args.p2pmem_file and plan.transfers[0].via else {}
        engine = RealEngine(fabric, plan.config, expert=args.expert, yes=args.yes, p2pmem_files=files)
        speed = None
    show_progress = not args.json and not args.no_progress and sys.stderr.isatty()
    results, peaks = asyncio.run(_run(engine, plan, speed, show_progress))
    if args.json:
        resources = [{"name": k, "peak_utilisation": v, "capacity": engine.catalog.resources[k].capacity,
                      "description": engine.catalog.resources[k].description} for k, v in sorted(peaks.items())]  # fmt: skip
        doc = {"engine": args.engine, "efficiency": plan.config.efficiency,
               "transfers": [result_dict(r) for r in results], "resources": resources}  # fmt: skip
        print(json.dumps(doc, indent=2))
    else:
        for r in results:
            print("\n".join(text_report(r, plan.config.efficiency)))
        if peaks:
            busiest = sorted(peaks.items(), key=lambda kv: -kv[1])[:5]
            print(f"busiest resources (links at {plan.config.efficiency:.2f} efficiency): "
                  + ", ".join(f"{k} {v:.0%}" for k, v in busiest))
    good = all(r.state is TransferState.DONE and r.verified is not False for r in results)
    return EXIT_OK if good else EXIT_FAILED


def _config(args: argparse.Namespace) -> SimConfig:
    rates = {}
    for item in args.device_rate:
        name, _, values = item.partition("=")
        parts = values.split(",")
        try:
            read = parse_bandwidth(parts[0]) if parts[0] else None
            write = parse_bandwidth(parts[1]) if len(parts) > 1 and parts[1] else None
        except ValueError as exc:
            raise InputError(Diagnostic(f"--device-rate {item}: {exc}")) from None
        if not name or len(parts) > 2:
            raise InputError(Diagnostic(f"--device-rate {item!r}: expected DEV=READ[,WRITE] in GB/s"))
        rates[name] = DeviceRate(read, write)
    try:
        return SimConfig(efficiency=args.efficiency if args.efficiency is not None else 0.90, device_rates=rates)
    except ValueError as exc:
        raise InputError(Diagnostic(str(exc))) from None


def _plan(args: argparse.Namespace, fabric, config: SimConfig) -> Plan:
    for name in list(config.device_rates):
        try:
            real = fabric.find(name).name
        except KeyError:
            raise InputError(Diagnostic(f"--device-rate: no device {name!r} in the fabric")) from None
        config.device_rates[real] = config.device_rates.pop(name)
    if args.plan:
        if args.src or args.dst or args.via or args.size:
            raise InputError(Diagnostic("--plan replaces --src/--dst/--via/--size: give one or the other"))
        plan = load_plan(args.plan, fabric, config)
        if args.engine == "real" and any(s.src_file for s in plan.transfers) and not all(s.src_file for s in plan.transfers):
            raise InputError(Diagnostic("a real plan copies files in every transfer or in none"))
        return plan
    if not args.src or not args.dst:
        raise InputError(Diagnostic("copy needs --src and --dst (or --plan)"))
    size = args.size
    if size is None:
        if args.engine == "real" and args.src_file and not args.check:
            import os

            try:
                size = os.stat(args.src_file).st_size
            except OSError as exc:
                raise InputError(Diagnostic(f"--src-file {args.src_file}: {exc.strerror}")) from None
        else:
            raise InputError(Diagnostic("copy needs --size, e.g. --size 4GiB"))
    spec = TransferSpec(args.src, args.dst, size, via=args.via, chunk=args.chunk, threads=args.threads,
                        op=Op(args.op), src_file=args.src_file, dst_file=args.dst_file, check=args.check,
                        seed=args.seed)  # fmt: skip
    return Plan([spec], config)


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise InputError(Diagnostic(f"--speed {text!r}: expected 'max' or a positive factor of real time"))
    return value


async def _run(engine, plan: Plan, speed: float | None, show_progress: bool):
    runner = Runner(engine, speed=speed)
    try:
        results = [await runner.start(spec) for spec in plan.transfers]
        for event in plan.events:
            getattr(runner, event.kind)(event.device, event.at)
        bar = None
        if show_progress:
            note = f"sim, links at {plan.config.efficiency:.2f}" if isinstance(engine, Simulation) else "real"
            bar = asyncio.get_running_loop().create_task(_progress(runner, _interval(engine, results, speed), note))
        await runner.wait()
        if bar is not None:
            await asyncio.sleep(0)
            bar.cancel()
            print(file=sys.stderr)
    finally:
        await runner.close()
    peaks = engine.peak_utilisation() if isinstance(engine, Simulation) else {}
    return results, peaks


def _interval(engine, results, speed: float | None) -> float:
    if not isinstance(engine, Simulation):
        return 0.2
    rates = [r.route and (r.p2p_bytes_per_s if r.route is r.p2p_route else r.bounce_bytes_per_s) for r in results]
    horizon = max((r.spec.start + r.spec.size / (rate or 1.0) for r, rate in zip(results, rates)), default=1.0)
    # About 50 updates over the run; paced runs also no faster than ten per wall-clock second.
    return max(horizon / 50, 1e-9) if speed is None else max(min(0.1 * speed, horizon / 50), horizon / 200)


async def _progress(runner: Runner, interval: float, note: str) -> None:
    async for item in runner.subscribe(interval):
        if isinstance(item, TransferEvent):
            if item.is_error:
                print(f"\r{item.label}: {item.state.value}: {item.message}", file=sys.stderr)
            continue
        assert isinstance(item, Sample)
        done = sum(t.bytes_done for t in item.transfers)
        total = sum(t.size for t in item.transfers) or 1
        rate = sum(t.rate for t in item.transfers)
        filled = int(30 * done / total)
        print(f"\r[{'#' * filled}{'.' * (30 - filled)}] {done / total:6.1%}  {rate / 1e9:7.2f} GB/s ({note})  "
              f"t={item.time:.4g} s",
              end="", file=sys.stderr, flush=True)  # fmt: skip
