"""A rows x columns array kept as a table over classes of rows and columns, expanded only where it is read.

Endpoints that hang from the fabric the same way get identical rows and columns in the pair matrix (see
p2p/endpoint_classes.py), except where a function meets itself. So a cell is ``table[row_class[i], col_class[j]]``,
and ``table[row_class[i], K]`` (one extra column past the K classes) when row i and column j are the same function.
A 16,384-endpoint matrix of 512 classes is then a 512 x 513 table and a few index vectors instead of 268 M cells.

Indexing follows numpy's rules for what the matrix's readers use: two integers give a scalar, an integer and a list or
slice give a vector, ``np.ix_`` or two slices give a block; ``np.asarray`` expands all of it (small matrices, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import numpy as np

T = TypeVar("T")


class ClassArray:
    """Cells of a rows x cols matrix stored per (row class, column class); the last table column is "itself"."""

    ndim = 2

    def __init__(
        self,
        table: np.ndarray,
        row_class: np.ndarray,
        col_class: np.ndarray,
        row_dev: np.ndarray,
        col_dev: np.ndarray,
    ) -> None:
        self.table = table  # K x (K + 1): class pairs, then each class against itself; rows and columns share
        # one numbering of classes, so the table is square but for that last column
        self.row_class = row_class
        self.col_class = col_class
        self.row_dev = row_dev  # device index of each row and column: equal ones meet themselves
        self.col_dev = col_dev
        self.self_column = table.shape[1] - 1

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.row_class), len(self.col_class))

    @property
    def dtype(self) -> np.dtype:
        return self.table.dtype

    def __len__(self) -> int:
        return len(self.row_class)

    def like(self, table: np.ndarray) -> ClassArray:
        """Another array with these rows and columns and cells from ``table``."""
        return ClassArray(table, self.row_class, self.col_class, self.row_dev, self.col_dev)

    def take(self, rows, cols) -> ClassArray:
        """These rows and columns (index lists), still kept per class: a cut of the matrix costs its index vectors."""
        rows, cols = np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)
        return ClassArray(
            self.table, self.row_class[rows], self.col_class[cols], self.row_dev[rows], self.col_dev[cols]
        )

    def same_cells_as(self, other: ClassArray) -> bool:
        """Do both index their tables with the same classes and functions (so one row class means one row text)?"""
        return (
            all(
                np.array_equal(a, b)
                for a, b in (
                    (self.row_class, other.row_class),
                    (self.col_class, other.col_class),
                    (self.row_dev, other.row_dev),
                    (self.col_dev, other.col_dev),
                )
            )
            and self.table.shape[0] == other.table.shape[0]
        )

    def row(self, i: int) -> np.ndarray:
        """Row i expanded: one vector of the columns' length."""
        return self[i, :]

    def __getitem__(self, key):
        r, c = key if isinstance(key, tuple) else (key, slice(None))
        if _is_int(r) and _is_int(c):  # the common case (a cell lookup) without building arrays
            column = self.self_column if self.row_dev[r] == self.col_dev[c] else self.col_class[c]
            return self.table[self.row_class[r], column]
        r_class, r_dev = self.row_class[_index(r)], self.row_dev[_index(r)]
        c_class, c_dev = self.col_class[_index(c)], self.col_dev[_index(c)]
        if (isinstance(r, slice) or isinstance(c, slice)) and np.ndim(r_class) and np.ndim(c_class):
            r_class, r_dev = r_class[:, None], r_dev[:, None]  # a slice selects an axis: an outer product, as numpy
        column = np.where(r_dev == c_dev, self.self_column, c_class)
        return self.table[r_class, column]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self[:, :]
        return out if dtype is None else out.astype(dtype)

    def tolist(self) -> list:
        return np.asarray(self).tolist()

    @property
    def T(self) -> ClassArray | np.ndarray:  # noqa: N802 - numpy's name for the transpose
        if self.table.shape[0] != self.self_column:  # not one numbering of row and column classes: expand
            return np.asarray(self).T
        return ClassArray(_transposed(self.table), self.col_class, self.row_class, self.col_dev, self.row_dev)

    def __eq__(self, other):
        return np.asarray(self) == np.asarray(other)

    def __ne__(self, other):
        return np.asarray(self) != np.asarray(other)

    __hash__ = None  # type: ignore[assignment]


def per_class_pair(arrays: list, make: Callable[[int, int], T]) -> Callable[[int, int], T]:
    """``make(i, j)`` for cell (i, j), made once per pair of classes when every one of ``arrays`` is a ClassArray over
    one indexing (a cell's value in each is then decided by the row's class and the column's, or the row's own for
    a function against itself); ``make`` itself otherwise (some array is plain numpy). Views that write every cell
    use it instead of reading every array at every cell (1,000 endpoints of unknown ACS: 4 s a million cells, then
    0.2 s)."""
    first = arrays[0] if arrays else None
    if not isinstance(first, ClassArray) or not all(
        isinstance(a, ClassArray) and a.same_cells_as(first) for a in arrays
    ):
        return make
    row_class, col_class = first.row_class.tolist(), first.col_class.tolist()
    row_dev, col_dev = first.row_dev.tolist(), first.col_dev.tolist()
    own = first.self_column
    made: dict[tuple[int, int], T] = {}

    def cell(i: int, j: int) -> T:
        key = row_class[i], own if row_dev[i] == col_dev[j] else col_class[j]
        if key not in made:
            made[key] = make(i, j)
        return made[key]

    return cell


def _transposed(table: np.ndarray) -> np.ndarray:
    """The class table of the transpose: class pairs swap, each class against itself stays."""
    k = table.shape[0]
    out = np.empty_like(table)
    out[:, :k] = table[:, :k].T
    out[:, k] = table[:, k]
    return out


def _is_int(x) -> bool:
    return isinstance(x, int | np.integer)


def _index(x):
    return x if isinstance(x, int | np.integer | slice) else np.asarray(x)


def as_class_array(a: ClassArray | np.ndarray) -> ClassArray:
    """``a`` itself, or a dense array as a ClassArray whose every row and column is a class of its own (one table row
    per row; no cell meets itself, so the extra column is never read)."""
    if isinstance(a, ClassArray):
        return a
    dense = np.asarray(a)
    rows, cols = dense.shape
    table = np.concatenate([dense, np.zeros((rows, 1), dtype=dense.dtype)], axis=1)
    return ClassArray(table, np.arange(rows), np.arange(cols), np.arange(rows), -1 - np.arange(cols))
