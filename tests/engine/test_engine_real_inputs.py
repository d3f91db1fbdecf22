"""Real-engine inputs refused before anything runs (exit 2, naming the path or flag): chunks O_DIRECT cannot use,
sources that are not files, P2P memory files that are not allocate files, destinations no flag unlocks, copies the
disk cannot hold; block-device sources sized by BLKGETSIZE64; and an ENOSPC during a copy naming its file."""

import errno
import os
import shutil
import subprocess
from types import SimpleNamespace

import pytest
from cli_run import run_cli
from copy_argv import copy_argv
from device_nodes import mounted_block_device
from engine_fabrics import switch_fabric

from p2ptui.engine.real import RealEngine
from p2ptui.engine.real_inputs import source_size
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.errors import InputError

MiB = 1 << 20
REAL = copy_argv(src="nvme0", dst="nvme1", engine="real")


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "src"
    path.write_bytes(os.urandom(2 * MiB))
    return path


# -- defect 14: bad real-engine inputs are input errors --------------------------------------------------------------
def test_a_chunk_o_direct_cannot_use_is_refused_before_anything_is_written(capsys, tmp_path):
    src, dst = tmp_path / "new-src", tmp_path / "dst"
    code, out, err = run_cli(
        capsys, *REAL, "--size", "1MiB", "--chunk", "1000", "--check", "--src-file", src, "--dst-file", dst
    )
    assert code == 2 and out == ""
    assert "chunk 1000 B is not a multiple of 4 KiB" in err and "--chunk" in err
    assert not src.exists() and not dst.exists()  # --check did not write its source first


def test_a_real_memory_copy_needs_at_least_a_page_per_chunk(capsys):
    code, _, err = run_cli(capsys, *REAL, "--size", "1MiB", "--chunk", "1000")
    assert code == 2 and "chunk 1000 B is less than 4 KiB" in err


@pytest.mark.parametrize("with_size", [True, False])
def test_a_directory_or_missing_source_names_its_path(capsys, tmp_path, with_size):
    size = ["--size", "1MiB"] if with_size else []
    code, _, err = run_cli(capsys, *REAL, *size, "--src-file", tmp_path, "--dst-file", tmp_path / "d")
    assert code == 2 and err.startswith(f"{tmp_path}: error: ") and "is a directory" in err
    missing = tmp_path / "missing"
    code, _, err = run_cli(capsys, *REAL, *size, "--src-file", missing, "--dst-file", tmp_path / "d")
    assert code == 2 and err.startswith(f"{missing}: error: ") and "does not exist" in err


def test_a_character_device_is_not_a_p2pmem_file(capsys, source, tmp_path):
    args = [*REAL, "--via", "nvme2", "--size", "1MiB", "--src-file", source, "--dst-file", tmp_path / "d"]
    code, out, err = run_cli(capsys, *args, "--p2pmem-file", "/dev/null")
    assert code == 2 and out == ""
    assert err.startswith("/dev/null: error: is a character device, not a p2pmem allocate file")
    assert "gone" not in err and "ENODEV" not in err
    code, _, err = run_cli(capsys, *args, "--p2pmem-file", tmp_path / "nope")
    assert code == 2 and f"{tmp_path / 'nope'}: error: P2P memory file does not exist" in err
    small = tmp_path / "small"
    small.write_bytes(b"\0" * 4096)
    code, _, err = run_cli(capsys, *args, "--p2pmem-file", small)
    assert code == 2 and "holds 4 KiB, less than the 1 MiB (chunk × threads)" in err
    assert not (tmp_path / "d").exists()


def test_a_stand_in_p2pmem_file_of_the_mapped_size_is_used(capsys, source, tmp_path):
    standin = tmp_path / "allocate"
    standin.write_bytes(b"\0" * (2 * MiB))
    code, out, _ = run_cli(
        capsys,
        *REAL,
        "--via",
        "nvme2",
        "--size",
        "1MiB",
        "--threads",
        "2",
        "--src-file",
        source,
        "--dst-file",
        tmp_path / "d",
        "--p2pmem-file",
        standin,
    )
    assert code == 0 and f"buffer: 2097152 B of nvme2's P2P memory ({standin})" in out


def test_p2pmem_file_without_a_staged_file_copy_is_refused(capsys, source, tmp_path):
    code, _, err = run_cli(capsys, *REAL, "--size", "1MiB", "--p2pmem-file", "/nonexistent")
    assert code == 2 and "--p2pmem-file is used only by file copies staged in a provider's P2P memory" in err
    code, _, err = run_cli(capsys, *REAL, "--via", "nvme2", "--size", "1MiB", "--p2pmem-file", "/nonexistent")
    assert code == 2 and "memory copies never run through P2P memory" in err
    code, _, err = run_cli(capsys, *copy_argv(src="nvme0", dst="nvme1", size="1MiB", p2pmem_file="/nonexistent"))
    assert code == 2 and "--p2pmem-file is for the real engine" in err


# -- defect 16: destinations no flag unlocks -------------------------------------------------------------------------
def test_dev_null_is_refused_without_suggesting_expert_mode(capsys, source):
    code, _, err = run_cli(
        capsys, *REAL, "--size", "1MiB", "--src-file", source, "--dst-file", "/dev/null", "--expert", "--yes"
    )
    assert code == 2 and err.startswith("/dev/null: error: ")
    assert "even in expert mode" in err and "--yes" not in err and "--expert" not in err


def test_an_existing_file_still_asks_for_expert_mode(capsys, source, tmp_path):
    dst = tmp_path / "dst"
    dst.write_bytes(b"keep")
    code, _, err = run_cli(capsys, *REAL, "--size", "1MiB", "--src-file", source, "--dst-file", dst)
    assert code == 2 and "--expert" in err and "--yes" in err and dst.read_bytes() == b"keep"


