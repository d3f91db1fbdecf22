"""The writers behind ``p2ptui convert``: YAML that loads back equal, JSON of the flat model, and Graphviz DOT."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from real_data import require

from p2ptui.errors import InputError
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.formats.writers import dumps_dot, dumps_json, format_for, write_fabric
from p2ptui.sources import hwloc, lspci, nccl

DATA = require()
LOADERS = {"hwloc": hwloc.load, "nccl": nccl.load, "lspci": lspci.load}
SAMPLES = [
    ("hwloc", DATA / "hwloc" / "nvidiaDGX2.xml"),
    ("hwloc", DATA / "hwloc" / "16intel64-manyVFs.xml"),
    ("nccl", DATA / "nccl" / "p4d-24xl-topo.xml"),
    ("nccl", DATA / "nccl" / "ndv4-topo.xml"),
    ("lspci", DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.md"),
]
_NODE = re.compile(r'^\s+"(?P<id>[^"]+)" \[(?:shape=ellipse, )?label=')
_EDGE = re.compile(r'^\s+"(?P<a>[^"]+)" -> "(?P<b>[^"]+)"(?P<vf> \[style=dashed)?')


def sample_id(sample) -> str:
    return sample[1].name


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_yaml_output_loads_back_equal(tmp_path: Path, sample) -> None:
    fabric = LOADERS[sample[0]](sample[1])
    for name in ("out.yaml", "out.YML"):
        assert write_fabric(fabric, tmp_path / name) == "yaml"
        assert load_fabric(tmp_path / name) == fabric


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_json_output_is_the_flat_model(tmp_path: Path, sample) -> None:
    fabric = LOADERS[sample[0]](sample[1])
    assert write_fabric(fabric, tmp_path / "out.json") == "json"
    data = json.loads((tmp_path / "out.json").read_text())
    assert [d["bdf"] for d in data["devices"]] == [str(d.bdf) for d in fabric]
    assert [d["parent"] for d in data["devices"]] == [str(d.parent) if d.parent else None for d in fabric]
    assert data["notes"] == list(fabric.notes)
    assert [rb["bus"] for rb in data["root_buses"]] == [str(rb) for rb in fabric.root_buses]


@pytest.mark.parametrize("sample", SAMPLES, ids=sample_id)
def test_dot_output_draws_every_function_and_tree_edge(tmp_path: Path, sample) -> None:
    fabric = LOADERS[sample[0]](sample[1])
    text = dumps_dot(fabric)
    nodes, edges, vf_edges = set(), set(), set()
    for line in text.splitlines():
        if m := _EDGE.match(line):
            (vf_edges if m["vf"] else edges).add((m["a"], m["b"]))
        elif m := _NODE.match(line):
            nodes.add(m["id"])
    roots = {f"root {rb}" for rb in fabric.root_buses}
    assert nodes == {str(d.bdf) for d in fabric} | roots
    expected = {(str(d.parent) if d.parent else f"root {fabric.root_bus_of(d)}", str(d.bdf)) for d in fabric}
    assert edges == expected
    assert vf_edges == {(str(d.physfn), str(d.bdf)) for d in fabric if d.physfn is not None}
    assert text.count("subgraph cluster_") == len(fabric.root_buses)


def test_dot_quotes_names_and_products_safely() -> None:
    fabric = load_fabric(bundled()[0].path)
    dev = fabric.devices[-1]
    odd = fabric.with_devices([dataclasses.replace(dev, product='say "hi" \\ there\nnext')])
    text = dumps_dot(odd)
    assert 'say \\"hi\\" \\\\ there\\nnext' in text
    assert "\nnext" not in text


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz is not installed")
def test_graphviz_accepts_the_dot_output(tmp_path: Path) -> None:
    for kind, path in SAMPLES[:3]:
        (tmp_path / "f.gv").write_text(dumps_dot(LOADERS[kind](path)))
        result = subprocess.run(["dot", "-Tsvg", str(tmp_path / "f.gv")], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        assert "<svg" in result.stdout


def test_vf_edges_for_sriov_fabrics() -> None:
    fabric = next(load_fabric(e.path) for e in bundled() if e.name == "sriov-nic")
    vfs = [d for d in fabric if d.physfn is not None]
    assert vfs
    text = dumps_dot(fabric)
    for vf in vfs:
        assert f'"{vf.physfn}" -> "{vf.bdf}" [style=dashed' in text
    assert json.loads(dumps_json(fabric))["devices"][-1]["bdf"] == str(fabric.devices[-1].bdf)


@pytest.mark.parametrize("name", ["out.txt", "out", "out.yaml.bak", "out.svg"])
def test_unknown_extension_is_an_input_error(tmp_path: Path, name: str) -> None:
    with pytest.raises(InputError) as info:
        format_for(tmp_path / name)
    [diag] = info.value.diagnostics
    assert "cannot tell the output format" in diag.message and ".yaml" in diag.hint


def test_unwritable_target_is_an_input_error_and_leaves_nothing(tmp_path: Path) -> None:
    fabric = load_fabric(bundled()[0].path)
    with pytest.raises(InputError, match="cannot write"):
        write_fabric(fabric, tmp_path / "missing-dir" / "out.json")
    target = tmp_path / "is-a-dir.json"
    target.mkdir()
    with pytest.raises(InputError, match="cannot write"):
        write_fabric(fabric, target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["is-a-dir.json"]
