"""hwloc v1 and v2 exports (shared/data holds v3 only): the layout and the attribute conventions each version uses.

The documents follow the shapes tests/data/FORMATS.md §1 describes for each version: v1 has no version attribute, ``Socket``
or ``Package``, I/O below NUMANode objects, a ``name`` attribute and 4-field ``pci_type``; v2 hangs I/O below the
Package and numbers OS devices 0 block / 2 network / 3 OpenFabrics; v3 uses a bitmask for ``osdev_type``.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from p2ptui.fabric import BDF, DeviceKind
from p2ptui.sources import hwloc

V1 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc.dtd">
<topology>
  <object type="Machine" os_index="0" cpuset="0x000000ff" complete_cpuset="0x000000ff" online_cpuset="0x000000ff"
      allowed_cpuset="0x000000ff" nodeset="0x00000003" complete_nodeset="0x00000003" allowed_nodeset="0x00000003">
    <info name="Architecture" value="x86_64"/>
    <info name="OSRelease" value="3.10.0-957.el7.x86_64"/>
    <object type="NUMANode" os_index="0" cpuset="0x0000000f" nodeset="0x00000001" local_memory="68719476736">
      <object type="Socket" os_index="0" cpuset="0x0000000f" nodeset="0x00000001">
        <info name="CPUVendor" value="GenuineIntel"/>
        <info name="CPUFamilyNumber" value="6"/>
        <info name="CPUModel" value="Intel(R) Xeon(R) CPU E5-2680 v3 @ 2.50GHz"/>
        <object type="Cache" cpuset="0x0000000f" nodeset="0x00000001" cache_size="31457280" depth="3"
            cache_linesize="64" cache_associativity="20" cache_type="0">
          <object type="Core" os_index="0" cpuset="0x00000001" nodeset="0x00000001">
            <object type="PU" os_index="0" cpuset="0x00000001" nodeset="0x00000001"/>
          </object>
        </object>
      </object>
      <object type="Bridge" os_index="0" bridge_type="0-1" depth="0" bridge_pci="0000:[00-07]">
        <object type="Bridge" os_index="16" name="Intel Corporation Root Port 1" bridge_type="1-1" depth="1"
            bridge_pci="0000:[01-01]" pci_busid="0000:00:01.0" pci_type="0604 [8086:2f02] [0000:0000] 02"
            pci_link_speed="0.000000">
          <object type="PCIDev" os_index="4096" name="Intel Corporation I350 Gigabit Network Connection"
              pci_busid="0000:01:00.0" pci_type="0200 [8086:1521] [8086:0001] 01" pci_link_speed="2.000000">
            <object type="OSDev" name="eth0" osdev_type="2"/>
          </object>
        </object>
        <object type="Bridge" os_index="48" name="Intel Corporation Root Port 3" bridge_type="1-1" depth="1"
            bridge_pci="0000:[04-07]" pci_busid="0000:00:03.0" pci_type="0604 [8086:2f08] [0000:0000] 02"
            pci_link_speed="0.000000">
          <object type="Bridge" os_index="16384" name="PLX Technology, Inc. PEX 8747" bridge_type="1-1" depth="2"
              bridge_pci="0000:[05-07]" pci_busid="0000:04:00.0" pci_type="0604 [10b5:8747] [0000:0000] ca"
              pci_link_speed="7.876923">
            <object type="Bridge" os_index="20608" name="PLX Technology, Inc. PEX 8747" bridge_type="1-1"
                depth="3" bridge_pci="0000:[06-06]" pci_busid="0000:05:08.0"
                pci_type="0604 [10b5:8747] [0000:0000] ca" pci_link_speed="7.876923">
              <object type="PCIDev" os_index="24576" name="NVIDIA Corporation GK210GL [Tesla K80]"
                  pci_busid="0000:06:00.0" pci_type="0302 [10de:102d] [10de:106c] a1" pci_link_speed="7.876923">
                <object type="OSDev" name="card1" osdev_type="1"/>
              </object>
            </object>
            <object type="Bridge" os_index="20736" name="PLX Technology, Inc. PEX 8747" bridge_type="1-1"
                depth="3" bridge_pci="0000:[07-07]" pci_busid="0000:05:10.0"
                pci_type="0604 [10b5:8747] [0000:0000] ca" pci_link_speed="7.876923">
              <object type="PCIDev" os_index="28672" name="NVIDIA Corporation GK210GL [Tesla K80]"
                  pci_busid="0000:07:00.0" pci_type="0302 [10de:102d] [10de:106c] a1" pci_link_speed="7.876923"/>
            </object>
          </object>
        </object>
      </object>
    </object>
    <object type="NUMANode" os_index="1" cpuset="0x000000f0" nodeset="0x00000002" local_memory="68719476736">
      <object type="Bridge" os_index="1" bridge_type="0-1" depth="0" bridge_pci="0000:[80-81]">
        <object type="Bridge" os_index="524320" name="Intel Corporation Root Port 2" bridge_type="1-1" depth="1"
            bridge_pci="0000:[81-81]" pci_busid="0000:80:02.0" pci_type="0604 [8086:2f04] [0000:0000] 02"
            pci_link_speed="0.000000">
          <object type="PCIDev" os_index="528384" name="Intel Corporation PCIe Data Center SSD"
              pci_busid="0000:81:00.0" pci_type="0108 [8086:0953] [8086:3702] 01" pci_link_speed="3.938462">
            <object type="OSDev" name="nvme0n1" osdev_type="0"/>
          </object>
        </object>
      </object>
    </object>
  </object>
</topology>
"""

