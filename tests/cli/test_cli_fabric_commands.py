import json
import shutil
import subprocess
import sys

import pytest
from cli_run import run_cli

from p2ptui import __version__
from p2ptui.cli.main import main
from p2ptui.formats.gallery import bundled


def test_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"p2ptui {__version__}"


def test_bare_command_shows_help_and_gallery(capsys):
    code, out, _ = run_cli(capsys)
    assert code == 0
    assert "usage: p2ptui" in out
    for entry in bundled():
        assert entry.name in out


def test_fabrics_lists_names_and_descriptions(capsys):
    code, out, _ = run_cli(capsys, "fabrics")
    assert code == 0
    entries = bundled()
    assert len(entries) >= 2
    for entry in entries:
        line = next(line for line in out.splitlines() if line.startswith(entry.name + " "))
        assert entry.description and entry.description in line
    code, out, _ = run_cli(capsys, "fabrics", "--json")
    assert {e["name"] for e in json.loads(out)} == {e.name for e in entries}


def test_show_prints_the_tree(capsys):
    code, out, _ = run_cli(capsys, "show", "nvmeof-target")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].startswith("host: intel family 0x6")
    assert "[0000:17] pci0000:17" in out
    nvme_line = next(line for line in lines if " nvme0 " in line)
    assert nvme_line.lstrip("│ ").startswith("└─ 1b:00.0  nvme  nvme0  [1de5:3000]")
    assert "gen3 x4" in nvme_line and "P2P pool 512 MiB, 512 MiB free, published" in nvme_line
    # Tree drawing: the NVMe sits three levels below the root port.
    root_port_line = next(line for line in lines if line.startswith("└─ 17:00.0"))
    assert nvme_line.index("1b:00.0") == root_port_line.index("17:00.0") + 9


def test_show_every_bundled_fabric(capsys):
    for entry in bundled():
        code, out, err = run_cli(capsys, "show", entry.name)
        assert code == 0, err
        # Every function appears once in the tree.
        from p2ptui.formats import load_fabric

        fabric = load_fabric(entry.path)
        body = out.splitlines()
        for dev in fabric.devices:
            assert sum(1 for line in body if f"─ {dev.bdf.short()}  " in line) == 1, dev


def test_show_json_is_the_whole_model(capsys):
    code, out, _ = run_cli(capsys, "show", "nvmeof-target", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["host"]["iommu"] == "off"
    assert len(data["devices"]) == 14
    nvme = next(d for d in data["devices"] if d["name"] == "nvme0")
    assert nvme["p2pmem"] == {"size": 512 << 20, "available": 512 << 20, "published": True, "allocate": True}
    assert nvme["upstream_bridge"] == "0000:19:01.0"
    assert nvme["class_code"] == "010802"
    nic = next(d for d in data["devices"] if d["name"] == "mlx5_0")
    assert nic["siblings"] == ["0000:1a:00.1"]
    dsp = next(d for d in data["devices"] if d["bdf"] == "0000:19:00.0")
    assert dsp["acs"]["source"] == "hardware" and dsp["acs"]["ctrl"] == []
    assert {rb["representative"] for rb in data["root_buses"]} == {"0000:00:00.0", "0000:17:00.0"}


def test_validate_ok(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "validate", "nvmeof-target")
    assert code == 0
    assert "ok: NVMe-oF target" in out and "14 functions" in out and "4 P2P pools" in out


def test_missing_fabric_is_one_clean_line(capsys):
    code, out, err = run_cli(capsys, "show", "no-such-fabric")
    assert code == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("no-such-fabric: error: no such file, and no bundled fabric of that name")
    assert "nvmeof-target" in lines[0]


def test_directory_is_refused(capsys, tmp_path):
    code, _, err = run_cli(capsys, "validate", str(tmp_path))
    assert code == 2 and "error:" in err and "Traceback" not in err


def test_debug_shows_the_traceback(capsys):
    code, _, err = run_cli(capsys, "--debug", "show", "no-such-fabric")
    assert code == 2 and "Traceback" in err


def test_bad_arguments_exit_2_without_traceback(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["show"])
    assert exit_info.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_installed_command_finds_the_gallery_from_elsewhere(tmp_path):
    """Run the console script (or the module) from an unrelated directory: the gallery ships with the package."""
    exe = shutil.which("p2ptui")
    cmd = [exe] if exe else [sys.executable, "-m", "p2ptui"]
    result = subprocess.run(cmd + ["fabrics"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "nvmeof-target" in result.stdout
    result = subprocess.run(cmd + ["show", "nvmeof-target"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0 and "nvme3" in result.stdout
