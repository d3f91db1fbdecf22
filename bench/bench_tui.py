"""TUI budgets: a whole first frame of large-synthetic (2,120 functions, <= 1.0 s) and of an 8,480-function fabric
(<= 1.5 s), and with 64 simulated transfers updating at
4 Hz, keypress-to-screen latency (<= 100 ms at p95) and CPU use (<= 30% of one core).

How it is measured
* first frame: a fresh Python process per run (``--child first-frame``), timed from just before the process was
  spawned to the first screen update of the fabric screen. That is the moment Textual hands the compositor's
  update to the driver (``App._display``); headless drivers discard it, so the child also renders it to an
  in-memory terminal (a Rich console) to pay the cost a real terminal write would. It includes interpreter start,
  imports, loading the fabric (the 2,120-function YAML, or building synth.large_fabric(4096) in the child) and
  building the first screen. The frame must be whole (the footer's Help and Quit, the device pane describing the
  cursor's line): a half-drawn first frame fails the run whatever its time. Process CPU is printed beside the wall
  time, split at the end of loading, since wall time on a shared machine mostly measures the other processes.
* meters (``--child meters``, one fresh process): the app runs headless at 120x40 on the large-synthetic fabric
  with its production settings: the wall clock (time.monotonic), the 4 Hz meter timer running, the simulator
  paced at ``--speed`` x real time. 64 copies between seeded random endpoint pairs are started through the
  screen's own start path (gate first); each is 1 TiB so none ends inside the window. Every screen update is
  rendered to an in-memory terminal as above. After a settling second, ``--keys`` cursor moves (down/up, in the
  tree) are sent the way a terminal sends them (driver.send_message of a Key event, no Pilot waits), at seeded
  random gaps of 150-350 ms so they land anywhere between meter ticks. Latency = from sending the key to the first
  screen update handed to the driver after the detail pane showed the newly highlighted device. CPU = process CPU
  time (time.process_time, all threads) over wall time for the whole key window, meters running throughout.
Prints every run, then medians / percentiles and the budgets.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import statistics
import subprocess
import sys
import time

# First frame, per fabric: the gallery's large-synthetic (2,120 functions) and the 8,480-function
# synth.large_fabric(4096) (built in the child; its build time is inside the figure).
FIRST_FRAME_BUDGETS_S = {"large-synthetic": 1.0, "synth-8480": 1.5}
# What a whole first frame shows: the footer's Help and Quit, and the device pane describing the cursor's line.
WHOLE_FRAME_MARKS = ("? Help", "q Quit", "Root complex pci0000:00")
KEY_P95_BUDGET_MS = 100.0
CPU_BUDGET = 0.30
TRANSFERS = 64


def child_first_frame(spawned_at: float, which: str) -> None:
    from rich.console import Console

    from p2ptui.tui import make_app
    from p2ptui.tui.screens.fabric import FabricScreen

    if which == "synth-8480":
        from p2ptui.fabric.synth import large_fabric

        fabric = large_fabric(4096)
    else:
        from p2ptui.sources import open_fabric

        fabric = open_fabric(which)
    loaded_at, loaded_cpu = time.time(), time.process_time()
    app = make_app(fabric, animations=False, live_scan=None, auto_tick=False)
    seen: dict[str, float] = {}
    text: dict[str, str] = {}
    original = type(app)._display

    def display(self, screen, renderable):
        if renderable is not None and "first" not in seen and isinstance(screen, FabricScreen):
            console = Console(
                file=io.StringIO(), width=120, height=40, force_terminal=True, color_system="truecolor", record=True
            )
            console.print(renderable)
            seen["first"] = time.time()
            text["first"] = console.export_text()
            self.exit()
        return original(self, screen, renderable)

    type(app)._display = display
    app.run(headless=True, size=(120, 40))
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(
        json.dumps(
            {
                "first_frame_s": seen["first"] - spawned_at,
                "load_s": loaded_at - spawned_at,
                "load_cpu_s": loaded_cpu,
                "cpu_s": usage.ru_utime + usage.ru_stime,
                "devices": len(fabric),
                "missing": [mark for mark in WHOLE_FRAME_MARKS if mark not in text["first"]],
            }
        )
    )


def first_frame(runs: int, which: str) -> bool:
    budget = FIRST_FRAME_BUDGETS_S[which]
    results = []
    for _ in range(runs):
        spawned = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--child", "first-frame", "--fabric", which, "--spawned", repr(spawned)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        whole = "whole" if not result["missing"] else f"MISSING {', '.join(result['missing'])}"
        print(
            f"  run: first frame {result['first_frame_s']:.3f} s wall (start+imports+load "
            f"{result['load_s']:.3f} s), process CPU until then {result['cpu_s']:.3f} s (of which loading "
            f"{result['load_cpu_s']:.3f} s), {result['devices']} functions, "
            f"frame {whole}"
        )
    median = statistics.median(r["first_frame_s"] for r in results)
    cpu = statistics.median(r["cpu_s"] for r in results)
    whole = all(not r["missing"] for r in results)
    verdict = "ok" if median <= budget and whole else "OVER BUDGET" if whole else "HALF-DRAWN FIRST FRAME"
    print(
        f"first frame, {which}, 120x40: median {median:.3f} s wall, {cpu:.3f} s CPU over {runs} runs "
        f"(budget {budget} s wall; every first frame shows {' / '.join(WHOLE_FRAME_MARKS)}): {verdict}"
    )
    print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work inflates wall time)")
    return verdict == "ok"


def child_meters(keys: int, speed: float, seed: int) -> None:
    import asyncio
    import random

    from rich.console import Console

    from p2ptui.engine.transfer import TransferSpec, TransferState
    from p2ptui.sources import open_fabric
    from p2ptui.tui import make_app
    from p2ptui.tui.screens.fabric import FabricScreen
    from p2ptui.tui.widgets.detail_pane import DetailPane

    fabric = open_fabric("large-synthetic")
    app = make_app(
        fabric, animations=False, live_scan=None, auto_tick=True, meter_hz=4.0, sim_speed=speed, clock=time.monotonic
    )
    terminal = Console(file=io.StringIO(), width=120, height=40, force_terminal=True, color_system="truecolor")
    state = {"shown": False, "frames": 0}
    latencies: list[float] = []
    tick_costs: list[float] = []
    original_display = type(app)._display
    original_show = DetailPane.show
    original_tick = FabricScreen.tick

    def display(self, screen, renderable):
        if renderable is not None:
            terminal.file = io.StringIO()
            terminal.print(renderable)  # what writing the update to a terminal costs
            state["frames"] += 1
            if state["shown"]:
                latencies.append(time.perf_counter() - state["sent"])
                state["shown"] = False
        return original_display(self, screen, renderable)

    def show(self, item):
        original_show(self, item)
        if "sent" in state:
            state["shown"] = True

    def tick(self):
        t = time.perf_counter()
        original_tick(self)
        tick_costs.append(time.perf_counter() - t)

    type(app)._display = display
    DetailPane.show = show
    FabricScreen.tick = tick
    result: dict = {}

    async def drive(pilot) -> None:
        from textual import events

        screen = app.screen
        rng = random.Random(seed)
        endpoints = fabric.endpoints()
        started = 0
        while started < TRANSFERS:
            src, dst = rng.sample(endpoints, 2)
            spec = TransferSpec(src.name, dst.name, 1 << 40)
            decision = screen.gate(spec, "sim")
            if decision is not None and not decision.permitted:
                continue  # the gate would lock it; the benchmark wants copies that run
            if await screen.start_copy(spec) is not None:
                started += 1
        await asyncio.sleep(1.0)  # settle: first link map, first ticks
        cpu0, wall0 = time.process_time(), time.perf_counter()
        ticks0 = len(tick_costs)
        for i in range(keys):
            await asyncio.sleep(rng.uniform(0.15, 0.35))
            state["sent"] = time.perf_counter()
            state["shown"] = False
            key = "down" if i % 8 < 4 else "up"
            app._driver.send_message(events.Key(key, None))
        await asyncio.sleep(0.4)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        views = screen.operations.last.views
        result.update(
            cpu=cpu1 - cpu0,
            wall=wall1 - wall0,
            ticks=len(tick_costs) - ticks0,
            running=sum(v.state is TransferState.RUNNING for v in views),
            transfers=len(views),
            sim_time=screen.operations.last.time,
        )
        app.exit()

    app.run(headless=True, size=(120, 40), auto_pilot=drive)
    result.update(latencies=latencies, tick_costs=tick_costs[-result.get("ticks", 0) :], frames=state["frames"])
    print(json.dumps(result))


def meters(keys: int, speed: float, seed: int) -> tuple[float, float]:
    out = subprocess.run(
        [
            sys.executable,
            __file__,
            "--child",
            "meters",
            "--keys",
            str(keys),
            "--speed",
            str(speed),
            "--seed",
            str(seed),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    r = json.loads(out.strip().splitlines()[-1])
    lat = sorted(x * 1000 for x in r["latencies"])
    ticks = sorted(x * 1000 for x in r["tick_costs"])

    def pct(values: list[float], p: float) -> float:
        return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]

    p95 = pct(lat, 95)
    cpu = r["cpu"] / r["wall"]
    print(
        f"  {r['transfers']} simulated transfers, {r['running']} still running at the end (sim clock "
        f"{r['sim_time']:.1f} s at {speed:g}x real time), meters at 4 Hz: {r['ticks']} ticks in {r['wall']:.1f} s, "
        f"tick cost median {pct(ticks, 50):.1f} ms / p95 {pct(ticks, 95):.1f} ms"
    )
    print(
        f"  {len(lat)} of {keys} keypresses seen on screen: latency median {pct(lat, 50):.1f} ms, p95 {p95:.1f} ms, "
        f"max {lat[-1]:.1f} ms"
    )
    verdict = "ok" if p95 <= KEY_P95_BUDGET_MS else "OVER BUDGET"
    print(
        f"keypress -> screen with {TRANSFERS} live transfers: p95 {p95:.1f} ms (budget {KEY_P95_BUDGET_MS:.0f} ms): "
        f"{verdict}"
    )
    verdict = "ok" if cpu <= CPU_BUDGET else "OVER BUDGET"
    print(
        f"CPU with {TRANSFERS} live transfers at 4 Hz: {cpu:.1%} of one core ({r['cpu']:.2f} s CPU in "
        f"{r['wall']:.2f} s wall, {r['frames']} screen updates) (budget {CPU_BUDGET:.0%}): {verdict}"
    )
    return p95, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keys", type=int, default=60, help="keypresses in the meters window")
    parser.add_argument("--speed", type=float, default=1.0, help="simulated seconds per wall second")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--only", choices=["first-frame", "meters"])
    parser.add_argument("--child", choices=["first-frame", "meters"])
    parser.add_argument("--spawned", type=float)
    parser.add_argument("--fabric", choices=sorted(FIRST_FRAME_BUDGETS_S), help="first frame of one fabric only")
    args = parser.parse_args()
    if args.child == "first-frame":
        child_first_frame(args.spawned, args.fabric)
        return 0
    if args.child == "meters":
        child_meters(args.keys, args.speed, args.seed)
        return 0
    ok = True
    if args.only in (None, "first-frame"):
        for which in [args.fabric] if args.fabric else FIRST_FRAME_BUDGETS_S:
            ok &= first_frame(args.runs, which)
    if args.only in (None, "meters"):
        p95, cpu = meters(args.keys, args.speed, args.seed)
        ok &= p95 <= KEY_P95_BUDGET_MS and cpu <= CPU_BUDGET
    return 0 if ok else 1  # a missed budget fails the run


if __name__ == "__main__":
    sys.exit(main())
