"""Real copies lose nothing, whatever the paths: "the same file" is decided by identity (hard links, bind mounts,
symbolic links), a destination is replaced only whole by a rename, symbolic links are not written through, block
devices need the user to name them, and every path problem is one line `path: error: ...` and exit 2 before anything
is written. Files compared by digest before and after; no temporary file may be left anywhere."""

import errno
import hashlib
import os
import shutil
import socket
import stat
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import pytest
from cli_run import run_cli
from copy_argv import copy_argv
from engine_fabrics import switch_fabric
from unprivileged import AS_NOBODY, skip_unless_nobody_can_run

from p2ptui.engine import real_files
from p2ptui.engine.real import RealEngine
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError

MiB = 1 << 20
REAL = {"src": "nvme0", "dst": "nvme1", "engine": "real", "no_progress": True}
CONFIRMED = {"expert": True, "yes": True}


def cli(capsys, **options) -> tuple[int, str, str]:
    """``p2ptui copy nvmeof-target`` with ``options`` (as copy_argv spells them), in-process."""
    return run_cli(capsys, *copy_argv(**options))


def digest(path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "blake2b").hexdigest()


def digests(*paths) -> dict:
    return {str(p): digest(p) for p in paths}


@pytest.fixture
def src(tmp_path):
    path = tmp_path / "src.bin"
    path.write_bytes(os.urandom(8 * MiB))
    return path


# -- identity, not names -----------------------------------------------------------------------------------------------
def test_a_hard_link_to_the_source_is_refused_even_confirmed(capsys, tmp_path, src):
    hard = tmp_path / "hard.bin"
    os.link(src, hard)
    before = digests(src)
    code, out, err = cli(capsys, **REAL, src_file=src, dst_file=hard, **CONFIRMED)
    assert code == 2 and out == ""
    assert err.startswith(f"{hard}: error: source and destination are the same file (compared by identity")
    assert len(err.splitlines()) == 1
    assert digests(src) == before and os.path.getsize(src) == 8 * MiB
    assert sorted(os.listdir(tmp_path)) == ["hard.bin", "src.bin"]


def test_the_same_file_through_a_bind_mount_is_refused(capsys, tmp_path, src):
    other = tmp_path / "other"
    other.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("bind mounts need root")
    done = subprocess.run(["mount", "--bind", str(tmp_path), str(other)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot bind-mount here: {done.stderr.strip()}")
    try:
        alias = other / "src.bin"
        assert os.path.realpath(alias) != os.path.realpath(src)  # what the old name check compared
        before = digests(src)
        code, _, err = cli(capsys, **REAL, src_file=src, dst_file=alias, **CONFIRMED)
        assert code == 2 and "source and destination are the same file" in err
        assert digests(src) == before
    finally:
        subprocess.run(["umount", str(other)], check=True)


def test_a_block_device_is_the_same_file_by_its_device_number(tmp_path):
    from p2ptui.engine.real_paths import Examined, same_file

    if os.geteuid() != 0:
        pytest.skip("device nodes need root")
    first, second = tmp_path / "a", tmp_path / "b"
    for node in (first, second):
        os.mknod(node, stat.S_IFBLK | 0o600, os.makedev(7, 200))  # two nodes, one device (never opened)
    a, b = (Examined(str(p), os.stat(p)) for p in (first, second))
    assert (a.st.st_ino != b.st.st_ino) and same_file(a, b)


# -- symbolic links --------------------------------------------------------------------------------------------------
def test_a_symlinked_destination_is_refused_and_its_target_kept(capsys, tmp_path, src):
    target = tmp_path / "precious.bin"
    target.write_bytes(os.urandom(3 * MiB))
    link = tmp_path / "link.bin"
    link.symlink_to(target)
    before = digests(src, target)
    code, out, err = cli(capsys, **REAL, src_file=src, dst_file=link, **CONFIRMED)
    assert code == 2 and out == ""
    assert err == (
        f"{link}: error: destination: is a symbolic link (to {target}); the copy renames the finished file "
        "into place, which would replace the link and not the file it points to (give "
        f"{target} itself if that is the file to replace)\n"
    )
    assert digests(src, target) == before and link.is_symlink()
    # Given the file itself, the copy replaces it whole; the link then shows the new contents.
    code, _, _ = cli(capsys, **REAL, src_file=src, dst_file=target, **CONFIRMED)
    assert code == 0 and digest(link) == digest(src) and link.is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["link.bin", "precious.bin", "src.bin"]


def test_a_symlink_to_the_source_is_refused(capsys, tmp_path, src):
    link = tmp_path / "link.bin"
    link.symlink_to(src)
    before = digests(src)
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=link, **CONFIRMED)
    assert code == 2 and "is a symbolic link" in err and digests(src) == before


def test_a_dangling_symlink_says_so(capsys, tmp_path, src):
    link = tmp_path / "dangling"
    link.symlink_to(tmp_path / "nowhere")
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=link)
    assert (code, err) == (
        2,
        f"{link}: error: destination: is a symbolic link to {tmp_path / 'nowhere'}, which does "
        "not exist (name the file to write, not a link)\n",
    )
    code, _, err = cli(capsys, **REAL, src_file=link, dst_file=tmp_path / "d")
    assert code == 2 and err.startswith(f"{link}: error: --src-file: is a symbolic link to ")


