"""Output safety end to end: ``convert`` and ``screenshot`` refuse what they must not write over (an existing file
without --force, the input itself, links, devices, directories), a failed write is one error line and exit 2, and
standard output that cannot be written (a full device, closed) is one error line and exit 2, never a traceback.
Reading stops early (``| head``) is still a quiet success. ``scan -o`` has its own cases in
tests/sources/test_sysfs_scan_cli.py."""

from __future__ import annotations

import errno
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from cli_run import run_cli
from copy_argv import copy_argv
from device_nodes import full_device
from unprivileged import skip_unless_nobody_can_run

from p2ptui.cli import convert_command
from p2ptui.cli.main import main
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled

P2PTUI = [sys.executable, "-m", "p2ptui"]
FULL_LINE = "p2ptui: error: cannot write the output: No space left on device\n"


@pytest.fixture
def mine(tmp_path: Path) -> Path:
    """A hand-written fabric file: its comments are what a careless rewrite would lose."""
    path = tmp_path / "mine.yaml"
    path.write_text("# my notes about this box\n" + find_bundled("nvmeof-target").read_text())
    return path


# --- convert: what is at OUT -------------------------------------------------------------------------------------


def test_convert_keeps_an_existing_file_unless_forced(tmp_path: Path, capsys) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("unrelated\n")
    code, out, err = run_cli(capsys, "convert", "nvmeof-target", str(other))
    assert (code, out) == (2, "")
    assert err == f"{other}: error: cannot write: it already exists (use --force to replace it)\n"
    assert other.read_text() == "unrelated\n"
    code, out, err = run_cli(capsys, "convert", "nvmeof-target", str(other), "--force")
    assert code == 0, err
    assert load_fabric(other) == load_fabric(find_bundled("nvmeof-target"))
    assert sorted(os.listdir(tmp_path)) == ["other.yaml"]


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
@pytest.mark.parametrize("alias", ["same", "hard link", "symlink"])
def test_convert_never_writes_over_its_input(mine: Path, capsys, force: list[str], alias: str) -> None:
    text = mine.read_text()
    out_path = mine
    if alias == "hard link":
        out_path = mine.with_name("hard.yaml")
        os.link(mine, out_path)
    elif alias == "symlink":
        out_path = mine.with_name("soft.yaml")
        out_path.symlink_to(mine.name)
    code, out, err = run_cli(capsys, "convert", str(mine), str(out_path), *force)
    assert (code, out) == (2, "")
    assert err == f"{out_path}: error: cannot write: it is the input {mine} itself (write to another file)\n"
    assert mine.read_text() == text and out_path.read_text() == text


def test_convert_knows_a_bundled_name_is_its_file(mine: Path, capsys, monkeypatch) -> None:
    # IN given by name resolves to the bundled file; a stand-in keeps the real bundled file out of harm's way.
    monkeypatch.setattr(convert_command, "find_bundled", lambda name: mine if name == "nvmeof-target" else None)
    text = mine.read_text()
    code, _, err = run_cli(capsys, "convert", "nvmeof-target", str(mine), "--force")
    assert code == 2 and "it is the input nvmeof-target itself" in err
    assert mine.read_text() == text


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
def test_convert_refuses_a_symbolic_link(tmp_path: Path, capsys, force: list[str]) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    link = tmp_path / "link.yaml"
    link.symlink_to(victim)
    code, _, err = run_cli(capsys, "convert", "nvmeof-target", str(link), *force)
    assert code == 2
    assert err.startswith(f"{link}: error: cannot write: it is a symbolic link") and str(victim) in err
    assert link.is_symlink() and victim.read_text() == "precious\n"


def test_convert_ignores_a_link_planted_at_the_old_temporary_name(tmp_path: Path, capsys) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (tmp_path / ".out2.yaml.tmp").symlink_to(victim)
    code, _, err = run_cli(capsys, "convert", "nvmeof-target", str(tmp_path / "out2.yaml"))
    assert code == 0, err
    assert victim.read_text() == "precious\n"
    assert not (tmp_path / "out2.yaml").is_symlink() and load_fabric(tmp_path / "out2.yaml").name.startswith("NVMe")


@pytest.mark.parametrize("force", [[], ["--force"]], ids=["plain", "forced"])
def test_convert_refuses_a_device_node(tmp_path: Path, capsys, force: list[str]) -> None:
    node = full_device(tmp_path)
    node = node.rename(tmp_path / "full.yaml")
    code, _, err = run_cli(capsys, "convert", "nvmeof-target", str(node), *force)
    assert code == 2
    assert err == f"{node}: error: cannot write: it is a character device, not a regular file (give a file name)\n"
    assert stat.S_ISCHR(os.lstat(node).st_mode) and sorted(os.listdir(tmp_path)) == ["full.yaml"]


