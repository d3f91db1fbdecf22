"""fleet diff: trees aligned by structure and identity, drift found and explained whatever the bus numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from p2ptui.cli.main import main
from p2ptui.fleet.align import FabricTree, align
from p2ptui.fleet.drift import DriftKind, node_drift
from p2ptui.fleet.fleet import diff_fleet
from p2ptui.fleet.snapshots import NodeResult, Status, write_manifest
from p2ptui.fleet.synth import amd_host, dgx_spec, write_node
from p2ptui.sources import sysfs
from p2ptui.sources.sysfs_synth import tar_root

VARIANTS = {
    "node01": {},
    "node02": {},
    "node03": {"shift": 8, "redirect_port": 0},
    "node04": {"shift": 4, "narrow_gpu": 5},
    "node05": {},
    "node06": {"missing_nic": 1},
    "node07": {"extra_nvme": 2},
    "node08": {"shift": 8, "redirect_port": 0},
    "node09": {"shift": 2},
}


@pytest.fixture(scope="module")
def fleet_dir(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("fleet")
    out = base / "fleet"
    out.mkdir()
    for node, knobs in VARIANTS.items():
        root = write_node(base / "roots" / node, dgx_spec(**knobs), amd_host())
        tar_root(root, out / f"{node}.tar.gz")
    return out


def load(fleet_dir: Path, node: str):
    return sysfs.load(fleet_dir / f"{node}.tar.gz")


def test_renumbered_node_aligns_with_no_drift(fleet_dir: Path):
    ref, shifted = FabricTree(load(fleet_dir, "node01")), FabricTree(load(fleet_dir, "node09"))
    assert ref.shape == shifted.shape
    alignment = align(ref, shifted)
    assert not alignment.missing and not alignment.extra
    pairs = {str(r.bdf): str(n.bdf) for r, n in alignment.device_pairs()}
    assert pairs["0000:03:00.0"] == "0000:05:00.0"  # gpu0 two buses up
    assert node_drift(ref, shifted) == []


def test_acs_redirect_is_found_and_explained_across_renumbering(fleet_dir: Path):
    drifts = node_drift(FabricTree(load(fleet_dir, "node01")), FabricTree(load(fleet_dir, "node03")))
    acs = [d for d in drifts if d.kind is DriftKind.ACS]
    assert [(d.subject, d.detail, d.here) for d in acs] == [
        ("dsp0 0000:02:00.0", "ACS control SV RR CR (redirect), reference none set", "0000:0a:00.0")
    ]
    p2p = {d.subject: d for d in drifts if d.kind is DriftKind.P2P}
    assert set(p2p) == {"gpu0 → gpu1", "gpu0 → mlx5_0", "gpu0 → nvme0"}
    assert p2p["gpu0 → mlx5_0"].detail == (
        "BUS_ADDR on the reference, THRU_HOST_BRIDGE here: ACS RR CR set on dsp0 0000:02:00.0"
    )
    assert p2p["gpu0 → mlx5_0"].here == "0000:0b:00.0 → 0000:0d:00.0"


def test_narrow_gpu_link_is_found_across_renumbering(fleet_dir: Path):
    drifts = node_drift(FabricTree(load(fleet_dir, "node01")), FabricTree(load(fleet_dir, "node04")))
    assert [(d.kind, d.subject, d.detail, d.here) for d in drifts] == [
        (DriftKind.LINK, "gpu5 0000:84:00.0", "link gen4 x8, reference gen4 x16, capable gen4 x16", "0000:88:00.0")
    ]


def test_missing_and_extra_devices_name_what_went(fleet_dir: Path):
    ref = FabricTree(load(fleet_dir, "node01"))
    missing = node_drift(ref, FabricTree(load(fleet_dir, "node06")))
    assert [(d.kind, d.subject, d.detail) for d in missing] == [
        (
            DriftKind.MISSING,
            "dsp6 0000:42:02.0",
            "switch_downstream [10b5:8796] missing, with 1 function below it (nic mlx5_1)",
        )
    ]
    extra = node_drift(ref, FabricTree(load(fleet_dir, "node07")))
    assert [(d.kind, d.subject, d.here) for d in extra] == [
        (DriftKind.EXTRA, "under usp2 0000:81:00.0", "0000:82:04.0")
    ]


def test_fleet_groups_alike_nodes_and_picks_the_most_common_shape(fleet_dir: Path):
    diff = diff_fleet(fleet_dir)
    assert diff.reference == "node01"
    assert diff.reference_why == "the most common shape: 7 of 9 nodes"
    assert diff.matching == ["node01", "node02", "node05", "node09"]
    assert [g.nodes for g in diff.groups] == [["node03", "node08"], ["node04"], ["node06"], ["node07"]]


def test_cli_text_folds_nodes_and_exits_1_on_drift(fleet_dir: Path, capsys):
    assert main(["fleet", "diff", str(fleet_dir)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "9 nodes compared: 4 match the reference (node[01-02,05,09]), 5 drifted in 4 groups"
    assert "node[03,08] (2 nodes)" in out
    assert "  link     gpu5 0000:84:00.0: link gen4 x8, reference gen4 x16, capable gen4 x16 (here 0000:88:00.0)" in out


def test_cli_json_and_a_given_reference(fleet_dir: Path, capsys):
    assert main(["fleet", "diff", str(fleet_dir), "--reference", "node03", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["reference"] == "node03"
    # Against node03, the nodes without redirect are the ones that drift in ACS: node08 matches.
    assert data["matching"] == "node[03,08]"
    assert data["kinds"]["acs"] == 7


def test_reference_fabric_file_and_no_drift_exit_0(fleet_dir: Path, tmp_path: Path, capsys):
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.tar.gz").write_bytes((fleet_dir / "node01.tar.gz").read_bytes())
    (one / "b.tar.gz").write_bytes((fleet_dir / "node09.tar.gz").read_bytes())
    assert main(["fleet", "diff", str(one), "--reference", str(fleet_dir / "node02.tar.gz")]) == 0
    assert "2 match the reference (a,b), 0 drifted" in capsys.readouterr().out


def test_not_collected_and_unreadable_nodes_are_listed_not_compared(fleet_dir: Path, tmp_path: Path, capsys):
    d = tmp_path / "d"
    d.mkdir()
    (d / "n1.tar.gz").write_bytes((fleet_dir / "node01.tar.gz").read_bytes())
    (d / "n2.tar.gz").write_bytes(b"not a tarball")
    write_manifest(d, [NodeResult("n3", Status.FAILED, "timeout after 5 s")])
    assert main(["fleet", "diff", str(d)]) == 0
    out = capsys.readouterr().out
    assert "not compared: n3: not collected: timeout after 5 s" in out
    assert "not compared: n2: unreadable:" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["fleet", "diff", "/nonexistent/fleet"], "not a fleet directory"),
        (["fleet", "diff", "."], "no node fabrics here"),
        (["fleet", "diff", "FLEET", "--reference", "nosuchnode"], "nosuchnode"),
    ],
)
def test_bad_input_exits_2(argv, message, fleet_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    argv = [str(fleet_dir) if a == "FLEET" else a for a in argv]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_two_fabrics_for_one_node_is_bad_input(fleet_dir: Path, tmp_path: Path, capsys):
    d = tmp_path / "dup"
    d.mkdir()
    (d / "n1.tar.gz").write_bytes((fleet_dir / "node01.tar.gz").read_bytes())
    (d / "n1.yaml").write_text("format: p2ptui-fabric/1\n")
    assert main(["fleet", "diff", str(d)]) == 2
    assert "two fabrics for node n1: n1.tar.gz and n1.yaml" in capsys.readouterr().err


def test_fleet_dir_without_a_terminal_prints_the_diff(fleet_dir: Path, capsys):
    assert main(["fleet", str(fleet_dir)]) == 1  # routed to `fleet open`; no terminal under pytest
    captured = capsys.readouterr()
    assert captured.out.startswith("reference: node01 (the most common shape: 7 of 9 nodes)")
    assert "not a terminal" in captured.err


def test_a_verdict_change_from_unknown_acs_says_it_is_uncertain(tmp_path: Path):
    # The node's config space was read as non-root (64 bytes): ACS unknown, so its verdicts are not certain.
    ref_root = write_node(tmp_path / "ref", dgx_spec(), amd_host())
    node_root = write_node(tmp_path / "node", dgx_spec(redirect_port=0), amd_host())
    for config in (node_root / "sys/devices").rglob("config"):
        config.write_bytes(config.read_bytes()[:64])
    drifts = node_drift(FabricTree(sysfs.load(ref_root)), FabricTree(sysfs.load(node_root)))
    p2p = [d for d in drifts if d.kind is DriftKind.P2P]
    assert p2p and all(d.detail.endswith("(uncertain: a fact the verdict needs is unknown on one side)") for d in p2p)
