"""lspci output the source tests share: -tv drawings and a -vvv dump written in the line shapes lspci prints
(FORMATS.md §7; tabs as lspci indents): an Intel root port, a PLX switch with two downstream ports, an NVMe drive and
a ConnectX-5 with two enabled VFs."""

from __future__ import annotations

import re

SINGLE_ROOT = """\
-[0000:00]-+-00.0  Intel Corporation 440FX - 82441FX PMC [Natoma]
           +-01.0  Intel Corporation 82371SB PIIX3 ISA [Natoma/Triton II]
           +-02.0-[01-03]----00.0-[02-03]--+-01.0-[03]----00.0  Samsung Electronics Co Ltd NVMe SSD Controller SM981/PM981/PM983
           |                               \\-02.0-[04]--
           \\-03.0  Red Hat, Inc. Virtio network device
"""

TVNN = """\
-+-[0000:00]-+-00.0  Intel Corporation Sky Lake-E DMI3 Registers [8086:2020]
 |           \\-1f.0  Intel Corporation C620 Series Chipset Family LPC Controller [8086:a1c2]
 \\-[0000:17]-+-00.0-[18-1a]----00.0-[19-1a]--+-00.0-[1a]--+-00.0  Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]
             |                               |            \\-00.1  Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]
             |                               \\-01.0-[1b]--
             \\-05.0  Intel Corporation Sky Lake-E VT-d [8086:2024]
"""

