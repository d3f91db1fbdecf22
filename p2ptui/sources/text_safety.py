"""Fabric text that every writer accepts: strings carrying bytes that were not UTF-8 (file names in another
encoding end up in descriptions, driver link names in device fields) are escaped as ``\\xNN``, so that printing,
YAML, JSON and DOT never fail on them and what is written reads back to the same fabric."""

from __future__ import annotations

import dataclasses

from ..fabric.model import Fabric


def printable(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "surrogateescape" if _escaped_bytes_only(text) else "backslashreplace").decode(
            "utf-8", "backslashreplace"
        )


def _escaped_bytes_only(text: str) -> bool:
    """Surrogates U+DC80..U+DCFF are bytes os.fsdecode could not decode; other lone surrogates are not bytes."""
    return all(not 0xD800 <= ord(c) <= 0xDFFF or 0xDC80 <= ord(c) <= 0xDCFF for c in text)


def _cleaned(record, fields: tuple[str, ...]):
    changes = {f: printable(getattr(record, f)) for f in fields if isinstance(getattr(record, f), str)}
    changes = {f: v for f, v in changes.items() if v is not getattr(record, f)}
    return dataclasses.replace(record, **changes) if changes else record


def printable_fabric(fabric: Fabric) -> Fabric:
    """``fabric`` itself when all its text is valid Unicode (the usual case, checked cheaply); else a copy with
    the offending strings escaped."""
    strings = [
        fabric.name,
        fabric.description,
        *fabric.notes,
        fabric.host.cpu_vendor or "",
        fabric.host.cpu_model or "",
        fabric.host.kernel or "",
        fabric.host.cmdline,
        fabric.host.arch,
    ]
    strings += [rb.host_bridge for rb in fabric.root_buses]
    strings += [s for d in fabric.devices + fabric.unplaced for s in (d.name, d.product or "", d.driver or "")]
    if all(printable(s) is s for s in strings):
        return fabric
    return dataclasses.replace(
        fabric,
        name=printable(fabric.name),
        root_buses=tuple(_cleaned(rb, ("host_bridge",)) for rb in fabric.root_buses),
        devices=tuple(_cleaned(d, ("name", "product", "driver")) for d in fabric.devices),
        unplaced=tuple(_cleaned(d, ("name", "product", "driver")) for d in fabric.unplaced),
        host=_cleaned(fabric.host, ("cpu_vendor", "cpu_model", "kernel", "cmdline", "arch")),
        description=printable(fabric.description),
        notes=tuple(printable(n) for n in fabric.notes),
    )