def test_convert_to_a_directory_leaves_no_temporary_anywhere(tmp_path: Path, capsys) -> None:
    target = tmp_path / "d.yaml"
    target.mkdir()
    code, _, err = run_cli(capsys, "convert", "nvmeof-target", str(target))
    assert os.listdir(tmp_path) == ["d.yaml"] and os.listdir(target) == []  # the old writer left .d.yaml.tmp
    assert code == 2 and "cannot write: it is a directory" in err


def test_convert_into_a_directory_nobody_may_write_is_one_line() -> None:
    base = Path(tempfile.mkdtemp(prefix="p2ptui-perm-"))  # pytest's tmp_path is private to this user
    try:
        base.chmod(0o755)
        locked = base / "locked"
        locked.mkdir()
        locked.chmod(0o700)  # like /root: the unprivileged user cannot even look inside
        argv = [*P2PTUI, "convert", "nvmeof-target", str(locked / "x.yaml")]
        if os.geteuid() == 0:
            skip_unless_nobody_can_run()
            argv = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *argv]
        else:
            locked.chmod(0o500)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd="/")
        assert result.returncode == 2
        assert result.stderr == f"{locked / 'x.yaml'}: error: cannot write: Permission denied\n"
        locked.chmod(0o700)
        assert os.listdir(locked) == []
    finally:
        shutil.rmtree(base)


# --- standard output ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "argv",
    [
        ["show", "nvmeof-target"],
        ["matrix", "large-synthetic", "--json"],
        copy_argv(src="nvme0", dst="nvme1", size="1GiB", json=True),
        ["fabrics"],
        ["--help"],
    ],
    ids=lambda argv: " ".join(argv[:2]),
)
def test_a_full_standard_output_is_one_line_and_exit_2(tmp_path: Path, argv: list[str]) -> None:
    node = full_device(tmp_path)
    with open(node, "wb") as full:
        result = subprocess.run([*P2PTUI, *argv], stdout=full, stderr=subprocess.PIPE, text=True, timeout=120)
    assert (result.returncode, result.stderr) == (2, FULL_LINE)


def test_a_closed_standard_output_is_an_error_not_silence() -> None:
    result = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *P2PTUI, "show", "nvmeof-target"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode, result.stderr) == (2, "p2ptui: error: cannot write the output: Bad file descriptor\n")


