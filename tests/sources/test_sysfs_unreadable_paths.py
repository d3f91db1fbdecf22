"""Unreadable parts of a sysfs root are reported with the path that failed and the reason, in the error when
nothing can be built, else in the "skipped" notes; never just the root's name, never silently."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from denied_files import DenyFiles
from unprivileged import skip_unless_nobody_can_run

from p2ptui.errors import InputError
from p2ptui.sources import sysfs
from p2ptui.sources.sysfs_synth import HostSpec, switch_fabric, write_sysfs


def build(tmp_path: Path) -> Path:
    return write_sysfs(tmp_path / "r", switch_fabric(3), HostSpec())


def skipped_notes(root: Path, denied: set[str]) -> list[str]:
    fabric = sysfs.read_fabric(DenyFiles(root, denied), "partial", False, str(root))
    return [n for n in fabric.notes if n.startswith("skipped")]


def test_unlistable_sys_devices_names_it_and_the_reason(tmp_path: Path) -> None:
    root = build(tmp_path)
    # sys/bus/pci/devices would still lead to the host bridge directories (search without read permission).
    fabric = sysfs.read_fabric(DenyFiles(root, {"sys/devices"}), "x", False, str(root))
    assert len(fabric) == 9 and any(f"{root}/sys/devices: cannot list (Permission denied)" in n for n in fabric.notes)
    with pytest.raises(InputError) as info:
        sysfs.read_fabric(DenyFiles(root, {"sys/devices", "sys/bus/pci/devices"}), "x", False, str(root))
    [diag] = info.value.diagnostics
    assert diag.location.file == str(root / "sys" / "devices")
    assert "cannot list" in diag.message and "Permission denied" in diag.message


@pytest.mark.parametrize(
    ("denied", "path"),
    [
        ("sys/bus/pci/devices", "sys/bus/pci/devices"),
        ("sys/class/nvme", "sys/class/nvme"),
        ("sys/class/iommu", "sys/class/iommu"),
        ("sys/kernel/iommu_groups", "sys/kernel/iommu_groups"),
        ("proc/cpuinfo", "proc/cpuinfo"),
        ("proc/cmdline", "proc/cmdline"),
    ],
)
def test_unreadable_host_level_entries_are_skipped_by_path(tmp_path: Path, denied: str, path: str) -> None:
    root = build(tmp_path)
    notes = skipped_notes(root, {denied})
    assert any(str(root / path) in n and "Permission denied" in n for n in notes), notes


def test_absent_host_level_entries_are_not_reported_as_unreadable(tmp_path: Path) -> None:
    root = build(tmp_path)
    shutil.rmtree(root / "sys" / "class" / "nvme")
    (root / "proc" / "cmdline").unlink()
    assert skipped_notes(root, set()) == []


def test_unreadable_device_directory_is_named(tmp_path: Path) -> None:
    root = build(tmp_path)
    notes = skipped_notes(root, {"0000:02:01.0"})
    [port] = [n for n in notes if "cannot list" in n]
    assert port.startswith(f"skipped {root}/sys/devices/pci0000:00/") and "/0000:02:01.0: cannot list" in port


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
@pytest.mark.parametrize(
    ("chmod", "mode", "expected"),
    [
        ("sys", 0o000, "sys/devices: error: cannot list (Permission denied)"),
        ("sys/devices", 0o000, "sys/devices: error: cannot list (Permission denied)"),
        ("", 0o644, "/sys: error: cannot read: Permission denied"),  # listable, but nothing inside reachable
        ("sys/devices/pci0000:00/0000:00:01.0", 0o000, "0000:00:01.0: cannot list (Permission denied)"),
        ("sys/class/nvme", 0o000, "sys/class/nvme: cannot list (Permission denied)"),
    ],
)
def test_as_an_unprivileged_user_the_failing_path_is_named(chmod: str, mode: int, expected: str) -> None:
    skip_unless_nobody_can_run()
    # pytest's tmp_path lives below a 0700 directory that nobody cannot enter, so use a world-readable one.
    base = Path(tempfile.mkdtemp(prefix="p2ptui-nobody-", dir="/tmp"))
    try:
        base.chmod(0o755)
        root = write_sysfs(base / "r", switch_fabric(3), HostSpec())
        (root / chmod).chmod(mode)
        res = subprocess.run(
            [
                "setpriv",
                "--reuid=nobody",
                "--regid=nogroup",
                "--clear-groups",
                sys.executable,
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
        (root / chmod).chmod(0o755)
    finally:
        shutil.rmtree(base)
    assert "Traceback" not in res.stderr
    assert expected in res.stderr, res.stderr
    line = next(line for line in res.stderr.splitlines() if expected in line)
    assert line.split(": ")[0].split()[-1] != str(root)  # the failing path, not just the root
