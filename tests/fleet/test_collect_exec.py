"""fleet collect through ClusterShell's exec worker: the real collector script against fake node roots."""

from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from fleet_fixtures import TRANSPORT

from p2ptui.cli.main import main
from p2ptui.fleet.collect import (
    CollectOptions,
    collect,
    collector_script,
    parse_nodeset,
)
from p2ptui.fleet.snapshots import Status, decode_stream
from p2ptui.fleet.synth import gpu_box, write_node
from p2ptui.formats.export import fabric_to_dict
from p2ptui.sources import open_fabric, sysfs


def comparable(fabric) -> dict:
    data = fabric_to_dict(fabric)
    data.pop("name")
    data.pop("description")
    return data


@pytest.fixture
def roots(tmp_path: Path) -> Path:
    roots = tmp_path / "roots"
    write_node(roots / "good", gpu_box())
    write_node(roots / "n1", gpu_box())
    write_node(roots / "n2", gpu_box(base=0x10, gpu_width=8))
    write_node(roots / "deep", gpu_box(deep=4))
    return roots


def run_collect(tmp_path: Path, roots: Path, nodeset: str, timeout: float = 20) -> tuple[int, str, str]:
    out = tmp_path / "out"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "p2ptui",
            "fleet",
            "collect",
            nodeset,
            "-o",
            str(out),
            "--timeout",
            str(timeout),
            "--exec",
            f"sh {TRANSPORT} {roots} %h",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_snapshots_read_as_the_roots_they_came_from(tmp_path: Path, roots: Path):
    report = collect(parse_nodeset("n[1-2],deep"), tmp_path, CollectOptions(f"sh {TRANSPORT} {roots} %h", timeout=20))
    assert [r.status for r in report.results] == [Status.NEW] * 3
    for node in ("n1", "n2", "deep"):
        snap = tmp_path / f"{node}.tar.gz"
        assert comparable(open_fabric(str(snap))) == comparable(sysfs.load(roots / node))
        assert open_fabric(str(snap)).name == node
    # A deep tree has sysfs paths beyond ustar's 100 characters: GNU long-name blocks carry them.
    with tarfile.open(tmp_path / "deep.tar.gz") as tar:
        assert max(len(n) for n in tar.getnames()) > 100


def test_failures_are_reported_per_node_and_do_not_stop_the_others(tmp_path: Path, roots: Path):
    code, out, err = run_collect(tmp_path, roots, "n[1-2],hang1,garbage1,cut1,fail1,missing1", timeout=3)
    assert code == 1
    lines = dict(line.split(": ", 1) for line in err.splitlines())
    assert lines["hang1"] == "failed: timeout after 3 s"
    assert lines["garbage1"] == "failed: garbage output: no collector header (first line 'Welcome to node garbage1')"
    assert lines["cut1"] == "failed: partial output: the stream ended before the collector's end mark"
    assert lines["fail1"] == "failed: collector exited 7: collector: permission denied"
    assert lines["missing1"].startswith("failed: collector exited 3: p2ptui-collect: no PCI devices here")
    assert out.splitlines()[0] == f"collected 2 of 7 nodes into {tmp_path / 'out'}: 2 new, 5 failed"
    assert "failed, timeout after 3 s: hang1" in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["collect.json", "n1.tar.gz", "n2.tar.gz"]
    manifest = json.loads((tmp_path / "out/collect.json").read_text())["nodes"]
    assert manifest["hang1"] == {"status": "failed", "reason": "timeout after 3 s", "snapshot": None}


def test_rerun_rewrites_only_what_changed(tmp_path: Path, roots: Path):
    assert run_collect(tmp_path, roots, "n[1-2]")[0] == 0
    before = {p.name: p.stat().st_ino for p in (tmp_path / "out").glob("*.tar.gz")}
    # n2's GPU link retrains at x16
    speed = next((roots / "n2/sys/devices").rglob("0000:13:00.0/current_link_width"))
    speed.write_text("16\n")
    code, out, _ = run_collect(tmp_path, roots, "n[1-2]")
    assert code == 0
    assert out.splitlines()[0].endswith("1 updated, 1 unchanged")
    after = {p.name: p.stat().st_ino for p in (tmp_path / "out").glob("*.tar.gz")}
    assert after["n1.tar.gz"] == before["n1.tar.gz"]
    assert after["n2.tar.gz"] != before["n2.tar.gz"]


def test_a_failed_rerun_keeps_the_last_good_snapshot(tmp_path: Path, roots: Path):
    assert run_collect(tmp_path, roots, "n1")[0] == 0
    data = (tmp_path / "out/n1.tar.gz").read_bytes()
    (roots / "n1").rename(roots / "gone")
    code, out, err = run_collect(tmp_path, roots, "n1")
    assert code == 1 and "n1: failed: collector exited 3" in err
    assert (tmp_path / "out/n1.tar.gz").read_bytes() == data
    assert json.loads((tmp_path / "out/collect.json").read_text())["nodes"]["n1"]["snapshot"] == "n1.tar.gz"


def test_non_root_collector_says_what_it_could_not_read():
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody")
    with tempfile.TemporaryDirectory() as shared:  # pytest's own directory is closed to other users
        os.chmod(shared, 0o755)
        root = write_node(Path(shared) / "n1", gpu_box())
        vendor = next((root / "sys/devices").rglob("0000:03:00.0/vendor"))
        vendor.chmod(0o600)
        proc = subprocess.run(
            ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "sh", "-s"],
            input=collector_script(),
            capture_output=True,
            env={"P2PTUI_SYSROOT": str(root), "PATH": os.environ["PATH"]},
        )
    assert proc.returncode == 0, proc.stderr
    archive = decode_stream(proc.stdout.splitlines()).tar
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        notes = tar.extractfile("p2ptui-collect.txt").read().decode()
    assert "unreadable: /sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0/0000:02:00.0/0000:03:00.0/vendor" in notes
    assert "not root (uid 65534)" in notes


@pytest.mark.parametrize(
    "lines, message",
    [
        ([], "garbage output: nothing on standard output"),
        ([b"P2PTUI-COLLECT 1", b"!!!!", b"P2PTUI-COLLECT-END"], "garbage output: the archive is not base64"),
        (
            [b"P2PTUI-COLLECT 1", b"H4sIAAAA", b"P2PTUI-COLLECT-END"],
            "partial output: the compressed archive is cut short",
        ),
    ],
)
def test_decode_stream_names_what_is_wrong(lines, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        decode_stream(lines)


def test_plain_tar_without_gzip_is_stored_gzipped(tmp_path: Path, roots: Path):
    os.environ["P2PTUI_COLLECT_PLAIN"] = "1"
    try:
        report = collect(parse_nodeset("n1"), tmp_path, CollectOptions(f"sh {TRANSPORT} {roots} %h", timeout=20))
    finally:
        del os.environ["P2PTUI_COLLECT_PLAIN"]
    assert report.results[0].status is Status.NEW
    assert gzip.decompress((tmp_path / "n1.tar.gz").read_bytes())[257:262] == b"ustar"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fleet", "collect", "node[1-", "-o", "x"], "not a node set"),
        (["fleet", "collect", "n1", "-o", "x", "--exec", "ssh host"], "has no %h"),
        (["fleet", "collect", "n1", "-o", "x", "--fanout", "0"], "--fanout must be at least 1"),
        (["fleet", "collect", "n1,a;reboot", "-o", "x"], "node name 'a;reboot' is not a host name"),
    ],
)
def test_bad_arguments_exit_2(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    assert message in capsys.readouterr().err
