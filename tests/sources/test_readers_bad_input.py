"""Issue 9's input cases for every reader: special files, standard input, JSON read back, depth, value ranges,
names that are not UTF-8, decompression bombs. Each refusal is one line naming the input; nothing blocks."""

from __future__ import annotations

import bz2
import dataclasses
import io
import os
import sys
import tarfile
import time
import tracemalloc
from pathlib import Path

import pytest
from cli_run import run_cli
from fuzz_cases import lspci_chain, yaml_chain

from p2ptui.errors import InputError
from p2ptui.fabric.limits import (
    MAX_BRIDGE_DEPTH,
    MAX_YAML_NESTING,
    yaml_nesting_for_depth,
)
from p2ptui.formats import dumps_fabric, load_fabric, loads_fabric
from p2ptui.formats.gallery import bundled
from p2ptui.formats.writers import dumps_json
from p2ptui.sources import open_fabric, sysfs, tarball
from p2ptui.sources.json_source import loads_json
from p2ptui.sources.sysfs_synth import HostSpec, switch_fabric, tar_root, write_sysfs


def only_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# -- special files and path errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("command", [["show"], ["validate"], ["scan"], ["convert", "-", "OUT"]])
def test_a_fifo_is_refused_at_once_by_every_command(capsys, tmp_path, command):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    argv = [c if c != "OUT" else str(tmp_path / "out.yaml") for c in command]
    argv = [argv[0], str(fifo), *argv[2:]] if command[0] == "convert" else [*argv, str(fifo)]
    started = time.monotonic()
    code, _, err = run_cli(capsys, *argv)  # would block forever if anything opened the FIFO
    assert code == 2 and time.monotonic() - started < 5
    assert only_error(err) == (
        f"{fifo}: error: is a named pipe; p2ptui reads fabrics from files and directories "
        "(to read standard input, pass '-' and pipe the fabric in)"
    )


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_scan_of_a_device_is_refused_without_reading_it(capsys):
    code, _, err = run_cli(capsys, "scan", "/dev/zero")
    assert code == 2
    assert only_error(err) == "/dev/zero: error: is a character device; p2ptui reads fabrics from files and directories"


def test_path_errors_are_one_line_each(capsys, tmp_path):
    os.symlink("loop", tmp_path / "loop")
    os.symlink("nowhere", tmp_path / "dangling")
    (tmp_path / "file").write_text("x")
    cases = {
        tmp_path / "loop": "symbolic link loop (too many levels of symbolic links)",
        tmp_path / "dangling": "dangling symbolic link (its target nowhere does not exist)",
        tmp_path / "file" / "below": "a component of the path is not a directory",
        tmp_path / ("n" * 300): "file name too long",
    }
    for command in ("show", "scan"):
        for path, problem in cases.items():
            code, _, err = run_cli(capsys, command, str(path))
            assert code == 2 and only_error(err) == f"{path}: error: {problem}", (command, path)


# -- standard input -------------------------------------------------------------------------------------------------
def feed_stdin(monkeypatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


@pytest.mark.parametrize(
    "name", ["lspci/stelline-puget-threadripper-pro-wrx90.md", "hwloc/nvidiaDGX2.xml", "nccl/ndv4-topo.xml"]
)
def test_dash_reads_any_format_from_standard_input(monkeypatch, name):
    path = Path(__file__).resolve().parents[1] / "data" / name
    feed_stdin(monkeypatch, path.read_bytes())
    piped = open_fabric("-")
    from_file = open_fabric(str(path))
    assert piped.devices == from_file.devices and piped.host == from_file.host
    assert piped.name == "stdin" or piped.name == from_file.name


def test_dash_reads_yaml_and_json_and_names_stdin_in_errors(monkeypatch):
    fabric = load_fabric(bundled()[0].path)
    feed_stdin(monkeypatch, dumps_fabric(fabric).encode())
    assert open_fabric("-") == fabric
    feed_stdin(monkeypatch, dumps_json(fabric).encode())
    assert open_fabric("-") == fabric
    feed_stdin(monkeypatch, dumps_fabric(fabric).replace("kind: nvme", "kind: nvmx", 1).encode())
    with pytest.raises(InputError) as info:
        open_fabric("-")
    where = info.value.diagnostics[0].location
    assert where.file == "<stdin>" and where.line is not None
    assert "p2ptui-stdin" not in str(info.value)


def test_dash_refuses_a_terminal_and_empty_input(monkeypatch):
    main_fd, terminal_fd = os.openpty()
    try:
        with open(terminal_fd, "rb", closefd=False) as raw:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(raw))
            with pytest.raises(InputError, match=r"^<stdin>: standard input is a terminal, not a fabric"):
                open_fabric("-")
    finally:
        os.close(main_fd)
        os.close(terminal_fd)
    feed_stdin(monkeypatch, b"")
    with pytest.raises(InputError, match="^<stdin>: standard input is empty"):
        open_fabric("-")


