"""A sysfs root as a non-root user reads it, for the tests of partly readable roots."""

from __future__ import annotations

import errno
from pathlib import Path

from p2ptui.sources.sysfs_files import DirFiles


class DenyFiles(DirFiles):
    """As a non-root user sees a root where some files and directories are not readable."""

    def __init__(self, root: Path, denied: set[str]):
        super().__init__(root)
        self.denied = denied

    def _check(self, rel: str) -> None:
        if any(rel == d or rel.endswith("/" + d) for d in self.denied):
            raise PermissionError(errno.EACCES, "Permission denied", rel)

    def read(self, rel, limit=65536):
        self._check(rel)
        return super().read(rel, limit)

    def entries(self, rel):
        self._check(rel)
        return super().entries(rel)
