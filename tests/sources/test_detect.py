"""FABRIC arguments: the source is picked from the content, whatever the file is called."""

from __future__ import annotations

import importlib
import os
import random
import shutil
from pathlib import Path

import pytest
from real_data import require

from p2ptui.cli.main import main
from p2ptui.errors import InputError
from p2ptui.formats import dumps_fabric, load_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.sources import SOURCES, detect_source, open_fabric, sysfs, yaml_source
from p2ptui.sources.sysfs_synth import switch_fabric, tar_root, write_sysfs

DATA = require()
# Every input file in the shared data and the source that must claim it; the .console and nvidia-smi texts are
# expected outputs of other tools, not inputs.
EXPECTED = {
    "hwloc/*.xml": "hwloc",
    "nccl/*.xml": "nccl",
    "lspci/*.lspci-tv.txt": "lspci",
    "lspci/*.md": "lspci",
    "sysfs/*.tar.bz2": "sysfs",
}
NOT_FABRICS = ["hwloc/*.console", "sysfs/*.console", "lspci/*.topo-m.txt", "lspci/*.p2pBandwidthLatencyTest.txt"]


def head_of(path: Path) -> bytes:
    return b"" if path.is_dir() else path.read_bytes()[: 64 << 10]


def test_the_contract_modules_are_all_listed():
    names = [m.__name__.rsplit(".", 1)[-1] for m in SOURCES]
    assert names[:3] == ["yaml_source", "json_source", "sysfs"]
    assert set(names) == {"yaml_source", "json_source", "sysfs", "lspci", "hwloc", "nccl"}
    for module in SOURCES:
        assert callable(module.sniff) and callable(module.load)


def test_bundled_names_and_paths():
    entry = bundled()[0]
    assert open_fabric(entry.name) == load_fabric(entry.path)
    assert detect_source(entry.path, head_of(entry.path)) is yaml_source


def test_yaml_is_recognised_by_its_content_under_any_name(tmp_path):
    fabric = load_fabric(bundled()[0].path)
    odd = tmp_path / "fabric.txt"
    odd.write_text(dumps_fabric(fabric))
    assert detect_source(odd, head_of(odd)) is yaml_source
    assert open_fabric(str(odd)) == fabric


def test_sysfs_roots_directories_and_tarballs_under_any_name(tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    snap = tar_root(root, tmp_path / "box.tar.gz", arcname="box")
    renamed = tmp_path / "snapshot.data"
    shutil.copy(snap, renamed)
    for path in (root, snap, renamed):
        assert detect_source(path, head_of(path)) is sysfs
    assert open_fabric(str(renamed)).devices == open_fabric(str(root)).devices
    assert open_fabric(str(root / "sys")).devices == open_fabric(str(root)).devices  # a bare sysfs mount


@pytest.mark.skipif(not Path("/sys/bus/pci/devices").is_dir(), reason="no live sysfs")
def test_local_is_this_machine():
    assert open_fabric("local") == sysfs.load_local()


@pytest.mark.parametrize("pattern, source", EXPECTED.items())
def test_real_data_files_go_to_their_source(pattern, source):
    files = sorted(DATA.glob(pattern))
    if not files:
        pytest.skip(f"no {pattern} in {DATA}")
    module = importlib.import_module(f"p2ptui.sources.{source}")
    for path in files:
        assert detect_source(path, head_of(path)) is module, path.name


@pytest.mark.parametrize("pattern", NOT_FABRICS)
def test_other_tools_outputs_are_not_taken_for_fabrics(pattern, capsys):
    for path in sorted(DATA.glob(pattern)):
        assert main(["show", str(path)]) == 2
        err = capsys.readouterr().err
        assert "unrecognised format" in err and "Traceback" not in err


def test_errors_for_missing_empty_and_odd_paths(tmp_path):
    with pytest.raises(InputError, match="no such file, and no bundled fabric") as info:
        open_fabric(str(tmp_path / "nope"))
    assert "bundled:" in info.value.diagnostics[0].hint
    (tmp_path / "empty").write_bytes(b"")
    with pytest.raises(InputError, match="file is empty"):
        open_fabric(str(tmp_path / "empty"))
    noise = random.Random(7).randbytes(512)  # seeded: starts with no archive magic, has NUL bytes
    assert not noise.startswith((b"\x1f\x8b", b"BZh", b"\xfd7zXZ")) and b"\0" in noise
    (tmp_path / "noise.bin").write_bytes(noise)
    with pytest.raises(InputError, match="unrecognised format"):
        open_fabric(str(tmp_path / "noise.bin"))
    os.symlink("loop", tmp_path / "loop")
    with pytest.raises(InputError, match="symbolic link loop"):
        open_fabric(str(tmp_path / "loop"))
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(InputError, match="is a named pipe"):  # refused from its stat: opening it would block
        open_fabric(str(tmp_path / "fifo"))