def test_dash_input_is_bounded(monkeypatch):
    from p2ptui.sources import stdin_input

    monkeypatch.setattr(stdin_input, "MAX_STDIN_BYTES", 1 << 10)
    feed_stdin(monkeypatch, b"x" * (1 << 20))
    with pytest.raises(InputError, match="input is larger than"):
        open_fabric("-")


# -- JSON reads back ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("entry", bundled(), ids=lambda e: e.name)
def test_json_from_convert_reads_back_as_the_same_fabric(capsys, tmp_path, entry):
    fabric = load_fabric(entry.path)
    out = tmp_path / "fabric.json"
    assert run_cli(capsys, "convert", str(entry.path), str(out))[0] == 0
    assert open_fabric(str(out)) == fabric
    yaml_again = tmp_path / "again.yaml"
    assert run_cli(capsys, "convert", str(out), str(yaml_again))[0] == 0
    assert load_fabric(yaml_again) == fabric


def test_json_from_show_reads_back_and_errors_name_the_device_line(capsys, tmp_path):
    code, out, _ = run_cli(capsys, "show", "--json", "nvmeof-target")
    assert code == 0
    assert loads_json(out.encode(), "show.json", "nvmeof-target") == open_fabric("nvmeof-target")
    lines = out.splitlines()
    gen = next(i for i, line in enumerate(lines) if '"gen": 3' in line)
    at = max(i for i in range(gen) if '"bdf":' in lines[i])  # the device that link belongs to
    lines[gen] = lines[gen].replace('"gen": 3', '"gen": "three"')
    with pytest.raises(InputError) as info:
        loads_json("\n".join(lines).encode(), "show.json")
    (diag,) = info.value.diagnostics
    assert diag.location.line == at + 1
    assert diag.message.endswith(".link.gen: must be a whole number, not the string 'three'")
    with pytest.raises(InputError, match=r"^x\.json:3:\d+: JSON syntax error"):
        loads_json(b'{\n "name": "a",\n ]', "x.json")


# -- depth: refused by the readers, or written within the YAML loader's limit -------------------------------------
def test_the_yaml_writer_stays_within_the_loader_nesting_limit():
    assert yaml_nesting_for_depth(MAX_BRIDGE_DEPTH) <= MAX_YAML_NESTING


def test_a_110_bridge_lspci_chain_keeps_what_fits_and_loads_back(capsys, tmp_path):
    # A foreign file is evidence about a machine: the part within the shared depth limit loads, the functions past
    # it are set aside with a note, and what is written loads back as the same fabric.
    chain = tmp_path / "chain.txt"
    chain.write_bytes(lspci_chain(110))
    out = tmp_path / "out.yaml"
    code, _, err = run_cli(capsys, "convert", str(chain), str(out))
    assert code == 0, err
    fabric = open_fabric(str(chain))
    assert max(depth for depth, _ in fabric.walk()) == MAX_BRIDGE_DEPTH
    assert any(
        f"0000:41:00.0 sits {MAX_BRIDGE_DEPTH + 1} bridges below its root bus; p2ptui reads trees at most "
        f"{MAX_BRIDGE_DEPTH} bridges deep" in note
        for note in fabric.notes
    )
    assert run_cli(capsys, "validate", str(out))[0] == 0
    assert load_fabric(out) == fabric


