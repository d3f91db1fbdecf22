"""Kernel releases as ``uname -r`` prints them: ``6.8.0-45-generic``, ``5.14.0-362.el9.x86_64``, ``6.12.23+``.

The kernel builds its release string as VERSION.PATCHLEVEL[.SUBLEVEL] followed by EXTRAVERSION (``-rc3``) and a
local version (``-45-generic``, ``+``), at most 64 characters (__NEW_UTS_LEN). Distributions only ever start that
tail with punctuation, so a release is recognised by its numbers and the tail is kept but not interpreted.
"""

from __future__ import annotations

import re

MAX_RELEASE_CHARS = 64  # __NEW_UTS_LEN: utsname().release holds 64 characters
NEWEST_WORDS = frozenset({"latest", "mainline", "newest"})
ACCEPTED = (
    "a kernel release as uname -r prints it, e.g. 6.8.0-45-generic, 5.14.0-362.el9.x86_64 or 6.12.23+; "
    "major.minor such as 6.12; or latest"
)
# Digit counts are capped so that '6.123456' is refused rather than read as a release with an odd tail.
_RELEASE_RE = re.compile(r"(?:v|linux-)?(\d{1,5})\.(\d{1,5})(?:\.(\d{1,9}))?(?:[^0-9a-z\s]\S*)?", re.IGNORECASE)

KernelVersion = tuple[int, int, int | None]  # (major, minor, sublevel); None when the text gives no sublevel


class KernelVersionError(ValueError):
    """A text that is not a kernel release. ``str()`` is "<problem>: expected <forms>", the shape the YAML reader
    splits into a message and a hint; other callers use the two halves."""

    def __init__(self, problem: str, expected: str = ACCEPTED):
        super().__init__(f"{problem}: expected {expected}")
        self.problem = problem
        self.expected = expected


def is_newest(text: str) -> bool:
    """A word for "the newest release" (``latest``); only the caller knows which release that is."""
    return text.strip().lower() in NEWEST_WORDS


def parse_kernel_version(text: str) -> KernelVersion:
    """(major, minor, sublevel or None) of a release; raises KernelVersionError for anything else, words too."""
    word = text.strip()
    if len(word) > MAX_RELEASE_CHARS:
        raise KernelVersionError(
            f"kernel release is {len(word)} characters long, more than the kernel's {MAX_RELEASE_CHARS}"
        )
    m = _RELEASE_RE.fullmatch(word)
    if m is None:
        shown = word if len(word) <= 40 else word[:39] + "…"
        raise KernelVersionError(f"{shown!r} is not a kernel version")
    return int(m[1]), int(m[2]), (int(m[3]) if m[3] is not None else None)


def kernel_release(text: str) -> str:
    """``text`` unchanged when it names a release (a version or a word for the newest); KernelVersionError if not."""
    if not is_newest(text):
        parse_kernel_version(text)
    return text


def release_or_note(text: str | None, where: str) -> tuple[str | None, str | None]:
    """For sources: ``(text, None)`` when it names a release; ``(None, note)`` when it does not, so that a garbled
    record leaves the kernel unknown (and the saved fabric loadable) instead of failing the whole import."""
    if text is None or not text.strip():
        return None, None
    try:
        return kernel_release(text.strip()), None
    except KernelVersionError:
        return None, f"kernel release unknown: {where} says {text.strip()[:40]!r}, not a release as uname -r prints it"
