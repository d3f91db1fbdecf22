"""A transfer as parts and rows: its route, what the engine predicted for it alone, whether its bytes were checked,
and (for ``p2ptui copy``) the whole report of a finished transfer.

The TUI's transfers panel draws its route and prediction lines from :func:`route_parts` and
:func:`predicted_parts`; ``p2ptui copy`` prints :func:`report_lines`, whose rows use the same parts. Every fact
comes from the engine's ``TransferResult`` and ``Route`` records.
"""

from __future__ import annotations

from ..engine.backends import Capability, backend
from ..engine.backends import names as engine_names
from ..engine.report import gbps, si, transfer_line
from ..engine.routes import Route
from ..engine.transfer import TransferResult, TransferState
from ..fabric.units import human_size
from .rows import Part, Row, rows_text

FORCED = "SIMULATED, Linux refuses it (forced by expert mode)"
REPORT_INDENT = "    "  # under each transfer's "[id] label: state" line


def route_parts(route: Route) -> list[Part]:
    """ "P2P BUS_ADDR  a → b → c": the kind and map type (coloured by what they cost), then the functions crossed."""
    kind = route.kind.value.upper() if route.kind.value == "p2p" else route.kind.value
    role = "ok" if route.map_type == "BUS_ADDR" else "bad" if route.forced or not route.allowed else "warn"
    parts: list[Part] = [(f"{kind} {route.map_type}", role)]
    if route.forced:
        parts.append((f" {FORCED}", "bad"))
    elif not route.allowed:
        parts.append((" not allowed: NOT_SUPPORTED", "bad"))
    return parts + [("  ", ""), (" → ".join(route.hops), "")]


def predicted_parts(result: TransferResult) -> list[Part]:
    """The engine's rate for each route alone on the fabric, the one the bytes take marked."""
    taken_p2p = result.p2p_route is not None and result.route is result.p2p_route
    parts: list[Part] = [("predicted alone  ", "muted")]
    if result.p2p_route is not None:
        parts += [
            ("P2P ", "muted"),
            (gbps(result.p2p_bytes_per_s), "key" if taken_p2p else ""),
            (" ◀ taken" if taken_p2p else "", "accent"),
            ("  bounce ", "muted"),
        ]
    else:
        parts.append(("host DMA ", "muted"))
    return parts + [
        (gbps(result.bounce_bytes_per_s), "" if taken_p2p else "key"),
        (" ◀ taken" if not taken_p2p and result.p2p_route is not None else "", "accent"),
    ]


def verified_parts(result: TransferResult) -> list[Part]:
    """Whether the destination was compared with the source, and what the comparison said."""
    if result.verified is True:
        return [(f"✔ {human_size(result.bytes_done)} verified", "ok")]
    if result.verified is False:
        return [("✘ verification failed", "bad")]
    if not result.spec.check:
        moves = result.engine in engine_names() and backend(result.engine).can(Capability.MOVES_BYTES)
        return [("not verified" if moves else "simulated: no bytes move", "muted")]
    return [("verify when done", "muted")]


def efficiency_text(efficiency: float) -> str:
    """0.90 as two decimals; a value too small for them (--efficiency 1e-300 is allowed) in three digits."""
    return f"{efficiency:.2f}" if efficiency >= 0.01 else f"{efficiency:.3g}"


def result_rows(result: TransferResult, efficiency: float) -> list[Row]:
    """A transfer's report: route (and the P2P route when the bytes bounced), predictions with the link efficiency
    they assume, the engine's notes, the data check."""
    rows: list[Row] = []
    route = result.route
    if route is not None:
        rows.append(("route", route_parts(route)))
    if result.p2p_route is not None and result.p2p_route is not route:
        rows.append(("P2P route", route_parts(result.p2p_route)))
    rows.append(("", predicted_parts(result)))
    rows.append(("", [(f"links at {efficiency_text(efficiency)} efficiency", "muted")]))
    rows.extend(("note", [(note, "muted")]) for note in result.notes)
    rows.append(("data", verified_parts(result)))
    return rows


def report_lines(result: TransferResult, efficiency: float) -> list[str]:
    """What ``p2ptui copy`` prints for a transfer: its state, its rows, and p2pmem-test's transfer line when done."""
    spec = result.spec
    error = result.error if result.error and result.error != result.state.value else ""
    lines = [f"[{result.id}] {spec.label}: {result.state.value}" + (f": {error}" if error else "")]
    lines += [REPORT_INDENT + line for line in rows_text(result_rows(result, efficiency)).splitlines()]
    if result.verified is not None:  # p2pmem-test's words, which scripts grep for
        lines.append(REPORT_INDENT + ("MATCH on data check" if result.verified else "MISMATCH on data check"))
    if result.state in (TransferState.CANCELLED, TransferState.FAILED) and result.started_at is not None:
        b, bs = si(result.bytes_done)  # how far a stopped copy got, in the transfer line's SI units
        total, ts = si(spec.size)
        share = result.bytes_done / spec.size if spec.size else 0.0
        lines.append(f"{REPORT_INDENT}{result.state.value} after {b:.2f}{bs}B of {total:.2f}{ts}B ({share:.1%})")
    if result.state is TransferState.DONE and result.seconds is not None:
        lines.append("Transfer:")
        lines.append(transfer_line(result.bytes_done, result.seconds))
    return lines
