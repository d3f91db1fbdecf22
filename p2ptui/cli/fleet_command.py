"""``p2ptui fleet collect`` and ``p2ptui fleet diff``: a fleet's fabrics, gathered over ClusterShell and lined up."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from ClusterShell.NodeSet import NodeSet

from ..errors import Diagnostic, InputError
from ..fleet.collect import CollectOptions, CollectReport, collect, parse_nodeset
from ..fleet.drift import DriftOptions
from ..fleet.fleet import diff_fleet
from ..fleet.report import diff_to_dict, render_diff
from ..fleet.snapshots import NodeResult, Status, write_manifest
from ..formats.safe_write import ensure_directory
from .arguments import path_argument

EXIT_ALL_COLLECTED = 0
EXIT_SOME_FAILED = 1
EXIT_NO_DRIFT = 0
EXIT_DRIFT = 1
ACTIONS = ("collect", "diff", "open")
# ClusterShell waits in epoll, whose timeout is at most 2**31 - 1 ms (24.8 days): a longer one (or inf) overflows.
MAX_TIMEOUT = 7 * 24 * 3600


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("fleet", help="collect many nodes' fabrics over ClusterShell and show how they drift")
    fleet = p.add_subparsers(dest="fleet_command", metavar="ACTION", required=True)

    c = fleet.add_parser(
        "collect",
        help="run the collector on every node (ssh, or any command template) and keep one snapshot per node",
        description="Run a small POSIX shell collector on every node of NODESET (ClusterShell syntax, node[01-64]) "
        "and write one sysfs snapshot per node, DIR/NODE.tar.gz, which every p2ptui command reads as a FABRIC. "
        "Nodes need a shell and coreutils only. Run as root on the nodes for full config space (ACS). Failures are "
        "reported per node and never stop the others; a rerun rewrites only the snapshots that changed. Exit 0 "
        "when every node was collected, 1 when some failed, 2 on bad input.",
    )
    c.add_argument("nodeset", metavar="NODESET")
    c.add_argument(
        "-o", "--output", type=path_argument, metavar="DIR", required=True, help="directory for the snapshots (created)"
    )
    c.add_argument(
        "--exec",
        dest="exec_template",
        metavar="'CMD %h'",
        help="run through this local command template instead of ssh (%%h is the node name); "
        "'sh -s' is appended and the collector is fed on its standard input",
    )
    c.add_argument("--fanout", type=int, default=64, metavar="N", help="nodes at once (default 64)")
    c.add_argument(
        "--timeout", type=float, default=60.0, metavar="S", help="seconds per node, up to a week (default 60)"
    )
    c.add_argument("--ssh-options", metavar="OPTS", help="extra ssh options, e.g. '-F ./ssh_config'")
    c.set_defaults(run=cmd_collect)
    register_diff(fleet)

    o = fleet.add_parser(
        "open",
        help="the fleet screen in the TUI (same as 'p2ptui fleet DIR')",
        description="Open DIR's fleet in the TUI: nodes grouped by drift, counts per kind, "
        "sortable; Enter opens a node's tree with the drifted devices marked. Without a terminal, "
        "prints what fleet diff prints.",
    )
    o.add_argument("directory", type=path_argument, metavar="DIR")
    o.add_argument("--reference", type=path_argument, metavar="NODE|FABRIC", help="as for fleet diff")
    o.set_defaults(run=cmd_open)


def route_fleet_directory(argv: list[str]) -> list[str]:
    """``p2ptui fleet DIR`` means ``p2ptui fleet open DIR``."""
    if "fleet" not in argv:
        return argv
    i = argv.index("fleet")
    if i + 1 < len(argv) and argv[i + 1] not in ACTIONS and not argv[i + 1].startswith("-"):
        return [*argv[: i + 1], "open", *argv[i + 1 :]]
    return argv


def cmd_open(args: argparse.Namespace) -> int:
    result = diff_fleet(Path(args.directory), args.reference)
    if not (sys.stdout.isatty() and sys.stdin.isatty()):
        print("\n".join(render_diff(result)))
        print("(not a terminal: printed the diff; run in a terminal for the TUI)", file=sys.stderr)
        return EXIT_DRIFT if result.groups else EXIT_NO_DRIFT
    from .tui_commands import launch

    launch(None, fleet=result)
    return EXIT_NO_DRIFT


def cmd_collect(args: argparse.Namespace) -> int:
    nodes = parse_nodeset(args.nodeset)
    if args.fanout < 1:
        raise InputError(Diagnostic(f"--fanout must be at least 1, not {args.fanout}"))
    if not 0 < args.timeout <= MAX_TIMEOUT:
        raise InputError(
            Diagnostic(
                f"--timeout must be more than 0 and at most {MAX_TIMEOUT} seconds (a week), not {args.timeout:.15g}"
            )
        )
    out_dir = ensure_directory(args.output)
    options = CollectOptions(args.exec_template, args.fanout, args.timeout, args.ssh_options)
    progress = _Progress(sys.stderr.isatty())
    report = collect(nodes, Path(out_dir), options, progress)
    progress.close()
    write_manifest(Path(out_dir), report.results)
    for line in summary_lines(report, str(out_dir)):
        print(line)
    return EXIT_SOME_FAILED if report.failed else EXIT_ALL_COLLECTED


class _Progress:
    """One line per failed or partial node as it ends; on a terminal, a progress bar that rewrites itself."""

    WIDTH = 30

    def __init__(self, tty: bool):
        self.tty = tty
        self.failed = 0

    def __call__(self, result: NodeResult, done: int, total: int) -> None:
        if self.tty:
            sys.stderr.write("\r\033[K")
        if result.status is Status.FAILED:
            self.failed += 1
            print(f"{result.node}: failed: {result.reason}", file=sys.stderr)
        elif result.partial:
            print(f"{result.node}: partial: {'; '.join(result.notes)}", file=sys.stderr)
        if self.tty:
            filled = self.WIDTH * done // total
            bar = "#" * filled + "." * (self.WIDTH - filled)
            sys.stderr.write(f"[{bar}] {done}/{total} nodes, {self.failed} failed")
            sys.stderr.flush()

    def close(self) -> None:
        if self.tty:
            sys.stderr.write("\n")


def summary_lines(report: CollectReport, out_dir: str) -> list[str]:
    ok = len(report.results) - len(report.failed)
    counts = ", ".join(
        f"{len(report.with_status(s))} {s.value}"
        for s in (Status.NEW, Status.UPDATED, Status.UNCHANGED, Status.FAILED)
        if report.with_status(s)
    )
    lines = [f"collected {ok} of {len(report.nodes)} nodes into {out_dir}: {counts}"]
    partial = [r.node for r in report.results if r.status is not Status.FAILED and r.partial]
    if partial:
        lines.append(f"partial (see collect.json): {NodeSet.fromlist(partial)}")
    by_reason: dict[str, list[str]] = {}
    for r in report.failed:
        by_reason.setdefault(_reason_kind(r.reason), []).append(r.node)
    for kind, nodes in sorted(by_reason.items()):
        lines.append(f"failed, {kind}: {NodeSet.fromlist(nodes)}")
    return lines


def _reason_kind(reason: str) -> str:
    """The kind of failure (the words before the first colon), to fold nodes that failed the same way."""
    head = reason.split(":", 1)[0]
    return head if len(head) < 40 else "other"


def register_diff(fleet: argparse._SubParsersAction) -> None:
    d = fleet.add_parser(
        "diff",
        help="line up every node's fabric with a reference and show the drift and what it does to P2P",
        description="Align every node fabric in DIR with the reference by structure and identity (kind, "
        "vendor:device, slot, position under the same switch; not bus numbers) and list per node: devices missing "
        "or extra, links narrower or slower, ACS control, IOMMU mode, kernel and command line that differ, AER "
        "counters above the threshold, and every endpoint pair whose P2P verdict changes, with why. Nodes that "
        "drifted alike are folded together (node[003,017-019]). Exit 0 when no node drifts, 1 when some do, 2 on "
        "bad input.",
    )
    d.add_argument("directory", type=path_argument, metavar="DIR")
    d.add_argument(
        "--reference",
        type=path_argument,
        metavar="NODE|FABRIC",
        help="a node in DIR or any fabric (default: a node of the most common shape)",
    )
    d.add_argument(
        "--aer-threshold", type=int, default=0, metavar="N", help="AER counter totals above N are drift (default 0)"
    )
    d.add_argument("--json", action="store_true", help="machine-readable output")
    d.set_defaults(run=cmd_diff)


def cmd_diff(args: argparse.Namespace) -> int:
    if args.aer_threshold < 0:
        raise InputError(Diagnostic(f"--aer-threshold must be 0 or more, not {args.aer_threshold}"))
    result = diff_fleet(Path(args.directory), args.reference, DriftOptions(aer_threshold=args.aer_threshold))
    if args.json:
        print(json.dumps(diff_to_dict(result), indent=2))
    else:
        print("\n".join(render_diff(result)))
    return EXIT_DRIFT if result.groups else EXIT_NO_DRIFT