# -- every path error is one line ------------------------------------------------------------------------------------
def _loop(tmp_path):
    a, b = tmp_path / "loop-a", tmp_path / "loop-b"
    a.symlink_to(b)
    b.symlink_to(a)
    return a


PATH_PROBLEMS = {
    "ELOOP": (_loop, "too many levels of symbolic links (a link loop?)"),
    "ENOTDIR": (lambda t: t / "src.bin" / "x", "a part of the path is not a directory"),
    "ENAMETOOLONG": (lambda t: t / ("x" * 300), "the name is too long"),
}


@pytest.mark.parametrize("problem", PATH_PROBLEMS)
@pytest.mark.parametrize("role", ["--dst-file", "--src-file", "--check source"])
def test_stat_errors_on_any_copy_path_are_one_line(capsys, tmp_path, src, problem, role):
    make, reason = PATH_PROBLEMS[problem]
    bad = make(tmp_path)
    files = {
        "--dst-file": {"src_file": src, "dst_file": bad},
        "--src-file": {"src_file": bad, "dst_file": tmp_path / "d"},
        "--check source": {"src_file": bad, "dst_file": tmp_path / "d", "check": True, "size": "1MiB"},
    }[role]
    code, out, err = cli(capsys, **REAL, **files)
    assert code == 2 and out == "" and len(err.splitlines()) == 1, err
    assert err.startswith(f"{bad}: error: ") and reason in err
    assert "d" not in os.listdir(tmp_path)


def test_a_directory_and_a_missing_directory_are_one_line(capsys, tmp_path, src):
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=tmp_path)
    assert (code, err) == (2, f"{tmp_path}: error: destination: is a directory (name a file or a block device)\n")
    missing = tmp_path / "no" / "file"
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=missing)
    assert (code, err) == (2, f"{missing}: error: destination: the directory {tmp_path / 'no'} does not exist\n")
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=f"{tmp_path}/x/")
    assert code == 2 and "the name ends with a slash" in err


@pytest.fixture
def read_only_dir(tmp_path):
    """A directory on a read-only tmpfs (root only)."""
    mnt = tmp_path / "ro"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting needs root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(mnt)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_read_only_destination_directory_is_caught_before_copying(capsys, src, read_only_dir):
    dst = read_only_dir / "dst"
    code, out, err = cli(capsys, **REAL, src_file=src, dst_file=dst)
    assert (code, out) == (2, "")
    assert err == f"{dst}: error: destination: directory {read_only_dir} is on a read-only file system\n"


def test_an_unwritable_or_unsearchable_destination_directory_is_caught_before_copying():
    skip_unless_nobody_can_run()
    base = tempfile.mkdtemp(prefix="p2ptui-perm-")  # pytest's tmp_path is private to this user
    try:
        _unwritable_or_unsearchable(Path(base))
    finally:
        shutil.rmtree(base)


def _unwritable_or_unsearchable(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    src = tmp_path / "src.bin"
    src.write_bytes(os.urandom(MiB))
    src.chmod(0o644)
    shut = tmp_path / "shut"
    shut.mkdir(mode=0o755)  # nobody may look but not write
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o700)  # nobody may not even search it
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)  # like /tmp: anyone may write, only owners may replace
    (sticky / "dst").write_bytes(b"root's")
    expected = {
        shut / "dst": f"destination: no permission to create files in directory {shut}",
        locked / "dst": "destination: permission denied (a directory on the way may not be searched)",
        sticky / "dst": f"destination: belongs to another user in the sticky directory {sticky}, so it cannot be "
        "replaced",
    }
    for dst, message in expected.items():
        argv = [*AS_NOBODY, sys.executable, "-m", "p2ptui", *copy_argv(**REAL, src_file=src, dst_file=dst, **CONFIRMED)]
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=60, cwd="/", env={**os.environ, "PYTHONPATH": os.getcwd()}
        )
        assert done.returncode == 2 and done.stdout == "", done.stderr
        assert done.stderr.startswith(f"{dst}: error: {message}") and "copying" not in done.stderr
    assert os.listdir(shut) == [] and os.listdir(locked) == [] and os.listdir(sticky) == ["dst"]
    assert (sticky / "dst").read_bytes() == b"root's"


