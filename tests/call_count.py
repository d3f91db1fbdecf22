"""Counting the calls a piece of work makes to a public function, for tests that promise work is not repeated."""

from __future__ import annotations

from typing import Any

import pytest


class CallCount:
    """``owner.name`` wrapped (for the test, through monkeypatch) so that ``calls`` counts every call and ``args``
    keeps each call's positional arguments."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str):
        self.calls = 0
        self.args: list[tuple] = []
        real = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            self.args.append(args)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)
