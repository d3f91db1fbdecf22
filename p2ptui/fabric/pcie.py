"""PCIe bandwidth math: line rates per generation and protocol-limited throughput of writes and reads.

All rates are GB/s (10^9 bytes per second) in one direction. raw = GT/s × encoding efficiency / 8 × lanes
(8b/10b for Gen1-2, 128b/130b for Gen3-5; PCI Express Base Specification, Physical Layer). Non-flit links lose SKP
ordered sets (4 symbols in 1538) and pay per-TLP framing, sequence number, header and LCRC (24 B for a 64-bit
memory write, 20 B for a completion with data, as Intel's AN 708 "Understanding PCI Express Throughput" counts
them); flit links (Gen6+) carry TLPs in 236 of every 256 flit bytes and pay only the TLP header.
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Generation:
    gen: int
    gt_per_s: float  # transfers per second per lane, in GT/s
    encoding: str
    efficiency: float  # share of line bits that carry TLP bytes
    flit: bool

    @property
    def lane_gbps(self) -> float:
        """Raw payload rate of one lane in GB/s (before SKP and TLP overhead)."""
        return self.gt_per_s * self.efficiency / 8


GENERATIONS: dict[int, Generation] = {
    1: Generation(1, 2.5, "8b/10b", 8 / 10, False),
    2: Generation(2, 5.0, "8b/10b", 8 / 10, False),
    3: Generation(3, 8.0, "128b/130b", 128 / 130, False),
    4: Generation(4, 16.0, "128b/130b", 128 / 130, False),
    5: Generation(5, 32.0, "128b/130b", 128 / 130, False),
    6: Generation(6, 64.0, "PAM4 flit", 236 / 256, True),
    7: Generation(7, 128.0, "PAM4 flit", 236 / 256, True),
}

SKP_OVERHEAD = 4 / 1538  # clock-compensation ordered sets on non-flit links

# Bytes a TLP costs beyond its payload. Non-flit: 4 B framing/sequence + header + 4 B LCRC. Flit: header only.
MWR_OVERHEAD_64 = 24  # memory write, 4-DW header (64-bit address): what P2P BARs above 4 GiB use
MWR_OVERHEAD_32 = 20
CPLD_OVERHEAD = 20  # completion with data, 3-DW header
MRD_OVERHEAD = 24  # memory read request, 64-bit
FLIT_MWR_OVERHEAD_64 = 16
FLIT_MWR_OVERHEAD_32 = 12
FLIT_CPLD_OVERHEAD = 12
FLIT_MRD_OVERHEAD = 16


def generation(gen: int) -> Generation:
    try:
        return GENERATIONS[gen]
    except KeyError:
        raise ValueError(f"unknown PCIe generation {gen!r}: known are {', '.join(map(str, GENERATIONS))}") from None


def gen_from_rate(gt_per_s: float) -> int:
    """The generation whose per-lane rate this is (``8.0`` → 3); ValueError for rates no generation uses."""
    for gen in GENERATIONS.values():
        if math.isclose(gen.gt_per_s, gt_per_s, rel_tol=1e-3):
            return gen.gen
    raise ValueError(f"{gt_per_s} GT/s is not a PCIe link rate")


def raw_gbps(gen: int, width: int) -> float:
    """Raw payload capacity of the link: line code removed, nothing else (Gen3 x16: 15.75 GB/s)."""
    return generation(gen).lane_gbps * width


def _usable_gbps(gen: int, width: int) -> float:
    g = generation(gen)
    return raw_gbps(gen, width) * (1.0 if g.flit else 1.0 - SKP_OVERHEAD)


def write_efficiency(gen: int, payload: int, addr64: bool = True) -> float:
    """Share of TLP bytes that is data, for posted writes carrying ``payload`` bytes each."""
    if payload <= 0:
        raise ValueError("payload must be positive")
    flit = generation(gen).flit
    if flit:
        overhead = FLIT_MWR_OVERHEAD_64 if addr64 else FLIT_MWR_OVERHEAD_32
    else:
        overhead = MWR_OVERHEAD_64 if addr64 else MWR_OVERHEAD_32
    return payload / (payload + overhead)


def write_gbps(gen: int, width: int, mps: int = 256, transfer: int | None = None, addr64: bool = True) -> float:
    """Protocol bound of posted writes: each TLP carries min(MPS, transfer) bytes."""
    payload = mps if transfer is None else min(mps, transfer)
    return _usable_gbps(gen, width) * write_efficiency(gen, payload, addr64)


def completion_efficiency(gen: int, completion: int) -> float:
    """Share of completion-lane bytes that is data, with completions of ``completion`` bytes."""
    if completion <= 0:
        raise ValueError("completion size must be positive")
    overhead = FLIT_CPLD_OVERHEAD if generation(gen).flit else CPLD_OVERHEAD
    return completion / (completion + overhead)


def read_gbps(
    gen: int,
    width: int,
    completion: int = 64,
    mrrs: int = 512,
    tags: int | None = None,
    rtt_us: float | None = None,
) -> float:
    """Protocol bound of non-posted reads, as seen on the completion lane.

    ``completion`` is the completion size: the RCB (64 or 128 B) on chipsets that split there, else the MPS.
    With ``tags`` outstanding requests and a round trip of ``rtt_us`` microseconds, Little's law also caps the
    rate at tags × MRRS / RTT: the bound that makes P2P reads through a slow root complex slow.
    """
    rate = _usable_gbps(gen, width) * completion_efficiency(gen, completion)
    if tags is not None and rtt_us is not None:
        if tags <= 0 or rtt_us <= 0:
            raise ValueError("tags and round trip must be positive")
        rate = min(rate, tags * mrrs / (rtt_us * 1e-6) / 1e9)
    return rate


def read_request_load(gen: int, mrrs: int = 512) -> float:
    """Bytes a read puts on the request lane for every byte of data it returns (one MRd per MRRS)."""
    overhead = FLIT_MRD_OVERHEAD if generation(gen).flit else MRD_OVERHEAD
    return overhead / mrrs
