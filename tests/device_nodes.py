"""Device nodes made inside a test's own directory, so tests never touch the real /dev."""

from __future__ import annotations

import os
import stat
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
