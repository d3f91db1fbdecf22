"""Copy plans (YAML, file:line errors) and the ``p2ptui copy`` command (text, JSON, exit codes)."""

import json

import pytest
from copy_argv import copy_argv
from engine_fabrics import switch_fabric

from p2ptui.cli.main import main
from p2ptui.engine.plan import loads_plan
from p2ptui.engine.resources import SimConfig
from p2ptui.engine.transfer import Op
from p2ptui.errors import InputError


def test_plan_reads_transfers_rates_knobs_and_events():
    fabric = switch_fabric()
    plan = loads_plan(
        """
format: p2ptui-plan/1
sim:
  efficiency: 0.85
  completion_size: 64
  read_tags: 32
  read_rtt_us: 2
  memory_bandwidth: 50 GB/s
  root_complexes: {pci0000:00: {read: 7.06, write: 7.1}}
devices:
  ep3: {read: 3.2 GB/s, write: 2 GB/s}
transfers:
  - {name: a, src: ep3, dst: ep2, via: ep1, size: 1GiB, chunk: 4MiB, threads: 2, start: 0.5}
  - {src: ep1, dst: ep2, size: 512MiB, op: read}
events:
  - {at: 1.0, unplug: ep1}
""",
        fabric,
        "plan.yaml",
        SimConfig(),
    )
    a, b = plan.transfers
    assert (a.name, a.via, a.size, a.chunk, a.threads, a.start) == ("a", "ep1", 1 << 30, 4 << 20, 2, 0.5)
    assert b.op is Op.READ
    cfg = plan.config
    assert (cfg.efficiency, cfg.completion_size, cfg.read_tags, cfg.read_rtt_us, cfg.memory_bandwidth) == (
        0.85,
        64,
        32,
        2.0,
        50.0,
    )
    assert cfg.rc_caps["pci0000:00"].read == 7.06 and cfg.device_rates["ep3"].write == 2.0
    assert plan.events[0].kind == "unplug" and plan.events[0].device == "ep1"


def test_plan_errors_point_at_file_line_and_column():
    with pytest.raises(InputError) as err:
        loads_plan(
            """transfers:
  - {src: ep1, dst: nvme7, size: 1GiB}
  - {src: ep1, dst: ep2, size: lots}
  - {src: ep1, dst: ep2, size: 1GiB, treads: 2}
  - {src: ep1, dst: ep2, size: 1GiB, threads: 0}
sim: {efficiency: 1.5}
""",
            switch_fabric(),
            "plan.yaml",
        )
    text = [str(d) for d in err.value.diagnostics]
    assert any(t.startswith("plan.yaml:2:") and "no device 'nvme7'" in t for t in text)
    assert any(t.startswith("plan.yaml:3:") and "malformed size" in t for t in text)
    assert any(t.startswith("plan.yaml:4:") and "unknown key 'treads'" in t and "threads" in t for t in text)
    assert any(t.startswith("plan.yaml:5:47:") and "threads must be at least 1, not 0" in t for t in text)
    assert any(t.startswith("plan.yaml:6:") and "efficiency 1.5" in t for t in text)


def test_cli_copy_json_contract(capsys):
    code = main(copy_argv(src="nvme0", dst="nvme1", via="nvme2", size="256MiB", threads=2, json=True))
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    [t] = doc["transfers"]
    for key in (
        "src",
        "dst",
        "via",
        "route",
        "map_type",
        "bytes",
        "seconds",
        "bytes_per_s",
        "bounce_bytes_per_s",
        "verified",
    ):
        assert key in t
    assert (t["src"], t["dst"], t["via"], t["map_type"], t["bytes"]) == (
        "nvme0",
        "nvme1",
        "nvme2",
        "BUS_ADDR",
        256 << 20,
    )
    assert t["route"][0] == "nvme0" and "nvme2" in t["route"] and t["route"][-1] == "nvme1"
    assert t["bytes_per_s"] == pytest.approx(t["bytes"] / t["seconds"])
    assert t["verified"] is None and doc["efficiency"] == 0.9
    assert {"name", "peak_utilisation"} <= set(doc["resources"][0])
    assert max(r["peak_utilisation"] for r in doc["resources"]) == pytest.approx(1.0)


def test_cli_plan_runs_transfers_together_with_their_start_times(tmp_path, capsys):
    plan = tmp_path / "plan.yaml"
    plan.write_text("""transfers:
  - {name: first, src: nvme0, dst: nvme1, size: 1GiB}
  - {name: second, src: nvme2, dst: nvme1, size: 1GiB, start: 0.1}
""")
    assert main(copy_argv(plan=plan, json=True)) == 0
    first, second = json.loads(capsys.readouterr().out)["transfers"]
    assert (first["name"], second["name"], second["start"]) == ("first", "second", 0.1)
    assert first["bytes_per_s"] < first["p2p_bytes_per_s"]  # they shared nvme1's link for a while


def test_cli_text_output_ends_like_p2pmem_test(capsys):
    assert main(copy_argv(src="nvme0", dst="host", size="1GB", no_progress=True)) == 0
    out = capsys.readouterr().out.splitlines()
    assert "Transfer:" in out
    line = out[out.index("Transfer:") + 1]
    assert line.startswith("  1.00GB in ") and line.endswith("GB/s")
    assert any("efficiency" in x for x in out)


def test_cli_real_copy_and_errors(tmp_path, capsys):
    src, dst = tmp_path / "a", tmp_path / "b"
    args = copy_argv(
        src="nvme0", dst="nvme1", engine="real", size="3MiB", src_file=src, dst_file=dst, check=True, json=True
    )
    assert main(args) == 0
    [t] = json.loads(capsys.readouterr().out)["transfers"]
    assert t["verified"] is True and t["engine"] == "real" and dst.read_bytes() == src.read_bytes()
    assert main(args) == 2  # both files now exist: refused without --expert --yes
    err = capsys.readouterr().err
    assert "exists" in err and "--expert" in err
    assert main(copy_argv(src="nvme0", dst="nvme9", size="1GiB")) == 2
    assert "nvme9" in capsys.readouterr().err
    assert main(copy_argv(src="nvme0", dst="nvme1")) == 2
    assert main(copy_argv(src="nvme0", dst="nvme1", size="1GiB", src_file="x")) == 2


def test_cli_refused_transfer_exits_1(capsys):
    code = main(copy_argv(src="nvme0", dst="nvme1", via="nvme2", size="1GiB", chunk="512MiB", threads=2))
    assert code == 1
    assert "refused" in capsys.readouterr().out
