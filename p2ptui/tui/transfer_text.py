"""Transfers in words and glyphs, as styled parts: the panel's lines, the gate's answer, notifications.

Pure functions of what the engine reported (TransferView, GateDecision, TransferEvent); the only arithmetic is
for display: fractions for the bar, a sparkline scaled to the route's predicted rate, the time left at the current
rate.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from textual.notifications import SeverityLevel

from ..engine.backends import Capability, backend
from ..engine.backends import names as engine_names
from ..engine.report import gbps
from ..engine.samples import TransferEvent
from ..engine.transfer import TransferState
from ..fabric.units import human_size
from ..p2p.gate import Decision, GateDecision
from ..present.device import load_role
from ..present.rows import Part
from ..present.transfer import predicted_parts, route_parts, verified_parts
from .operate import HISTORY, Snapshot, TransferView

LABEL_MIN, LABEL_MAX = 14, 34
RATE_WIDTH = 10
PCT_WIDTH = 5
TAIL_WIDTH = 14  # "  ETA 12.3 min"
BAR_MIN = 8
SPARK_WIDTH = 16
BAR_WIDTH = 20
INDENT = "      "
SPARK = " ▁▂▃▄▅▆▇█"
STATE_ROLE = {
    TransferState.PENDING: "muted",
    TransferState.RUNNING: "accent",
    TransferState.DONE: "ok",
    TransferState.CANCELLED: "warn",
    TransferState.FAILED: "bad",
    TransferState.REFUSED: "bad",
}


def rate_text(rate: float | None) -> str:
    return gbps(rate)


def duration(seconds: float) -> str:
    if seconds < 100:
        return f"{seconds:.1f} s"
    if seconds < 6000:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def fit(text: str, width: int) -> str:
    return text.ljust(width) if len(text) <= width else text[: width - 1] + "…"


def sparkline(values: Sequence[float], top: float | None, width: int = SPARK_WIDTH) -> str:
    """The newest ``width`` values as eighth-blocks; full height is ``top`` (the predicted rate), or the largest
    value when that is higher, so the height says how close the copy runs to what its route allows alone."""
    values = list(values)[-width:]
    scale = max([top or 0.0, *values])
    cells = []
    for v in values:
        if v <= 0 or scale <= 0:
            cells.append(SPARK[0] if v <= 0 else SPARK[1])
        else:
            cells.append(SPARK[max(1, min(8, round(8 * v / scale)))])
    return "".join(cells).rjust(width)


def bar(fraction: float, width: int = BAR_WIDTH) -> tuple[str, str]:
    """Done and to-do parts of a progress bar."""
    filled = max(0, min(width, int(width * fraction)))
    return "━" * filled, "━" * (width - filled)


@dataclass(frozen=True)
class Columns:
    """How wide each part of a transfer's head line is at one panel width: the rate, bar, percent and ETA always
    fit (down to 76 columns); the label, engine and state columns give way first, then the meters stretch into
    whatever is left, so a 200-column terminal gets long meters rather than empty space."""

    label: int
    engine: int
    state: int
    spark: int
    bar: int


FIXED = 2 + 4 + RATE_WIDTH + 1 + PCT_WIDTH + TAIL_WIDTH  # marker, number, rate, gap, percent, ETA


def columns(width: int) -> Columns:
    free = max(0, width - FIXED)
    label = max(LABEL_MIN, min(LABEL_MAX, free // 4))
    free -= label
    engine = 5 if free >= 5 + 10 + 40 else 0
    state = 10 if free >= engine + 10 + 30 else 0
    free -= engine + state
    spark = free * 2 // 5 if free >= 24 else 0
    return Columns(label, engine, state, spark, max(BAR_MIN, free - spark - (1 if spark else 0)))


def head_line(view: TransferView, selected: bool, width: int = 120) -> list[Part]:
    cols = columns(width)
    size = view.size or 1
    fraction = view.bytes_done / size
    done, todo = bar(fraction, cols.bar)
    state = view.state
    if state is TransferState.DONE:
        rate, tail = view.result.bytes_per_s, f"took {duration(view.result.seconds or 0.0)}"
    elif state is TransferState.RUNNING:
        eta = view.eta
        rate, tail = view.rate, f"ETA {duration(eta)}" if eta is not None else "ETA —"
    else:
        # No state column at this width: the state takes the rate's place, so a cancelled copy still says so.
        rate, tail = None, "" if cols.state else state.value
    parts: list[Part] = [
        ("▶ " if selected else "  ", "key"),
        (fit(f"#{view.number}", 4), "key" if selected else "muted"),
        (fit(view.label, cols.label), "name"),
    ]
    if cols.engine:
        parts.append((view.engine.ljust(cols.engine), "muted"))
    if cols.state:
        parts.append((state.value.ljust(cols.state), STATE_ROLE[state]))
    parts.append((rate_text(rate).rjust(RATE_WIDTH) if rate is not None else " " * RATE_WIDTH, "key"))
    parts.append((" ", ""))
    if cols.spark:
        parts += [(sparkline(view.history, view.predicted, cols.spark), "accent"), (" ", "")]
    parts += [
        (done, STATE_ROLE[state] if state is not TransferState.RUNNING else "primary"),
        (todo, "muted"),
        (f"{fraction:5.0%}", ""),
        (
            "  " + tail,
            "muted"
            if cols.state or state is TransferState.RUNNING or state is TransferState.DONE
            else STATE_ROLE[state],
        ),
    ]
    return parts


def route_line(view: TransferView) -> list[Part]:
    """The route in the words ``p2ptui copy`` prints (p2ptui/present/transfer.py)."""
    route = view.result.route
    if route is None:
        return [(INDENT + "route unknown", "muted")]
    return [(INDENT + "route ", "muted"), *route_parts(route)]


def compare_line(view: TransferView) -> list[Part]:
    r = view.result
    parts: list[Part] = [(INDENT, ""), *predicted_parts(r)]
    parts += [("   ", ""), (f"{human_size(view.bytes_done)} of {human_size(view.size)}", ""), ("   ", "")]
    parts += verified_parts(r)
    if r.error and view.state.finished and view.state is not TransferState.DONE:
        parts += [("   ", ""), (r.error, "bad")]
    return parts


def transfer_lines(view: TransferView, selected: bool, width: int = 120) -> list[list[Part]]:
    return [head_line(view, selected, width), route_line(view), compare_line(view)]


def summary_line(snap: Snapshot, width: int = 120) -> list[Part]:
    running = snap.count(TransferState.RUNNING)
    # The total's history stretches with the panel, like the transfers' meters below it.
    spark = max(SPARK_WIDTH, min(HISTORY, width // 4))
    parts: list[Part] = [
        ("total ", "muted"),
        (rate_text(snap.total_rate).rjust(RATE_WIDTH), "key"),
        (" ", ""),
        (sparkline(snap.total_history, None, spark), "accent"),
        ("   ", ""),
    ]
    counts = [f"{running} running"]
    for state in (
        TransferState.PENDING,
        TransferState.DONE,
        TransferState.CANCELLED,
        TransferState.FAILED,
        TransferState.REFUSED,
    ):
        n = snap.count(state)
        if n:
            counts.append(f"{n} {state.value}")
    parts.append((", ".join(counts), ""))
    if snap.time is not None:
        parts.append((f"   sim t={snap.time:.2f} s", "muted"))
    if snap.busiest:
        parts.append(("   busiest ", "muted"))
        for i, (name, share) in enumerate(snap.busiest):
            parts += [(", " if i else "", "muted"), (f"{name} ", ""), (f"{share:.0%}", load_role(share))]
    return parts


# -- the gate, events ---------------------------------------------------------------------------------------------
def gate_rows(decision: GateDecision | None, engine: str) -> list[tuple[Part, list[Part]]]:
    """The gate's answer for the form, as (key, text) rows: allowed (with its label when simulated), or locked,
    why, and what unlocks it."""
    if decision is None:
        return [
            (("gate", "muted"), [("allowed", "ok"), (": a DMA to or from host memory, nothing to decide", "muted")])
        ]
    reasons = [r.text for r in decision.reasons]
    if decision.permitted:
        head: list[Part] = [("allowed", "ok")]
        if decision.decision is Decision.NEEDS_EXPERT:
            head.append((" in expert mode", "warn"))
        rows = [(("gate", "muted"), head)] + [(("", ""), [("• " + r, "muted")]) for r in reasons]
        if decision.label:
            rows.append((("", ""), [(decision.label, "warn")]))
        return rows
    why = [r.text for r in decision.blocking]
    rows = [(("locked", "locked"), [("; ".join(why), "bad")])]
    if decision.decision is Decision.NEEDS_EXPERT:
        rows.append(
            (
                ("unlock", "muted"),
                [
                    ("x", "key"),
                    (
                        " turns on expert mode, after a confirmation: close this "
                        "form (esc), press x, then t again; your entries are kept",
                        "",
                    ),
                ],
            )
        )
    else:
        hint = "nothing: the kernel or the device does not allow it"
        forcing = [n for n in engine_names() if backend(n).can(Capability.FORCES_PATHS)]
        if forcing and not backend(engine).can(Capability.FORCES_PATHS):
            hint += (
                f"; engine {forcing[0]} can still model the copy (forcing the path in expert mode where Linux "
                "refuses it)"
            )
        rows.append((("unlock", "muted"), [(hint, "")]))
    return rows


def event_notice(view: TransferView | None, event: TransferEvent) -> tuple[str, str, SeverityLevel] | None:
    """(title, message, severity) for a notification, or None for events not worth one (a start)."""
    name = f"#{view.number} {event.label}" if view is not None else event.label
    if event.state is TransferState.DONE:
        r = view.result if view is not None else None
        text = f"{human_size(r.bytes_done)} in {duration(r.seconds or 0.0)}, {rate_text(r.bytes_per_s)}" if r else ""
        if r is not None and r.verified:
            text += ", verified"
        return f"{name}: done", text or "done", "information"
    if event.state is TransferState.CANCELLED:
        return f"{name}: cancelled", event.message or "cancelled", "warning"
    if event.is_error:
        return f"{name}: {event.state.value}", event.message or event.state.value, "error"
    return None
