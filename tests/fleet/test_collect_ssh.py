"""End to end through ClusterShell's real ssh worker: a loopback sshd serves node1..node8, each with its own fake
sysfs root; the collector is the real one, fed over ssh. Then fleet diff on what was collected."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from loopback_sshd import LoopbackSshd, start_sshd, why_no_sshd

from p2ptui.cli.main import main
from p2ptui.fleet.synth import amd_host, dgx_spec, gpu_box, write_node

# Slow: keys, sshd, nine node roots and two collections take 15-25 s on two shared cores.
pytestmark = [pytest.mark.skipif(why_no_sshd() is not None, reason=why_no_sshd() or ""), pytest.mark.slow]

NODE_KNOBS = {
    "node1": {},
    "node2": {"shift": 8, "redirect_port": 0},
    "node3": {},
    "node4": {"shift": 4, "narrow_gpu": 5},
    "node5": {},
    "node6": {"shift": 8, "redirect_port": 0},
    "node7": {"shift": 2},
}


@pytest.fixture(scope="module")
def sshd(tmp_path_factory) -> LoopbackSshd:
    daemon = start_sshd(tmp_path_factory.mktemp("sshd"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def node_roots(tmp_path_factory) -> Path:
    roots = tmp_path_factory.mktemp("roots")
    for node, knobs in NODE_KNOBS.items():
        write_node(roots / node, dgx_spec(**knobs), amd_host())
    write_node(roots / "small", gpu_box())
    hung = write_node(roots / "hung", gpu_box())
    (hung / "proc/cmdline").unlink()
    os.mkfifo(hung / "proc/cmdline")  # a read that never returns, like a wedged sysfs attribute
    return roots


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def p2ptui(capsys):
    def run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return run


def test_eight_nodes_over_ssh_then_diff(sshd: LoopbackSshd, node_roots: Path, tmp_path: Path, p2ptui):
    nodes = {node: str(node_roots / node) for node in NODE_KNOBS}
    config = sshd.ssh_config(nodes, refused=("node8",))
    out = tmp_path / "fleet"
    started = time.monotonic()
    collect = p2ptui(
        "fleet", "collect", "node[1-8]", "-o", str(out), "--timeout", "20", "--ssh-options", f"-F {config}"
    )
    assert collect.returncode == 1, collect.stderr
    assert collect.stdout.splitlines()[0] == f"collected 7 of 8 nodes into {out}: 7 new, 1 failed"
    assert "failed, unreachable: node8" in collect.stdout
    assert "node8: failed: unreachable: ssh: connect to host 127.0.0.1 port" in collect.stderr
    assert "Connection refused" in collect.stderr
    assert sorted(p.name for p in out.glob("*.tar.gz")) == [f"node{i}.tar.gz" for i in range(1, 8)]

    diff = p2ptui("fleet", "diff", str(out))
    assert diff.returncode == 1, diff.stderr
    lines = diff.stdout.splitlines()
    assert lines[0] == "reference: node1 (the most common shape: 7 of 7 nodes)"
    assert lines[1] == "7 nodes compared: 4 match the reference (node[1,3,5,7]), 3 drifted in 2 groups"
    assert "node[2,6] (2 nodes)" in lines
    assert (
        "  p2p      gpu0 → mlx5_0: BUS_ADDR on the reference, THRU_HOST_BRIDGE here: ACS RR CR set on "
        "dsp0 0000:02:00.0" in lines
    )
    assert "node4 (1 node)" in lines
    assert "not compared: node8: not collected: unreachable: ssh: connect to host 127.0.0.1 port" in diff.stdout
    assert time.monotonic() - started < 60


def test_failures_over_ssh_each_reported_cleanly(sshd: LoopbackSshd, node_roots: Path, tmp_path: Path, p2ptui):
    nodes = {
        "good1": str(node_roots / "small"),
        "hang1": str(node_roots / "hung"),
        "exit1": str(node_roots / "no-such-root"),
    }
    config = sshd.ssh_config(nodes, refused=("refused1",), garbage=("garbage1",))
    out = tmp_path / "fleet"
    collect = p2ptui(
        "fleet",
        "collect",
        "good1,hang1,exit1,refused1,garbage1",
        "-o",
        str(out),
        "--timeout",
        "5",
        "--ssh-options",
        f"-F {config}",
    )
    assert collect.returncode == 1
    lines = dict(line.split(": ", 1) for line in collect.stderr.splitlines())
    assert "good1" not in lines, lines.get("good1")
    assert lines["hang1"] == "failed: timeout after 5 s"
    assert lines["exit1"].startswith("failed: collector exited 3: p2ptui-collect: no PCI devices here")
    assert lines["refused1"].startswith("failed: unreachable: ssh: connect to host 127.0.0.1 port")
    assert lines["garbage1"] == (
        "failed: garbage output: no collector header (first line 'Welcome! This node is managed by Puppet.')"
    )
    assert collect.stdout.splitlines()[0] == f"collected 1 of 5 nodes into {out}: 1 new, 4 failed"
