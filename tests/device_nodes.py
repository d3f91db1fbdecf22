"""Device nodes made inside a test's own directory, so tests never touch the real /dev."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def full_device(directory: Path) -> Path:
    """A node for the kernel's /dev/full (char 1:7), made here: the tests never touch the real /dev."""
    node = directory / "full"
    try:
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 7))
    except PermissionError:
        pytest.skip("creating device nodes needs CAP_MKNOD")
    return node


@contextmanager
def loop_device(image: Path) -> Iterator[str]:
    """A loop device over ``image`` for the ``with`` block (needs root and losetup; the test skips otherwise)."""
    if os.geteuid() != 0 or shutil.which("losetup") is None:
        pytest.skip("loop devices need root and losetup")
    done = subprocess.run(["losetup", "-f", "--show", str(image)], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        pytest.skip(f"cannot set up a loop device here: {done.stderr.strip()}")
    device = done.stdout.strip()
    try:
        yield device
    finally:
        subprocess.run(["losetup", "-d", device], check=True)


def mounted_block_device() -> str | None:
    """A block device this machine has mounted (from /proc/self/mounts), or None when none is visible here."""
    with open("/proc/self/mounts") as mounts:
        for line in mounts:
            source = line.split()[0]
            if source.startswith("/dev/") and os.path.exists(source) and stat.S_ISBLK(os.stat(source).st_mode):
                return source
    return None
