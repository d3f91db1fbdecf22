"""Snapshot determinism for every TUI test: no blinking cursors (the command palette's Input included)."""

import pytest
from textual.widgets import Input


@pytest.fixture(autouse=True)
def no_cursor_blink(monkeypatch):
    # The blink timer runs on the wall clock; a cursor caught mid-blink would change the SVG.
    monkeypatch.setattr(Input, "_toggle_cursor", lambda self: None)
