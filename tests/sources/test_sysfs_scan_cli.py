"""`p2ptui scan`: this machine, a root directory, a tarball; as root and as a user who sees 64 bytes of config."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cli_run import run_cli
from unprivileged import skip_unless_nobody_can_run

from p2ptui.cli.main import main
from p2ptui.fabric import AcsSource
from p2ptui.formats import load_fabric, loads_fabric
from p2ptui.sources import open_fabric, sysfs
from p2ptui.sources.sysfs_device import EXPECTED_ENTRIES
from p2ptui.sources.sysfs_files import Kind
from p2ptui.sources.sysfs_host import NAME_CLASSES
from p2ptui.sources.sysfs_synth import iter_functions, switch_fabric, tar_root, write_sysfs

LIVE = Path("/sys/bus/pci/devices")
needs_live = pytest.mark.skipif(not LIVE.is_dir() or not os.listdir(LIVE), reason="no PCI in this machine's sysfs")
needs_nobody = pytest.mark.skipif(
    os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv to run as nobody"
)
ACS_HINT = "run as root or load `lspci -vvv` output"


@needs_live
def test_scan_this_machine_to_stdout(capsys):
    code, out, err = run_cli(capsys, "scan")
    assert code == 0, err
    fabric = loads_fabric(out)
    assert len(fabric) == len(os.listdir(LIVE))
    assert {str(d.bdf) for d in fabric} == set(os.listdir(LIVE))
    assert "p2ptui: scanned" in err and fabric.host.kernel == os.uname().release


@needs_live
def test_scan_to_a_file_and_validate_it(tmp_path, capsys):
    out = tmp_path / "here.yaml"
    code, stdout, _ = run_cli(capsys, "scan", "local", "-o", str(out))
    assert code == 0 and stdout == ""
    assert load_fabric(out) == sysfs.load_local()
    assert main(["validate", str(out)]) == 0


@needs_live
def test_show_local_goes_through_detection(capsys):
    code, out, _ = run_cli(capsys, "show", "local")
    assert code == 0 and "Read from sysfs (this machine)" in out
    assert open_fabric("local") == sysfs.load_local()


def copy_live(dst: Path, config_bytes: int | None) -> Path:
    """A copy of this machine's sysfs PCI tree and procfs host files, with config files cut to ``config_bytes``
    (what a non-root user reads) or left whole."""
    for bdf in sorted(os.listdir(LIVE)):
        real = Path(os.path.realpath(LIVE / bdf))
        rel = real.relative_to("/")
        target = dst / rel
        target.mkdir(parents=True, exist_ok=True)
        for name, kind in EXPECTED_ENTRIES.items():
            src = real / name
            if kind is Kind.FILE and src.is_file():
                data = src.read_bytes()
                if name == "config" and config_bytes is not None:
                    data = data[:config_bytes]
                (target / name).write_bytes(data)
            elif kind is Kind.LINK and src.is_symlink():
                os.symlink(os.readlink(src), target / name)
        link = dst / "sys/bus/pci/devices" / bdf
        link.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(os.path.relpath(target, link.parent), link)
    for name in ("cpuinfo", "cmdline", "version", "sys/kernel/osrelease"):
        (dst / "proc" / name).parent.mkdir(parents=True, exist_ok=True)
        (dst / "proc" / name).write_bytes(Path("/proc", name).read_bytes())
    for cls in NAME_CLASSES:  # the link texts name the function directories, which the copy keeps in place
        src = Path("/sys/class", cls)
        for entry in sorted(os.listdir(src)) if src.is_dir() else []:
            (dst / "sys/class" / cls).mkdir(parents=True, exist_ok=True)
            os.symlink(os.readlink(src / entry), dst / "sys/class" / cls / entry)
    (dst / "sys/class/iommu").mkdir(parents=True, exist_ok=True)
    for unit in os.listdir("/sys/class/iommu"):
        (dst / "sys/class/iommu" / unit).mkdir()
    return dst


@needs_live
def test_copy_with_64_byte_configs_reads_like_non_root(tmp_path, capsys):
    whole = sysfs.load(copy_live(tmp_path / "whole", None))
    code, out, err = run_cli(capsys, "scan", str(copy_live(tmp_path / "cut", 64)))
    assert code == 0
    cut = loads_fabric(out)
    assert len(cut) == len(whole) and all(d.acs.source is AcsSource.UNKNOWN for d in cut)
    assert ACS_HINT in err and f"{len(cut)} of {len(cut)} functions" in err
    # Everything but what lives beyond the header reads the same.
    # Root-bus endpoints without a readable capability list are inferred integrated (no link of their own).
    same = [
        dataclasses.replace(d, acs=w.acs, link=w.link, integrated=w.integrated)
        for d, w in zip(cut.devices, whole.devices, strict=False)
    ]
    assert same == list(whole.devices)
    assert sysfs.load_local().devices == whole.devices or os.geteuid() != 0


@needs_live
@needs_nobody
def test_scan_as_nobody_says_acs_is_unknown():
    skip_unless_nobody_can_run()
    res = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable, "-m", "p2ptui", "scan"],
        capture_output=True,
        text=True,
        cwd="/",
        timeout=120,
    )
    assert res.returncode == 0, res.stderr
    fabric = loads_fabric(res.stdout)
    assert "Traceback" not in res.stderr
    with_config = [d for d in fabric]
    assert with_config and all(d.acs.source is AcsSource.UNKNOWN for d in with_config)
    assert ACS_HINT in res.stderr and "non-root users" in res.stderr


def test_scan_a_tarball_snapshot(tmp_path, capsys):
    root = write_sysfs(tmp_path / "box", switch_fabric(3))
    snap = tar_root(root, tmp_path / "box.tar.xz", arcname="box")
    out = tmp_path / "box.yaml"
    code, _, err = run_cli(capsys, "scan", str(snap), "-o", str(out))
    assert code == 0 and f"-> {out}" in err
    assert load_fabric(out) == sysfs.load(snap)


def test_scan_of_a_snapshot_with_64_byte_configs_reports_on_stderr(tmp_path, capsys):
    spec = switch_fabric(3)
    for fn in iter_functions(spec["0000:00"]):
        fn.config_size = 64
    code, out, err = run_cli(capsys, "scan", str(write_sysfs(tmp_path / "s", spec)))
    assert code == 0
    assert "acs: unknown" in out and ACS_HINT in err and "snapshots keep the 64-byte header" in err


def test_scan_refuses_what_is_not_sysfs(tmp_path, capsys):
    yaml_file = tmp_path / "f.yaml"
    yaml_file.write_text("format: p2ptui-fabric/1\nroot_complexes: []\n")
    code, _, err = run_cli(capsys, "scan", str(yaml_file))
    assert code == 2 and "not a directory or a tar archive" in err and len(err.strip().splitlines()) == 1


def test_scan_to_an_unwritable_place(tmp_path, capsys):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    code, _, err = run_cli(capsys, "scan", str(root), "-o", str(tmp_path / "no/such/dir/out.yaml"))
    assert code == 2 and "cannot write" in err and "Traceback" not in err


# Output safety: scan -o writes through p2ptui.formats.safe_write, like convert (tests/cli/test_cli_output_errors.py).


def test_scan_keeps_an_existing_output_unless_forced(tmp_path, capsys):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    out = tmp_path / "box.yaml"
    out.write_text("# my notes\n")
    code, _, err = run_cli(capsys, "scan", str(root), "-o", str(out))
    assert code == 2 and err == f"{out}: error: cannot write: it already exists (use --force to replace it)\n"
    assert out.read_text() == "# my notes\n"
    code, _, err = run_cli(capsys, "scan", str(root), "-o", str(out), "--force")
    assert code == 0 and load_fabric(out) == sysfs.load(root)
    assert sorted(os.listdir(tmp_path)) == ["box", "box.yaml"]


def test_scan_never_writes_over_its_snapshot(tmp_path, capsys):
    snap = tar_root(write_sysfs(tmp_path / "box", switch_fabric(2)), tmp_path / "box.tar.xz", arcname="box")
    before = snap.read_bytes()
    code, _, err = run_cli(capsys, "scan", str(snap), "-o", str(snap), "--force")
    assert code == 2 and err == f"{snap}: error: cannot write: it is the input {snap} itself (write to another file)\n"
    assert snap.read_bytes() == before


def test_scan_refuses_a_device_node_and_a_link(tmp_path, capsys):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))  # /dev/full's numbers, in a scratch directory
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")
    (tmp_path / "victim.txt").write_text("precious\n")
    (tmp_path / "link.yaml").symlink_to("victim.txt")
    for target, message in ((node, "it is a character device"), (tmp_path / "link.yaml", "it is a symbolic link")):
        code, _, err = run_cli(capsys, "scan", str(root), "-o", str(target))
        assert code == 2 and err.startswith(f"{target}: error: cannot write: {message}"), err
    assert stat.S_ISCHR(os.lstat(node).st_mode) and (tmp_path / "link.yaml").is_symlink()
    assert (tmp_path / "victim.txt").read_text() == "precious\n"
    assert sorted(os.listdir(tmp_path)) == ["box", "full", "link.yaml", "victim.txt"]


def test_scan_to_a_directory_leaves_no_temporary_file_anywhere(tmp_path, capsys):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    (tmp_path / "d.yaml").mkdir()
    at_root = set(os.listdir("/"))
    targets = (tmp_path / "d.yaml", Path("/tmp"))  # the old writer left .d.yaml.tmp here and /.tmp.tmp at /
    results = [run_cli(capsys, "scan", str(root), "-o", str(target)) for target in targets]
    new_at_root = set(os.listdir("/")) - at_root
    for name in new_at_root:  # clean up after a failing run, then fail
        if name.startswith(".tmp"):
            os.unlink(Path("/", name))
    assert new_at_root == set()
    assert sorted(os.listdir(tmp_path)) == ["box", "d.yaml"] and os.listdir(tmp_path / "d.yaml") == []
    for target, (code, _, err) in zip(targets, results, strict=False):
        assert code == 2 and err.startswith(f"{target}: error: cannot write: it is a directory"), err


def test_scan_to_a_full_standard_output_is_one_line(tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    node = tmp_path / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")
    with open(node, "wb") as full:
        res = subprocess.run(
            [sys.executable, "-m", "p2ptui", "scan", str(root)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert res.returncode == 2
    assert res.stderr == "p2ptui: error: cannot write the output: No space left on device\n"
