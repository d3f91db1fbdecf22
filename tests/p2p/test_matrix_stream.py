"""`matrix --json` and `--csv` written row by row give exactly the text the whole-matrix encoders gave, and the
class-kept arrays index like the numpy arrays they stand for."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

import numpy as np
import pytest
from unknown_switch import switch_of

from p2ptui.fabric.synth import random_fabric
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.p2p import report
from p2ptui.p2p.matrix import PairMatrix, pair_matrix
from p2ptui.p2p.matrix_stream import CSV_HEADER, write_matrix_csv, write_matrix_json
from p2ptui.p2p.profiles import profile_for


def whole_csv(m: PairMatrix) -> str:
    """The CSV as the command wrote it before streaming: csv.writer over every cell of the expanded arrays."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_HEADER)
    maps, topos = np.array(m.map_names(), dtype=object), np.array(m.topo_names(), dtype=object)
    distance = np.asarray(m.distance).tolist()
    certain = np.ones(maps.shape, dtype=bool) if m.certain is None else np.asarray(m.certain)
    clients = [(c.bdf, c.name) for c in m.cols]
    for i, prov in enumerate(m.rows):
        cells = zip(clients, maps[i].tolist(), distance[i], topos[i].tolist(), certain[i].tolist(), strict=True)
        writer.writerows([prov.bdf, prov.name, bdf, name, mt, d, t, c] for (bdf, name), mt, d, t, c in cells)
    return out.getvalue()


def assert_streams_match(m: PairMatrix) -> None:
    out = io.StringIO()
    write_matrix_json(m, out)
    assert out.getvalue() == json.dumps(report.matrix_json(m)) + "\n"
    json.loads(out.getvalue())  # and it is JSON
    out = io.StringIO()
    write_matrix_csv(m, out)
    assert out.getvalue() == whole_csv(m)


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.name)
def test_bundled_fabric_streams_as_before(entry):
    fabric = load_fabric(entry.path)
    assert_streams_match(pair_matrix(fabric))


def test_random_fabrics_with_unknown_facts_stream_as_before():
    uncertain = 0
    for seed in range(60):
        fabric = random_fabric(seed)
        for profile in (profile_for(fabric), profile_for(fabric, kernel="5.4", iommu="on")):
            m = pair_matrix(fabric, profile)
            uncertain += m.certain is not None
            assert_streams_match(m)
    assert uncertain > 10  # the "depends" cells and their outcomes list were exercised


def test_a_matrix_cut_to_plain_arrays_streams_too():
    """The TUI exports a cut of the matrix (kind filters) whose arrays are plain numpy: same encoders."""
    fabric = random_fabric(11, max_endpoints=30)
    m = pair_matrix(fabric, profile_for(fabric, kernel="5.4", iommu="on"))
    keep = list(range(0, len(m.rows), 2))
    ix = np.ix_(keep, keep)
    cut = replace(
        m,
        rows=[m.rows[i] for i in keep],
        cols=[m.cols[j] for j in keep],
        map_type=m.map_type[ix],
        distance=m.distance[ix],
        topo=m.topo[ix],
        certain=None if m.certain is None else m.certain[ix],
        alternatives=tuple((t[ix], d[ix]) for t, d in m.alternatives),
    )
    assert isinstance(cut.map_type, np.ndarray)
    assert_streams_match(cut)


def test_empty_matrix_streams():
    fabric = random_fabric(3)
    assert_streams_match(pair_matrix(fabric, endpoints=[]))


def test_class_array_indexes_like_the_dense_array():
    fabric = random_fabric(5, max_endpoints=30)
    m = pair_matrix(fabric)
    for arr in (m.map_type, m.distance, m.topo):
        dense = np.asarray(arr)
        n = dense.shape[0]
        rows, cols = [0, n - 1, 1], [n - 1, 0, 2]
        assert arr[1, 2] == dense[1, 2] and arr[n - 1, n - 1] == dense[n - 1, n - 1]
        assert np.array_equal(arr[2, cols], dense[2, cols])
        assert np.array_equal(arr[rows, 3], dense[rows, 3])
        assert np.array_equal(arr[rows, cols], dense[rows, cols])  # paired, as numpy pairs two index lists
        assert np.array_equal(arr[np.ix_(rows, cols)], dense[np.ix_(rows, cols)])
        assert np.array_equal(arr[1:4, cols], dense[1:4, cols])
        assert np.array_equal(arr[rows, 2:5], dense[rows, 2:5])
        assert np.array_equal(arr[2], dense[2]) and np.array_equal(arr.row(3), dense[3])
        assert np.array_equal(arr.T, dense.T)
        assert arr.shape == dense.shape and arr.tolist() == dense.tolist()


def test_a_cut_kept_per_class_streams_too():
    """ClassArray.take cuts rows and columns without expanding: the cut streams as its expansion would."""
    fabric = random_fabric(11, max_endpoints=30)
    m = pair_matrix(fabric, profile_for(fabric, kernel="5.4", iommu="on"))
    rows, cols = list(range(1, len(m.rows), 3)), list(range(0, len(m.cols), 2))
    cut = replace(
        m,
        rows=[m.rows[i] for i in rows],
        cols=[m.cols[j] for j in cols],
        map_type=m.map_type.take(rows, cols),
        distance=m.distance.take(rows, cols),
        topo=m.topo.take(rows, cols),
        certain=None if m.certain is None else m.certain.take(rows, cols),
        alternatives=tuple((t.take(rows, cols), d.take(rows, cols)) for t, d in m.alternatives),
    )
    assert np.array_equal(np.asarray(cut.distance), np.asarray(m.distance)[np.ix_(rows, cols)])
    assert_streams_match(cut)


def test_a_switch_of_unknown_acs_streams_as_before() -> None:
    """Every pair of drives depends on the ACS of their two downstream ports: the outcomes, encoded once per pair of
    classes, are the text each cell's own encoding gives."""
    m = pair_matrix(switch_of(40))
    assert m.certain is not None and len(m.uncertain_cells()) == 40 * 39
    assert_streams_match(m)
