"""Save a fabric as YAML that load_fabric reads back to an equal Fabric.

Fields equal to the loader's defaults are left out, so saved files stay as short as hand-written ones.
"""

from __future__ import annotations

import os
from pathlib import Path

import yaml

from . import acs as acsbits
from .acs import Acs, AcsSource
from .bdf import format_bus
from .units import format_size
from .model import Device, Fabric, Host, Link, P2PPool, RootBus
from .yaml_load import DEFAULT_KERNEL_ACS_CAP, FORMAT_TAG

_DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
_HOST = Host()
_LINK = Link()


def dumps_fabric(fabric: Fabric) -> str:
    doc: dict = {"format": FORMAT_TAG, "name": fabric.name}
    if fabric.description:
        doc["description"] = fabric.description
    host = _host(fabric.host)
    if host:
        doc["host"] = host
    if fabric.notes:
        doc["notes"] = list(fabric.notes)
    doc["root_complexes"] = [_root_bus(fabric, rb) for rb in fabric.root_buses]
    return yaml.dump(doc, Dumper=_DUMPER, sort_keys=False, allow_unicode=True, width=120, default_flow_style=False)


def save_fabric(fabric: Fabric, path: str | os.PathLike) -> None:
    """Write atomically: a crash mid-write leaves the old file, never half a fabric."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(dumps_fabric(fabric), encoding="utf-8")
    os.replace(tmp, path)


def _host(host: Host) -> dict:
    out: dict = {}
    cpu = {}
    if host.cpu_vendor is not None:
        cpu["vendor"] = host.cpu_vendor
    if host.cpu_family is not None:
        cpu["family"] = f"{host.cpu_family:#x}"
    if host.cpu_model is not None:
        cpu["model"] = host.cpu_model
    if cpu:
        out["cpu"] = cpu
    if host.arch != _HOST.arch:
        out["arch"] = host.arch
    if host.kernel is not None:
        out["kernel"] = host.kernel
    if host.cmdline:
        out["cmdline"] = host.cmdline
    if host.iommu != _HOST.iommu:
        out["iommu"] = host.iommu.value
    if host.memory_bandwidth is not None:
        out["memory_bandwidth"] = host.memory_bandwidth
    return out


def _root_bus(fabric: Fabric, rb: RootBus) -> dict:
    out: dict = {"bus": format_bus(rb.domain, rb.bus)}
    if rb.host_bridge != RootBus(rb.domain, rb.bus).host_bridge:
        out["host_bridge"] = rb.host_bridge
    if rb.numa_node is not None:
        out["numa_node"] = rb.numa_node
    caps = {k: v for k, v in (("read", rb.p2p_read), ("write", rb.p2p_write)) if v is not None}
    if caps:
        out["p2p"] = caps
    out["devices"] = [_device(fabric, d) for d in fabric.on_root_bus(rb) if not d.is_vf]
    # VFs whose PF sits on the root bus are written under the PF; nothing else on the bus is left out.
    return out


def _device(fabric: Fabric, dev: Device) -> dict:
    out: dict = {"bdf": str(dev.bdf), "kind": dev.kind.value, "name": dev.name}
    if dev.vendor_id is not None or dev.device_id is not None:
        out["id"] = _ids(dev.vendor_id, dev.device_id)
    if dev.subsystem_vendor_id is not None or dev.subsystem_device_id is not None:
        out["subsystem"] = _ids(dev.subsystem_vendor_id, dev.subsystem_device_id)
    if dev.class_code is not None:
        out["class"] = f"0x{dev.class_code:06x}"
    if dev.revision is not None:
        out["revision"] = f"{dev.revision:#04x}"
    for key in ("product", "driver", "numa_node", "iommu_group"):
        value = getattr(dev, key)
        if value is not None:
            out[key] = value
    if dev.link is not None:
        out["link"] = _link(dev.link)
    if dev.acs.source is not AcsSource.NONE:
        out["acs"] = _acs(dev.acs)
    if dev.pool is not None:
        out["p2pmem"] = _pool(dev.pool)
    vfs = fabric.virtfns(dev)
    if vfs:
        out["vfs"] = [_device(fabric, vf) for vf in vfs]
    children = [c for c in fabric.children(dev) if not c.is_vf]
    if children:
        out["children"] = [_device(fabric, c) for c in children]
    return out


def _ids(vendor: int | None, device: int | None) -> str:
    return f"{_hex4(vendor)}:{_hex4(device)}"


def _hex4(value: int | None) -> str:
    return "????" if value is None else f"{value:04x}"


def _link(link: Link) -> str | dict:
    if link.gen is not None and link.width is not None and (link.max_gen, link.max_width) == (link.gen, link.width) \
            and (link.mps, link.mrrs) == (_LINK.mps, _LINK.mrrs):  # fmt: skip
        return f"gen{link.gen} x{link.width}"
    if link == Link(mps=None, mrrs=None):
        return "unknown"
    out: dict = {}
    for key in ("gen", "width", "max_gen", "max_width", "mps", "mrrs"):
        value = getattr(link, key)
        default = {"max_gen": link.gen, "max_width": link.width, "mps": _LINK.mps, "mrrs": _LINK.mrrs}.get(key)
        if key in ("gen", "width") or value != default:
            out[key] = "unknown" if value is None else value
    return out


def _acs(acs: Acs) -> str | dict:
    if acs.source is AcsSource.UNKNOWN:
        return "unknown"
    if acs.source is AcsSource.KERNEL_DEFAULT and acs.cap == DEFAULT_KERNEL_ACS_CAP and acs.firmware_ctrl == 0:
        return AcsSource.KERNEL_DEFAULT.value
    out: dict = {"cap": _bits(acs.cap)}
    if acs.source is AcsSource.KERNEL_DEFAULT:
        out["ctrl"] = AcsSource.KERNEL_DEFAULT.value
        if acs.firmware_ctrl:
            out["firmware"] = _bits(acs.firmware_ctrl)
    else:
        out["ctrl"] = _bits(acs.ctrl)
    return out


def _bits(value: int) -> list[str] | str:
    if value & ~acsbits.ALL_BITS:
        return f"{value:#06x}"
    return acsbits.bit_names(value)


def _pool(pool: P2PPool) -> dict:
    out: dict = {"size": format_size(pool.size)}
    if pool.available != pool.size:
        out["available"] = format_size(pool.available)
    if not pool.published:
        out["published"] = False
    if not pool.allocate:
        out["allocate"] = False
    return out
