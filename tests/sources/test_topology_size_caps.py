"""Size caps on topology inputs (lspci text, hwloc and NCCL XML): an oversized file is refused from its size
before a byte is read; a pipe or device is read one byte past the cap and refused there. Real files load."""

from __future__ import annotations

import os
import pathlib
from pathlib import Path

import pytest
from real_data import require

from p2ptui.errors import InputError
from p2ptui.sources import hwloc, lspci, nccl, xml_input

DATA = require()
LOADERS = {"lspci": lspci.load, "hwloc": hwloc.load, "nccl": nccl.load}


def refused(load, path: Path):
    with pytest.raises(InputError) as info:
        load(path)
    [diag] = info.value.diagnostics
    return diag


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_oversized_file_is_refused_from_its_size_without_reading_it(tmp_path: Path, monkeypatch, kind: str) -> None:
    path = tmp_path / f"huge.{kind}"
    with path.open("wb") as fh:
        fh.truncate(xml_input.MAX_TOPOLOGY_BYTES + 1)  # sparse: nothing is written, the size is what counts

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened")

    monkeypatch.setattr(pathlib.Path, "open", no_open)
    monkeypatch.setattr(pathlib.Path, "read_bytes", no_open)
    diag = refused(LOADERS[kind], path)
    assert diag.message == "file is 67.1 MB; topology files are limited to 64 MiB"
    assert (diag.location.file, diag.location.line, diag.location.column) == (str(path), 1, 1)


@pytest.mark.parametrize("kind", sorted(LOADERS))
def test_a_device_is_refused_before_any_read(monkeypatch, kind: str) -> None:
    monkeypatch.setattr(xml_input, "MAX_TOPOLOGY_BYTES", 1 << 20)
    reads: list[int] = []
    real_open = pathlib.Path.open

    def counting_open(self, *args, **kwargs):
        fh = real_open(self, *args, **kwargs)
        real_read = fh.read

        def read(size=-1):
            reads.append(size)
            return real_read(size)

        fh.read = read
        return fh

    monkeypatch.setattr(pathlib.Path, "open", counting_open)
    diag = refused(LOADERS[kind], Path("/dev/zero"))  # endless, and stat says 0 bytes
    assert diag.message == "is a character device; p2ptui reads fabrics from files and directories"
    assert reads == []


def test_the_cap_is_exact_for_real_files(monkeypatch) -> None:
    real = DATA / "hwloc" / "nvidiaDGX2.xml"
    size = real.stat().st_size
    monkeypatch.setattr(xml_input, "MAX_TOPOLOGY_BYTES", size)
    assert len(hwloc.load(real)) == 84
    monkeypatch.setattr(xml_input, "MAX_TOPOLOGY_BYTES", size - 1)
    assert "topology files are limited" in refused(hwloc.load, real).message


def test_every_real_file_is_far_below_the_cap() -> None:
    sizes = [p.stat().st_size for p in DATA.rglob("*") if p.is_file()]
    assert max(sizes) * 100 < xml_input.MAX_TOPOLOGY_BYTES


def test_yaml_keeps_its_own_cap() -> None:
    from p2ptui.formats import yaml_text

    assert yaml_text.MAX_INPUT_BYTES == 16 << 20
    assert xml_input.MAX_TOPOLOGY_BYTES == 64 << 20
    assert os.path.exists("/dev/zero")
