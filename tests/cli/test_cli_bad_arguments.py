"""Bad command-line arguments found by bench/fuzz_cli.py: each is one error line and exit 2, never a hang, a
traceback or a command that quietly does something else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_cli
from copy_argv import copy_argv
from device_nodes import full_device

from p2ptui.cli.main import main
from p2ptui.fabric import pciids
from p2ptui.formats.gallery import find_bundled

P2PTUI = [sys.executable, "-m", "p2ptui"]
EMPTY = "an empty string names no file"


# --- the PCI ID database: read whole, so a FIFO blocked and /dev/zero never ended --------------------------------


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_fifo_as_pci_ids_is_refused_without_opening_it(tmp_path: Path, how: str) -> None:
    fifo = tmp_path / "pci.ids"
    os.mkfifo(fifo)
    argv = [*P2PTUI, "show", "nvmeof-target"]
    env = dict(os.environ)
    if how == "option":
        argv[3:3] = ["--pci-ids", str(fifo)]
        what = f"--pci-ids {fifo}"
    else:
        env[pciids.ENV_VAR] = str(fifo)
        what = f"{pciids.ENV_VAR}={fifo}"
    # A subprocess with a timeout: a regression would block on the FIFO's open, and fail here instead of hanging.
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"p2ptui: error: {what}: cannot read the PCI ID database: it is a named pipe, not a file\n"


def test_a_character_device_as_pci_ids_is_refused(capsys, monkeypatch) -> None:
    monkeypatch.setenv(pciids.ENV_VAR, "/dev/zero")  # read whole, it would never end
    code, out, err = run_cli(capsys, "show", "nvmeof-target")
    assert (code, out) == (2, "")
    assert err == (
        f"p2ptui: error: {pciids.ENV_VAR}=/dev/zero: cannot read the PCI ID database: it is a character device, "
        "not a file\n"
    )


def test_an_empty_pci_ids_still_means_no_database(capsys) -> None:
    code, out, err = run_cli(capsys, "--pci-ids", "", "show", "nvmeof-target")
    assert code == 0, err
    assert "nvme0" in out


# --- fleet collect --timeout: ClusterShell's epoll wait overflowed (OverflowError traceback, exit 1) -------------


@pytest.mark.parametrize("timeout", ["inf", "10000000000", "3000000", "nan", "0", "-1"])
def test_fleet_collect_refuses_a_timeout_it_cannot_wait(timeout: str, tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(
        capsys, "fleet", "collect", "n1", "-o", str(tmp_path / "out"), "--exec", "false %h", "--timeout", timeout
    )
    assert (code, out) == (2, "")
    assert err == f"p2ptui: error: --timeout must be more than 0 and at most 604800 seconds (a week), not {timeout}\n"
    assert not (tmp_path / "out").exists()


def test_fleet_collect_takes_a_week_long_timeout(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(
        capsys, "fleet", "collect", "n1", "-o", str(tmp_path), "--exec", "false %h", "--timeout", "604800"
    )
    assert code == 1  # the node failed (false exits 1): the timeout itself was accepted
    assert "n1: failed: collector exited 1" in err


def test_fleet_collect_usage_shows_the_exec_template_as_typed(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["fleet", "collect", "--help"])
    out = capsys.readouterr().out
    assert "--exec 'CMD %h'" in out
    assert "%%" not in out


# --- empty path arguments: ignored (--plan '', scan -o ''), the current directory (fleet diff ''), or a real copy
# that ran and then failed to put its file in place (--dst-file '', exit 1) -------------------------------------


@pytest.mark.parametrize(
    "argv, argument",
    [
        (["show", ""], "FABRIC"),
        (["validate", ""], "FABRIC"),
        (["describe", "", "nvme0"], "FABRIC"),
        (["check", "", "nvme0", "mlx5_0"], "FABRIC"),
        (["find-provider", "", "nvme0"], "FABRIC"),
        (["matrix", ""], "FABRIC"),
        (["open", ""], "FABRIC"),
        (["convert", "", "out.yaml"], "IN"),
        (["convert", "nvmeof-target", ""], "OUT"),
        (["scan", ""], "ROOT"),
        (["scan", "-o", "", "local"], "-o/--output"),
        (["screenshot", "--out", ""], "--out"),
        (["fleet", "diff", ""], "DIR"),
        (["fleet", "diff", "fleet", "--reference", ""], "--reference"),
        (["fleet", "open", ""], "DIR"),
        (["fleet", "collect", "n1", "-o", ""], "-o/--output"),
        (["copy", "", "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB"], "FABRIC"),
        (["copy", "nvmeof-target", "--src", "nvme0", "--dst", "nvme1", "--size", "1MiB", "--plan", ""], "--plan"),
        (
            ["copy", "nvmeof-target", "--engine", "real", "--src", "nvme0", "--dst", "nvme1", "--src-file", ""],
            "--src-file",
        ),
        (
            ["copy", "nvmeof-target", "--engine", "real", "--src", "nvme0", "--dst", "nvme1", "--dst-file", ""],
            "--dst-file",
        ),
        (
            ["copy", "nvmeof-target", "--src", "nvme0", "--dst", "nvme1", "--via", "nvme2", "--p2pmem-file", ""],
            "--p2pmem-file",
        ),
        (
            ["copy", "nvmeof-target", "--engine", "real", "--src", "nvme0", "--dst", "nvme1", "--yes-overwrite", ""],
            "--yes-overwrite",
        ),
    ],
)
def test_an_empty_path_is_refused_before_anything_runs(argv: list[str], argument: str, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit:
        main(argv)
    out, err = capsys.readouterr()
    assert (exit.value.code, out) == (2, "")
    assert err.splitlines()[-1].endswith(f"error: argument {argument}: {EMPTY}")
    assert os.listdir(tmp_path) == []  # nothing written: no copy, no snapshot, no screenshot directory


def test_a_real_copy_to_an_empty_dst_file_moves_nothing(tmp_path: Path, monkeypatch, capsys) -> None:
    source = tmp_path / "src.bin"
    source.write_bytes(os.urandom(8192))
    monkeypatch.chdir(tmp_path)
    argv = ["copy", "nvmeof-target", "--engine", "real", "--src", "nvme0", "--dst", "nvme1", "--no-progress"]
    with pytest.raises(SystemExit) as exit:
        main([*argv, "--src-file", str(source), "--dst-file", ""])
    out, err = capsys.readouterr()
    assert (exit.value.code, out) == (2, "")
    assert "copying" not in err  # refused while parsing, before the copy started
    assert sorted(os.listdir(tmp_path)) == ["src.bin"]


# --- demo's captions went to Textual's saved standard output, past the CLI's guard: a full or closed standard output
# was an OSError / AttributeError traceback and exit 1 -------------------------------------------------------------


@pytest.mark.parametrize("stdout", ["full", "closed"])
def test_demo_into_a_full_or_closed_stdout_is_one_line(stdout: str, tmp_path: Path) -> None:
    argv = [*P2PTUI, "demo", "--fast", "--headless"]
    if stdout == "full":
        with full_device(tmp_path).open("w") as full:
            done = subprocess.run(argv, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
        why = "No space left on device"
    else:
        done = subprocess.run(argv, stderr=subprocess.PIPE, text=True, timeout=120, preexec_fn=lambda: os.close(1))
        why = "Bad file descriptor"
    assert (done.returncode, done.stderr) == (2, f"p2ptui: error: cannot write the output: {why}\n")


# --- fleet diff left a node's file out without a word when it was no regular file --------------------------------


def test_fleet_diff_names_node_files_it_cannot_read(tmp_path: Path, capsys) -> None:
    fleet = tmp_path / "fleet"
    fleet.mkdir()
    for node in ("a", "b"):
        (fleet / f"{node}.yaml").write_text(find_bundled("nvmeof-target").read_text())
    os.mkfifo(fleet / "c.yaml")  # never opened: the diff would block on it
    (fleet / "d.yaml").symlink_to("nowhere")
    (fleet / "e.tar.gz").mkdir()
    code, out, err = run_cli(capsys, "fleet", "diff", str(fleet))
    assert code == 0, err
    assert out.splitlines()[-3:] == [
        "not compared: c: c.yaml: is a named pipe, not a file",
        "not compared: d: d.yaml: dangling symbolic link",
        "not compared: e: e.tar.gz: is a directory, not a file",
    ]
    code, out, err = run_cli(capsys, "fleet", "diff", "--json", str(fleet))
    assert json.loads(out)["not_compared"] == {
        "c": "c.yaml: is a named pipe, not a file",
        "d": "d.yaml: dangling symbolic link",
        "e": "e.tar.gz: is a directory, not a file",
    }


# --- copy --speed: 1e-300 was taken, and the paced simulation it started would never have ended --------------------


@pytest.mark.parametrize("speed", ["1e-300", "0.0009", "0", "-1", "nan", "inf", "1e7", "fast", ""])
def test_copy_refuses_a_pace_out_of_range(speed: str, capsys) -> None:
    code, out, err = run_cli(capsys, *copy_argv(src="nvme0", dst="nvme1", size="1MiB", speed=speed))
    assert (code, out) == (2, "")
    assert err.startswith(
        f"p2ptui: error: --speed {speed!r}: expected 'max' or a factor of real time from 0.001 to 1e+06"
    ), err


@pytest.mark.parametrize("speed", ["0.001", "1000000"])
def test_copy_takes_the_ends_of_the_pace_range(speed: str, capsys) -> None:
    size = "1MiB" if speed == "1000000" else "4KiB"  # a thousandth of real time: keep the simulated copy tiny
    code, out, err = run_cli(capsys, *copy_argv(src="nvme0", dst="nvme1", size=size, speed=speed, json=True))
    assert code == 0, err
    (result,) = json.loads(out)["transfers"]
    assert result["bytes"] == (1 << 20 if speed == "1000000" else 4096)
