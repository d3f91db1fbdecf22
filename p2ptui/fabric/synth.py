"""Synthetic fabrics: seeded random trees for property tests, and large regular ones for performance work.

Random fabrics deliberately hit the corners the P2P verdict cares about: multi-function devices, VFs (also on
later bus numbers), cascaded switches, RCiEPs on root buses, representatives that are host bridges, root ports
or accelerators with whitelisted and non-whitelisted IDs, ACS bits from hardware or kernel defaults, and several
host bridges in 16- and 32-bit domains.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from . import acs as acsbits
from .acs import ACS_NONE, ACS_UNKNOWN, Acs, AcsSource
from .bdf import BDF
from .kinds import DeviceKind
from .model import Device, Fabric, Host, IommuMode, Link, P2PPool, RootBus
from .naming import default_names

# (vendor, device) of first devices on root buses; the mix of whitelisted and not is what matters.
REPRESENTATIVE_IDS = [
    (0x8086, 0x2020),  # Skylake-E host bridge (whitelisted v5.6+)
    (0x8086, 0x2030),  # Skylake-E root port A (whitelisted v5.6+)
    (0x8086, 0x2F00),  # Haswell-EP host bridge (REQ_SAME_HOST_BRIDGE)
    (0x8086, 0x3C00),  # Sandy Bridge-EP host bridge (REQ_SAME_HOST_BRIDGE)
    (0x8086, 0x09A2),  # Ice Lake and later Xeon (whitelisted)
    (0x8086, 0x3E0F),  # Coffee Lake desktop host bridge (not whitelisted)
    (0x1022, 0x1450),  # AMD Zen root complex (whitelisted v5.2-v5.8 only)
    (0x1022, 0x1480),  # AMD Zen 2 root complex (never whitelisted)
    (0x8086, 0x0B25),  # Sapphire Rapids DSA, an RCiEP that leads its root bus (whitelisted 2026)
]
ENDPOINT_CLASSES = {
    DeviceKind.NVME: (0x010802, 0x144D, 0xA808),
    DeviceKind.NIC: (0x020000, 0x15B3, 0x1017),
    DeviceKind.GPU: (0x030200, 0x10DE, 0x20B0),
    DeviceKind.FPGA: (0x120000, 0x10EE, 0x5000),
    DeviceKind.ACCELERATOR: (0x120000, 0x1DA3, 0x1000),
    DeviceKind.OTHER: (0x058000, 0x1AF4, 0x1045),
}
KERNELS = ["4.20", "5.2", "5.4", "5.9", "5.14", "6.1", "6.12", "7.1", None]


@dataclass
class _Builder:
    rng: random.Random
    max_endpoints: int
    devices: list[Device] = field(default_factory=list)
    endpoints: int = 0

    def add(self, bdf: BDF, kind: DeviceKind, parent: BDF | None, **extra) -> Device:
        dev = Device(bdf, kind, name="", parent=parent, **extra)
        self.devices.append(dev)
        return dev

    def acs_for_port(self) -> Acs:
        roll = self.rng.random()
        if roll < 0.35:
            return ACS_NONE
        cap = acsbits.ALL_BITS if self.rng.random() < 0.7 else acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF
        if roll < 0.45:
            return Acs(AcsSource.KERNEL_DEFAULT, cap=cap, firmware_ctrl=self._random_bits(cap, 0.1))
        if roll < 0.5:
            return ACS_UNKNOWN
        return Acs(AcsSource.HARDWARE, cap=cap, ctrl=self._random_bits(cap, 0.25))

    def _random_bits(self, cap: int, p: float) -> int:
        return sum(bit for bit in acsbits.BIT_NAMES.values() if cap & bit and self.rng.random() < p)

    def endpoint_fields(self, kind: DeviceKind) -> dict:
        class_code, vendor, device = ENDPOINT_CLASSES[kind]
        extra: dict = {"class_code": class_code, "vendor_id": vendor, "device_id": device}
        gen = self.rng.choice([3, 4, 5])
        width = self.rng.choice([4, 8, 16])
        extra["link"] = Link(gen, width, gen, width)
        if self.rng.random() < 0.4:
            size = self.rng.choice([1 << 26, 1 << 28, 1 << 30])
            extra["pool"] = P2PPool(size, size, published=self.rng.random() < 0.85)
        if self.rng.random() < 0.1:
            extra["acs"] = Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=acsbits.RR | acsbits.CR)
        return extra


def random_fabric(seed: int, max_endpoints: int = 24) -> Fabric:
    """A valid random fabric; the same seed always gives the same fabric."""
    rng = random.Random(seed)
    b = _Builder(rng, max_endpoints)
    vendor = rng.choice(["intel", "amd"])
    host = Host(
        cpu_vendor=vendor,
        cpu_family=6 if vendor == "intel" else rng.choice([0x15, 0x17, 0x19, 0x1A]),
        kernel=rng.choice(KERNELS),
        iommu=rng.choice(list(IommuMode)),
    )
    domains = [0, 0, 0, 0x10000] if rng.random() < 0.2 else [0, 0, 0, 0]
    n_roots = rng.randint(1, 4)
    root_buses = []
    for i in range(n_roots):
        domain, bus = domains[i], i * 0x40
        root_buses.append(RootBus(domain, bus, numa_node=i % 2))
        next_bus = [bus + 1]
        _random_root_bus(b, domain, bus, next_bus, budget=max(1, max_endpoints // n_roots))
    devices = b.devices
    names = default_names((d.kind for d in devices), ())
    devices = [Device(**{**_fields(d), "name": n}) for d, n in zip(devices, names, strict=False)]
    return Fabric(
        f"random-{seed}", tuple(root_buses), tuple(devices), host=host, description=f"random fabric, seed {seed}"
    )


def _fields(dev: Device) -> dict:
    return {name: getattr(dev, name) for name in Device.__dataclass_fields__}


def _random_root_bus(b: _Builder, domain: int, bus: int, next_bus: list[int], budget: int) -> None:
    rng = b.rng
    vendor, device = rng.choice(REPRESENTATIVE_IDS)
    slot = 0
    lead = rng.random()
    if lead < 0.6:
        b.add(
            BDF(domain, bus, 0, 0),
            DeviceKind.HOST_BRIDGE,
            None,
            vendor_id=vendor,
            device_id=device,
            class_code=0x060000,
        )
        slot = 1
    elif lead < 0.8:
        # A root port leads the bus (Skylake-SP stacks); sometimes not at devfn 00.0, which old kernels reject.
        slot = rng.choice([0, 0, 1])
    else:
        b.add(
            BDF(domain, bus, 0, 0),
            DeviceKind.ACCELERATOR,
            None,
            vendor_id=vendor,
            device_id=device,
            class_code=0x088000,
        )
        b.endpoints += 1
        slot = 1
    first_port = True
    while b.endpoints < b.max_endpoints and budget > 0 and slot < 32:
        if rng.random() < 0.12:  # an RCiEP on the root bus
            _endpoint(b, BDF(domain, bus, slot, 0), None, next_bus, allow_mf=True)
            budget -= 1
        else:
            ids = {"vendor_id": vendor, "device_id": device} if first_port and lead >= 0.6 and lead < 0.8 else {}
            port = b.add(
                BDF(domain, bus, slot, 0),
                DeviceKind.ROOT_PORT,
                None,
                acs=b.acs_for_port(),
                link=Link(4, 16, 4, 16),
                **ids,
            )
            first_port = False
            budget -= _below_port(b, port, next_bus, depth=0)
        slot += 1
        if rng.random() < 0.25:
            break


def _below_port(b: _Builder, port: Device, next_bus: list[int], depth: int) -> int:
    """Fill the secondary bus of a root port or downstream port; returns endpoints added."""
    rng = b.rng
    if b.endpoints >= b.max_endpoints:
        return 0
    bus = next_bus[0]
    next_bus[0] += 1
    domain = port.bdf.domain
    if depth < 2 and rng.random() < 0.45:
        usp = b.add(BDF(domain, bus, 0, 0), DeviceKind.SWITCH_UPSTREAM, port.bdf, acs=ACS_NONE, link=Link(4, 16, 4, 16))
        inner = next_bus[0]
        next_bus[0] += 1
        added = 0
        for slot in range(rng.randint(1, 4)):
            dsp = b.add(BDF(domain, inner, slot, 0), DeviceKind.SWITCH_DOWNSTREAM, usp.bdf, acs=b.acs_for_port())
            added += _below_port(b, dsp, next_bus, depth + 1)
        return added
    return _endpoint(b, BDF(domain, bus, 0, 0), port.bdf, next_bus, allow_mf=True)


def _endpoint(b: _Builder, bdf: BDF, parent: BDF | None, next_bus: list[int], allow_mf: bool) -> int:
    rng = b.rng
    kind = rng.choice(list(ENDPOINT_CLASSES))
    pf = b.add(bdf, kind, parent, **b.endpoint_fields(kind))
    added = 1
    functions = rng.choice([1, 1, 1, 2, 3]) if allow_mf else 1
    for fn in range(1, functions):
        b.add(BDF(bdf.domain, bdf.bus, bdf.device, fn), kind, parent, **b.endpoint_fields(kind))
        added += 1
    if rng.random() < 0.2:
        if rng.random() < 0.5 and functions < 8:
            vf_bdfs = [BDF(bdf.domain, bdf.bus, bdf.device, fn) for fn in range(functions, min(8, functions + 3))]
        else:
            vf_bus = next_bus[0]  # a virtual bus for VFs beyond the PF's, as SR-IOV routing IDs allow
            next_bus[0] += 1
            vf_bdfs = [BDF(bdf.domain, vf_bus, 0, fn) for fn in range(rng.randint(1, 4))]
        for vf in vf_bdfs:
            b.add(vf, kind, parent, physfn=pf.bdf, class_code=pf.class_code, vendor_id=pf.vendor_id)
            added += 1
    b.endpoints += added
    return added


def large_fabric(endpoints: int = 1024, ports_per_switch: int = 32) -> Fabric:
    """A regular fabric for performance work: one PCI segment per 128 endpoints (bus numbers run out beyond),
    each with a host bridge and four root ports, each root port feeding a Gen4 switch whose downstream ports carry
    one endpoint each, cycling NVMe (with a published CMB), GPU and NIC. Two NUMA nodes."""
    per_switch = ports_per_switch
    per_segment = 4 * per_switch
    segments = -(-endpoints // per_segment)
    cycle = [DeviceKind.NVME, DeviceKind.GPU, DeviceKind.NIC, DeviceKind.NVME]
    devices: list[Device] = []
    root_buses: list[RootBus] = []
    made = 0
    for seg in range(segments):
        numa = 0 if seg < segments / 2 else 1
        root_buses.append(RootBus(seg, 0, numa_node=numa, p2p_read=20.0, p2p_write=25.0))
        devices.append(
            Device(
                BDF(seg, 0, 0, 0),
                DeviceKind.HOST_BRIDGE,
                "",
                vendor_id=0x8086,
                device_id=0x09A2,
                class_code=0x060000,
                numa_node=numa,
            )
        )
        bus = 1
        for rp_slot in range(1, 5):
            if made >= endpoints:
                break
            rp = BDF(seg, 0, rp_slot, 0)
            devices.append(
                Device(
                    rp,
                    DeviceKind.ROOT_PORT,
                    "",
                    vendor_id=0x8086,
                    device_id=0x347A,
                    link=Link(4, 16, 4, 16),
                    acs=Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS),
                    numa_node=numa,
                )
            )
            usp = BDF(seg, bus, 0, 0)
            devices.append(
                Device(
                    usp,
                    DeviceKind.SWITCH_UPSTREAM,
                    "",
                    parent=rp,
                    vendor_id=0x1000,
                    device_id=0xC010,
                    link=Link(4, 16, 4, 16),
                    numa_node=numa,
                )
            )
            inner = bus + 1
            bus += 2
            for slot in range(per_switch):
                if made >= endpoints:
                    break
                dsp = BDF(seg, inner, slot, 0)
                devices.append(
                    Device(
                        dsp,
                        DeviceKind.SWITCH_DOWNSTREAM,
                        "",
                        parent=usp,
                        vendor_id=0x1000,
                        device_id=0xC010,
                        acs=Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS),
                        numa_node=numa,
                    )
                )
                kind = cycle[made % len(cycle)]
                class_code, vendor, device = ENDPOINT_CLASSES[kind]
                width = 4 if kind is DeviceKind.NVME else 16
                pool = P2PPool(256 << 20, 256 << 20) if kind is DeviceKind.NVME else None
                devices.append(
                    Device(
                        BDF(seg, bus, 0, 0),
                        kind,
                        "",
                        parent=dsp,
                        vendor_id=vendor,
                        device_id=device,
                        class_code=class_code,
                        link=Link(4, width, 4, width),
                        pool=pool,
                        numa_node=numa,
                    )
                )
                bus += 1
                made += 1
    names = default_names((d.kind for d in devices), ())
    devices = [Device(**{**_fields(d), "name": n}) for d, n in zip(devices, names, strict=False)]
    host = Host(cpu_vendor="intel", cpu_family=6, cpu_model="Xeon (synthetic)", kernel="6.12", memory_bandwidth=300.0)
    return Fabric(
        f"large-{endpoints}",
        tuple(root_buses),
        tuple(devices),
        host=host,
        description=f"Synthetic: {endpoints} endpoints behind Gen4 switches in {segments} PCI segments, for "
        "performance work (generated by p2ptui.fabric.synth.large_fabric).",
    )
