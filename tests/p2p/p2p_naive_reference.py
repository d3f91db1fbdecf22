"""A second, deliberately naive P2PDMA verdict, written straight from the spec for the property test.

It shares nothing with p2ptui.p2p: chains come from the model's upstream_chain, ancestors are found by BDF lists,
the whitelist is its own literal table, ACS bits are derived inline (no command line: random fabrics have none),
and every era is an if-chain. Slow and obvious on purpose.
"""

from __future__ import annotations

from p2ptui.fabric.acs import AcsSource
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import IommuMode

# (vendor, device or None for any): (needs the same host bridge, first release, release that dropped it)
TABLE = {
    (0x1022, 0x1450): (False, (5, 4), (5, 9)),
    (0x1022, 0x15D0): (False, (5, 8), (5, 9)),
    (0x1022, 0x1630): (False, (5, 8), (5, 9)),
    (0x8086, 0x3C00): (True, (5, 4), None),
    (0x8086, 0x3C01): (True, (5, 4), None),
    (0x8086, 0x2F00): (True, (5, 4), None),
    (0x8086, 0x2F01): (True, (5, 4), None),
    (0x8086, 0x2030): (False, (5, 6), None),
    (0x8086, 0x2020): (False, (5, 6), None),
    (0x8086, 0x2031): (False, (5, 7), None),
    (0x8086, 0x2032): (False, (5, 7), None),
    (0x8086, 0x2033): (False, (5, 7), None),
    (0x8086, 0x09A2): (False, (5, 18), None),
    **{
        (0x8086, d): (False, (7, 2), None)
        for d in (0x0B25, 0x0CFE, 0x11FB, 0x1212, 0x1216, 0x4940, 0x4942, 0x4944, 0x4946, 0x4948)
    },
    (0x1AE0, None): (False, (7, 1), None),
    **{(0x10DE, d): (False, (7, 3), None) for d in (0x2F95, 0x2F96, 0x2F97, 0x2F98)},
    **{(0x1D17, d): (True, (7, 4), None) for d in (0x1003, 0x1005, 0x1006, 0x1007)},
    (0x1D17, 0x1008): (False, (7, 4), None),
}


def redirects(dev, iommu_on: bool, booted_iommu_on: bool) -> bool:
    """Live RR/CR/EC. Hardware-read values stand as read unless the IOMMU setting differs from the boot they were
    read after; then SV RR CR UF count as the kernel's default (if that boot had an IOMMU) and are re-derived."""
    acs = dev.acs
    if acs.source is AcsSource.HARDWARE:
        value = acs.ctrl
        if iommu_on != booted_iommu_on:
            firmware = value & ~0x1D if booted_iommu_on else value
            value = firmware | (acs.cap & 0x1D if iommu_on else 0)
    elif acs.source is AcsSource.KERNEL_DEFAULT:
        value = acs.firmware_ctrl | (acs.cap & 0x1D if iommu_on else 0)
    else:
        return False
    return bool(value & acs.cap & 0x2C)


def first_device(fabric, bus, version):
    on_bus = sorted(
        (d for d in fabric.devices if d.parent is None and d.bdf.bus_id == bus.bus_id),
        key=lambda d: (d.bdf.device, d.bdf.function),
    )
    if not on_bus or version < (5, 2):
        return None
    if version < (5, 14):
        for d in on_bus:
            if d.bdf.device == 0 and d.bdf.function == 0:
                return d
        return None
    d = on_bus[0]
    if d.bdf.device == 0 and d.bdf.function == 0:
        return d
    if version >= (5, 19) and d.kind == DeviceKind.ROOT_PORT:
        return d
    return None


def table_entry(dev, version):
    if dev is None:
        return None
    for (vendor, device), (same, added, removed) in TABLE.items():
        if vendor == dev.vendor_id and (device is None or device == dev.device_id):
            if version >= added and (removed is None or version < removed):
                return same
    return None


