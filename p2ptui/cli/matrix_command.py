"""matrix: the kernel's verdict for every pair of P2P endpoints, as a table that fits the terminal, JSON or CSV.

The text table has device names on both axes when it fits. When it does not, cells drop the topo -m class and the
columns are numbered as the rows are; when even that is too wide, the columns are printed in blocks, each block
with the row names again, so no line is wider than the terminal (70 columns or more stay readable).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import textwrap
from collections.abc import Callable, Iterable

from ..errors import Diagnostic, InputError
from ..fabric.endpoints import CLASS_NAMES, EndpointClass, p2p_endpoints, parse_only
from ..fabric.model import Fabric
from ..p2p.class_array import per_class_pair
from ..p2p.matrix import PairMatrix, pair_matrix
from ..p2p.matrix_stream import write_matrix_csv, write_matrix_json
from ..sources import open_fabric
from .arguments import path_argument
from .p2p_commands import MAP_LETTER, _profile, _profile_flags

MIN_WIDTH = 40
NAME_LIMIT = 16  # longer device names are cut with an ellipsis in the table (JSON and CSV keep them whole)
ELLIPSIS = "…"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("matrix", help="map type, distance and nvidia-smi class for every pair of P2P endpoints")
    p.add_argument("fabric", type=path_argument, metavar="FABRIC")
    _endpoint_flags(p)
    p.add_argument("--csv", action="store_true", help="one line per pair, as CSV (fields in the README)")
    p.add_argument(
        "--width",
        type=int,
        metavar="COLUMNS",
        help="lay the table out for this many columns (default: the terminal's width)",
    )
    _profile_flags(p)
    p.set_defaults(run=cmd_matrix)


def _endpoint_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--all",
        action="store_true",
        dest="all_functions",
        help="every function that is not a bridge, not only the P2P endpoints",
    )
    p.add_argument(
        "--only", metavar="CLASSES", help=f"only these endpoint classes, comma-separated: {','.join(CLASS_NAMES)}"
    )


def _only(args: argparse.Namespace) -> frozenset[EndpointClass] | None:
    if args.only is None:
        return None
    try:
        return parse_only(args.only)
    except ValueError as exc:
        raise InputError(Diagnostic(f"--only: {exc}")) from None


def cmd_matrix(args: argparse.Namespace) -> int:
    if args.json and args.csv:
        raise InputError(Diagnostic("--json and --csv exclude each other", hint="choose one output format"))
    if args.width is not None and args.width < MIN_WIDTH:
        raise InputError(Diagnostic(f"--width {args.width} is too narrow", hint=f"give {MIN_WIDTH} columns or more"))
    only = _only(args)
    fabric = open_fabric(args.fabric)
    chosen = p2p_endpoints(fabric, everything=args.all_functions, only=only)
    m = pair_matrix(fabric, _profile(fabric, args), chosen)
    if args.json:  # written as it is produced: 16,384 endpoints make gigabytes of JSON
        write_matrix_json(m, sys.stdout)
    elif args.csv:
        write_matrix_csv(m, sys.stdout)
    else:
        width = args.width if args.width is not None else shutil.get_terminal_size().columns
        print(render_matrix(fabric, m, max(width, MIN_WIDTH), everything=args.all_functions, only=only))
    return 0


def render_matrix(
    fabric: Fabric, m: PairMatrix, width: int, everything: bool = False, only: Iterable[EndpointClass] | None = None
) -> str:
    n = len(m.rows)
    total = len(fabric.endpoints())
    classes = f" ({', '.join(sorted(only))})" if only is not None else ""
    if everything:
        what = f"{n} functions{classes or ' (every function that is not a bridge)'}"
    else:
        hidden = f"; --all shows all {total}" if total > n and only is None else ""
        what = f"{n} P2P endpoints{classes} of {total} non-bridge functions{hidden}"
    lines = textwrap.wrap(f"{fabric.name}: {what}; kernel rules: {m.profile.label}", width, break_on_hyphens=False)
    if n == 0:
        more = not everything and total > 0
        lines.append("no endpoints to pair" + (" (--all lists every function that is not a bridge)" if more else ""))
        return "\n".join(lines)
    names = [_cut(d.name) for d in m.rows]
    full = _cells(m, _full_cell)
    label_width = max(len(s) for s in names)
    cell = max(max(len(c) for row in full for c in row), max(len(s) for s in names)) + 2
    if label_width + n * cell <= width:
        legend = (
            "rows: provider (exporter); columns: client (importer); cell: map type and distance / topo -m class. "
            f"{_map_legend()}. {TOPO_LEGEND}"
        )
        lines.extend(textwrap.wrap(legend, width, break_on_hyphens=False))
        lines.append(" " * label_width + "".join(f"{s:>{cell}}" for s in names))
        lines.extend(f"{names[i]:<{label_width}}" + "".join(f"{c:>{cell}}" for c in full[i]) for i in range(n))
        return "\n".join(lines)
    # Compact: numbered columns, cells without the topo -m class, and column blocks that fit the width.
    short = _cells(m, _short_cell)
    number_width = len(str(n - 1))
    label_width += number_width + 1
    labels = [f"{i:>{number_width}} {names[i]}" for i in range(n)]
    cell = max(max(len(c) for row in short for c in row), number_width) + 1
    per_block = max(1, (width - label_width) // cell)
    legend = (
        "rows: provider (exporter); columns: client (importer), numbered as the rows; cell: map type and "
        f"distance. {_map_legend()}. topo -m classes: --csv, --json or a wider terminal."
    )
    lines.extend(textwrap.wrap(legend, width, break_on_hyphens=False))
    for start in range(0, n, per_block):
        stop = min(n, start + per_block)
        if per_block < n:
            lines.append(f"columns {start}-{stop - 1}:" if stop - start > 1 else f"column {start}:")
        lines.append(" " * label_width + "".join(f"{j:>{cell}}" for j in range(start, stop)))
        lines.extend(
            f"{labels[i]:<{label_width}}" + "".join(f"{c:>{cell}}" for c in short[i][start:stop]) for i in range(n)
        )
    return "\n".join(lines)


TOPO_LEGEND = (
    "topo -m: X self, PIX one bridge, PXB several bridges, PHB a host bridge, NODE host bridges of one "
    "NUMA node, SYS across NUMA nodes."
)


def _map_legend() -> str:
    letters = ", ".join(f"{letter} {mt.value}" for mt, letter in MAP_LETTER.items())
    return f"{letters}; ? depends on facts the fabric does not give (worst outcome shown, --json lists each)"


def _cells(m: PairMatrix, text: Callable[[PairMatrix, int, int], str]) -> list[list[str]]:
    """Every cell's text, made once per pair of classes where the arrays allow it (per_class_pair): read cell by
    cell, 1,000 endpoints took 5 s."""
    n = len(m.rows)
    arrays = [m.map_type, m.distance, m.topo, *([m.certain] if m.certain is not None else [])]
    cell = per_class_pair(arrays, lambda i, j: text(m, i, j))
    return [[cell(i, j) for j in range(n)] for i in range(n)]


def _full_cell(m: PairMatrix, i: int, j: int) -> str:
    return f"{_short_cell(m, i, j)}/{m.topo_at(i, j).value}"


def _short_cell(m: PairMatrix, i: int, j: int) -> str:
    mark = "" if m.certain_at(i, j) else "?"
    return f"{MAP_LETTER[m.map_type_at(i, j)]}{int(m.distance[i, j])}{mark}"


def _cut(name: str) -> str:
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 1] + ELLIPSIS
