"""Shared by the P2P verdict tests: the bundled kernel-scenarios fabric and short helpers.

The fabric: HB0 00:00.0 and HB1 80:00.0 (both 8086:2020), RP0 00:01.0 - USP 01:00.0 - DSP0..3 02:0x.0 with NVMe-A
03:00.0, RNIC 04:00.0/.1 (+VF 04:00.2), NVMe-B 05:00.0, and USP2 06:00.0 - DSP4 07:00.0 - NVMe-C 08:00.0 below DSP3;
RP1 00:02.0 - NVMe-D 09:00.0; RP2 00:03.0 - GPU 0a:00.0; RP3 80:01.0 - NVMe-E 81:00.0; DSA RCiEPs e7:00.0, e7:01.0.
"""

from __future__ import annotations

from functools import lru_cache

import fabric_edits

from p2ptui.fabric import Fabric
from p2ptui.fabric import acs as acsbits
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.verdict import Verdict, check

NON_WL_INTEL = (0x8086, 0x3E30)  # a desktop host bridge, never whitelisted
RR_CR = acsbits.RR | acsbits.CR


@lru_cache(maxsize=1)
def scenario_fabric() -> Fabric:
    path = find_bundled("kernel-scenarios")
    assert path is not None, "the bundled kernel-scenarios fabric is missing"
    return load_fabric(path)


def verdict(fabric: Fabric, provider: str, clients: list, verbose: bool = True, **profile) -> Verdict:
    return check(fabric, provider, clients, profile_for(fabric, **profile), verbose=verbose)


def with_hb0(fabric: Fabric, ids: tuple[int, int]) -> Fabric:
    return fabric_edits.with_ids(fabric, "hb0", *ids)


def with_hb1(fabric: Fabric, ids: tuple[int, int]) -> Fabric:
    return fabric_edits.with_ids(fabric, "hb1", *ids)


def dsp_redirect(fabric: Fabric, bits: int = RR_CR, ports: tuple[str, ...] = ("dsp0", "dsp1")) -> Fabric:
    """The ports with live redirect bits, as an IOMMU-on boot leaves them."""
    for port in ports:
        fabric = fabric_edits.with_acs(fabric, port, set_bits=bits)
    return fabric


def one(v: Verdict):
    assert len(v.clients) == 1
    return v.clients[0]


def summary(v: Verdict) -> tuple:
    """(map types, per-client distances, distance_many)."""
    return ([c.map_type.value for c in v.clients], [c.distance for c in v.clients], v.distance)
