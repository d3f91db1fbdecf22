"""`matrix --json` and `--csv` written row by row, so the output never exists whole in memory.

Rows of one endpoint class are the same text but where a function meets itself (p2p/class_array.py), so each class's
row is encoded once and each of its rows is that text with the self cell patched in: the work per row is a copy of
the text, not an encoding of every cell. The JSON is byte for byte what ``json.dumps(report.matrix_json(m))`` gives
(same keys, order and separators); the CSV what csv.writer gives, one line per pair.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from typing import TextIO

import numpy as np

from .class_array import ClassArray, as_class_array, per_class_pair
from .matrix import MAP_TYPES, PairMatrix
from .report import profile_json
from .topo import TOPO_CLASSES

CSV_HEADER = ["provider", "provider_name", "client", "client_name", "map_type", "distance", "topo", "certain"]
_MAP_NAMES = [m.value for m in MAP_TYPES]
_TOPO_NAMES = [t.value for t in TOPO_CLASSES]


def write_matrix_json(m: PairMatrix, out: TextIO) -> None:
    """The matrix as one JSON object (fields in the README), a row at a time, then a newline."""
    out.write('{"devices": ' + json.dumps([str(d.bdf) for d in m.rows]))
    out.write(', "names": ' + json.dumps([d.name for d in m.rows]))
    out.write(', "map_type": ')
    _write_list(out, _json_rows(m.map_type, lambda code: _MAP_NAMES[code]))
    out.write(', "distance": ')
    _write_list(out, _json_rows(m.distance, int))
    out.write(', "topo": ')
    _write_list(out, _json_rows(m.topo, lambda code: _TOPO_NAMES[code]))
    out.write(', "certain": ')
    if m.certain is None:
        out.write("true")
    else:
        _write_list(out, _json_rows(m.certain, bool))
    out.write(', "outcomes": ')
    _write_list(out, _json_outcomes(m))
    out.write(', "profile": ' + json.dumps(profile_json(m.profile)) + "}\n")


def write_matrix_csv(m: PairMatrix, out: TextIO) -> None:
    """One CSV line per pair (fields in CSV_HEADER), a provider's row of pairs at a time."""
    out.write(_csv_line(CSV_HEADER))
    if not m.cols:
        return
    given = [m.map_type, m.distance, m.topo] + ([m.certain] if m.certain is not None else [])
    first = given[0]
    shared = isinstance(first, ClassArray) and all(isinstance(a, ClassArray) and a.same_cells_as(first) for a in given)
    if not shared:  # cut from another matrix (tui/export.py): dense, every row its own class
        given = [np.asarray(a) for a in given]
    arrays = [as_class_array(a) for a in given[:3]]
    certain = as_class_array(given[3]) if len(given) > 3 else None
    # Each column's "client,client_name," part, and per cell "map_type,distance,topo,certain\n".
    clients = np.array([_csv_line([str(d.bdf), d.name])[:-1] + "," for d in m.cols], dtype=object)

    def cell_texts(codes: list[np.ndarray]) -> np.ndarray:
        stacked = np.stack([c.astype(np.int64) for c in codes])
        uniq, inverse = np.unique(stacked, axis=1, return_inverse=True)
        texts = np.array(
            [f"{_MAP_NAMES[a]},{b},{_TOPO_NAMES[c]},{bool(d)}\n" for a, b, c, d in zip(*uniq.tolist(), strict=True)],
            dtype=object,
        )
        return texts[inverse.reshape(-1)]

    if certain is None:  # every cell certain: a column of "True" the shape of the others
        certain = arrays[0].like(np.ones(arrays[0].table.shape, dtype=bool))
    arrays.append(certain)
    meetings = _Meetings(arrays[0])
    current: int | None = None
    for i, prov in enumerate(m.rows):
        cls = int(arrays[0].row_class[i])
        if cls != current:
            current = cls
            lines = clients + cell_texts([a.table[cls, a.col_class] for a in arrays])
            self_text = cell_texts([a.table[cls, a.self_column : a.self_column + 1] for a in arrays])[0]
        meets = meetings.columns(i)
        parts = lines
        if len(meets):
            parts = lines.copy()
            parts[meets] = clients[meets] + self_text
        prefix = _csv_line([str(prov.bdf), prov.name])[:-1] + ","
        out.write(prefix + prefix.join(parts.tolist()))


class _Meetings:
    """Where each row's function meets itself among the columns (the cells a class's row text does not give)."""

    def __init__(self, arr: ClassArray) -> None:
        self.row_dev = arr.row_dev
        self.order = np.argsort(arr.col_dev, kind="stable")
        self.col_devs = arr.col_dev[self.order]

    def columns(self, i: int) -> np.ndarray:
        dev = self.row_dev[i]
        lo, hi = np.searchsorted(self.col_devs, dev), np.searchsorted(self.col_devs, dev, side="right")
        return np.sort(self.order[lo:hi])


def _json_rows(array: ClassArray | np.ndarray, value: Callable) -> Iterator[str]:
    """Each row as a JSON list: the class's row text (and where its cells start and end) built once per class,
    then copied per row with the self cell put in."""
    arr = as_class_array(array)
    meetings = _Meetings(arr)
    current: int | None = None
    text, self_text = "", ""
    starts = ends = np.zeros(0, dtype=np.int64)
    for i in range(arr.shape[0]):
        cls = int(arr.row_class[i])
        if cls != current:
            current = cls
            uniq, inverse = np.unique(arr.table[cls, arr.col_class], return_inverse=True)
            encoded = [json.dumps(value(v)) for v in uniq.tolist()]
            lengths = np.array([len(t) for t in encoded], dtype=np.int64)[inverse.reshape(-1)]
            ends = np.cumsum(lengths + 2) - 2  # ", " between cells
            starts = ends - lengths
            text = ", ".join(np.array(encoded, dtype=object)[inverse.reshape(-1)].tolist())
            self_text = json.dumps(value(arr.table[cls, arr.self_column].item()))
        meets = meetings.columns(i)
        if not len(meets):
            yield "[" + text + "]"
            continue
        pieces, done = ["["], 0
        for j in meets.tolist():
            pieces += [text[done : int(starts[j])], self_text]
            done = int(ends[j])
        pieces += [text[done:], "]"]
        yield "".join(pieces)


def _json_outcomes(m: PairMatrix) -> Iterator[str]:
    """Each uncertain cell's outcomes, encoded once per pair of classes where the tables allow (per_class_pair):
    cell by cell, every cell read every evaluated table."""
    tables = [m.certain, *(a for pair in m.alternatives for a in pair)]
    outcomes = per_class_pair(
        tables, lambda i, j: json.dumps([{"map_type": t.value, "distance": d} for t, d in m.outcomes_at(i, j)])
    )
    for i in range(len(m.rows)):
        for j in m.uncertain_in_row(i):
            yield f'{{"row": {i}, "col": {j}, "outcomes": {outcomes(i, j)}}}'  # what json.dumps writes for the cell


def _write_list(out: TextIO, items: Iterator[str]) -> None:
    """A JSON list from already-encoded items, written as they come."""
    out.write("[")
    for k, item in enumerate(items):
        if k:
            out.write(", ")
        out.write(item)
    out.write("]")


def _csv_line(fields: list[str]) -> str:
    """What csv.writer writes for these fields (its quoting), newline included."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(fields)
    return buf.getvalue()