def test_a_mounted_block_device_is_refused_without_suggesting_expert_mode(capsys, source):
    device = mounted_block_device()
    if device is None:
        pytest.skip("no mounted block device visible")
    code, _, err = run_cli(
        capsys, *REAL, "--size", "1MiB", "--src-file", source, "--dst-file", device, "--expert", "--yes"
    )
    assert code == 2 and err.startswith(f"{device}: error: ") and "--yes" not in err


# -- defect 10: free space -------------------------------------------------------------------------------------------
def _statvfs_with(free: int):
    real = os.statvfs

    def statvfs(path):
        st = real(path)
        return SimpleNamespace(f_bavail=free // st.f_frsize, f_frsize=st.f_frsize)

    return statvfs


def test_a_copy_the_disk_cannot_hold_is_refused_with_the_numbers(capsys, tmp_path, monkeypatch):
    monkeypatch.setattr(os, "statvfs", _statvfs_with(3 * MiB))
    src, dst = tmp_path / "src", tmp_path / "dst"
    code, _, err = run_cli(capsys, *REAL, "--size", "2MiB", "--check", "--src-file", src, "--dst-file", dst)
    assert code == 2 and err.startswith(f"{dst}: error: not enough free space")
    assert "needs 4 MiB (4194304 B) for the destination and the --check source" in err and "has 3 MiB free" in err
    assert not src.exists() and not dst.exists()  # nothing written, --check's source included
    code, _, err = run_cli(capsys, *REAL, "--size", "2MiB", "--check", "--src-file", src, "--dst-file", dst, "--json")
    assert code == 2  # the same before any output
    src.write_bytes(os.urandom(2 * MiB))
    assert run_cli(capsys, *REAL, "--src-file", src, "--dst-file", dst, "--no-progress")[0] == 0  # 2 MiB fit in 3


def test_copies_of_a_plan_count_together_against_free_space(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "statvfs", _statvfs_with(3 * MiB))
    src = tmp_path / "src"
    src.write_bytes(os.urandom(2 * MiB))
    engine = RealEngine(switch_fabric())
    first = engine.prepare(TransferSpec("ep1", "ep2", 2 * MiB, src_file=str(src), dst_file=str(tmp_path / "a")))
    with pytest.raises(InputError, match="2 MiB of it promised to copies accepted before this one"):
        engine.prepare(TransferSpec("ep1", "ep2", 2 * MiB, src_file=str(src), dst_file=str(tmp_path / "b")))
    first.run()
    assert first.result.state is TransferState.DONE
    # Done: its bytes are on the disk (the fake statvfs does not see them), no longer promised.
    engine.prepare(TransferSpec("ep1", "ep2", 2 * MiB, src_file=str(src), dst_file=str(tmp_path / "b")))


def test_enospc_during_a_copy_names_the_file(tmp_path, monkeypatch):
    src, dst = tmp_path / "src", tmp_path / "dst"
    src.write_bytes(os.urandom(2 * MiB))
    job = RealEngine(switch_fabric()).prepare(TransferSpec("ep1", "ep2", 2 * MiB, src_file=str(src), dst_file=str(dst)))
    real = os.pwritev

    def full(fd, buffers, offset):
        if offset >= MiB:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd, buffers, offset)

    monkeypatch.setattr(os, "pwritev", full)
    job.run()
    r = job.result
    assert r.state is TransferState.FAILED
    assert r.error == f"disk full after 1 MiB writing {dst}"
    assert os.listdir(tmp_path) == ["src"]  # no partial file, no temporary file


@pytest.fixture
def small_tmpfs(tmp_path):
    """A 4 MiB tmpfs mounted for the test (root only; skipped where mounting is not allowed)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a tmpfs needs root")
    command = ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mnt)]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_tmpfs_refuses_and_fails_naming_the_file(capsys, tmp_path, small_tmpfs):
    src = tmp_path / "src"
    src.write_bytes(os.urandom(8 * MiB))
    dst = small_tmpfs / "dst"
    code, _, err = run_cli(capsys, *REAL, "--size", "8MiB", "--src-file", src, "--dst-file", dst)
    assert code == 2 and f"{dst}: error: not enough free space" in err and "has 4 MiB free" in err
    # Accepted while it fits; the disk fills before the copy runs: ENOSPC, named, and no partial file left.
    job = RealEngine(switch_fabric()).prepare(TransferSpec("ep1", "ep2", 3 * MiB, src_file=str(src), dst_file=str(dst)))
    (small_tmpfs / "filler").write_bytes(b"\1" * (3 * MiB))
    job.run()
    assert job.result.state is TransferState.FAILED
    assert job.result.error.startswith("disk full after ") and job.result.error.endswith(f" writing {dst}")
    assert sorted(os.listdir(small_tmpfs)) == ["filler"]


# -- defect 15: block-device sources ---------------------------------------------------------------------------------
def test_source_size_of_a_regular_file_and_of_things_that_are_not_sources(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"x" * 12345)
    assert source_size(str(path)) == 12345
    with pytest.raises(ValueError, match="is a directory"):
        source_size(str(tmp_path))
    with pytest.raises(ValueError, match="is a character device"):
        source_size("/dev/null")


def test_a_block_device_source_is_sized_by_blkgetsize64(capsys, tmp_path, loop_device):
    device, image = loop_device(os.urandom(3 * MiB + 512))
    assert os.stat(device).st_size == 0  # what the old code used
    assert source_size(device) == 3 * MiB + 512
    dst = tmp_path / "copy"
    code, out, _ = run_cli(capsys, *REAL, "--src-file", device, "--dst-file", dst, "--no-progress")
    assert code == 0 and "Transfer:" in out
    assert dst.read_bytes() == image.read_bytes()
