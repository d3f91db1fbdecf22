"""``p2ptui copy``: run one transfer, or a plan of several, on the simulator or for real, and report them."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import math
import os
import stat
import sys

from ..engine.backends import Capability, backend
from ..engine.backends import default as default_engine
from ..engine.backends import names as engine_names
from ..engine.limits import parse_device_rate
from ..engine.plan import Plan, load_plan
from ..engine.real_inputs import kind_of, source_size
from ..engine.real_paths import examine_source, path_error
from ..engine.report import result_dict
from ..engine.resources import DeviceRate, SimConfig
from ..engine.runner import Runner
from ..engine.runner_real import RealRunner
from ..engine.samples import Sample, TransferEvent
from ..engine.sim import Simulation
from ..engine.transfer import DEFAULT_CHUNK, Op, TransferSpec, TransferState
from ..errors import Diagnostic, InputError, Location
from ..fabric.units import parse_size
from ..present.transfer import efficiency_text, report_lines
from ..sources import open_fabric
from . import signals
from .arguments import path_argument

EXIT_OK, EXIT_FAILED = 0, 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "copy",
        help="copy over a fabric: simulate it, or move and verify real bytes",
        description="Run a transfer (or a plan of several) and report its route, the P2P and bounce predictions "
        "and the measured rate. Devices are names or addresses in FABRIC; 'host' is host memory.",
    )
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
    p.add_argument("--src", help="source device (or 'host')")
    p.add_argument("--dst", help="destination device (or 'host')")
    p.add_argument("--via", metavar="PROVIDER", help="stage the data in this provider's P2P memory")
    p.add_argument(
        "--size", type=_size, help="bytes to copy, e.g. 4GiB (real file copies default to the source's size)"
    )
    p.add_argument("--chunk", type=_size, default=DEFAULT_CHUNK, help="bytes per DMA/read+write (default 1MiB)")
    p.add_argument("--threads", type=int, default=1, metavar="N", help="threads = queue depth (default 1)")
    p.add_argument(
        "--serial",
        action="store_true",
        help="staged copies: one chunk of buffer per thread, read then written (p2pmem-test's loop, for numbers "
        "comparable with p2pmem-test -t N -s CHUNK); default: two, the next chunk read while the last is written",
    )
    p.add_argument(
        "--op",
        choices=[o.value for o in Op],
        default=Op.WRITE.value,
        help="direct copies: the source writes (default) or the destination reads",
    )
    p.add_argument("--engine", choices=engine_names(), default=default_engine())
    p.add_argument("--src-file", type=path_argument, metavar="F", help="real engine: copy this file (or block device)")
    p.add_argument("--dst-file", type=path_argument, metavar="G", help="real engine: to this file (or block device)")
    p.add_argument("--check", action="store_true", help="real engine: write seeded random data, verify the copy")
    p.add_argument("--seed", type=int, default=0, help="seed for --check data (default 0)")
    p.add_argument(
        "--expert",
        action="store_true",
        help="expert mode: simulate paths the kernel refuses; with "
        "--yes, let the real engine replace existing files, with --yes-overwrite write a block "
        "device",
    )
    p.add_argument("--yes", action="store_true", help="confirm replacing existing files (needs --expert)")
    p.add_argument(
        "--yes-overwrite",
        type=path_argument,
        action="append",
        default=[],
        metavar="DEVICE",
        help="confirm writing this block device in place, named as in --dst-file or by another path "
        "to the same device (needs --expert; repeatable): a partial write to a device cannot be "
        "undone",
    )
    p.add_argument(
        "--plan", type=path_argument, metavar="PLAN.yaml", help="run the transfers of a plan together (docs/copy.md)"
    )
    p.add_argument("--efficiency", type=float, help="per-link efficiency on top of the protocol bound (default 0.90)")
    p.add_argument(
        "--device-rate",
        action="append",
        default=[],
        metavar="DEV=READ[,WRITE]",
        help="a device's media rates in GB/s, e.g. nvme0=3.2,2.0 (repeatable)",
    )
    p.add_argument(
        "--speed",
        default="max",
        help="simulator pace: 'max' (as fast as possible) or a factor of real time, e.g. 1 or 10",
    )
    p.add_argument(
        "--p2pmem-file",
        type=path_argument,
        metavar="PATH",
        help="real engine: use PATH as the provider's p2pmem/allocate",
    )
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
    entry = backend(args.engine)
    if not entry.can(Capability.MOVES_BYTES):
        if args.src_file or args.dst_file or any(s.src_file for s in plan.transfers):
            raise InputError(Diagnostic("--src-file/--dst-file need --engine real; the simulator moves no bytes"))
        if args.p2pmem_file:
            raise InputError(Diagnostic("--p2pmem-file is for the real engine; the simulator maps no memory"))
        if args.yes_overwrite:
            raise InputError(Diagnostic("--yes-overwrite is for the real engine; the simulator writes no device"))
        engine = entry.make(fabric, plan.config, expert=args.expert)
        speed = _speed(args.speed)
    else:
        if (args.yes or args.yes_overwrite) and not args.expert:
            flag = "--yes" if args.yes else "--yes-overwrite"
            raise InputError(Diagnostic(f"{flag} only confirms expert mode: add --expert"))
        if plan.events:
            raise InputError(Diagnostic("plan events (unplug, unpublish) can only be injected into the simulator"))
        engine = entry.make(
            fabric,
            plan.config,
            expert=args.expert,
            yes=args.yes,
            p2pmem_files=_p2pmem_files(args, fabric, plan),
            overwrite_devices=args.yes_overwrite,
        )
        speed = None
    _preflight(engine, plan)
    show_progress = not args.json and not args.no_progress and sys.stderr.isatty()
    results, peaks, interrupted = asyncio.run(_run(engine, plan, speed, show_progress))
    if args.json:
        resources = [
            {
                "name": k,
                "peak_utilisation": v,
                "capacity": engine.catalog.resources[k].capacity,
                "description": engine.catalog.resources[k].description,
            }
            for k, v in sorted(peaks.items())
        ]
        doc = {
            "engine": args.engine,
            "efficiency": plan.config.efficiency,
            "interrupted": interrupted,
            "transfers": [result_dict(r) for r in results],
            "resources": resources,
        }
        print(json.dumps(doc, indent=2))
    else:
        for r in results:
            print("\n".join(report_lines(r, plan.config.efficiency)))
        if peaks:
            busiest = sorted(peaks.items(), key=lambda kv: -kv[1])[:5]
            print(
                f"busiest resources (links at {efficiency_text(plan.config.efficiency)} efficiency): "
                + ", ".join(f"{k} {v:.0%}" for k, v in busiest)
            )
    good = all(r.state is TransferState.DONE and r.verified is not False for r in results)
    return signals.exit_status(EXIT_OK if good else EXIT_FAILED)


def _config(args: argparse.Namespace) -> SimConfig:
    rates = {}
    for item in args.device_rate:
        try:
            name, read, write = parse_device_rate(item)
        except ValueError as exc:
            message, sep, expected = str(exc).partition(": expected ")
            hint = f"expected {expected}" if sep else ""
            raise InputError(Diagnostic(f"--device-rate {item!r}: {message}", hint=hint)) from None
        rates[name] = DeviceRate(read, write)
    try:
        return SimConfig(efficiency=args.efficiency if args.efficiency is not None else 0.90, device_rates=rates)
    except ValueError as exc:
        flag = "--efficiency" if getattr(exc, "field", None) == "efficiency" else "--device-rate"
        raise InputError(Diagnostic(f"{flag}: {exc}")) from None


# The flag each TransferSpec field comes from, to name it in an error.
FLAGS = {"size": "--size", "chunk": "--chunk", "threads": "--threads", "via": "--via"}


def _plan(args: argparse.Namespace, fabric, config: SimConfig) -> Plan:
    rates: dict[str, DeviceRate] = {}  # by the device's own name, however the flag named it
    for name, rate in config.device_rates.items():
        try:
            real = fabric.find(name).name
        except KeyError:
            raise InputError(Diagnostic(f"--device-rate: no device {name!r} in the fabric")) from None
        rates[real] = rate
    config = dataclasses.replace(config, device_rates=rates)
    if args.plan:
        if args.src or args.dst or args.via or args.size:
            raise InputError(Diagnostic("--plan replaces --src/--dst/--via/--size: give one or the other"))
        _check_plan_file(args.plan)
        plan = load_plan(args.plan, fabric, config)
        if (
            backend(args.engine).can(Capability.TAKES_FILES)
            and any(s.src_file for s in plan.transfers)
            and not all(s.src_file for s in plan.transfers)
        ):
            raise InputError(Diagnostic("a real plan copies files in every transfer or in none"))
        return plan
    if not args.src or not args.dst:
        raise InputError(Diagnostic("copy needs --src and --dst (or --plan)"))
    size = args.size
    if size is None:
        if backend(args.engine).can(Capability.TAKES_FILES) and args.src_file and not args.check:
            size = _source_size(args.src_file)
        else:
            raise InputError(Diagnostic("copy needs --size, e.g. --size 4GiB"))
    spec = TransferSpec(
        args.src,
        args.dst,
        size,
        via=args.via,
        chunk=args.chunk,
        threads=args.threads,
        op=Op(args.op),
        src_file=args.src_file,
        dst_file=args.dst_file,
        check=args.check,
        seed=args.seed,
        serial=args.serial,
    )
    problems = spec.field_problems()
    if problems:
        raise InputError(
            [Diagnostic(f"{FLAGS[p.field]}: {p.message}" if p.field in FLAGS else p.message) for p in problems]
        )
    return Plan([spec], config)


def _check_plan_file(path: str) -> None:
    """A plan is a regular file: a FIFO, socket or device would block the read or never end it."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return  # load_plan says it cannot read it
    except OSError as exc:
        raise path_error(path, "--plan", exc) from None
    if not stat.S_ISREG(st.st_mode):
        raise InputError(
            Diagnostic(f"--plan: is {kind_of(st.st_mode)}, not a regular file: a plan is a YAML file", Location(path))
        )