DUMP_NN_D = """\
0000:00:00.0 Host bridge [0600]: Intel Corporation Sky Lake-E DMI3 Registers [8086:2020] (rev 04)
\tSubsystem: Intel Corporation Device [8086:0000]
\tControl: I/O- Mem- BusMaster- SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx-
\tNUMA node: 0
\tIOMMU group: 0

0000:17:00.0 PCI bridge [0604]: Intel Corporation Sky Lake-E PCI Express Root Port A [8086:2030] (rev 04) (prog-if 00 [Normal decode])
\tControl: I/O+ Mem+ BusMaster+ SpecCycle- MemWINV- VGASnoop- ParErr- Stepping- SERR- FastB2B- DisINTx+
\tNUMA node: 0
\tIOMMU group: 30
\tBus: primary=17, secondary=18, subordinate=1c, sec-latency=0
\tCapabilities: [90] Express (v2) Root Port (Slot+), MSI 00
\t\tDevCap:\tMaxPayload 256 bytes, PhantFunc 0
\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-
\t\t\tRlxdOrd- ExtTag+ PhantFunc- AuxPwr- NoSnoop+
\t\t\tMaxPayload 256 bytes, MaxReadReq 128 bytes
\t\tLnkCap:\tPort #5, Speed 8GT/s, Width x16, ASPM not supported
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)
\tCapabilities: [110 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\tKernel driver in use: pcieport

0000:18:00.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8796 96-lane, 24-Port PCI Express Gen 3 (8 GT/s) Switch [10b5:8796] (rev ab) (prog-if 00 [Normal decode])
\tNUMA node: 0
\tBus: primary=18, secondary=19, subordinate=1c, sec-latency=0
\tCapabilities: [68] Express (v2) Upstream Port, MSI 00
\t\tDevCtl:\tCorrErr- NonFatalErr- FatalErr- UnsupReq-
\t\t\tMaxPayload 256 bytes, MaxReadReq 128 bytes
\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x16, ASPM L1
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)
\tKernel driver in use: pcieport

0000:19:00.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8796 96-lane, 24-Port PCI Express Gen 3 (8 GT/s) Switch [10b5:8796] (rev ab) (prog-if 00 [Normal decode])
\tNUMA node: 0
\tBus: primary=19, secondary=1a, subordinate=1a, sec-latency=0
\tCapabilities: [68] Express (v2) Downstream Port (Slot+), MSI 00
\t\tLnkCap:\tPort #4, Speed 8GT/s, Width x16, ASPM L1
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x4 (downgraded)
\tCapabilities: [f24 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+
\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl- DirectTrans-
\tKernel driver in use: pcieport

0000:19:01.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8796 96-lane, 24-Port PCI Express Gen 3 (8 GT/s) Switch [10b5:8796] (rev ab) (prog-if 00 [Normal decode])
\tNUMA node: 0
\tBus: primary=19, secondary=1b, subordinate=1b, sec-latency=0
\tCapabilities: [68] Express (v2) Downstream Port (Slot+), MSI 00
\t\tLnkCap:\tPort #5, Speed 8GT/s, Width x16, ASPM L1
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)
\tCapabilities: [f24 v1] Access Control Services
\t\tACSCap:\tSrcValid+ TransBlk+ ReqRedir+ CmpltRedir+ UpstreamFwd+ EgressCtrl+ DirectTrans+
\t\tACSCtl:\tSrcValid- TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl- DirectTrans-
\tKernel driver in use: pcieport

0000:1a:00.0 Non-Volatile memory controller [0108]: Samsung Electronics Co Ltd NVMe SSD Controller PM9A1/PM9A3/980PRO [144d:a80a] (prog-if 02 [NVM Express])
\tSubsystem: Samsung Electronics Co Ltd SSD 980 PRO [144d:a801]
\tNUMA node: 0
\tIOMMU group: 33
\tCapabilities: [70] Express (v2) Endpoint, MSI 00
\t\tDevCap:\tMaxPayload 256 bytes, PhantFunc 0, Latency L0s unlimited, L1 unlimited
\t\tDevCtl:\tCorrErr+ NonFatalErr+ FatalErr+ UnsupReq+
\t\t\tRlxdOrd+ ExtTag+ PhantFunc- AuxPwr- NoSnoop+ FLReset-
\t\t\tMaxPayload 256 bytes, MaxReadReq 512 bytes
\t\tLnkCap:\tPort #0, Speed 16GT/s, Width x4, ASPM L1, Exit Latency L1 <64us
\t\tLnkSta:\tSpeed 8GT/s (downgraded), Width x4 (ok)
\tKernel driver in use: nvme
\tKernel modules: nvme

0000:1b:00.0 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]
\tSubsystem: Mellanox Technologies Device [15b3:0007]
\tNUMA node: 0
\tCapabilities: [60] Express (v2) Endpoint, MSI 00
\t\tDevCtl:\tCorrErr+ NonFatalErr+ FatalErr+ UnsupReq+
\t\t\tMaxPayload 256 bytes, MaxReadReq 4096 bytes
\t\tLnkCap:\tPort #0, Speed 8GT/s, Width x16, ASPM not supported
\t\tLnkSta:\tSpeed 8GT/s (ok), Width x16 (ok)
\tCapabilities: [180 v1] Single Root I/O Virtualization (SR-IOV)
\t\tIOVCap:\tMigration-, Interrupt Message Number: 000
\t\tIOVCtl:\tEnable+ Migration- Interrupt- MSE+ ARIHierarchy+
\t\tIOVSta:\tMigration-
\t\tInitial VFs: 8, Total VFs: 8, Number of VFs: 2, Function Dependency Link: 00
\t\tVF offset: 2, stride: 1, Device ID: 1018
\tKernel driver in use: mlx5_core

0000:1b:00.2 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]
\tNUMA node: 0
\tCapabilities: [60] Express (v2) Endpoint, MSI 00
\tKernel driver in use: mlx5_core

0000:1b:00.3 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5 Virtual Function] [15b3:1018]
\tNUMA node: 0
\tCapabilities: [60] Express (v2) Endpoint, MSI 00
\tKernel driver in use: mlx5_core
"""


def plain(text: str) -> str:
    """The same dump as plain ``lspci -vvv`` prints it: no [class] / [vendor:device] numbers, no domain."""
    text = re.sub(r" \[[0-9a-f]{4}\]:", ":", text)
    text = re.sub(r" \[[0-9a-f]{4}:[0-9a-f]{4}\]", "", text)
    return re.sub(r"^0000:", "", text, flags=re.M)
