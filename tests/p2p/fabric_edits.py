"""Scenario builders for verdict tests: a copy of a fabric with one device's ACS bits, IDs or P2P pool changed.

Every function returns a new Fabric and leaves its argument alone. Host-level changes (kernel, CPU, IOMMU mode,
command line) need no builder: tests pass them to profile_for, as the CLI's flags and the TUI's what-if dialog do.
"""

from __future__ import annotations

from dataclasses import replace

from p2ptui.errors import Diagnostic, InputError
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import Acs, AcsSource
from p2ptui.fabric.model import Device, Fabric
from p2ptui.p2p.context import verdict_context


def _device(fabric: Fabric, ref: Device | str) -> Device:
    try:
        return fabric.find(ref if isinstance(ref, str) else str(ref.bdf))
    except KeyError:
        raise InputError(Diagnostic(f"no device {str(ref)!r} in fabric {fabric.name!r}")) from None


def with_acs(
    fabric: Fabric,
    device: Device | str,
    *,
    ctrl: int | None = None,
    set_bits: int = 0,
    clear_bits: int = 0,
    cap: int | None = None,
) -> Fabric:
    """``device`` with its live ACS control changed: replaced by ``ctrl``, or the current live value with bits set
    and cleared. ``cap`` gives (or replaces) the capability, needed for a device without one."""
    dev = _device(fabric, device)
    ctx = verdict_context(fabric)
    i = ctx.index.index[dev.bdf]
    capability = cap if cap is not None else dev.acs.cap
    if cap is None and not dev.acs.present:
        raise InputError(
            Diagnostic(f"{dev.bdf} ({dev.name}) has no ACS capability", hint="give cap= to add one for the what-if")
        )
    value = ctx.ctrl[i] if ctrl is None else ctrl
    value = (value | set_bits) & ~clear_bits
    extra = value & ~capability
    if extra:
        raise InputError(
            Diagnostic(
                f"{dev.bdf} ({dev.name}): ACS bits {acsbits.describe(extra)} are not in its capability "
                f"({acsbits.describe(capability)})"
            )
        )
    return fabric.with_devices([replace(dev, acs=Acs(AcsSource.HARDWARE, cap=capability, ctrl=value))])


def with_firmware_acs(fabric: Fabric, device: Device | str, firmware_ctrl: int, *, cap: int | None = None) -> Fabric:
    """``device`` with ACS control left to the kernel: firmware set ``firmware_ctrl``, Linux adds its defaults and
    applies the command line at boot (what kernel-default means in a fabric file)."""
    dev = _device(fabric, device)
    capability = cap if cap is not None else dev.acs.cap
    if not capability:
        raise InputError(
            Diagnostic(f"{dev.bdf} ({dev.name}) has no ACS capability", hint="give cap= to add one for the what-if")
        )
    if firmware_ctrl & ~capability:
        raise InputError(Diagnostic(f"{dev.bdf} ({dev.name}): firmware ACS bits beyond its capability"))
    acs = Acs(AcsSource.KERNEL_DEFAULT, cap=capability, firmware_ctrl=firmware_ctrl)
    return fabric.with_devices([replace(dev, acs=acs)])


def with_ids(fabric: Fabric, device: Device | str, vendor_id: int, device_id: int) -> Fabric:
    """``device`` with other vendor:device IDs: e.g. make a host bridge (not) whitelisted."""
    dev = _device(fabric, device)
    return fabric.with_devices([replace(dev, vendor_id=vendor_id, device_id=device_id)])


def with_pool_published(fabric: Fabric, device: Device | str, published: bool) -> Fabric:
    dev = _device(fabric, device)
    if dev.pool is None:
        raise InputError(Diagnostic(f"{dev.bdf} ({dev.name}) has no P2P memory pool"))
    return fabric.with_devices([replace(dev, pool=replace(dev.pool, published=published))])
