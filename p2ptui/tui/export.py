"""What the TUI hands out: the verdict as `p2ptui check` prints it, a device's details as text, the matrix as CSV
or JSON, and where files go. Textual-free; the verdict text and the matrix JSON come from the CLI's and the core's
own renderers, so the TUI and the command line can never disagree."""

from __future__ import annotations

import csv
import io
import json
import os
from pathlib import Path

import numpy as np

from ..cli.p2p_commands import check_text
from ..fabric.model import Device, Fabric
from ..p2p import report
from ..p2p.gate import ExpertMode
from ..p2p.matrix import PairMatrix
from ..p2p.verdict import Verdict
from .describe import device_rows
from .styled import plain


def export_dir(configured: str | os.PathLike | None) -> Path:
    """Where screenshots and exports go: the configured directory, else the current one (which always exists,
    unlike ~/Downloads on a server)."""
    return Path(configured).expanduser() if configured else Path.cwd()


def verdict_text(fabric: Fabric, verdict: Verdict, expert: bool) -> str:
    return check_text(fabric, verdict, ExpertMode.from_tui(expert))


def device_text(fabric: Fabric, dev: Device, acs_redirect: bool | None) -> str:
    """The detail pane as plain text: one "key  value" line per row."""
    lines = []
    for key, parts in device_rows(fabric, dev, acs_redirect):
        lines.append(f"{key:<12} {plain(parts)}".rstrip())
    return "\n".join(lines)


def sub_matrix(m: PairMatrix, rows: list[int], cols: list[int]) -> PairMatrix:
    """The pairs of these rows and columns (what a kind filter shows), as a matrix of its own."""
    ix = np.ix_(rows, cols)
    return PairMatrix([m.rows[i] for i in rows], [m.cols[j] for j in cols], m.map_type[ix], m.distance[ix],
                      m.topo[ix], m.profile)  # fmt: skip


def matrix_csv(m: PairMatrix) -> str:
    """One row per exporter, one column per importer; each cell "MAP_TYPE distance topo", e.g. "BUS_ADDR 4 PIX"."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["exporter \\ importer", *(f"{d.name} {d.bdf}" for d in m.cols)])
    for i, dev in enumerate(m.rows):
        writer.writerow([f"{dev.name} {dev.bdf}", *(f"{m.map_type_at(i, j).value} {int(m.distance[i, j])} "
                                                    f"{m.topo_at(i, j).value}" for j in range(len(m.cols)))])
    return out.getvalue()


def matrix_json_text(m: PairMatrix) -> str:
    """The same JSON as `p2ptui matrix --json`."""
    return json.dumps(report.matrix_json(m))
