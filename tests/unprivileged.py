"""Running p2ptui as an unprivileged user (nobody), for tests of what non-root users see.

Such tests need root (to drop privileges with setpriv) and an interpreter and install that the unprivileged user may
read: a virtualenv under a mode-0700 directory is not. Where that is not so they skip, saying why, instead of
failing on "No module named p2ptui".
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys

import pytest

AS_NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@functools.cache
def why_nobody_cannot_run() -> str | None:
    if os.geteuid() != 0:
        return "needs root to drop to the unprivileged user"
    if shutil.which("setpriv") is None:
        return "needs setpriv (util-linux) to drop root"
    probe = subprocess.run([*AS_NOBODY, sys.executable, "-c", "import p2ptui"], capture_output=True, text=True, cwd="/")
    if probe.returncode != 0:
        return f"the unprivileged user cannot import p2ptui from {sys.executable}: {probe.stderr.strip()[-120:]}"
    return None


def skip_unless_nobody_can_run() -> None:
    reason = why_nobody_cannot_run()
    if reason:
        pytest.skip(reason)
