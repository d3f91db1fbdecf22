"""Small fabrics for the engine tests, shaped like the benchmark cases of bench/bench_engine.py."""

from __future__ import annotations

from p2ptui.formats import loads_fabric

# Closed forms, written out from the PCIe line codes and TLP overheads, independent of the engine's code.
GEN3_LANE = 8e9 * 128 / 130 / 8  # bytes/s per lane after 128b/130b
SKP = 4 / 1538


def usable(width: int) -> float:
    """Gen3 wire bytes/s of a link direction after SKP ordered sets."""
    return GEN3_LANE * width * (1 - SKP)


def write_rate(width: int, eff: float = 1.0, mps: int = 256) -> float:
    return usable(width) * mps / (mps + 24) * eff


def _endpoint(bdf: str, name: str, link: str, kind: str = "gpu", extra: str = "") -> str:
    return f"{{bdf: '{bdf}', kind: {kind}, name: {name}, link: {link}{extra}}}"


def switch_fabric(
    cpu: str = "amd",
    iommu: str = "off",
    acs_redirect: bool = False,
    memory: float | None = None,
    rc_write: float | None = None,
    rc_read: float | None = None,
    widths=(16, 16, 4),
) -> object:
    """One Gen3 x16 root port, a Gen3 switch below it, endpoints ep1, ep2, ep3 (widths given) on its ports."""
    ctrl = "[RR, CR]" if acs_redirect else "[]"
    family = "0x19" if cpu == "amd" else "0x6"
    mem = f"\n  memory_bandwidth: {memory}" if memory else ""
    caps = ""
    if rc_write or rc_read:
        parts = [f"read: {rc_read}"] if rc_read else []
        parts += [f"write: {rc_write}"] if rc_write else []
        caps = f"\n    p2p: {{{', '.join(parts)}}}"
    ports = "\n".join(
        f"""              - bdf: '02:0{i}.0'
                kind: switch_downstream
                link: gen3 x{w}
                acs: {{cap: [SV, RR, CR, UF], ctrl: {ctrl}}}
                children: [{_endpoint(f"0{3 + i}:00.0", f"ep{i + 1}", f"gen3 x{w}", extra=", p2pmem: 1GiB" if i < 2 else "")}]"""
        for i, w in enumerate(widths)
    )
    return loads_fabric(f"""
format: p2ptui-fabric/1
name: switch-{cpu}
host:
  cpu: {{vendor: {cpu}, family: {family}}}
  kernel: 6.8.0
  iommu: {iommu}{mem}
root_complexes:
  - bus: 0000:00{caps}
    devices:
      - bdf: '00:01.0'
        kind: root_port
        link: gen3 x16
        children:
          - bdf: '01:00.0'
            kind: switch_upstream
            link: gen3 x16
            children:
{ports}
""")


def root_port_fabric(
    n_nvme: int = 4,
    cpu: str = "amd",
    iommu: str = "off",
    rc_write: float | None = None,
    rc_read: float | None = None,
    target_width: int = 16,
    target_kind: str = "gpu",
    nvme_width: int = 4,
) -> object:
    """Every device on its own root port of one root complex: nvme0..n-1 (Gen3 x4) and a target (Gen3 x16)."""
    family = "0x19" if cpu == "amd" else "0x6"
    parts = [f"read: {rc_read}"] if rc_read else []
    parts += [f"write: {rc_write}"] if rc_write else []
    caps = f"\n    p2p: {{{', '.join(parts)}}}" if parts else ""
    ports = [
        f"""      - bdf: '00:01.0'
        kind: root_port
        link: gen3 x{target_width}
        children: [{_endpoint("01:00.0", "target", f"gen3 x{target_width}", target_kind, ", p2pmem: 1GiB")}]"""
    ]
    for i in range(n_nvme):
        ports.append(f"""      - bdf: '00:0{i + 2}.0'
        kind: root_port
        link: gen3 x{nvme_width}
        children: [{_endpoint(f"0{i + 2}:00.0", f"nvme{i}", f"gen3 x{nvme_width}", "nvme")}]""")
    body = "\n".join(ports)
    return loads_fabric(f"""
format: p2ptui-fabric/1
name: root-ports-{cpu}
host:
  cpu: {{vendor: {cpu}, family: {family}}}
  kernel: 6.8.0
  iommu: {iommu}
root_complexes:
  - bus: 0000:00{caps}
    devices:
      - {{bdf: '00:00.0', kind: host_bridge, id: '1022:1480'}}
{body}
""")
