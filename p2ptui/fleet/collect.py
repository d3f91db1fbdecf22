"""Run the collector on every node of a node set through ClusterShell and keep one snapshot per node.

ClusterShell does the fan-out, the per-node timeouts and the transport: its ssh worker by default, or its exec
worker with a command template (``srun -w %h``, ``kubectl exec %h --``) to which ``sh -s`` is appended. The
collector script goes to every node on standard input, so nothing has to be installed there. Each node's output is
decoded, checked by loading it as a fabric, and stored by snapshots.store_snapshot; one node's failure never stops
the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from ClusterShell.Event import EventHandler
from ClusterShell.NodeSet import NodeSet, NodeSetParseError
from ClusterShell.Task import task_self
from ClusterShell.Worker.Exec import ExecWorker
from ClusterShell.Worker.Worker import WorkerError

from ..errors import Diagnostic, InputError
from .snapshots import (
    NodeResult,
    Status,
    check_node_name,
    decode_stream,
    store_snapshot,
)

SSH_UNREACHABLE = 255  # what ssh exits with when it cannot connect or authenticate
REMOTE_COMMAND = "sh -s"


def collector_script() -> bytes:
    """The POSIX shell collector, as shipped in the package."""
    return resources.files(__package__).joinpath("collector.sh").read_bytes()


@dataclass
class CollectOptions:
    exec_template: str | None = None  # None: ClusterShell's ssh worker
    fanout: int = 64
    timeout: float = 60.0
    ssh_options: str | None = None  # e.g. "-F /path/ssh_config"


@dataclass
class CollectReport:
    nodes: NodeSet
    results: list[NodeResult] = field(default_factory=list)

    def with_status(self, *statuses: Status) -> list[NodeResult]:
        return [r for r in self.results if r.status in statuses]

    @property
    def failed(self) -> list[NodeResult]:
        return self.with_status(Status.FAILED)


def parse_nodeset(text: str) -> NodeSet:
    try:
        nodes = NodeSet(text)
    except (NodeSetParseError, ValueError) as exc:
        raise InputError(Diagnostic(f"not a node set: {text!r} ({exc})")) from None
    if len(nodes) == 0:
        raise InputError(Diagnostic(f"node set {text!r} names no node"))
    for node in nodes:
        check_node_name(node)
    return nodes


class _Gather(EventHandler):
    """Per-node output lines and exit codes, as ClusterShell reports them."""

    def __init__(self, on_done: Callable[[str], None]):
        self.out: dict[str, list[bytes]] = {}
        self.err: dict[str, list[bytes]] = {}
        self.rc: dict[str, int] = {}
        self.on_done = on_done

    def ev_read(self, worker, node, sname, msg):
        target = self.err if sname == worker.SNAME_STDERR else self.out
        target.setdefault(node, []).append(bytes(msg))

    def ev_hup(self, worker, node, rc):
        self.rc[node] = rc
        self.on_done(node)


def collect(
    nodes: NodeSet,
    out_dir: Path,
    options: CollectOptions,
    progress: Callable[[NodeResult, int, int], None] | None = None,
) -> CollectReport:
    """Collect every node's snapshot into ``out_dir``; ``progress(result, done, total)`` follows each node."""
    if options.exec_template is not None and "%h" not in options.exec_template and "%host" not in options.exec_template:
        raise InputError(Diagnostic(f"--exec template {options.exec_template!r} has no %h for the node name"))
    report = CollectReport(nodes)
    total = len(nodes)
    done: dict[str, NodeResult] = {}

    def finish(node: str) -> None:
        result = _result(node, gather, options, out_dir)
        done[node] = result
        if progress is not None:
            progress(result, len(done), total)

    gather = _Gather(finish)
    task = task_self()
    task.set_default("stdout_msgtree", False)  # the handler keeps the lines; no second copy in the task
    task.set_default("stderr_msgtree", False)
    task.set_info("fanout", max(1, options.fanout))
    task.set_info("ssh_options", options.ssh_options)
    task.set_info("connect_timeout", max(1, int(min(options.timeout, 30))))
    try:
        if options.exec_template is not None:
            worker = ExecWorker(
                nodes=nodes,
                handler=gather,
                timeout=options.timeout,
                stderr=True,
                command=f"{options.exec_template} {REMOTE_COMMAND}",
            )
            task.schedule(worker)
        else:
            worker = task.shell(
                REMOTE_COMMAND, nodes=nodes, handler=gather, timeout=options.timeout, stderr=True, tree=False
            )
        worker.write(collector_script())
        worker.set_write_eof()
        task.resume()
    except WorkerError as exc:
        raise InputError(Diagnostic(f"cannot run the collector: {exc}")) from None
    timed_out = set(worker.iter_keys_timeout())
    for node in nodes:
        if node in done:
            continue
        why = f"timeout after {options.timeout:g} s" if node in timed_out else "no answer (the command never ended)"
        result = NodeResult(node, Status.FAILED, why)
        done[node] = result
        if progress is not None:
            progress(result, len(done), total)
    report.results = [done[node] for node in nodes]
    return report


def _result(node: str, gather: _Gather, options: CollectOptions, out_dir: Path) -> NodeResult:
    rc = gather.rc.get(node)
    err = _last_line(gather.err.get(node, []))
    lines = gather.out.pop(node, [])
    if rc == SSH_UNREACHABLE and options.exec_template is None:
        return NodeResult(node, Status.FAILED, f"unreachable: {err or 'ssh exited 255'}")
    if rc:
        return NodeResult(node, Status.FAILED, f"collector exited {rc}" + (f": {err}" if err else ""))
    try:
        archive = decode_stream(lines)
    except ValueError as exc:
        return NodeResult(node, Status.FAILED, str(exc))
    return store_snapshot(node, archive, out_dir)


def _last_line(lines: list[bytes]) -> str:
    for line in reversed(lines):
        text = line.decode("utf-8", "replace").strip()
        if text:
            return text[:200]
    return ""
