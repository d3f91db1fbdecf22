"""Results as people and programs read them: p2pmem-test's transfer line, and the documented JSON (docs/copy.md)."""

from __future__ import annotations

from .routes import Route
from .transfer import TransferResult

_BIG = ("", "k", "M", "G", "T", "P", "E")
_SMALL = ("m", "u", "n", "p")


def si(value: float) -> tuple[float, str]:
    """Scale to SI like argconfig's suffix_si_get: 1234567 → (1.234567, "M"); 0.0123 → (12.3, "m")."""
    if value == 0:
        return 0.0, ""
    if abs(value) >= 1:
        i = 0
        while abs(value) >= 1000 and i < len(_BIG) - 1:
            value /= 1000
            i += 1
        return value, _BIG[i]
    i = -1
    while abs(value) < 1 and i < len(_SMALL) - 1:
        value *= 1000
        i += 1
    return value, _SMALL[i]


def transfer_line(nbytes: float, seconds: float) -> str:
    """``<bytes><SI>B in <secs> s   <rate><SI>B/s``, the shape of p2pmem-test's report_transfer_rate. Numbers
    beyond what the prefixes reach (a simulated link a million million times too slow) keep the shape in
    scientific notation rather than print hundreds of digits or 0.00."""
    rate = _prefixed(nbytes / seconds, "6", 2) if seconds > 0 else "   inf"
    if 1 <= seconds < 1e6:
        elapsed = f"{seconds:<6.1f} "
    elif seconds == 0 or 1e-12 <= seconds < 1:
        elapsed = _prefixed(seconds, "<6", 1)
    else:
        elapsed = f"{seconds:<6.3g} "
    return f"{_prefixed(nbytes, '6', 2)}B in {elapsed}s   {rate}B/s"


def _prefixed(value: float, width: str, decimals: int) -> str:
    """``value`` scaled to its SI prefix, ``width`` wide (``"<6"``: to the left) with ``decimals``; in scientific
    notation, without a prefix, where the prefixes do not reach (below 1 p, from 1000 E)."""
    scaled, prefix = si(value)
    if value and not 1 <= abs(scaled) < 1000:
        return f"{value:{width}.3g}"
    return f"{scaled:{width}.{decimals}f}{prefix}"


def gbps(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate / 1e9:.2f} GB/s"


def route_dict(route: Route | None) -> dict | None:
    if route is None:
        return None
    return {
        "kind": route.kind.value,
        "hops": route.hops,
        "map_type": route.map_type,
        "allowed": route.allowed,
        "forced": route.forced,
        "legs": [
            {
                "from": leg.data_from,
                "to": leg.data_to,
                "initiator": leg.initiator,
                "op": leg.op.value,
                "map_type": leg.map_type,
                "hops": list(leg.hops),
            }
            for leg in route.legs
        ],
    }


def result_dict(result: TransferResult) -> dict:
    """One entry of the ``transfers`` list; the first ten keys are the documented contract."""
    spec, route = result.spec, result.route
    return {
        "src": spec.src,
        "dst": spec.dst,
        "via": spec.via,
        "route": route.hops if route is not None else [],
        "map_type": route.map_type if route is not None else None,
        "bytes": result.bytes_done,
        "seconds": result.seconds,
        "bytes_per_s": result.bytes_per_s,
        "bounce_bytes_per_s": result.bounce_bytes_per_s,
        "verified": result.verified,
        "id": result.id,
        "name": spec.label,
        "engine": result.engine,
        "state": result.state.value,
        "error": result.error,
        "size": spec.size,
        "chunk": spec.chunk,
        "threads": spec.threads,
        "serial": spec.serial,
        "start": spec.start,
        "p2p_bytes_per_s": result.p2p_bytes_per_s,
        "route_kind": route.kind.value if route is not None else None,
        "forced": bool(route is not None and route.forced),
        "p2p_route": route_dict(result.p2p_route),
        "bounce_route": route_dict(result.bounce_route),
        "notes": list(result.notes),
    }
