"""Bad sysfs input: one clear error per problem and exit 2, never a traceback; partly readable roots load what
they can and list what they skipped. Odd values in a readable tree load as unknown facts: test_sysfs_odd_values.py."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import pytest
from denied_files import DenyFiles
from unprivileged import skip_unless_nobody_can_run

from p2ptui.cli.main import main
from p2ptui.errors import InputError
from p2ptui.sources import sysfs, tarball
from p2ptui.sources.sysfs_files import Kind
from p2ptui.sources.sysfs_synth import (
    HostSpec,
    endpoint,
    host_bridge,
    root_port,
    switch_fabric,
    tar_root,
    write_sysfs,
)


def cli_error(capsys, *argv: str) -> list[str]:
    """Run the CLI, expect exit 2, return the error lines (asserting there is no traceback)."""
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return err.strip().splitlines()


def small_root(tmp_path: Path, **kw) -> Path:
    ssd = endpoint("01:00.0", nvme="nvme0", **kw)
    return write_sysfs(tmp_path / "r", {"0000:00": [host_bridge("00:00.0"), root_port("00:01.0", ssd)]})


# -- tarballs --------------------------------------------------------------------------------------------------


def test_empty_file_and_empty_archive(tmp_path, capsys):
    empty = tmp_path / "empty.tar.bz2"
    empty.write_bytes(b"")
    (line,) = cli_error(capsys, "scan", str(empty))
    assert "file is empty" in line
    for name, mode in (("none.tar", "w"), ("none.tar.bz2", "w:bz2")):
        with tarfile.open(tmp_path / name, mode):
            pass
        (line,) = cli_error(capsys, "show", str(tmp_path / name))
        assert "archive is empty" in line


@pytest.mark.parametrize("cut", [0.5, 0.9])
def test_truncated_and_corrupt_archives(tmp_path, capsys, cut):
    good = tar_root(small_root(tmp_path), tmp_path / "good.tar.bz2")
    data = good.read_bytes()
    truncated = tmp_path / "cut.tar.bz2"
    truncated.write_bytes(data[: int(len(data) * cut)])
    (line,) = cli_error(capsys, "scan", str(truncated))
    assert "cut.tar.bz2" in line and ("truncated" in line or "corrupt" in line or "cannot read" in line)
    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"\x1f\x8b" + os.urandom(2000))
    (line,) = cli_error(capsys, "scan", str(garbage))
    assert "garbage.tar.gz" in line


def _tar_with(path: Path, name: str, data: bytes = b"x") -> Path:
    with tarfile.open(path, "w:gz") as tar:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return path


@pytest.mark.parametrize("member", ["/etc/evil", "snap/../../evil", "../sys/devices"])
def test_archive_members_escaping_the_root_are_refused(tmp_path, capsys, member):
    bad = _tar_with(tmp_path / "bad.tar.gz", member)
    (line,) = cli_error(capsys, "scan", str(bad))
    assert "refusing the archive" in line


def test_archive_without_sys(tmp_path, capsys):
    bad = _tar_with(tmp_path / "other.tar.gz", "photos/cat.jpg")
    (line,) = cli_error(capsys, "scan", str(bad))
    assert "no sys/ directory" in line


def test_archive_with_two_roots(tmp_path, capsys):
    a, b = small_root(tmp_path / "a"), small_root(tmp_path / "b")
    out = tmp_path / "two.tar"
    with tarfile.open(out, "w") as tar:
        tar.add(a, arcname="one")
        tar.add(b, arcname="two")
    (line,) = cli_error(capsys, "scan", str(out))
    assert "several sysfs roots (one, two)" in line


def test_oversized_archive_stops_early(tmp_path, capsys, monkeypatch):
    good = tar_root(small_root(tmp_path), tmp_path / "big.tar.xz")
    monkeypatch.setattr(tarball, "MAX_TOTAL_BYTES", 4096)
    (line,) = cli_error(capsys, "scan", str(good))
    assert "archive unpacks to more than 4 KiB" in line


def test_member_types_hard_links_and_long_names(tmp_path):
    path = tmp_path / "kinds.tar.gz"
    with tarfile.open(path, "w:gz", format=tarfile.GNU_FORMAT) as tar:
        data = tarfile.TarInfo("box/sys/config")
        data.size = 3
        tar.addfile(data, io.BytesIO(b"abc"))
        for name, kind, target in (
            ("box/sys/hard", tarfile.LNKTYPE, "box/sys/config"),
            ("box/sys/soft", tarfile.SYMTYPE, "../devices/x"),
            ("box/sys/fifo", tarfile.FIFOTYPE, ""),
        ):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, target
            tar.addfile(info)
        long = tarfile.TarInfo("box/sys/" + "n" * 300)  # a GNU long name (over ustar's 100 bytes)
        long.size = 1
        tar.addfile(long, io.BytesIO(b"z"))
    files = tarball.read_tarball(path)
    kinds = dict(files.entries("box/sys"))
    assert kinds == {
        "config": Kind.FILE,
        "hard": Kind.FILE,
        "soft": Kind.LINK,
        "fifo": Kind.OTHER,
        "n" * 300: Kind.FILE,
    }
    assert files.read("box/sys/hard") == b"abc" and files.read("box/sys/" + "n" * 300) == b"z"
    assert files.readlink("box/sys/soft") == "../devices/x"


def test_tarballs_without_libarchive_are_a_clear_error(tmp_path, capsys, monkeypatch):
    good = tar_root(small_root(tmp_path), tmp_path / "snap.tar.gz")
    monkeypatch.setitem(sys.modules, "libarchive", None)  # what an import finds when the package is missing
    (line,) = cli_error(capsys, "scan", str(good))
    assert "libarchive is not installed" in line and "snap.tar.gz" in line


# -- directories ------------------------------------------------------------------------------------------------


def test_directory_that_is_no_sysfs_root(tmp_path, capsys):
    (tmp_path / "stuff").mkdir()
    (line,) = cli_error(capsys, "scan", str(tmp_path / "stuff"))
    assert "no sys/ directory" in line
    (tmp_path / "nopci/sys/devices").mkdir(parents=True)
    (line,) = cli_error(capsys, "scan", str(tmp_path / "nopci"))
    assert "no PCI host bridges" in line
    (line,) = cli_error(capsys, "scan", str(tmp_path / "missing"))
    assert "no such file or directory" in line


def test_symlink_loops(tmp_path, capsys):
    loop = tmp_path / "loop"
    loop.mkdir()
    os.symlink("sys", loop / "sys")  # sys -> sys
    (line,) = cli_error(capsys, "scan", str(loop))
    assert "symbolic link loop" in line
    os.symlink("self", tmp_path / "self")
    (line,) = cli_error(capsys, "show", str(tmp_path / "self"))
    assert "symbolic link loop" in line


def test_links_inside_the_tree_are_not_followed(tmp_path):
    root = small_root(tmp_path)
    rp = root / "sys/devices/pci0000:00/0000:00:01.0"
    os.symlink(".", rp / "0000:01:00.1")  # a function entry that loops back on its parent
    os.symlink("../0000:00:01.0", rp / "0000:01:00.0/0000:09:00.0")
    f = sysfs.load(root)
    assert len(f) == 3
    assert sum("is a link, not a directory" in n for n in f.notes) == 2


def test_partly_readable_root_loads_what_it_can(tmp_path):
    root = write_sysfs(tmp_path / "r", switch_fabric(3))
    denied = {"0000:04:00.0/vendor", "0000:04:00.0/config", "0000:02:02.0", "proc/cpuinfo"}
    f = sysfs.read_fabric(DenyFiles(root, denied), "partial", False, str(root))
    ssd = f.find("04:00.0")
    assert ssd.vendor_id is None and ssd.device_id == 0xA808  # vendor file and config denied, device file not
    skipped = [n for n in f.notes if n.startswith("skipped")]
    assert any("0000:04:00.0/vendor: Permission denied" in n for n in skipped)
    assert any("0000:02:02.0: cannot list" in n and "missing" in n for n in skipped)
    # The port's directory could not be listed, but its files could be read: still a downstream port, with
    # nothing known below it.
    port = f.find("02:02.0")
    assert port.kind.value == "switch_downstream" and port.vendor_id == 0x10B5 and f.children(port) == []
    assert any("CPU vendor unknown" in n for n in f.notes) and f.host.cpu_vendor is None
    assert any("ACS state and PCIe port types unknown for 1 function without" in n for n in f.notes)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_unreadable_files_as_an_unprivileged_user():
    # pytest's tmp_path lives below a 0700 directory that nobody cannot enter, so use a world-readable one.
    base = Path(tempfile.mkdtemp(prefix="p2ptui-nobody-", dir="/tmp"))
    try:
        _scan_as_nobody(base)
    finally:
        shutil.rmtree(base)


def _scan_as_nobody(base: Path) -> None:
    skip_unless_nobody_can_run()
    base.chmod(0o755)
    root = write_sysfs(base / "r", switch_fabric(3), HostSpec())
    target = next(root.glob("sys/devices/pci0000:00/**/0000:04:00.0"))
    (target / "numa_node").chmod(0)
    (target / "config").chmod(0)
    res = subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            str(Path(os.sys.executable)),
            "-m",
            "p2ptui",
            "scan",
            str(root),
        ],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    assert "0000:04:00.0/numa_node: Permission denied" in res.stderr
    assert "0000:04:00.0/config: Permission denied" in res.stderr
    assert "Traceback" not in res.stderr and "nvme0" in res.stdout


def test_input_error_type_for_library_callers(tmp_path):
    with pytest.raises(InputError) as info:
        sysfs.load(tmp_path / "missing")
    assert info.value.diagnostics[0].location.file.endswith("missing")