# -- no blocking on pipes, sockets, devices ------------------------------------------------------------------------
def test_fifos_and_sockets_are_refused_without_blocking(capsys, tmp_path, src):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    sock_path = tmp_path / "sock"
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(sock_path))
    try:
        for paths, message in (
            ({"plan": fifo}, f"{fifo}: error: --plan: is a pipe, not a regular file: a plan is a YAML file"),
            ({"plan": sock_path}, f"{sock_path}: error: --plan: is a socket, not a regular file"),
            ({"src_file": src, "dst_file": fifo}, f"{fifo}: error: destination: is a FIFO, not a regular file"),
            (
                {"src_file": fifo, "dst_file": tmp_path / "d", "size": "1MiB"},
                f"{fifo}: error: source is a pipe, not a regular file or a block device",
            ),
            ({"src_file": fifo, "dst_file": tmp_path / "d"}, f"{fifo}: error: --src-file is a pipe"),
        ):
            ends = {} if "plan" in paths else {"src": "nvme0", "dst": "nvme1"}  # a plan names its own
            code, out, err = cli(capsys, **ends, engine="real", **paths)
            assert code == 2 and out == "" and err.startswith(message), err
    finally:
        sock.close()


# -- the destination is replaced only whole ----------------------------------------------------------------------
def test_an_existing_destination_is_replaced_by_a_rename_keeping_its_mode(tmp_path, src):
    dst = tmp_path / "dst"
    dst.write_bytes(b"old")
    dst.chmod(0o640)
    other_name = tmp_path / "other-name"
    os.link(dst, other_name)  # another name of the old file keeps the old contents: the new one is a new inode
    r = RealEngine(switch_fabric(), expert=True, yes=True).prepare(
        TransferSpec("ep1", "ep2", 8 * MiB, src_file=str(src), dst_file=str(dst))
    )
    r.run()
    assert r.result.state is TransferState.DONE
    assert digest(dst) == digest(src) and stat.S_IMODE(os.stat(dst).st_mode) == 0o640
    assert other_name.read_bytes() == b"old"
    assert sorted(os.listdir(tmp_path)) == ["dst", "other-name", "src.bin"]


@pytest.mark.parametrize("how", ["I/O error", "mismatch", "cancel"])
def test_a_copy_that_does_not_finish_keeps_the_old_destination(tmp_path, monkeypatch, how):
    src, dst = tmp_path / "src", tmp_path / "dst"
    dst.write_bytes(os.urandom(MiB + 7))
    before = digests(dst)
    engine = RealEngine(switch_fabric(), expert=True, yes=True)
    job = engine.prepare(TransferSpec("ep1", "ep2", 4 * MiB, check=True, src_file=str(src), dst_file=str(dst)))
    real = os.pwritev

    def pwritev(fd, buffers, offset):
        if offset >= 2 * MiB:
            if how == "I/O error":
                raise OSError(errno.EIO, os.strerror(errno.EIO))
            if how == "mismatch":
                buffers[0][3] ^= 0xFF
            if how == "cancel":
                job.cancel()
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", pwritev)
    job.run()
    assert job.result.state is {"cancel": TransferState.CANCELLED}.get(how, TransferState.FAILED)
    assert digests(dst) == before
    assert f"removed the unfinished temporary file: {dst} keeps its previous contents" in job.result.notes
    assert sorted(os.listdir(tmp_path)) == ["dst", "src"]


def test_a_destination_swapped_meanwhile_is_not_replaced(tmp_path, src, monkeypatch):
    dst = tmp_path / "dst"
    dst.write_bytes(b"confirmed")
    job = RealEngine(switch_fabric(), expert=True, yes=True).prepare(
        TransferSpec("ep1", "ep2", 8 * MiB, src_file=str(src), dst_file=str(dst))
    )
    dst.unlink()
    os.link(src, dst)  # after the checks, the name now holds the source itself
    before = digests(src)
    job.run()
    assert job.result.state is TransferState.FAILED and "replaced by another file" in job.result.error
    assert digests(src) == before and os.path.samefile(src, dst)
    assert sorted(os.listdir(tmp_path)) == ["dst", "src.bin"]


def test_o_direct_refused_on_the_temporary_file_falls_back_with_a_note(tmp_path, src, monkeypatch):
    real_fcntl = real_files.fcntl.fcntl

    def no_direct(fd, cmd, arg=0):
        if cmd == real_files.fcntl.F_SETFL and arg & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_fcntl(fd, cmd, arg)

    monkeypatch.setattr(real_files.fcntl, "fcntl", no_direct)
    dst = tmp_path / "dst"
    job = RealEngine(switch_fabric()).prepare(
        TransferSpec("ep1", "ep2", 8 * MiB - 100, chunk=MiB, threads=2, src_file=str(src), dst_file=str(dst))
    )
    job.run()
    assert job.result.state is TransferState.DONE
    assert any(n.startswith(f"the filesystem of {dst} refuses O_DIRECT") for n in job.result.notes)
    assert dst.read_bytes() == src.read_bytes()[: 8 * MiB - 100]


