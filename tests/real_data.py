"""Where the real topology files live: ``tests/data`` in this repository (see its README for each file's source
and licence). One file has no licence and is not copied here; ``unlicensed`` finds it in ``shared/data`` beside the
repository (or $P2PTUI_SHARED_DATA) and skips the calling test, saying why, where it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

DATA = Path(__file__).resolve().parent / "data"


def require(*parts: str) -> Path:
    """The repository's data folder (or a sub-folder of it); it is part of the repository, so it must exist."""
    path = DATA.joinpath(*parts)
    assert path.exists(), f"{path} is missing from the repository"
    return path


def unlicensed(*parts: str) -> Path:
    """A file that ``shared/data`` holds but its README forbids copying (no licence): skip where it is absent."""
    candidates = [Path(os.environ["P2PTUI_SHARED_DATA"])] if os.environ.get("P2PTUI_SHARED_DATA") else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    for root in candidates:
        if root.joinpath(*parts).exists():
            return root.joinpath(*parts)
    pytest.skip(f"{'/'.join(parts)} has no licence, so it is not in tests/data, and no shared/data copy is here")
