"""Per-fabric answers the views show outside a single verdict: which functions redirect P2P under a profile, the
nvidia-smi class of a pair, the root complexes Linux refuses P2P through. Views ask here instead of reading the
verdict's private indexes."""

from __future__ import annotations

from ..fabric.bdf import BDF
from ..fabric.model import Device, Fabric, RootBus
from .context import verdict_context
from .profiles import KernelProfile
from .topo import TopoClass, topo_class


def acs_redirect_states(fabric: Fabric, profile: KernelProfile | None = None) -> dict[BDF, bool | None]:
    """Whether each function's live ACS control redirects P2P under ``profile`` (None: not readable)."""
    ctx = verdict_context(fabric, profile)
    return {d.bdf: (None if ctx.acs_unknown[i] else ctx.redirect[i]) for i, d in enumerate(ctx.index.devices)}


def redirecting(fabric: Fabric, profile: KernelProfile | None = None) -> list[Device]:
    """The functions whose live ACS control is known to redirect P2P under ``profile``."""
    return [d for d, on in zip(fabric.devices, acs_redirect_states(fabric, profile).values(), strict=False) if on]


def topo_between(fabric: Fabric, a: Device, b: Device) -> TopoClass:
    ctx = verdict_context(fabric)
    return topo_class(ctx.index, ctx.index.index[a.bdf], ctx.index.index[b.bdf])


def refused_root_complexes(fabric: Fabric, profile: KernelProfile | None = None) -> list[tuple[RootBus, Device]]:
    """Root buses whose host bridge Linux refuses P2P through (even within the bridge) under ``profile``, with the
    device that stands for it."""
    ctx = verdict_context(fabric, profile)
    out = []
    for k, rb in enumerate(fabric.root_buses):
        rep = ctx.representatives[k]
        if rep is not None and not ctx.host_path_allowed(k, k):
            out.append((rb, rep))
    return out
