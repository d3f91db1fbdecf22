"""The hwloc reader follows the file: objects in file order, so that the first entry of an address stands and what
is nested below it stays with it; PCI objects where hwloc never writes them are named in a note, not dropped in
silence; a GPU's model comes whole from the first OS device that names one.

Found by a differential run of the old and new reader over 3,642 mutated exports: the old walk drafted an
object's children all at once before going deeper, so a duplicate listed later but shallower counted as the first
entry, its "second entry for line N" pointed at a later line, and the real entry's children followed the copy into
``unplaced``."""

from __future__ import annotations

from pathlib import Path

from p2ptui.fabric import BDF
from p2ptui.sources import hwloc

HEAD = """<?xml version="1.0"?>
<topology version="2.0">
<object type="Machine" os_index="0">
  <object type="Package" os_index="0" nodeset="0x00000001">
    <object type="Bridge" bridge_type="0-1" bridge_pci="0000:[00-08]">
"""
TAIL = """    </object>
  </object>
</object>
</topology>
"""
GPU = 'pci_type="0302 [10de:1db5] [10de:1249] a1"'
NVME = 'pci_type="0108 [144d:a808] [144d:a801] 00"'


def load(tmp_path: Path, body: str):
    path = tmp_path / "machine.xml"
    path.write_text(HEAD + body + TAIL)
    return hwloc.load(path)


def line_of(text: str, body: str) -> int:
    (index,) = [i for i, line in enumerate((HEAD + body).splitlines(), 1) if text in line]
    return index


def test_the_first_entry_in_the_file_stands_and_keeps_its_children(tmp_path: Path) -> None:
    """A root port given twice: first with an NVMe below it, then again, empty."""
    body = f"""      <object type="Bridge" bridge_type="1-1" bridge_pci="0000:[01-01]" pci_busid="0000:00:01.0" {GPU}>
        <object type="PCIDev" pci_busid="0000:01:00.0" {NVME}/>
      </object>
      <object type="Bridge" bridge_type="1-1" bridge_pci="0000:[01-02]" pci_busid="0000:00:01.0" {GPU}/>
"""
    fabric = load(tmp_path, body)
    first, copy = line_of('bridge_pci="0000:[01-01]"', body), line_of('bridge_pci="0000:[01-02]"', body)
    kept = fabric.device(BDF(0, 0, 1, 0))
    assert kept.conflict == f"the source also gives 0000:00:01.0 at line {copy}"
    assert fabric.device(BDF(0, 1, 0, 0)).parent == kept.bdf  # the NVMe below the first entry stays in the tree
    assert [d.bdf for d in fabric.unplaced] == [kept.bdf]
    (note,) = [n for n in fabric.notes if "set aside" in n]
    assert f"0000:00:01.0 (line {copy}), a second entry for line {first}" in note
    assert "went with it" not in " ".join(fabric.notes)


def test_pci_objects_where_hwloc_never_puts_them_are_noted_not_read(tmp_path: Path) -> None:
    body = f"""      <object type="PCIDev" pci_busid="0000:00:02.0" {GPU}>
        <object type="PCIDev" pci_busid="0000:00:03.0" {NVME}/>
        <object type="OSDev" name="nvme9n1" osdev_type="0"><object type="PCIDev" pci_busid="0000:00:04.0"/></object>
        <info name="PCIVendor" value="NVIDIA"><object type="Bridge" pci_busid="0000:00:05.0"/></info>
      </object>
      <distances2 type="NUMANode" nbobjs="1"><object type="PCIDev" pci_busid="0000:00:06.0"/></distances2>
"""
    fabric = load(tmp_path, body)
    assert [str(d.bdf) for d in fabric.devices] == ["0000:00:02.0"]
    (note,) = [n for n in fabric.notes if "where hwloc never puts them" in n]
    for address in ("03", "04", "05", "06"):
        assert f"line {line_of(f'0000:00:{address}.0', body)} ('0000:00:{address}.0')" in note


def test_a_gpu_model_comes_from_the_first_os_device_that_names_one(tmp_path: Path) -> None:
    body = f"""      <object type="PCIDev" pci_busid="0000:00:02.0" {GPU}>
        <object type="OSDev" name="cuda0" osdev_type="1"><info name="GPUModel" value="Tesla V100"/></object>
        <object type="OSDev" name="nvml0" osdev_type="1">
          <info name="GPUVendor" value="NVIDIA Corporation"/><info name="GPUModel" value=""/>
        </object>
      </object>
      <object type="PCIDev" pci_busid="0000:00:03.0" {GPU}>
        <object type="OSDev" name="opencl0d0" osdev_type="1"><info name="GPUModel" value=""/></object>
        <object type="OSDev" name="nvml1" osdev_type="1">
          <info name="GPUVendor" value="NVIDIA Corporation"/><info name="GPUModel" value="A100-SXM4-80GB"/>
        </object>
        <object type="OSDev" name="rsmi0" osdev_type="1">
          <info name="GPUVendor" value="Other"/><info name="GPUModel" value="Other model"/>
        </object>
      </object>
"""
    fabric = load(tmp_path, body)
    assert fabric.device(BDF(0, 0, 2, 0)).product == "Tesla V100"  # a later empty GPUModel does not blank it
    assert fabric.device(BDF(0, 0, 3, 0)).product == "NVIDIA Corporation A100-SXM4-80GB"


def test_functions_below_the_first_entry_are_checked_against_it_not_a_later_copy(tmp_path: Path) -> None:
    """The root port is given again later as a GPU: the model's checks looked children up in the last entry, so the
    NVMe below the root port was set aside as "below a GPU, which has no secondary bus"."""
    body = f"""      <object type="Bridge" bridge_type="1-1" bridge_pci="0000:[01-01]" pci_busid="0000:00:01.0" {GPU}>
        <object type="PCIDev" pci_busid="0000:01:00.0" {NVME}/>
      </object>
      <object type="PCIDev" pci_busid="0000:00:01.0" {GPU}/>
"""
    fabric = load(tmp_path, body)
    root_port, nvme = fabric.device(BDF(0, 0, 1, 0)), fabric.device(BDF(0, 1, 0, 0))
    assert root_port.kind.is_bridge and nvme.parent == root_port.bdf and not nvme.conflict
    assert [(d.bdf, d.kind.is_bridge) for d in fabric.unplaced] == [(root_port.bdf, False)]