def test_the_temporary_file_is_written_with_o_direct(tmp_path, src, monkeypatch):
    flags = []
    real = os.pwritev

    def spy(fd, buffers, offset):
        flags.append(real_files.fcntl.fcntl(fd, real_files.fcntl.F_GETFL))
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", spy)
    job = RealEngine(switch_fabric()).prepare(
        TransferSpec("ep1", "ep2", 8 * MiB, src_file=str(src), dst_file=str(tmp_path / "dst"))
    )
    job.run()
    assert job.result.state is TransferState.DONE and flags and all(f & os.O_DIRECT for f in flags)


def test_a_cancel_from_another_thread_removes_the_temporary(tmp_path, src, monkeypatch):
    started = threading.Event()
    real = os.pwritev
    job = RealEngine(switch_fabric()).prepare(
        TransferSpec("ep1", "ep2", 8 * MiB, src_file=str(src), dst_file=str(tmp_path / "dst"))
    )

    def pwritev(fd, buffers, offset):
        started.set()
        assert job.cancel_event.wait(10)
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", pwritev)
    worker = threading.Thread(target=job.run)
    worker.start()
    assert started.wait(10)
    job.abandon()  # what a second signal does: the name goes at once, while the worker still holds the file
    assert sorted(os.listdir(tmp_path)) == ["src.bin"]
    worker.join(10)
    assert job.result.state is TransferState.CANCELLED and sorted(os.listdir(tmp_path)) == ["src.bin"]


# -- block devices -------------------------------------------------------------------------------------------------
def test_a_block_device_destination_must_be_named_to_be_written(capsys, tmp_path, loop_device):
    device, image = loop_device(bytes(4 * MiB))
    src = tmp_path / "src"
    src.write_bytes(os.urandom(MiB))
    files = {"src_file": src, "dst_file": device}
    code, _, err = cli(capsys, **REAL, **files, expert=True, yes=True)
    assert code == 2
    assert err == (
        f"{device}: error: destination: a block device is written in place, so a partial write (a "
        "failure, a cancel, a kill) cannot be undone; confirm by naming the device (--yes-overwrite "
        f"{device})\n"
    )
    assert image.read_bytes() == bytes(4 * MiB)
    code, _, err = cli(capsys, **REAL, **files, yes_overwrite=device)
    assert (code, err) == (2, "p2ptui: error: --yes-overwrite only confirms expert mode: add --expert\n")
    code, _, err = cli(capsys, **REAL, **files, expert=True, yes_overwrite=src)
    assert code == 2 and err.startswith(f"{src}: error: --yes-overwrite: not a block device")
    alias = tmp_path / "alias"
    alias.symlink_to(device)  # like /dev/disk/by-id/...: the device it names is what counts
    code, out, err = cli(capsys, **REAL, **files, expert=True, yes_overwrite=alias)
    assert code == 0, err
    with open(device, "rb") as f:
        assert f.read(MiB) == src.read_bytes()
    code, _, err = cli(capsys, **REAL, src_file=src, dst_file=alias, expert=True, yes_overwrite=device)
    assert code == 0, err  # a link to a block device is followed: no rename happens there


def test_yes_overwrite_is_for_the_real_engine_only(capsys):
    code, _, err = cli(capsys, src="nvme0", dst="nvme1", size="1MiB", expert=True, yes_overwrite="/dev/null")
    assert (code, err) == (2, "p2ptui: error: --yes-overwrite is for the real engine; the simulator writes no device\n")


# -- bridges are not transfer ends ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "src, dst, kind",
    [("dsp0", "usp0", "switch downstream port"), ("nvme0", "rp0", "root port"), ("hb0", "nvme1", "host bridge")],
)
@pytest.mark.parametrize("engine", ["sim", "real"])
def test_bridges_are_refused_as_transfer_ends(capsys, src, dst, kind, engine):
    code, out, err = cli(capsys, src=src, dst=dst, size="1MiB", engine=engine)
    bridge = src if src[0] in "dhu" else dst
    what = "source" if bridge == src else "destination"
    assert (code, out) == (2, "")
    assert err.startswith(f"p2ptui: error: {what} {bridge} is a {kind}: bridges forward DMA but never start or end it")


def test_the_planner_refuses_a_bridge_for_every_client():
    with pytest.raises(InputError, match="is a switch downstream port"):
        RealEngine(switch_fabric()).plan(TransferSpec("ep1", "dsp1", MiB))
