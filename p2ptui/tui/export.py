"""What the TUI hands out: the verdict as `p2ptui check` prints it, a device's details as text, the matrix as CSV
and JSON files, and where files go. Textual-free; the texts come from the presentation layer and the core's
reports, the same renderers the CLI prints with, so the TUI and the command line can never disagree."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..fabric.model import Device, Fabric
from ..formats.safe_write import open_output
from ..p2p.class_array import ClassArray
from ..p2p.gate import ExpertMode
from ..p2p.matrix import PairMatrix
from ..p2p.matrix_stream import write_matrix_csv, write_matrix_json
from ..p2p.verdict import Verdict
from ..present.device import device_rows
from ..present.rows import rows_text
from ..present.verdict import check_text


def export_dir(configured: str | os.PathLike | None) -> Path:
    """Where screenshots and exports go: the configured directory, else the current one (which always exists,
    unlike ~/Downloads on a server)."""
    return Path(configured).expanduser() if configured else Path.cwd()


def verdict_text(fabric: Fabric, verdict: Verdict, expert: bool) -> str:
    return check_text(fabric, verdict, ExpertMode.from_tui(expert))


def device_text(fabric: Fabric, dev: Device, acs_redirect: bool | None) -> str:
    """The detail pane as plain text, as ``p2ptui describe`` prints it: one "key  value" line per row."""
    return rows_text(device_rows(fabric, dev, acs_redirect))


def sub_matrix(m: PairMatrix, rows: list[int], cols: list[int]) -> PairMatrix:
    """The pairs of these rows and columns (what a kind filter shows), as a matrix of its own. Arrays kept per
    endpoint class stay so (nothing is expanded); plain arrays are cut."""
    ix = np.ix_(rows, cols)

    def cut(a):
        return a.take(rows, cols) if isinstance(a, ClassArray) else a[ix]

    return replace(
        m,
        rows=[m.rows[i] for i in rows],
        cols=[m.cols[j] for j in cols],
        map_type=cut(m.map_type),
        distance=cut(m.distance),
        topo=cut(m.topo),
        certain=None if m.certain is None else cut(m.certain),
        alternatives=tuple((cut(t), cut(d)) for t, d in m.alternatives),
    )


def write_matrix_files(m: PairMatrix, directory: Path, stem: str) -> list[str]:
    """``stem``.csv and ``stem``.json in ``directory``: the bytes `p2ptui matrix --csv` and `--json` print, streamed
    by the same writers (p2p/matrix_stream.py) into a temporary file renamed into place (formats/safe_write.py), so
    the text never exists whole in memory and a failed export leaves no half-written file. The paths written, in
    order; InputError for a file that cannot be written (the files before it are kept)."""
    written = []
    for suffix, write in ((".csv", write_matrix_csv), (".json", write_matrix_json)):
        path = (directory / f"{stem}{suffix}").resolve()
        with open_output(path, overwrite=True) as out:
            write(m, out)
        written.append(str(path))
    return written
