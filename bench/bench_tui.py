"""TUI budgets: first frame with the 2,000-device fabric, and (once the engine runner exists) keypress latency and
CPU use with 64 simulated transfers updating at 4 Hz.

How it is measured
* first frame: a fresh Python process per run (``--child first-frame``), timed from just before the process was
  spawned to the first screen update of the fabric screen. That is the moment Textual hands the compositor's
  update to the driver (``App._display``); headless drivers discard it, so the child also renders it to an
  in-memory terminal (a Rich console) to pay the cost a real terminal write would. It includes interpreter start,
  imports, loading the 2,120-function YAML and building the first tree lines.
Prints every run, then the median and the budget.
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

FIRST_FRAME_BUDGET_S = 1.5


def child_first_frame(spawned_at: float) -> None:
    from rich.console import Console

    from p2ptui.sources import open_fabric
    from p2ptui.tui import make_app
    from p2ptui.tui.screens.fabric import FabricScreen

    fabric = open_fabric("large-synthetic")
    loaded_at = time.time()
    app = make_app(fabric, animations=False, live_scan=None, auto_tick=False)
    seen: dict[str, float] = {}
    original = type(app)._display

    def display(self, screen, renderable):
        if renderable is not None and "first" not in seen and isinstance(screen, FabricScreen):
            Console(file=io.StringIO(), width=120, height=40, force_terminal=True, color_system="truecolor").print(
                renderable
            )
            seen["first"] = time.time()
            self.exit()
        return original(self, screen, renderable)

    type(app)._display = display
    app.run(headless=True, size=(120, 40))
    devices = len(fabric)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    print(json.dumps({"first_frame_s": seen["first"] - spawned_at, "load_s": loaded_at - spawned_at,
                      "cpu_s": usage.ru_utime + usage.ru_stime, "devices": devices}))


def first_frame(runs: int) -> float:
    results = []
    for _ in range(runs):
        spawned = time.time()
        out = subprocess.run(
            [sys.executable, __file__, "--child", "first-frame", "--spawned", repr(spawned)],
            capture_output=True, text=True, check=True,
        ).stdout
        result = json.loads(out.strip().splitlines()[-1])
        results.append(result)
        print(f"  run: first frame {result['first_frame_s']:.3f} s wall (start+imports+YAML load "
              f"{result['load_s']:.3f} s), process CPU until then {result['cpu_s']:.3f} s, {result['devices']} functions")
    median = statistics.median(r["first_frame_s"] for r in results)
    cpu = statistics.median(r["cpu_s"] for r in results)
    verdict = "ok" if median <= FIRST_FRAME_BUDGET_S else "OVER BUDGET"
    print(f"first frame, large-synthetic, 120x40: median {median:.3f} s wall, {cpu:.3f} s CPU over {runs} runs "
          f"(budget {FIRST_FRAME_BUDGET_S} s wall): {verdict}")
    print(f"  machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work inflates wall time)")
    return median


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--child", choices=["first-frame"])
    parser.add_argument("--spawned", type=float)
    args = parser.parse_args()
    if args.child == "first-frame":
        child_first_frame(args.spawned)
        return 0
    first_frame(args.runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