def test_the_deepest_accepted_chain_converts_and_validates(capsys, tmp_path):
    chain = tmp_path / "chain.txt"
    chain.write_bytes(lspci_chain(MAX_BRIDGE_DEPTH))  # a root port and 63 bridges: the NVMe sits at the limit
    out = tmp_path / "out.yaml"
    assert run_cli(capsys, "convert", str(chain), str(out))[0] == 0
    assert run_cli(capsys, "validate", str(out))[0] == 0
    assert load_fabric(out) == open_fabric(str(chain))


def test_a_deep_yaml_chain_is_refused_by_the_same_limit():
    with pytest.raises(InputError, match=f"sits {MAX_BRIDGE_DEPTH + 1} bridges below its root bus"):
        loads_fabric(yaml_chain(MAX_BRIDGE_DEPTH + 5), "deep.yaml")


def test_a_tarball_member_with_a_thousand_components_is_no_recursion_error(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("root/sys/" + "/".join(["d"] * 1000) + "/f")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    path = tmp_path / "deep.tar.gz"
    path.write_bytes(buf.getvalue())
    files = tarball.read_tarball(path)
    assert files.kind("root/sys/" + "/".join(["d"] * 1000)) is not None
    with pytest.raises(InputError, match="no PCI host bridge"):
        sysfs.load(path)


# -- value ranges: what a reader accepts, YAML accepts ---------------------------------------------------------------
def test_a_20_digit_cpu_family_is_unknown_and_the_scan_loads_back(capsys, tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(2), HostSpec(vendor_id="AuthenticAMD", family=10**19 + 7))
    fabric = sysfs.load(root)
    assert fabric.host.cpu_family is None and fabric.host.cpu_vendor == "amd"
    out = tmp_path / "out.yaml"
    assert run_cli(capsys, "scan", str(root), "-o", str(out))[0] == 0
    assert run_cli(capsys, "validate", str(out))[0] == 0
    assert load_fabric(out) == fabric


def test_an_iommu_group_beyond_the_kernels_is_refused_with_its_line(tmp_path):
    text = lspci_chain(2).replace(b"\tBus: primary=01", b"\tIOMMU group: 99999999999\n\tBus: primary=01")
    path = tmp_path / "lspci.txt"
    path.write_bytes(text)
    with pytest.raises(InputError, match=r"IOMMU group 99999999999 is out of range \(0 to 2147483647\)") as info:
        open_fabric(str(path))
    assert info.value.diagnostics[0].location.line is not None


# -- names that are not UTF-8 ---------------------------------------------------------------------------------------
def test_convert_and_scan_of_a_file_named_in_latin1(capsys, tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(2))
    snap = tar_root(root, tmp_path / os.fsdecode(b"caf\xe9.tar.gz"), arcname="box")
    out = tmp_path / "out.yaml"
    code, _, err = run_cli(capsys, "scan", str(snap), "-o", str(out))
    assert code == 0, err
    scanned = load_fabric(out)
    assert "caf\\xe9" in scanned.description and scanned.name == "caf\\xe9"
    code, printed, err = run_cli(capsys, "convert", str(snap), str(tmp_path / "again.yaml"))
    assert code == 0 and "caf\\xe9" in printed, err
    assert load_fabric(tmp_path / "again.yaml") == scanned
    code, _, err = run_cli(capsys, "show", str(tmp_path / os.fsdecode(b"missing\xff")))
    assert code == 2 and "missing\\xff" in err


# -- bounded before refusing ----------------------------------------------------------------------------------------
def test_a_bz2_bomb_is_refused_fast_and_small(tmp_path):
    compressor = bz2.BZ2Compressor(9)
    chunk = bytes(1 << 20)
    bomb = b"".join(compressor.compress(chunk) for _ in range(300)) + compressor.flush()  # 300 MiB of zeros
    assert len(bomb) < 1000
    path = tmp_path / "bomb.tar.bz2"
    path.write_bytes(bomb)
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(InputError, match="archive is empty"):
            sysfs.load(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.monotonic() - started < 2 and peak < 16 << 20


def test_sizes_declared_in_headers_are_refused_before_their_data(tmp_path):
    header = tarfile.TarInfo("box/sys/huge")
    header.size = 1 << 30
    raw = header.tobuf(tarfile.GNU_FORMAT)
    path = tmp_path / "huge.tar.gz"
    import gzip

    path.write_bytes(gzip.compress(raw + bytes(4096)))
    with pytest.raises(InputError, match="archive holds more than 256 MiB of files"):
        sysfs.load(path)


def test_streaming_reader_matches_tarfile_on_every_member(tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(2, vfs=2))
    for suffix in (".tar", ".tar.gz", ".tar.bz2", ".tar.xz"):
        snap = tar_root(root, tmp_path / f"snap{suffix}", arcname="a-rather-long-top-directory-name-" + "x" * 90)
        files = tarball.read_tarball(snap)
        with tarfile.open(snap) as tar:
            for member in tar.getmembers():
                rel = member.name
                if member.isfile():
                    assert files.read(rel, 1 << 20) == tar.extractfile(member).read()
                elif member.issym():
                    assert files.readlink(rel) == member.linkname
                else:
                    assert files.kind(rel) is not None
        assert dataclasses.astuple(sysfs.load(snap).host) == dataclasses.astuple(sysfs.load(root).host)


# -- numbers longer than Python converts ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "line",
    [
        "\tNUMA node: {n}",
        "\tIOMMU group: {n}",
        "\tCapabilities: [40] Express (v2) Root Port (Slot+), MSI 00\n\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x{n}",
    ],
)
def test_a_number_of_thousands_of_digits_in_lspci_is_no_traceback(tmp_path, line):
    # Python's int() refuses more than 4,300 digits: the reader must not get that far. Either outcome is fine: the
    # value left unknown (with the fabric converting back to itself), or a refusal naming the line.
    path = tmp_path / "lspci.txt"
    path.write_text("00:00.0 Host bridge [0600]: Intel [8086:2020]\n" + line.format(n="9" * 5000) + "\n")
    try:
        fabric = open_fabric(str(path))
    except InputError as exc:
        assert exc.diagnostics[0].location.line == 2 + line.count("\n")
    else:
        assert loads_fabric(dumps_fabric(fabric), "back.yaml", fabric.name) == fabric


def test_a_hwloc_version_of_thousands_of_digits_is_a_clean_refusal(tmp_path):
    path = tmp_path / "topo.xml"
    path.write_text(f'<?xml version="1.0"?>\n<topology version="{"9" * 5000}.0"></topology>\n')
    with pytest.raises(InputError, match="unknown hwloc XML version"):
        open_fabric(str(path))


# -- conflicts in foreign files survive convert ---------------------------------------------------------------------
def test_a_conflicting_foreign_file_converts_to_yaml_and_json_and_back(capsys, tmp_path):
    lines = (Path(__file__).resolve().parents[1] / "data" / "nccl" / "ndv4-topo.xml").read_text().splitlines(True)
    lines.insert(5, lines[3])  # the GPU 0003:00:00.0 a second time, under the same placeholder switch
    path = tmp_path / "dup.xml"
    path.write_text("".join(lines))
    fabric = open_fabric(str(path))
    assert fabric.unplaced or fabric.conflicting()
    for suffix in (".yaml", ".json"):
        out = tmp_path / f"out{suffix}"
        assert run_cli(capsys, "convert", str(path), str(out))[0] == 0
        assert run_cli(capsys, "validate", str(out))[0] == 0
        assert open_fabric(str(out)) == fabric
