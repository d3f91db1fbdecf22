"""A switch of unknown ACS with one NVMe drive on each downstream port: each drive checked as a client adds an unknown
that decides its own verdict, so the cases double with every client (tests/p2p/test_outcomes_too_many.py and the
TUI's verdict panel test)."""

from __future__ import annotations

from p2ptui.fabric import BDF, DeviceKind
from p2ptui.fabric.acs import ACS_UNKNOWN
from p2ptui.fabric.model import Device, Fabric, Host, IommuMode, Link, RootBus

LINK = Link(4, 16, 4, 16)


def switch_of(drives: int) -> Fabric:
    """A root port, a switch of unknown ACS with one downstream port per NVMe drive; the machine otherwise known."""
    rp, usp = BDF(0, 0, 1, 0), BDF(0, 1, 0, 0)
    devices = [
        Device(BDF(0, 0, 0, 0), DeviceKind.HOST_BRIDGE, "hb0", vendor_id=0x8086, device_id=0x09A2, class_code=0x060000),
        Device(rp, DeviceKind.ROOT_PORT, "rp0", link=LINK, acs=ACS_UNKNOWN),
        Device(usp, DeviceKind.SWITCH_UPSTREAM, "usp0", parent=rp, link=LINK, acs=ACS_UNKNOWN),
    ]
    for i in range(drives):
        dsp = BDF(0, 2, i // 8, i % 8)
        devices.append(Device(dsp, DeviceKind.SWITCH_DOWNSTREAM, f"dsp{i}", parent=usp, link=LINK, acs=ACS_UNKNOWN))
        devices.append(
            Device(BDF(0, 3 + i, 0, 0), DeviceKind.NVME, f"nvme{i}", parent=dsp, link=LINK, class_code=0x010802)
        )
    host = Host(cpu_vendor="intel", cpu_family=6, kernel="6.12", iommu=IommuMode.OFF)
    return Fabric("switch", (RootBus(0, 0),), tuple(devices), host=host)
