"""Operating a fabric from the TUI: the copies a selection offers, the copy form read into a TransferSpec, and the
live state of every transfer for the transfers panel and the tree's link colours.

Textual-free. Every number shown comes from the engine (samples, results, utilisation); this module only keeps the
last few samples per transfer for the sparklines and maps the engine's link resources onto tree nodes.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from ..engine.backends import Capability, backend
from ..engine.backends import default as default_engine
from ..engine.backends import names as engine_names
from ..engine.samples import TransferEvent
from ..engine.transfer import Op, TransferResult, TransferSpec, TransferState
from ..errors import Diagnostic, InputError
from ..fabric.bdf import BDF
from ..fabric.model import Fabric
from ..fabric.units import parse_size
from ..p2p.gate import GateDecision
from .feeds import Feed, FeedUpdate, make_feed
from .selection import Selection

HISTORY = 120  # samples kept per transfer for its sparkline (30 s at 4 Hz): enough for a 200-column panel
BUSIEST = 3


# -- what can be copied -----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class CopyChoice:
    key: str
    src: str
    dst: str
    via: str | None
    op: Op
    text: str  # for people: who moves the data where


def copy_choices(fabric: Fabric, selection: Selection) -> list[CopyChoice]:
    """The copies the selection describes: staged through the exporter's P2P memory between two importers (as
    nvmet and p2pmem-test do) when the exporter has a pool to stage in, then one direct DMA between each importer
    and the exporter's memory."""
    if not selection.complete:
        return []
    assert selection.exporter is not None  # complete: an exporter and at least one importer
    exporter_dev = fabric.device(selection.exporter)
    exporter = exporter_dev.name
    importers = [fabric.device(b).name for b in selection.importers if b != selection.exporter]
    out = []
    if exporter_dev.pool is not None:
        out += [
            CopyChoice(
                f"staged:{a}:{b}",
                a,
                b,
                exporter,
                Op.WRITE,
                f"{a} → {exporter} → {b}   staged in {exporter}'s P2P memory",
            )
            for a in importers
            for b in importers
            if a != b
        ]
    for a in importers:
        out.append(
            CopyChoice(
                f"write:{a}", a, exporter, None, Op.WRITE, f"{a} → {exporter}   {a} writes into {exporter}'s memory"
            )
        )
        out.append(
            CopyChoice(f"read:{a}", exporter, a, None, Op.READ, f"{exporter} → {a}   {a} reads {exporter}'s memory")
        )
    return out


def staging_note(fabric: Fabric, selection: Selection) -> str:
    """Why the form offers no staged copy, when it offers none: "" when staging is possible or not asked for."""
    if not selection.complete:
        return ""
    assert selection.exporter is not None  # complete: an exporter and at least one importer
    exporter = fabric.device(selection.exporter)
    if exporter.pool is not None:
        return ""
    return (
        f"{exporter.name} has no P2P memory pool (◈ in the tree), so nothing can be staged in it: only direct "
        f"DMA between {exporter.name} and each importer is offered."
    )


@dataclass
class CopyFormValues:
    """What the copy form holds; kept between openings so a locked copy can be retried after pressing x."""

    choice: str = ""
    size: str = "8 GiB"
    chunk: str = "1 MiB"
    threads: str = "2"
    engine: str = field(default_factory=default_engine)
    check: bool = False
    serial: bool = False  # staged copies: one buffer slot per thread (p2pmem-test's loop)


def build_spec(values: CopyFormValues, choice: CopyChoice) -> TransferSpec:
    """The form as a TransferSpec; InputError listing every problem, each naming its field. (Whether the engine can
    run it - the gate, RAM for a real copy - is the engine's to say: Operations.gate.)"""
    problems: list[str] = []

    def size_field(label: str, text: str) -> int:
        try:
            return parse_size(text.strip())
        except ValueError as exc:
            problems.append(f"{label}: {exc}")
            return 1

    size = size_field("size", values.size)
    chunk = size_field("chunk", values.chunk)
    try:
        threads = int(values.threads.strip())
    except ValueError:
        problems.append(f"threads: expected a whole number, not {values.threads.strip()!r}")
        threads = 1
    if values.engine not in engine_names():
        problems.append(f"engine: {values.engine!r} is none of {', '.join(engine_names())}")
    elif values.check and not backend(values.engine).can(Capability.MOVES_BYTES):
        movers = " or ".join(n for n in engine_names() if backend(n).can(Capability.MOVES_BYTES))
        problems.append(f"check: verifying bytes needs the {movers} engine ({values.engine} moves none)")
    spec = TransferSpec(
        choice.src,
        choice.dst,
        size,
        via=choice.via,
        chunk=chunk,
        threads=threads,
        op=choice.op,
        check=values.check,
        serial=values.serial,
    )
    if not problems:
        problems += spec.problems()
    if problems:
        raise InputError([Diagnostic(p) for p in problems])
    return spec


