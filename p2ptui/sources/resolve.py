"""Turn a FABRIC argument (a bundled fabric's name or a path) into a Fabric."""

from __future__ import annotations

from pathlib import Path

from ..errors import Diagnostic, InputError, Location
from ..fabric import Fabric, load_fabric
from ..fabric.gallery import bundled, find_bundled


def open_fabric(ref: str) -> Fabric:
    """Load what ``ref`` names: a path to a fabric file, else a bundled fabric by name."""
    path = Path(ref)
    if path.exists():
        if path.is_dir():
            raise InputError(Diagnostic("is a directory, not a fabric file", Location(ref)))
        return load_fabric(path)
    named = find_bundled(ref)
    if named is not None:
        return load_fabric(named)
    names = ", ".join(e.name for e in bundled())
    raise InputError(
        Diagnostic(f"no such file, and no bundled fabric of that name", Location(ref), f"bundled: {names}")
    )