def _source_size(path: str) -> int:
    """--size for a real copy from ``path`` (a file, or a block device: its st_size is 0)."""
    if not examine_source(path, "--src-file").exists:
        raise InputError(
            Diagnostic(
                "--src-file does not exist",
                Location(path),
                "give --check (and --size) to create it with seeded random data",
            )
        )
    try:
        size = source_size(path)
    except ValueError as exc:
        raise InputError(Diagnostic(f"--src-file {exc}", Location(path))) from None
    except OSError as exc:
        raise path_error(path, "--src-file", exc) from None
    if size == 0:
        raise InputError(Diagnostic("--src-file is empty: nothing to copy", Location(path)))
    return size


def _p2pmem_files(args: argparse.Namespace, fabric, plan: Plan) -> dict[str, str]:
    """--p2pmem-file stands for the allocate file of the one provider the file copies stage in. Memory copies never
    run through P2P memory (the CPU must not copy through a BAR), so giving it for them is refused, not ignored."""
    if not args.p2pmem_file:
        return {}
    providers = set()
    for spec in plan.transfers:
        if spec.via is not None and spec.src_file is not None:
            try:
                providers.add(fabric.find(spec.via).name)
            except KeyError:
                pass  # the planner reports the unknown device
    if not providers:
        raise InputError(
            Diagnostic(
                "--p2pmem-file is used only by file copies staged in a provider's P2P memory "
                "(--via with --src-file/--dst-file); memory copies never run through P2P memory",
                hint="drop --p2pmem-file, or copy files with --via",
            )
        )
    if len(providers) > 1:
        raise InputError(
            Diagnostic(
                f"--p2pmem-file is one provider's allocate file, but the copies stage in "
                f"{', '.join(sorted(providers))}",
                hint="run those copies separately",
            )
        )
    return {providers.pop(): args.p2pmem_file}


