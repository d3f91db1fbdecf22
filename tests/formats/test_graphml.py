"""``p2ptui convert X out.graphml``: the fabric as a graph, read back with networkx's own GraphML reader."""

from __future__ import annotations

from pathlib import Path

import networkx as nx
import pytest

from p2ptui.cli.main import main
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import bundled, find_bundled
from p2ptui.formats.writers import write_fabric


@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.name)
def test_every_function_and_link_reads_back(tmp_path: Path, entry) -> None:
    fabric = load_fabric(entry.path)
    out = tmp_path / "fabric.graphml"
    assert write_fabric(fabric, out) == "graphml"
    graph = nx.read_graphml(out)

    roots = {f"root {rb}" for rb in fabric.root_buses}
    assert set(graph.nodes) == {str(d.bdf) for d in fabric.devices} | roots
    assert graph.graph["name"] == fabric.name
    assert graph.graph["unplaced"] == len(fabric.unplaced)
    for root in roots:
        assert graph.nodes[root]["kind"] == "root_bus"
    for dev in fabric.devices:
        node = graph.nodes[str(dev.bdf)]
        assert (node["name"], node["kind"]) == (dev.name, dev.kind.value)
        if dev.vendor_id is not None:
            assert int(node["vendor_id"], 16) == dev.vendor_id
        assert ("numa_node" in node) == (dev.numa_node is not None)  # unknown facts are absent, not "None"
        above = str(dev.parent) if dev.parent is not None else f"root {fabric.root_bus_of(dev)}"
        edge = graph.edges[above, str(dev.bdf)]
        assert edge["relation"] == "link"
        if dev.link is not None and dev.link.gen is not None:
            assert (edge["gen"], edge["width"]) == (dev.link.gen, dev.link.width)
        if dev.physfn is not None:
            assert graph.edges[str(dev.physfn), str(dev.bdf)]["relation"] == "sriov"
    links = [e for e in graph.edges(data="relation") if e[2] == "link"]
    assert len(links) == len(fabric.devices)  # one upstream edge per function: the tree, nothing more


def test_pools_and_acs_flatten_to_scalars(tmp_path: Path) -> None:
    fabric = load_fabric(find_bundled("nvmeof-target"))
    out = tmp_path / "t.graphml"
    write_fabric(fabric, out)
    graph = nx.read_graphml(out)
    pools = [d for d in fabric.devices if d.pool is not None]
    assert pools, "nvmeof-target has a P2P memory provider"
    for dev in pools:
        node = graph.nodes[str(dev.bdf)]
        assert (node["p2pmem_size"], node["p2pmem_published"]) == (dev.pool.size, dev.pool.published)
    bridges = [d for d in fabric.devices if d.acs.present]
    assert bridges
    for dev in bridges:
        assert graph.nodes[str(dev.bdf)]["acs_source"] == dev.acs.source.value


def test_convert_writes_graphml(tmp_path: Path, capsys) -> None:
    out = tmp_path / "sriov.graphml"
    assert main(["convert", "sriov-nic", str(out)]) == 0
    assert "graphml" in capsys.readouterr().out
    graph = nx.read_graphml(out)
    vfs = [(u, v) for u, v, relation in graph.edges(data="relation") if relation == "sriov"]
    assert vfs, "sriov-nic has VFs"
    assert all(graph.nodes[u]["kind"] == graph.nodes[v]["kind"] for u, v in vfs)  # a VF is what its PF is
