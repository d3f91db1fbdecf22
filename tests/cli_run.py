"""Running the CLI in-process for a test: ``p2ptui ARGV`` with its exit status and both output streams."""

from __future__ import annotations

import os

import pytest

from p2ptui.cli.main import main


def run_cli(capsys: pytest.CaptureFixture, *argv: str | int | os.PathLike) -> tuple[int, str, str]:
    """The exit status, standard output and standard error of ``p2ptui ARGV`` (paths and numbers as text). The CLI
    prints a traceback only with --debug; one on standard error otherwise fails the calling test."""
    args = [a if isinstance(a, str) else str(a) if isinstance(a, int) else os.fspath(a) for a in argv]
    code = main(args)
    out, err = capsys.readouterr()
    assert "--debug" in args or "Traceback" not in err, err
    return code, out, err