V2 = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE topology SYSTEM "hwloc2.dtd">
<topology version="2.0">
  <object type="Machine" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" allowed_cpuset="0x00000003"
      nodeset="0x00000001" complete_nodeset="0x00000001" allowed_nodeset="0x00000001" gp_index="1">
    <object type="Package" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" nodeset="0x00000001"
        complete_nodeset="0x00000001" gp_index="2">
      <info name="CPUVendor" value="AuthenticAMD"/>
      <info name="CPUFamilyNumber" value="23"/>
      <object type="NUMANode" os_index="0" cpuset="0x00000003" complete_cpuset="0x00000003" nodeset="0x00000001"
          complete_nodeset="0x00000001" gp_index="3" local_memory="33554432000"/>
      <object type="Core" os_index="0" cpuset="0x00000003" nodeset="0x00000001" gp_index="4">
        <object type="PU" os_index="0" cpuset="0x00000001" nodeset="0x00000001" gp_index="5"/>
      </object>
      <object type="Bridge" gp_index="6" bridge_type="0-1" depth="0" bridge_pci="0000:[40-42]">
        <object type="Bridge" gp_index="7" bridge_type="1-1" depth="1" bridge_pci="0000:[41-41]"
            pci_busid="0000:40:01.1" pci_type="0604 [1022:1483] [1022:1234] 00" pci_link_speed="15.753846">
          <object type="PCIDev" gp_index="8" pci_busid="0000:41:00.0" pci_type="0207 [15b3:101b] [15b3:0007] 00"
              pci_link_speed="15.753846">
            <info name="PCIVendor" value="Mellanox Technologies"/>
            <info name="PCIDevice" value="MT28908 Family [ConnectX-6]"/>
            <object type="OSDev" gp_index="9" name="mlx5_0" osdev_type="3"/>
            <object type="OSDev" gp_index="10" name="ib0" osdev_type="2"/>
          </object>
          <object type="PCIDev" gp_index="11" pci_busid="0000:41:00.1" pci_type="0207 [15b3:101b] [15b3:0007] 00"
              pci_link_speed="15.753846">
            <object type="OSDev" gp_index="12" name="mlx5_1" osdev_type="3"/>
          </object>
        </object>
        <object type="PCIDev" gp_index="13" pci_busid="0000:40:00.0" pci_type="0600 [1022:1480] [1022:1480] 00"
            pci_link_speed="0.000000"/>
      </object>
    </object>
  </object>