# -- live state -------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class TransferView:
    """One transfer as the panel shows it: the engine's latest sample over its result."""

    number: int  # the TUI's own order of starting, across both engines
    engine: str
    id: int
    state: TransferState
    bytes_done: int
    rate: float  # bytes/s now, as the engine sampled it
    history: tuple[float, ...]
    result: TransferResult

    @property
    def label(self) -> str:
        return self.result.spec.label

    @property
    def size(self) -> int:
        return self.result.spec.size

    @property
    def predicted(self) -> float | None:
        """The engine's prediction for the route the bytes take, alone on the fabric."""
        r = self.result
        taken_p2p = r.p2p_route is not None and r.route is r.p2p_route
        return r.p2p_bytes_per_s if taken_p2p else r.bounce_bytes_per_s

    @property
    def eta(self) -> float | None:
        """Engine seconds left at the current rate."""
        if self.state is not TransferState.RUNNING or self.rate <= 0:
            return None
        return (self.size - self.bytes_done) / self.rate


@dataclass(frozen=True)
class LinkLoad:
    """One link direction (or other engine resource) as the link-load view shows it."""

    key: str
    name: str
    share: float  # of its capacity in use now, 0..1
    peak: float
    history: tuple[float, ...]  # one sample per poll, oldest first


@dataclass
class Snapshot:
    views: list[TransferView]
    events: list[tuple[TransferView | None, TransferEvent]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    loads: dict[BDF, float] = field(default_factory=dict)  # busiest direction of each device's uplink, 0..1
    total_rate: float = 0.0
    total_history: tuple[float, ...] = ()
    busiest: list[tuple[str, float]] = field(default_factory=list)
    time: float | None = None  # the simulator's clock

    def count(self, state: TransferState) -> int:
        return sum(1 for v in self.views if v.state is state)


class Operations:
    """Both engines for one fabric, created on first use, and what the panel needs from them."""

    def __init__(
        self, fabric: Fabric, clock: Callable[[], float], sim_speed: float = 1.0, interval: float = 0.25
    ) -> None:
        self.fabric = fabric
        self.clock = clock
        self.sim_speed = sim_speed
        self.interval = interval
        self._feeds: dict[str, Feed] = {}
        self._numbers: dict[tuple[str, int], int] = {}
        self._history: dict[int, deque[float]] = {}
        self._total: deque[float] = deque(maxlen=HISTORY)
        self._links: dict[str, list[BDF]] | None = None
        self._link_names: dict[str, str] = {}
        self._link_history: dict[str, deque[float]] = {}  # resource key -> utilisation per poll
        self._finished_at: dict[int, float] = {}  # clock time each transfer was first seen finished
        self._cleared: set[int] = set()  # finished transfers taken off the panel
        self.last = Snapshot([])

    def feed(self, engine: str) -> Feed:
        if engine not in self._feeds:
            if engine not in engine_names():
                raise ValueError(f"no engine {engine!r}")
            self._feeds[engine] = make_feed(engine, self.fabric, self.clock, self.sim_speed, self.interval)
        return self._feeds[engine]

    @property
    def active(self) -> bool:
        return bool(self._numbers)

    @property
    def busy(self) -> bool:
        """Whether any transfer still runs or waits (the meters have something to show)."""
        return any(not v.state.finished for v in self.last.views)

    def clear_finished(self, older_than: float | None = None) -> int:
        """Take finished transfers off the panel: all of them, or those finished at least ``older_than`` clock
        seconds ago; how many went."""
        now = self.clock()
        gone = {
            n
            for n, at in self._finished_at.items()
            if n not in self._cleared and (older_than is None or now - at >= older_than)
        }
        self._cleared |= gone
        return len(gone)

    def gate(self, spec: TransferSpec, engine: str, expert: bool) -> GateDecision | None:
        """The engine's plan for the copy, gate decision included; InputError for one it would refuse outright
        (for a real memory copy: one RAM cannot hold)."""
        return self.feed(engine).gate(spec, expert)

    async def start(self, spec: TransferSpec, engine: str, expert: bool) -> int:
        """Hand the copy to the engine; its number in the panel. InputError when the engine rejects it outright."""
        result = await self.feed(engine).start(spec, expert)
        number = len(self._numbers) + 1
        self._numbers[(engine, result.id)] = number
        self._history[number] = deque(maxlen=HISTORY)
        return number

    def find(self, number: int) -> tuple[str, int] | None:
        return next((key for key, n in self._numbers.items() if n == number), None)

    async def cancel(self, number: int) -> bool:
        """False when there is nothing left to cancel."""
        key = self.find(number)
        if key is None:
            return False
        feed = self._feeds[key[0]]
        if feed.results[key[1]].state.finished:
            return False
        await feed.cancel(key[1])
        return True

    def unplug(self, device: str) -> None:
        self.feed(next(n for n in engine_names() if backend(n).can(Capability.TAKES_EVENTS))).unplug(device)

    async def close(self) -> None:
        for feed in self._feeds.values():
            await feed.close()

    # -- polling ------------------------------------------------------------------------------------------------
    def poll(self) -> Snapshot:
        snap = Snapshot([])
        for name, feed in self._feeds.items():
            update = feed.poll()
            snap.problems += update.problems
            views = self._views(name, feed, update)
            snap.views += [v for v in views.values() if v.number not in self._cleared]
            snap.events += [(views.get(e.id), e) for e in update.events]
            if update.sample is not None and backend(name).can(Capability.TAKES_EVENTS):  # the fabric's clock
                snap.time = update.sample.time
                self._add_utilisation(snap, feed, update.sample.utilisation)
        snap.views.sort(key=lambda v: v.number)
        snap.total_rate = sum(v.rate for v in snap.views if v.state is TransferState.RUNNING)
        if snap.count(TransferState.RUNNING):
            self._total.append(snap.total_rate)
        snap.total_history = tuple(self._total)
        self.last = snap
        return snap

    def _views(self, name: str, feed: Feed, update: FeedUpdate) -> dict[int, TransferView]:
        rows = {t.id: t for t in update.sample.transfers} if update.sample is not None else {}
        views: dict[int, TransferView] = {}
        for tid, result in feed.results.items():
            number = self._numbers.get((name, tid))
            if number is None:
                continue
            row = rows.get(tid)
            state = result.state
            done = row.bytes_done if row is not None and state is TransferState.RUNNING else result.bytes_done
            rate = row.rate if row is not None and state is TransferState.RUNNING else 0.0
            history = self._history[number]
            if state is TransferState.RUNNING and row is not None:
                history.append(rate)
            views[tid] = TransferView(number, name, tid, state, done, rate, tuple(history), result)
            if state.finished:
                self._finished_at.setdefault(number, self.clock())
        return views

    def _add_utilisation(self, snap: Snapshot, feed: Feed, utilisation: dict[str, float]) -> None:
        links = self._link_map(feed)
        for key in set(utilisation) | set(self._link_history):
            self._link_history.setdefault(key, deque(maxlen=HISTORY)).append(utilisation.get(key, 0.0))
        for key, share in utilisation.items():
            for bdf in links.get(key, ()):
                snap.loads[bdf] = max(snap.loads.get(bdf, 0.0), share)
        top = sorted(utilisation.items(), key=lambda kv: (-kv[1], kv[0]))[:BUSIEST]
        snap.busiest = [(self.resource_name(feed, key), share) for key, share in top]

    def _link_map(self, feed: Feed) -> dict[str, list[BDF]]:
        """Which tree nodes show each link resource: every device whose uplink the engine names by that key."""
        if self._links is None:
            self._links = {}
            for dev in self.fabric.devices:
                try:
                    info = feed.link_above(dev)
                except Exception:  # noqa: BLE001 - a link the engine cannot model is simply not coloured
                    info = None
                if info is None:
                    continue
                for key, arrow in ((info.up, "↑"), (info.down, "↓")):
                    self._links.setdefault(key, []).append(dev.bdf)
                    self._link_names.setdefault(key, f"{dev.name} link {arrow}")
        return self._links

    def links(self, top: int | None = None) -> list[LinkLoad]:
        """Every resource the simulator has reported, busiest now first (then busiest ever), with its history."""
        # The engine on the fabric's clock reports utilisation (poll records it); its catalog names the resources.
        feed = next((f for n, f in self._feeds.items() if backend(n).can(Capability.TAKES_EVENTS)), None)
        if feed is None:
            return []
        rows = [
            LinkLoad(key, self.resource_name(feed, key), h[-1], max(h), tuple(h))
            for key, h in self._link_history.items()
            if h and max(h) > 0
        ]
        rows.sort(key=lambda r: (-r.share, -r.peak, r.name))
        return rows[:top] if top is not None else rows

    def resource_name(self, feed: Feed, key: str) -> str:
        if key in self._link_names:
            return self._link_names[key]
        resource = feed.catalog.resources.get(key)
        if resource is None:
            return key
        return resource.description.split(": ", 1)[0]
