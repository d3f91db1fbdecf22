"""A garbled kernel release in a snapshot or an hwloc export stays unknown with a note; the import goes on, and the
fabric it produces saves and loads back (a file validate would refuse is never written)."""

import xml.etree.ElementTree as ET

from real_data import require

from p2ptui.formats import dumps_fabric, loads_fabric
from p2ptui.sources import hwloc, sysfs
from p2ptui.sources.sysfs_synth import HostSpec, switch_fabric, write_sysfs

DATA = require("hwloc")


def test_sysfs_snapshot_with_a_garbled_osrelease(tmp_path):
    root = write_sysfs(tmp_path / "root", switch_fabric(2), HostSpec(kernel="banana"))
    fabric = sysfs.load(root)
    assert fabric.host.kernel is None
    assert any("kernel release unknown" in n and "'banana'" in n for n in fabric.notes)
    assert loads_fabric(dumps_fabric(fabric)) == fabric


def test_hwloc_export_with_a_garbled_osrelease(tmp_path):
    tree = ET.parse(DATA / "24em64t-2n6c2t-pci.xml")
    infos = [i for i in tree.iter("info") if i.get("name") == "OSRelease"]
    assert infos, "the sample export records OSRelease"
    for info in infos:
        info.set("value", "not a kernel")
    path = tmp_path / "garbled.xml"
    tree.write(path)
    fabric = hwloc.load(path)
    assert fabric.host.kernel is None
    assert any("kernel release unknown" in n for n in fabric.notes)
    assert loads_fabric(dumps_fabric(fabric)) == fabric
