"""The whole model as plain JSON-ready data: a flat device list that scripts can filter without walking a tree."""

from __future__ import annotations

from ..fabric import acs as acsbits
from ..fabric.model import Device, Fabric, Link
from ..fabric.naming import device_names


def fabric_to_dict(fabric: Fabric) -> dict:
    host = fabric.host
    return {
        "name": fabric.name,
        "description": fabric.description,
        "host": {
            "cpu_vendor": host.cpu_vendor,
            "cpu_family": host.cpu_family,
            "cpu_model": host.cpu_model,
            "arch": host.arch,
            "kernel": host.kernel,
            "cmdline": host.cmdline,
            "iommu": host.iommu.value,
            "memory_bandwidth_gbps": host.memory_bandwidth,
        },
        "notes": list(fabric.notes),
        "root_buses": [
            {
                "bus": str(rb),
                "host_bridge": rb.host_bridge,
                "numa_node": rb.numa_node,
                "p2p_read_gbps": rb.p2p_read,
                "p2p_write_gbps": rb.p2p_write,
                "representative": _bdf(fabric.representative(rb)),
            }
            for rb in fabric.root_buses
        ],
        "devices": [device_to_dict(fabric, d) for d in fabric.devices],
        # Entries the source gives that the tree cannot hold (a second entry for one address): not in the tree.
        "unplaced": [_unplaced_to_dict(d) for d in fabric.unplaced],
    }


_TREE_FIELDS = ("upstream_bridge", "root_bus", "siblings")  # what only a function placed in the tree has


def _unplaced_to_dict(dev: Device) -> dict:
    """Every fact of a set-aside entry, as for a device in the tree (so the JSON reads back to the same fabric),
    without what only the tree gives; ``parent`` is where the source puts it."""
    fields = device_to_dict(None, dev)
    return {key: value for key, value in fields.items() if key not in _TREE_FIELDS}


def device_to_dict(fabric: Fabric | None, dev: Device) -> dict:
    """One function's facts; with ``fabric`` None (an entry set aside), the fields the tree gives are None."""
    acs = dev.acs
    names = device_names(dev)
    return {
        "bdf": str(dev.bdf),
        "name": dev.name,
        "kind": dev.kind.value,
        "parent": str(dev.parent) if dev.parent else None,
        "upstream_bridge": _bdf(fabric.upstream_bridge(dev)) if fabric is not None else None,
        "root_bus": str(fabric.root_bus_of(dev)) if fabric is not None else None,
        "vendor_id": _hex(dev.vendor_id, 4),
        "device_id": _hex(dev.device_id, 4),
        "class_code": _hex(dev.class_code, 6),
        "subsystem_vendor_id": _hex(dev.subsystem_vendor_id, 4),
        "subsystem_device_id": _hex(dev.subsystem_device_id, 4),
        "revision": _hex(dev.revision, 2),
        "vendor_name": names.vendor,
        "device_name": names.device,
        "product": dev.product,
        "driver": dev.driver,
        "numa_node": dev.numa_node,
        "iommu_group": dev.iommu_group,
        "link": _link(dev.link),
        "acs": {
            "source": acs.source.value,
            "cap": acsbits.bit_names(acs.cap) if acs.present else None,
            "ctrl": acsbits.bit_names(acs.ctrl) if acs.source.value == "hardware" else None,
            "firmware_ctrl": acsbits.bit_names(acs.firmware_ctrl) if acs.source.value == "kernel-default" else None,
        },
        "physfn": str(dev.physfn) if dev.physfn else None,
        "integrated": dev.integrated,  # an RCiEP: no link, integrated in the root complex
        "conflict": dev.conflict or None,  # why the source contradicts this function's place; verdicts refuse it
        "slot": dev.slot,
        "aer": (
            {"correctable": dev.aer.correctable, "nonfatal": dev.aer.nonfatal, "fatal": dev.aer.fatal}
            if dev.aer
            else None
        ),
        "siblings": [str(s.bdf) for s in fabric.siblings(dev)] if fabric is not None else None,
        "p2pmem": (
            {
                "size": dev.pool.size,
                "available": dev.pool.available,
                "published": dev.pool.published,
                "allocate": dev.pool.allocate,
            }
            if dev.pool
            else None
        ),
    }


def _bdf(dev: Device | None) -> str | None:
    return str(dev.bdf) if dev is not None else None


def _hex(value: int | None, digits: int) -> str | None:
    return f"{value:0{digits}x}" if value is not None else None


def _link(link: Link | None) -> dict | None:
    if link is None:
        return None
    return {
        "gen": link.gen,
        "width": link.width,
        "max_gen": link.max_gen,
        "max_width": link.max_width,
        "mps": link.mps,
        "mrrs": link.mrrs,
        "width_degraded": link.width_degraded,
        "speed_below_max": link.speed_below_max,
        "down": link.down,
    }