def test_a_reader_that_stops_early_is_a_quiet_success() -> None:
    with subprocess.Popen(
        [*P2PTUI, "matrix", "large-synthetic", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        head = proc.stdout.read(10)
        proc.stdout.close()  # like `| head -c 10`
        err = proc.stderr.read()
        code = proc.wait(timeout=120)
    assert head.startswith(b"{") and (code, err) == (0, b"")


class _FullStream:
    """A text stream whose every write fails as a full disk does."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


def test_in_process_write_errors_become_the_same_line(capsys, monkeypatch) -> None:
    monkeypatch.setattr(sys, "stdout", _FullStream())
    assert main(["show", "nvmeof-target"]) == 2
    assert capsys.readouterr().err == FULL_LINE


def test_other_os_errors_are_still_bugs_with_a_traceback(capsys, monkeypatch) -> None:
    # Only standard output's failures are reported as output errors; anything else must not be dressed up as one.
    def broken(args) -> int:
        raise OSError(errno.EIO, "a bug")

    monkeypatch.setattr(convert_command, "cmd_convert", broken)
    with pytest.raises(OSError, match="a bug"):
        main(["convert", "nvmeof-target", "x.yaml"])


# --- screenshot ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("size", ["-5x10", "0x0", "1x1", "79x24", "80x23", "501x40", "120x201", "120", "axb", "1x2x3"])
def test_screenshot_size_out_of_range_is_refused_before_anything_is_written(tmp_path: Path, capsys, size) -> None:
    code, out, err = run_cli(capsys, "screenshot", "--out", str(tmp_path / "shots"), f"--size={size}")
    assert (code, out) == (2, "")
    [line] = err.splitlines()
    assert line.startswith("p2ptui: error: ") and ("out of range" in line or "expected WIDTHxHEIGHT" in line)
    assert "width 80 to 500 and height 24 to 200" in line or "expected WIDTHxHEIGHT" in line
    assert not (tmp_path / "shots").exists()


def test_a_huge_screenshot_size_is_refused_at_once(tmp_path: Path) -> None:
    result = subprocess.run(
        [*P2PTUI, "screenshot", "--out", str(tmp_path / "s"), "--size", "100000x100000"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr == (
        "p2ptui: error: screen size 100000x100000 is out of range (width 80 to 500 and height 24 to 200, e.g. 120x40)\n"
    )


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (
            "file",
            "cannot create the directory: it exists and is not a directory (give a directory for the output files)",
        ),
        ("file/sub", "cannot create the directory: Not a directory"),
        ("/proc/p2ptui-no-such-dir", "cannot create the directory: No such file or directory"),
    ],
)
def test_screenshot_output_directory_problems_are_one_line(tmp_path: Path, capsys, where: str, message: str) -> None:
    (tmp_path / "file").write_text("mine\n")
    out_dir = where if where.startswith("/") else str(tmp_path / where)
    code, out, err = run_cli(capsys, "screenshot", "--out", out_dir)
    assert (code, out, err) == (2, "", f"{out_dir}: error: {message}\n")
    assert (tmp_path / "file").read_text() == "mine\n"


def test_screenshot_refuses_a_planted_link_before_the_tour(tmp_path: Path, capsys) -> None:
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    shots = tmp_path / "shots"
    shots.mkdir()
    (shots / "01-launcher.svg").symlink_to(victim)
    code, out, err = run_cli(capsys, "screenshot", "--out", str(shots))
    assert (code, out) == (2, "")
    assert err.startswith(f"{shots / '01-launcher.svg'}: error: cannot write: it is a symbolic link")
    assert victim.read_text() == "precious\n" and os.listdir(shots) == ["01-launcher.svg"]


def test_the_smallest_screenshot_size_works(tmp_path: Path, capsys) -> None:
    code, out, err = run_cli(capsys, "screenshot", "--out", str(tmp_path), "--size", "80x24")
    assert code == 0, err
    paths = out.splitlines()
    assert len(paths) == 10 and all(Path(p).read_text().startswith("<svg") for p in paths)
    assert sorted(os.listdir(tmp_path)) == sorted(Path(p).name for p in paths)  # no temporary files left


# --- encodings of the standard streams (cli/streams.py) ------------------------------------------------------------
ENCODING_ARGV = {
    "show": ["show", "nvmeof-target"],
    "check": ["check", "nvmeof-target", "nvme2", "nvme0", "nvme1"],
    "copy": copy_argv(src="nvme0", dst="nvme1", via="nvme2", size="1GiB"),
}


@pytest.mark.parametrize("encoding", ["ascii", "latin-1"])
@pytest.mark.parametrize("command", ENCODING_ARGV)
def test_a_stream_that_cannot_encode_unicode_gets_ascii_not_a_traceback(command: str, encoding: str) -> None:
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    result = subprocess.run([*P2PTUI, *ENCODING_ARGV[command]], capture_output=True, timeout=120, env=env)
    assert result.returncode == 0 and b"Traceback" not in result.stderr, result.stderr
    text = result.stdout.decode(encoding)  # what the stream promised: it decodes
    utf8 = subprocess.run([*P2PTUI, *ENCODING_ARGV[command]], capture_output=True, timeout=120).stdout.decode()
    assert len(text.splitlines()) == len(utf8.splitlines())  # nothing dropped, line for line
    if command == "show":  # the tree as lspci -t draws it on a C locale
        assert "+- " in text and "\\- " in text and "|  " in text and "├" in utf8
    if command == "copy":
        assert "nvme0 -> nvme2 -> nvme1" in text and "nvme0 → nvme2 → nvme1" in utf8


def test_closing_both_standard_output_and_error_is_exit_2() -> None:
    result = subprocess.run(["sh", "-c", 'exec "$@" >&- 2>&-', "sh", *P2PTUI, "show", "nvmeof-target"], timeout=60)
    assert result.returncode == 2


@pytest.mark.parametrize("encoding", ["utf-8", "ascii"])
def test_a_file_name_that_is_not_utf8_is_shown_with_escapes(tmp_path: Path, encoding: str) -> None:
    src = tmp_path / "src"
    src.write_bytes(os.urandom(1 << 20))
    odd = os.fsencode(tmp_path) + b"/caf\xe9"  # Latin-1 bytes: not UTF-8
    argv = [*P2PTUI, *copy_argv(src="nvme0", dst="nvme1", engine="real", src_file=os.fsencode(src))]
    env = {**os.environ, "PYTHONIOENCODING": encoding}
    missing = subprocess.run([*argv, "--dst-file", odd + b"/x"], capture_output=True, timeout=60, env=env)
    assert missing.returncode == 2
    assert (
        missing.stderr
        == (f"{tmp_path}/caf\\xe9/x: error: destination: the directory {tmp_path}/caf\\xe9 does not exist\n").encode()
    )
    done = subprocess.run([*argv, "--dst-file", odd, "--no-progress"], capture_output=True, timeout=60, env=env)
    assert done.returncode == 0 and b"Traceback" not in done.stderr
    assert open(odd, "rb").read() == src.read_bytes()
