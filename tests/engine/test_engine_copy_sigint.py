"""Ctrl-C during ``p2ptui copy``: the transfers are cancelled, each reported with the bytes it got through, partial
destinations removed, exit code 1 (docs/copy.md). Real processes and real signals; the signal is sent once the
command says it is copying (a line on stderr), so the test does not depend on how fast the machine starts it."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest

GiB = 1 << 30
READY = "Ctrl-C cancels"
LIMIT = 60  # seconds any one run may take, however loaded the machine


def start(*args: str) -> subprocess.Popen:
    code = "import sys; from p2ptui.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "copy", "nvmeof-target", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def interrupt_when_copying(proc: subprocess.Popen, started=lambda: True) -> tuple[int, str, str]:
    """SIGINT once the command says it is copying and ``started()`` agrees; its exit code, stdout and stderr. Fails
    (never hangs) when that does not happen or the command does not end within LIMIT seconds."""
    lines: queue.Queue[str | None] = queue.Queue()
    out: list[str] = []

    def read_err() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    readers = [threading.Thread(target=read_err, daemon=True),
               threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True)]  # fmt: skip
    for reader in readers:
        reader.start()
    seen: list[str] = []
    try:
        while (line := lines.get(timeout=LIMIT)) is not None:
            seen.append(line)
            if READY in line:
                deadline = time.monotonic() + LIMIT
                while not started() and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.01)  # polling a condition, bounded: not a guess at how long anything takes
                if proc.poll() is None:
                    proc.send_signal(signal.SIGINT)
        proc.wait(timeout=LIMIT)
    except (queue.Empty, subprocess.TimeoutExpired):
        proc.kill()
        proc.wait()
        pytest.fail(f"no end within {LIMIT} s:\n" + "".join(seen))
    for reader in readers:
        reader.join(LIMIT)
    err = "".join(seen)
    assert READY in err, "the copy ended without saying it was copying:\n" + err
    return proc.returncode, "".join(out), err


def test_ctrl_c_cancels_a_paced_simulation_and_reports_it():
    # 1 TiB at real-time pace: about five minutes unless cancelled.
    proc = start("--src", "nvme0", "--dst", "nvme1", "--size", "1TiB", "--speed", "1", "--json")
    code, out, err = interrupt_when_copying(proc)
    assert code == 1, err
    doc = json.loads(out)
    [t] = doc["transfers"]
    assert doc["interrupted"] is True and t["state"] == "cancelled"
    assert 0 < t["bytes"] < 1 << 40 and t["bytes_per_s"] is None
    assert "interrupted: cancelling 1 transfer(s)" in err and "Traceback" not in err


def test_ctrl_c_cancels_a_long_real_copy_and_removes_the_partial_destination(tmp_path):
    src, dst = tmp_path / "src", tmp_path / "dst"
    if shutil.disk_usage(tmp_path).free < 4 * GiB:
        pytest.skip("needs 2 GiB of free disk for the destination the copy would write")
    with open(src, "wb") as f:
        f.truncate(2 * GiB)  # sparse: costs no disk; read 4 KiB at a time it takes seconds even from tmpfs
    proc = start("--src", "nvme0", "--dst", "nvme1", "--engine", "real", "--src-file", str(src), "--dst-file",
                 str(dst), "--chunk", "4KiB")  # fmt: skip
    code, out, err = interrupt_when_copying(proc, started=dst.exists)  # the copy proper has begun
    assert code == 1, err
    lines = out.splitlines()
    assert lines[0] == "[1] nvme0 → nvme1: cancelled"
    [partial] = [x for x in lines if x.startswith("    cancelled after ")]
    match = re.fullmatch(r"    cancelled after [\d.]+[kMG]?B of 2\.15GB \(([\d.]+)%\)", partial)
    assert match and float(match[1]) < 100, partial
    assert f"removed the partial destination {dst}" in out
    assert not dst.exists() and os.path.getsize(src) == 2 * GiB
    assert "Traceback" not in err
