"""Argument types the commands' parsers share."""

from __future__ import annotations

import argparse


def path_argument(text: str) -> str:
    """A file or directory argument. An empty string names nothing: left through, it would be taken for a missing
    option (``--plan ''`` ignored, ``scan -o ''`` writing to standard output) or for the current directory
    (``Path('')`` is ``.``), or fail only after a real copy has run."""
    if not text:
        raise argparse.ArgumentTypeError("an empty string names no file")
    return text