def _preflight(engine, plan: Plan) -> None:
    """Every transfer's input problems, all at once and before anything runs (files, chunk, RAM, routes)."""
    problems: list[Diagnostic] = []
    for i, spec in enumerate(plan.transfers):
        try:
            engine.plan(spec)
        except InputError as exc:
            if not plan.locations:
                problems += exc.diagnostics
                continue
            where = plan.locations[i]
            problems += [
                Diagnostic(f"transfer {spec.label}: {d.message}", d.location or where, d.hint) for d in exc.diagnostics
            ]
    if problems:
        raise InputError(problems)


# Paced factors --speed takes. Slower than a thousandth of real time, a copy of one second would take over a
# quarter of an hour to watch (1e-300 never ended); faster than a million times, pacing is 'max' in all but name.
SPEED_RANGE = (1e-3, 1e6)


def _speed(text: str) -> float | None:
    if text == "max":
        return None
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    low, high = SPEED_RANGE
    if not low <= value <= high:
        raise InputError(
            Diagnostic(
                f"--speed {text!r}: expected 'max' or a factor of real time from {low:g} to {high:g}",
                hint="'max' runs the simulator as fast as it can",
            )
        )
    return value


async def _run(engine, plan: Plan, speed: float | None, show_progress: bool):
    """Run the plan; SIGINT, SIGTERM and SIGHUP cancel every transfer and the partial results are reported as usual -
    a second one ends at once (signals.py). Returns (results, peak utilisation, interrupted)."""
    runner = Runner(engine, speed=speed)
    loop = asyncio.get_running_loop()
    interrupted = asyncio.Event()
    results: list = []

    def quit_now(signum: int) -> None:
        for r in results:  # unfinished temporary files go now; the kernel frees buffers and mappings at exit
            if isinstance(runner, RealRunner) and not r.state.finished:
                runner.job(r.id).abandon()
        _say(f"p2ptui: {signals.name(signum)} again: quitting at once")
        os._exit(signals.status(signum))

    with signals.CancelOnSignals(loop, lambda signum: interrupted.set(), quit_now):
        try:
            for spec in plan.transfers:
                results.append(await runner.start(spec))
            for event in plan.events:
                getattr(runner, event.kind)(event.device, event.at)
            if speed is not None or not isinstance(engine, Simulation):  # runs that take wall-clock time say so
                for r in results:
                    if r.spec.start > 0:
                        print(f"[{r.id}] {r.spec.label}: starts at t={r.spec.start:g} s", file=sys.stderr)
                print(
                    f"p2ptui: copying ({'paced simulation' if speed else 'real'}); Ctrl-C (or SIGTERM, SIGHUP) "
                    "cancels and reports how far the transfers got",
                    file=sys.stderr,
                    flush=True,
                )
            bar = None
            if show_progress:
                note = (
                    f"{engine.name}, links at {efficiency_text(plan.config.efficiency)}"
                    if isinstance(engine, Simulation)
                    else engine.name
                )
                bar = loop.create_task(_progress(runner, _interval(engine, results, speed), note))
            finished = loop.create_task(runner.wait())
            stop = loop.create_task(interrupted.wait())
            await asyncio.wait({finished, stop}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            if not finished.done():
                left = [r for r in results if not r.state.finished]
                signum = signals.received()
                assert signum is not None
                _say(
                    f"{chr(10) if show_progress else ''}p2ptui: {signals.name(signum)}: "
                    f"cancelling {len(left)} transfer(s), removing unfinished "
                    "files (the same signal again quits at once)"
                )
                for r in left:
                    await runner.cancel(r.id)
            await finished
            if bar is not None:
                await asyncio.sleep(0)
                bar.cancel()
                print(file=sys.stderr)
        finally:
            await runner.close()
    peaks = engine.peak_utilisation() if isinstance(engine, Simulation) else {}
    return results, peaks, interrupted.is_set()


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _interval(engine, results, speed: float | None) -> float:
    if not isinstance(engine, Simulation):
        return 0.2
    rates = [r.route and (r.p2p_bytes_per_s if r.route is r.p2p_route else r.bounce_bytes_per_s) for r in results]
    ends = (r.spec.start + r.spec.size / (rate or 1.0) for r, rate in zip(results, rates, strict=True))
    horizon = max(ends, default=1.0)
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
        print(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {done / total:6.1%}  {rate / 1e9:7.2f} GB/s ({note})  "
            f"t={item.time:.4g} s",
            end="",
            file=sys.stderr,
            flush=True,
        )
