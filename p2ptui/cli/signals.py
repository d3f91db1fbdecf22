"""How a running ``p2ptui copy`` ends on a signal: every way a user, a script or the system stops it, the same way.

SIGINT (Ctrl-C), SIGTERM (``kill``, ``timeout``, systemd, batch schedulers) and SIGHUP (a closed terminal, a dropped
ssh session) all cancel the copies: the workers stop, temporary files are removed (an existing destination keeps its
contents), buffers, P2P memory and mappings are released, the transfers are reported as usual, one line on stderr
says which signal did it, and the process exits with the shell's convention for a signal, 128 + its number (130,
143, 129). A second one of them quits at once: the temporary files' names are removed first, and the kernel frees
the rest as the process exits. A signal ignored when p2ptui started (``nohup`` ignores SIGHUP) stays ignored.

The CLI asks :func:`exit_status` for its exit code when writing the report fails after a signal (the terminal that
sent SIGHUP is gone): the signal decides the status, not the dead output.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

CANCELLING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

_received: int | None = None  # the cancelling signal of this run, if one came


def status(signum: int) -> int:
    """The exit status of a process ended by ``signum``, as shells report it."""
    return 128 + signum


def name(signum: int) -> str:
    return signal.Signals(signum).name


def received() -> int | None:
    """The signal that cancelled this run's copies, or None."""
    return _received


def exit_status(code: int) -> int:
    """``code``, unless a cancelling signal came during the run: then that signal's status."""
    return status(_received) if _received is not None else code


def forget() -> None:
    """End of a run (the CLI called in-process again, by tests): the next run starts without a signal."""
    global _received
    _received = None


class CancelOnSignals:
    """While installed on ``loop``: the first cancelling signal calls ``first(signum)`` (cancel everything, report),
    a second one calls ``again(signum)`` (quit at once). Installs nothing for a signal ignored at start, nor where the
    loop cannot handle signals (not the main thread)."""

    def __init__(self, loop: asyncio.AbstractEventLoop, first: Callable[[int], None], again: Callable[[int], None]):
        self.loop = loop
        self.first = first
        self.again = again
        self.installed: list[int] = []

    def __enter__(self) -> CancelOnSignals:
        forget()
        for signum in CANCELLING:
            if signal.getsignal(signum) is signal.SIG_IGN:
                continue
            try:
                self.loop.add_signal_handler(signum, self._on_signal, signum)
            except (ValueError, RuntimeError, NotImplementedError):
                continue
            self.installed.append(signum)
        return self

    def __exit__(self, *exc: object) -> None:
        for signum in self.installed:
            self.loop.remove_signal_handler(signum)
        self.installed = []

    def _on_signal(self, signum: int) -> None:
        global _received
        if _received is None:
            _received = signum
            self.first(signum)
        else:
            self.again(signum)
