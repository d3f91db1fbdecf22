"""The engines behind one protocol, and the registry the CLI and the TUI read their names and abilities from.

A new engine backend goes here: a class with the ``Engine`` protocol's members (``plan``, ``results``, ``catalog``,
``name``), a Runner subclass that drives it (runner.py holds the two kinds: a virtual-clock simulator and copies
in worker threads; a backend may bring its own), and one ``register(Backend(...))``. Views never name an engine:
they list ``names()``, build with ``backend(name).make(...)``, and ask ``capabilities`` what a choice allows (files,
injected events, paths the kernel refuses). Engines and runners are imported when first made, so asking for the
names costs nothing at start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from ..errors import Diagnostic, InputError

if TYPE_CHECKING:
    from .resources import ResourceCatalog
    from .routes import RoutePlan
    from .runner import Runner
    from .transfer import TransferResult, TransferSpec

SIM = "sim"
REAL = "real"


class Capability(StrEnum):
    MOVES_BYTES = "moves bytes"  # copies real data on this machine (and so can verify it)
    TAKES_EVENTS = "takes events"  # runs on its own virtual clock (paced or stepped); faults injected at a time
    TAKES_FILES = "takes files"  # copies files or block devices, not only memory
    FORCES_PATHS = "forces refused paths"  # expert mode may take a P2P path the kernel refuses (nothing real breaks)


class Engine(Protocol):
    """What every engine offers the runners and the views."""

    name: str  # its backend's name
    catalog: ResourceCatalog  # the fabric's resources under the engine's config (links, caps) for display
    results: dict[int, TransferResult]  # every transfer accepted, by id, updated as it runs

    def plan(self, spec: TransferSpec, expert: bool | None = None) -> RoutePlan:
        """The route and the expert gate's decision for ``spec``; InputError for a copy it would refuse outright."""
        ...


@dataclass(frozen=True)
class Backend:
    name: str  # what users pick: --engine NAME, the TUI's engine choice, "engine" in JSON output
    summary: str  # one line saying what it does, for choices and help
    capabilities: frozenset[Capability]
    make: Callable[..., Engine]  # make(fabric, config=None, *, expert=False, **options) -> a new engine
    runner: Callable[[], type[Runner]]  # the Runner subclass that drives it (imported when called)

    def can(self, capability: Capability) -> bool:
        return capability in self.capabilities


_BACKENDS: dict[str, Backend] = {}


def register(entry: Backend) -> None:
    """Add a backend (after the built-in ones, in the order of registration); ValueError for a name in use."""
    if entry.name in _BACKENDS:
        raise ValueError(f"an engine named {entry.name!r} is already registered")
    _BACKENDS[entry.name] = entry


def unregister(name: str) -> None:
    _BACKENDS.pop(name, None)


def names() -> tuple[str, ...]:
    return tuple(_BACKENDS)


def default() -> str:
    """The engine used when none is chosen: the first registered (the simulator: nothing real is touched)."""
    return next(iter(_BACKENDS))


def backend(name: str) -> Backend:
    """The backend called ``name``; InputError naming the choices for an unknown one."""
    try:
        return _BACKENDS[name]
    except KeyError:
        raise InputError(Diagnostic(f"no engine {name!r}", hint=f"engines: {', '.join(_BACKENDS)}")) from None


def backend_of(engine: Engine) -> Backend:
    return backend(engine.name)


def _class(module: str, attribute: str) -> Callable[[], Any]:
    return lambda: getattr(importlib.import_module(f"{__package__}.{module}"), attribute)


def _make(module: str, attribute: str) -> Callable[..., Engine]:
    def make(*args: Any, **kwargs: Any) -> Engine:
        return _class(module, attribute)()(*args, **kwargs)

    return make


register(
    Backend(
        SIM,
        "simulated on this fabric, paced in real time",
        frozenset({Capability.TAKES_EVENTS, Capability.FORCES_PATHS}),
        _make("sim", "Simulation"),
        _class("runner_sim", "SimRunner"),
    )
)
register(
    Backend(
        REAL,
        "moves and times real bytes in this machine's memory",
        frozenset({Capability.MOVES_BYTES, Capability.TAKES_FILES}),
        _make("real", "RealEngine"),
        _class("runner_real", "RealRunner"),
    )
)
