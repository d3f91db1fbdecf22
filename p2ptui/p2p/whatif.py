"""What-if copies of a fabric: the same machine with other ACS bits, IDs, kernel, CPU, IOMMU mode or command line.

Every function returns a new Fabric and leaves its argument alone, so a view can show before and after. Changes to
what Linux does at boot (IOMMU, command line, kernel) also rewrite ACS control values that were read from hardware,
as the re-booted machine would have them (acs_cmdline.live_ctrl); values marked kernel-default follow by themselves.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from ..errors import Diagnostic, InputError
from ..fabric import acs as acsbits
from ..fabric.acs import Acs, AcsSource
from ..fabric.model import Device, Fabric, Host
from .acs_cmdline import BootLog, cmdline_with_disable_acs_redir, live_ctrl
from .context import verdict_context
from .profiles import parse_cpu, parse_iommu, parse_kernel, profile_for


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


def with_kernel(fabric: Fabric, kernel: str) -> Fabric:
    parse_kernel(kernel)  # reject what is not a P2PDMA kernel before building anything
    return _reboot(fabric, replace(fabric.host, kernel=kernel.strip()))


def with_cpu(fabric: Fabric, cpu: str) -> Fabric:
    vendor, family, arch = parse_cpu(cpu)
    return fabric.replace(host=replace(fabric.host, cpu_vendor=vendor, cpu_family=family, arch=arch))


def with_iommu(fabric: Fabric, mode: str) -> Fabric:
    return _reboot(fabric, replace(fabric.host, iommu=parse_iommu(mode)))


def with_cmdline(fabric: Fabric, cmdline: str) -> Fabric:
    return _reboot(fabric, replace(fabric.host, cmdline=cmdline))


def with_disable_acs_redir(fabric: Fabric, devices: Iterable[Device | str]) -> Fabric:
    """The machine booted with these devices added to pci=disable_acs_redir= (by address)."""
    bdfs = [str(_device(fabric, d).bdf) for d in devices]
    return with_cmdline(fabric, cmdline_with_disable_acs_redir(fabric.host.cmdline, bdfs)[0])


def _reboot(fabric: Fabric, host: Host) -> Fabric:
    """The fabric as the machine would come up with ``host``: hardware-read ACS values re-derived."""
    before = profile_for(fabric)
    after_fabric = fabric.replace(host=host)
    after = profile_for(after_fabric)
    log = BootLog([], set())
    changed = []
    for dev in fabric.devices:
        if dev.acs.source is not AcsSource.HARDWARE:
            continue
        value, _ = live_ctrl(dev, after.acs, before.booted, fabric.upstream_bridge, log)
        if value != dev.acs.ctrl:
            changed.append(replace(dev, acs=replace(dev.acs, ctrl=value)))
    return after_fabric.with_devices(changed) if changed else after_fabric
