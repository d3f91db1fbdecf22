"""Where the real topology files live: ``shared/data`` beside the repository (as CI lays it out), or the folder
named by $P2PTUI_SHARED_DATA. Modules that test against them skip, saying why, where neither exists."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def _locate() -> Path | None:
    candidates = [Path(os.environ["P2PTUI_SHARED_DATA"])] if os.environ.get("P2PTUI_SHARED_DATA") else []
    candidates.append(Path(__file__).resolve().parents[2] / "shared" / "data")
    return next((c for c in candidates if c.is_dir()), None)


SHARED_DATA = _locate()


def require(*parts: str) -> Path:
    """The data folder (or a sub-folder); skips the calling test module when the real files are not here."""
    if SHARED_DATA is None or not SHARED_DATA.joinpath(*parts).exists():
        pytest.skip(
            "the real topology files (shared/data beside the repository, or $P2PTUI_SHARED_DATA) are not here",
            allow_module_level=True,
        )
    return SHARED_DATA.joinpath(*parts)