</topology>
"""


def write(tmp_path: Path, text: str, name: str = "topo.xml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_v1_layout_with_io_below_numa_nodes(tmp_path: Path) -> None:
    fabric = hwloc.load(write(tmp_path, V1))
    assert fabric.description.startswith("hwloc XML v1")
    assert [(str(rb), rb.numa_node) for rb in fabric.root_buses] == [("0000:00", 0), ("0000:80", 1)]
    gpu = fabric.find("0000:06:00.0")
    assert gpu.kind is DeviceKind.GPU and gpu.numa_node == 0
    assert gpu.product == "NVIDIA Corporation GK210GL [Tesla K80]"  # v1's name attribute
    assert (gpu.vendor_id, gpu.device_id, gpu.subsystem_vendor_id, gpu.revision) == (0x10DE, 0x102D, 0x10DE, 0xA1)
    assert gpu.class_code == 0x030200  # no prog-if in v1: taken as 00
    assert [d.kind for d in fabric.ancestors(gpu)] == [
        DeviceKind.SWITCH_DOWNSTREAM,
        DeviceKind.SWITCH_UPSTREAM,
        DeviceKind.ROOT_PORT,
    ]
    assert fabric.find("eth0").bdf == BDF.parse("01:00.0")  # v1 osdev_type 2 = network
    assert fabric.find("nvme0").bdf == BDF.parse("81:00.0")  # block device nvme0n1 names controller nvme0
    assert fabric.find("nvme0").numa_node == 1
    assert fabric.host.cpu_vendor == "intel" and fabric.host.cpu_family == 6
    assert fabric.host.kernel == "3.10.0-957.el7.x86_64"
    assert "card1" not in {d.name for d in fabric}  # a DRM card names no function


def test_v1_without_nodesets_takes_numa_from_the_enclosing_numa_node(tmp_path: Path) -> None:
    text = re.sub(r' (?:complete_|allowed_)?nodeset="[^"]*"', "", V1)
    fabric = hwloc.load(write(tmp_path, text))
    assert [(str(rb), rb.numa_node) for rb in fabric.root_buses] == [("0000:00", 0), ("0000:80", 1)]


def test_v2_layout_names_and_host_bridge_function(tmp_path: Path) -> None:
    fabric = hwloc.load(write(tmp_path, V2))
    assert fabric.description.startswith("hwloc XML v2")
    assert [(str(rb), rb.numa_node) for rb in fabric.root_buses] == [("0000:40", 0)]
    hca = fabric.find("0000:41:00.0")
    assert hca.name == "ib0"  # the network interface wins over the RDMA device (contract order)
    assert fabric.find("mlx5_1").bdf == BDF.parse("41:00.1")  # no netdev: the RDMA device name
    assert hca.product == "Mellanox Technologies MT28908 Family [ConnectX-6]"
    assert hca.kind is DeviceKind.NIC
    assert fabric.find("40:00.0").kind is DeviceKind.HOST_BRIDGE
    assert fabric.representative(fabric.root_buses[0]).bdf == BDF.parse("40:00.0")
    assert fabric.host.cpu_vendor == "amd" and fabric.host.cpu_family == 23


def test_osdev_type_2_is_network_in_v2_but_memory_in_v3(tmp_path: Path) -> None:
    v3 = V2.replace('version="2.0"', 'version="3.0"').replace('name="ib0" osdev_type="2"', 'name="ib0" osdev_type="16"')
    v3 = v3.replace('name="mlx5_0" osdev_type="3"', 'name="mem0" osdev_type="2"')
    fabric = hwloc.load(write(tmp_path, v3))
    assert fabric.find("0000:41:00.0").name == "ib0"  # 16 = network in v3's bitmask
    assert "mem0" not in {d.name for d in fabric}
    v2 = V2.replace('name="ib0" osdev_type="2"', 'name="ib0" osdev_type="16"')
    fabric = hwloc.load(write(tmp_path, v2))
    assert fabric.find("0000:41:00.0").name == "mlx5_0"  # 16 means nothing in v2; the RDMA name remains


@pytest.mark.parametrize(
    ("nodeset", "node"),
    [("0x00000004", 2), ("0x00000001,0x00000000", 32), ("0x0", None), ("0x00000003", None), ("0xf...f", None)],
)
def test_numa_node_only_when_the_nodeset_names_exactly_one(tmp_path: Path, nodeset: str, node: int | None) -> None:
    package = re.search(r'<object type="Package"[^>]*>', V2)[0]
    assert 'nodeset="0x00000001"' in package
    text = V2.replace(package, package.replace('nodeset="0x00000001"', f'nodeset="{nodeset}"'))
    fabric = hwloc.load(write(tmp_path, text))
    assert fabric.root_buses[0].numa_node == node
