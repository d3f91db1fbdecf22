"""Signals during ``p2ptui copy``: SIGINT (Ctrl-C), SIGTERM and SIGHUP cancel the transfers the same way - each
reported with the bytes it got through, the unfinished temporary file removed, an existing destination and the
source byte-identical (by digest), one line on stderr, exit 128 + the signal (signals.py). Real processes and real
signals; the signal is sent once the command says it is copying (a line on stderr) and, for real copies, once the
temporary file exists, so the test does not depend on how fast the machine starts it."""

import asyncio
import hashlib
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
from copy_argv import copy_argv

from p2ptui.cli import signals

MiB = 1 << 20
READY = "Ctrl-C (or SIGTERM, SIGHUP) cancels"
SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]
LIMIT = 60  # seconds any one run may take, however loaded the machine


def start(**options) -> subprocess.Popen:
    """``p2ptui copy nvmeof-target`` with ``options`` (as copy_argv spells them), its output and errors piped."""
    code = "import sys; from p2ptui.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen(
        [sys.executable, "-c", code, *copy_argv(**options)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def interrupt_when_copying(
    proc: subprocess.Popen, started=lambda: True, signum: int = signal.SIGINT
) -> tuple[int, str, str]:
    """``signum`` once the command says it is copying and ``started()`` agrees; its exit code, stdout and stderr.
    Fails (never hangs) when that does not happen or the command does not end within LIMIT seconds."""
    lines: queue.Queue[str | None] = queue.Queue()
    out: list[str] = []

    def read_err() -> None:
        for line in proc.stderr:
            lines.put(line)
        lines.put(None)

    readers = [
        threading.Thread(target=read_err, daemon=True),
        threading.Thread(target=lambda: out.append(proc.stdout.read()), daemon=True),
    ]
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
                    proc.send_signal(signum)
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


def digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "blake2b").hexdigest()


def temporaries(directory) -> list[str]:
    return [name for name in os.listdir(directory) if name.endswith(".tmp")]


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_each_signal_cancels_a_paced_simulation_and_reports_it(signum):
    # 1 TiB at real-time pace: about five minutes unless cancelled.
    proc = start(src="nvme0", dst="nvme1", size="1TiB", speed=1, json=True)
    code, out, err = interrupt_when_copying(proc, signum=signum)
    assert code == 128 + signum, err
    doc = json.loads(out)
    [t] = doc["transfers"]
    assert doc["interrupted"] is True and t["state"] == "cancelled"
    assert 0 < t["bytes"] < 1 << 40 and t["bytes_per_s"] is None
    [line] = [x for x in err.splitlines() if x.startswith(f"p2ptui: {signum.name}")]
    assert (
        line == f"p2ptui: {signum.name}: cancelling 1 transfer(s), removing unfinished files (the same signal "
        "again quits at once)"
    )
    assert "Traceback" not in err


@pytest.fixture
def slow_source(tmp_path):
    """256 MiB whose first MiB is random and the rest a hole: no disk, yet seconds to copy at 4 KiB O_DIRECT."""
    src = tmp_path / "src"
    with open(src, "wb") as f:
        f.write(os.urandom(MiB))
        f.truncate(256 * MiB)
    if shutil.disk_usage(tmp_path).free < 1 << 30:
        pytest.skip("needs 256 MiB of free disk for the temporary file the copy writes")
    return src


@pytest.mark.parametrize("signum", SIGNALS, ids=lambda s: s.name)
def test_each_signal_keeps_an_existing_destination_and_leaves_no_temporary(tmp_path, slow_source, signum):
    src, dst = slow_source, tmp_path / "dst"
    dst.write_bytes(os.urandom(3 * MiB + 5))  # confirmed to be replaced (--expert --yes), but never half-way
    before = {src: digest(src), dst: digest(dst)}
    proc = start(
        src="nvme0", dst="nvme1", engine="real", src_file=src, dst_file=dst, chunk="4KiB", expert=True, yes=True
    )
    code, out, err = interrupt_when_copying(proc, started=lambda: bool(temporaries(tmp_path)), signum=signum)
    assert code == 128 + signum, err
    assert out.splitlines()[0] == "[1] nvme0 → nvme1: cancelled"
    assert f"removed the unfinished temporary file: {dst} keeps its previous contents" in out
    assert {src: digest(src), dst: digest(dst)} == before
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]
    assert sum(line.startswith(f"p2ptui: {signum.name}: ") for line in err.splitlines()) == 1
    assert "Traceback" not in err