def naive_verdict(fabric, provider, clients, version, cpu_vendor, cpu_family, arch, iommu):
    """Returns (distance_many, [(map, dist, common bdf, acs bdfs)], messages)."""
    iommu_on = iommu is not IommuMode.OFF
    booted = fabric.host.iommu is not IommuMode.OFF
    amd_ok = (
        version >= (5, 9)
        and arch in ("x86_64", "x86", "i386", "i686", "amd64")
        and cpu_vendor == "amd"
        and (cpu_family if cpu_family is not None else 0x17) >= 0x17
    )
    lines = []
    results = []
    failed = len(clients) == 0
    total = 0
    for client in clients:
        chain_p = fabric.upstream_chain(provider)
        chain_c = fabric.upstream_chain(client)
        c_bdfs = [d.bdf for d in chain_c]
        common = None
        for k, a in enumerate(chain_p):
            if a.bdf in c_bdfs:
                common = a
                i, j = k, c_bdfs.index(a.bdf)
                break
        pre = f"{client.driver or 'pci'} {client.bdf}: "
        if common is not None:
            hits = [a for a in chain_p[: i + 1] if redirects(a, iommu_on, booted)] + [
                b for b in chain_c[:j] if redirects(b, iommu_on, booted)
            ]
            dist = i + j
        else:
            hits = []
            dist = len(chain_p) + len(chain_c)
        text = "".join(f"{h.bdf};" for h in hits)
        size = 128 if version >= (5, 14) else 4096
        listed = text[:-1] if len(text) < size else text[: size - 1]
        if version < (5, 4):
            if common is not None and not hits:
                kind = "BUS_ADDR"
            elif common is not None:
                kind, dist = "NOT_SUPPORTED", -2
                lines.append(
                    pre + "cannot be used for peer-to-peer DMA as ACS redirect is set between the client "
                    f"and provider ({provider.bdf})"
                )
                lines.append(
                    pre + "to disable ACS redirect for this path, add the kernel parameter: "
                    f"pci=disable_acs_redir={listed}"
                )
            else:
                rc = [first_device(fabric, fabric.root_bus_of(d), version) for d in (provider, client)]
                zen = all(r is not None and (r.vendor_id, r.device_id) == (0x1022, 0x1450) for r in rc)
                if version >= (5, 2) and zen and not iommu_on:
                    kind, dist = "THRU_HOST_BRIDGE", 0x1000 + dist
                else:
                    kind, dist = "NOT_SUPPORTED", -1
                    lines.append(
                        pre + "cannot be used for peer-to-peer DMA as the client and provider "
                        f"({provider.bdf}) do not share an upstream bridge"
                    )
        else:
            if common is not None and not hits:
                kind = "BUS_ADDR"
            else:
                if hits:
                    lines.append(pre + f"ACS redirect is set between the client and provider ({provider.bdf})")
                    lines.append(
                        pre + "to disable ACS redirect for this path, add the kernel parameter: "
                        f"pci=disable_acs_redir={listed}"
                    )
                kind = "THRU_HOST_BRIDGE"
                if not amd_ok:
                    bus_p, bus_c = fabric.root_bus_of(provider), fabric.root_bus_of(client)
                    rep_p = first_device(fabric, bus_p, version)
                    rep_c = first_device(fabric, bus_c, version)
                    if bus_p.bus_id == bus_c.bus_id:
                        same = table_entry(rep_p, version)
                        ok = same is not None
                        if not ok and hits and rep_p is not None and version >= (5, 14):
                            lines.append(
                                f"{rep_p.driver or 'pci'} {rep_p.bdf}: Host bridge not in P2PDMA whitelist: "
                                f"{rep_p.vendor_id or 0:04x}:{rep_p.device_id or 0:04x}"
                            )
                    else:
                        sp, sc = table_entry(rep_p, version), table_entry(rep_c, version)
                        ok = sp is False and sc is False
                    if not ok:
                        kind = "NOT_SUPPORTED"
                        lines.append(
                            pre + "cannot be used for peer-to-peer DMA as the client and provider "
                            f"({provider.bdf}) do not share an upstream bridge or whitelisted "
                            "host bridge"
                        )
        results.append((kind, dist, common.bdf if common is not None else None, [h.bdf for h in hits]))
        if kind == "NOT_SUPPORTED":
            failed = True
        total += dist
    return (-1 if failed else total), results, lines