def test_a_closed_terminal_cancels_like_sighup(tmp_path, slow_source):
    # The terminal goes: its output is gone, then SIGHUP comes. Nothing can be reported; nothing may be lost.
    src, dst = slow_source, tmp_path / "dst"
    dst.write_bytes(os.urandom(MiB))
    before = {src: digest(src), dst: digest(dst)}
    proc = start(
        src="nvme0", dst="nvme1", engine="real", src_file=src, dst_file=dst, chunk="4KiB", expert=True, yes=True
    )
    try:
        while READY not in (line := proc.stderr.readline()):  # the command prints it within a second or two ...
            assert line, "the copy ended without saying it was copying"
        deadline = time.monotonic() + LIMIT
        while not temporaries(tmp_path) and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)  # polling a condition, bounded
        proc.stdout.close()  # ... then its terminal goes away: output gone, SIGHUP
        proc.stderr.close()
        proc.send_signal(signal.SIGHUP)
        code = proc.wait(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert code == 128 + signal.SIGHUP
    assert {src: digest(src), dst: digest(dst)} == before and sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_ctrl_c_cancels_a_long_real_copy_and_creates_no_destination(tmp_path, slow_source):
    src, dst = slow_source, tmp_path / "dst"
    proc = start(src="nvme0", dst="nvme1", engine="real", src_file=src, dst_file=dst, chunk="4KiB")
    code, out, err = interrupt_when_copying(proc, started=lambda: bool(temporaries(tmp_path)))
    assert code == 130, err
    lines = out.splitlines()
    assert lines[0] == "[1] nvme0 → nvme1: cancelled"
    [partial] = [x for x in lines if x.startswith("    cancelled after ")]
    match = re.fullmatch(r"    cancelled after [\d.]+[kMG]?B of 268\.44MB \(([\d.]+)%\)", partial)
    assert match and float(match[1]) < 100, partial
    assert f"removed the unfinished temporary file: {dst} was not created" in out
    assert os.listdir(tmp_path) == ["src"] and os.path.getsize(src) == 256 * MiB
    assert "Traceback" not in err


def test_a_second_signal_quits_and_an_ignored_one_stays_ignored():
    # Two signals sent back to back reach a process as one, so the second-signal path is driven here, in-process,
    # with real signals to this process; what it does to a copy (abandon: temporary names removed at once) is
    # tested in test_engine_real_paths.py.
    async def run() -> tuple[list, list[int]]:
        loop = asyncio.get_running_loop()
        seen: list = []
        with signals.CancelOnSignals(
            loop, lambda s: seen.append(("cancel", s)), lambda s: seen.append(("quit", s))
        ) as handler:
            for signum in (signal.SIGTERM, signal.SIGINT):
                os.kill(os.getpid(), signum)
                for _ in range(1000):  # until the loop has run the handler (bounded)
                    if len(seen) == (1 if signum == signal.SIGTERM else 2):
                        break
                    await asyncio.sleep(0.001)
            assert signals.received() == signal.SIGTERM and signals.exit_status(1) == 143
            return seen, handler.installed

    saved = signal.signal(signal.SIGHUP, signal.SIG_IGN)  # as under nohup
    try:
        seen, installed = asyncio.run(run())
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN  # left as it was
    finally:
        signal.signal(signal.SIGHUP, saved)
        signals.forget()
    assert seen == [("cancel", signal.SIGTERM), ("quit", signal.SIGINT)]
    assert installed == [signal.SIGINT, signal.SIGTERM]  # not SIGHUP: ignored at start
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
