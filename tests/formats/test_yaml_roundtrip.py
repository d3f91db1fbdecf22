"""Saving and loading: any valid fabric comes back equal, saved files read like hand-written ones, and the
shorthands the format documents mean what docs/fabric-format.md says."""

from __future__ import annotations

import re
import textwrap
from collections import Counter
from pathlib import Path

import yaml
from fabric_strategies import TRICKY, fabrics
from hypothesis import HealthCheck, given, settings

from p2ptui.fabric import BDF, Acs, AcsSource, Device, DeviceKind, Fabric, Host, IommuMode, Link, P2PPool, RootBus
from p2ptui.fabric import acs as acsbits
from p2ptui.formats import dumps_fabric, load_fabric, loads_fabric, save_fabric
from p2ptui.formats.gallery import bundled

PROPERTY = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(fabrics())
def test_any_valid_fabric_survives_a_round_trip(fabric):
    text = dumps_fabric(fabric)
    again = loads_fabric(text)
    assert again == fabric
    assert dumps_fabric(again) == text  # and the text is stable: saving a loaded file changes nothing


@PROPERTY
@given(fabrics(max_devices=12))
def test_other_yaml_readers_see_the_same_strings(fabric):
    # Strings are quoted wherever YAML 1.1 would read them as numbers, booleans, nulls or sexagesimals.
    doc = yaml.safe_load(dumps_fabric(fabric))
    assert doc["name"] == fabric.name
    assert doc.get("notes", []) == list(fabric.notes)
    written = {}
    stack = [d for rc in doc["root_complexes"] for d in rc.get("devices", [])]
    while stack:
        entry = stack.pop()
        written[entry["bdf"]] = entry
        stack += entry.get("children", []) + entry.get("vfs", [])
    assert sorted(written) == sorted(str(d.bdf) for d in fabric)
    for dev in fabric:
        entry = written[str(dev.bdf)]
        assert (entry["name"], entry.get("product"), entry.get("driver")) == (dev.name, dev.product, dev.driver)
        if dev.class_code is not None:
            assert entry["class"] == dev.class_code  # hex written as a YAML int


def _corners(fabric: Fabric) -> dict[str, bool]:
    """Which features the round trip must survive this fabric has, to check that the strategy reaches them all."""
    kinds, sources = {d.kind for d in fabric}, {d.acs.source for d in fabric}
    return {
        **{f"kind {k.value}": k in kinds for k in DeviceKind},
        **{f"ACS {a.value}": a in sources for a in AcsSource},
        **{f"IOMMU {m.value}": fabric.host.iommu is m for m in IommuMode},
        "domain:16-bit": any(0 < rb.domain <= 0xFFFF for rb in fabric.root_buses),
        "domain:32-bit": any(rb.domain > 0xFFFF for rb in fabric.root_buses),
        "several root buses": len(fabric.root_buses) > 1,
        "host bridge name": any(rb.host_bridge != RootBus(rb.domain, rb.bus).host_bridge for rb in fabric.root_buses),
        "root bus numa and p2p": any(rb.numa_node is not None and rb.p2p_read is not None for rb in fabric.root_buses),
        "cascaded switch": any(
            d.kind is DeviceKind.SWITCH_UPSTREAM
            and d.parent is not None
            and fabric.parent(d).kind is DeviceKind.SWITCH_DOWNSTREAM
            for d in fabric
        ),
        "multi-function": any(fabric.siblings(d) for d in fabric),
        "VF on its PF's bus": any(d.is_vf and d.bdf.bus == d.physfn.bus for d in fabric),
        "VF on a later bus": any(d.is_vf and d.bdf.bus > d.physfn.bus for d in fabric),
        "ACS ctrl bits": any(d.acs.source is AcsSource.HARDWARE and d.acs.ctrl for d in fabric),
        "ACS firmware bits": any(d.acs.source is AcsSource.KERNEL_DEFAULT and d.acs.firmware_ctrl for d in fabric),
        "ACS bits without a name": any(d.acs.cap & ~acsbits.ALL_BITS for d in fabric),
        "link with unknown fields": any(d.link and None in (d.link.gen, d.link.width, d.link.mps) for d in fabric),
        "slower link": any(d.link and d.link.speed_below_max for d in fabric),
        "narrower link": any(d.link and d.link.width_degraded for d in fabric),
        "unpublished pool": any(d.pool and not d.pool.published for d in fabric),
        "pool without allocate": any(d.pool and not d.pool.allocate for d in fabric),
        "pool partly used": any(d.pool and d.pool.available < d.pool.size for d in fabric),
        "YAML look-alike strings": any(
            {d.name, d.product, d.driver} & {"off", "null", "0x10", "1e3", "00:01.0"} for d in fabric
        ),
        "unicode product": any(d.product and not d.product.isascii() for d in fabric),
        "unset optional fields": any(d.product is None and d.link is None for d in fabric),
        "host facts": fabric.host.cpu_vendor is not None and fabric.host.kernel is not None,
        "memory bandwidth": fabric.host.memory_bandwidth is not None,
        "notes": bool(fabric.notes),
    }


def test_the_strategy_reaches_every_corner():
    seen: Counter[str] = Counter()

    @settings(PROPERTY, max_examples=120, database=None)
    @given(fabrics())
    def collect(fabric):
        seen.update({name: int(hit) for name, hit in _corners(fabric).items()})

    collect()
    rare = sorted(name for name, count in seen.items() if count < 3)
    assert not rare, (rare, seen)


def _sample() -> Fabric:
    devices = [
        Device(BDF(0, 0, 0, 0), DeviceKind.HOST_BRIDGE, "hb0", vendor_id=0x8086, device_id=0x2020, class_code=0x060000),
        Device(
            BDF(0, 0, 1, 0),
            DeviceKind.ROOT_PORT,
            "rp0",
            link=Link(3, 16, 3, 16),
            acs=Acs(AcsSource.HARDWARE, cap=acsbits.SV | acsbits.RR | acsbits.CR, ctrl=acsbits.SV),
        ),
        Device(
            BDF(0, 1, 0, 0),
            DeviceKind.NVME,
            "nvme0",
            parent=BDF(0, 0, 1, 0),
            class_code=0x010802,
            product="off",
            driver="0x10",
            revision=0x0A,
            link=Link(3, 4, 4, 4),
            acs=Acs(AcsSource.KERNEL_DEFAULT, cap=acsbits.ALL_BITS),
            pool=P2PPool(256 << 20, 256 << 20),
        ),
        Device(
            BDF(0, 1, 0, 1),
            DeviceKind.NIC,
            "00:01.0",
            parent=BDF(0, 0, 1, 0),
            pool=P2PPool(1 << 30, 512 << 20, published=False),
        ),
    ]
    host = Host(cpu_vendor="amd", cpu_family=0x19, kernel="6.8.0", iommu=IommuMode.OFF, memory_bandwidth=460.8)
    return Fabric("sample", (RootBus(0, 0, numa_node=0, p2p_read=12.0),), tuple(devices), host=host)


def test_saved_text_uses_the_short_forms():
    text = dumps_fabric(_sample())
    for line in (
        "  cpu: {vendor: amd, family: 0x19}",
        "  p2p: {read: 12.0}",
        "    acs: {cap: [SV, RR, CR], ctrl: [SV]}",
        "    link: gen3 x16",
        "      link: {gen: 3, width: 4, max_gen: 4}",  # downtrained: the capability is kept
        "      acs: kernel-default",
        "      p2pmem: 256 MiB",
        "      p2pmem: {size: 1 GiB, available: 512 MiB, published: false}",
        "      class: 0x010802",
        "      revision: 0x0a",
        "      product: 'off'",  # quoted: YAML 1.1 would read a boolean
        "      driver: '0x10'",
        "      name: '00:01.0'",  # quoted: YAML 1.1 would read a sexagesimal float
        "  - bdf: '0000:00:00.0'",  # quoted: YAML 1.1 would read a sexagesimal float
    ):
        assert line in text.splitlines(), (line, text)
    assert "iommu" not in text and "mps" not in text  # defaults are left out
    assert loads_fabric(text) == _sample()


def test_save_and_load_a_file(tmp_path):
    path = tmp_path / "out.yaml"
    path.write_text("old contents\n")
    save_fabric(_sample(), path)
    assert load_fabric(path) == _sample()
    assert [p.name for p in tmp_path.iterdir()] == ["out.yaml"]  # the temporary file was renamed over it


def test_bundled_fabrics_round_trip():
    for entry in bundled():
        fabric = load_fabric(entry.path)
        assert loads_fabric(dumps_fabric(fabric)) == fabric, entry.name


def test_tricky_strings_are_kept_exactly():
    fabric = _sample()
    for i, text in enumerate(TRICKY):
        changed = fabric.with_devices(
            [Device(BDF(0, 1, 0, 1), DeviceKind.NIC, f"n{i}", parent=BDF(0, 0, 1, 0), product=text, driver=text)]
        )
        changed = changed.replace(description=text, notes=(text,), host=Host(kernel="6.8.0-45-generic", cmdline=text))
        assert loads_fabric(dumps_fabric(changed)) == changed, repr(text)


# -- the documented shorthands and defaults ------------------------------------------------------------------------
SHORT = """\
root_complexes:
  - bus: 00
    devices:
      - bdf: 00:01.0
        link: gen4 x16
        acs: kernel-default
        children:
          - {bdf: 01:00.0, class: 0x010802, p2pmem: 256MiB, link: gen4 x4, vfs: [{bdf: 01:00.1}]}
          - {bdf: 01:00.2, class: 0x020000, acs: {cap: [SV, RR, CR]}}
"""
LONG = """\
format: p2ptui-fabric/1
name: short
host: {arch: x86_64, cmdline: '', iommu: off}
root_complexes:
  - bus: 0000:00
    host_bridge: pci0000:00
    devices:
      - bdf: 0000:00:01.0
        kind: root_port
        name: rp0
        link: {gen: 4, width: 16, max_gen: 4, max_width: 16, mps: 256, mrrs: 512}
        acs: {cap: [SV, TB, RR, CR, UF, EC, DT], ctrl: kernel-default}
        children:
          - bdf: 0000:01:00.0
            kind: nvme
            name: nvme0
            class: 0x010802
            link: {gen: 4, width: 4}
            p2pmem: {size: 256 MiB, available: 268435456, published: true, allocate: true}
          - bdf: 0000:01:00.1
            kind: nvme
            name: nvme1
            physfn: 0000:01:00.0
          - bdf: 0000:01:00.2
            kind: nic
            name: nic0
            class: 0x020000
            acs: {cap: [SV, RR, CR], ctrl: []}
"""


def test_shorthands_mean_their_long_forms():
    short = loads_fabric(SHORT, default_name="short")
    assert short == loads_fabric(LONG)
    vf = short.find("nvme1")
    assert vf.is_vf and vf.kind is DeviceKind.NVME and vf.parent == BDF(0, 0, 1, 0)
    assert short.find("rp0").acs == Acs(AcsSource.KERNEL_DEFAULT, cap=acsbits.ALL_BITS)
    assert short.find("nvme0").pool == P2PPool(256 << 20, 256 << 20, published=True, allocate=True)


def test_kinds_and_names_are_inferred_from_position_and_class():
    text = textwrap.dedent("""\
        root_complexes:
          - bus: 00
            devices:
              - bdf: 00:00.0
                class: 0x060000
              - bdf: 00:02.0
                children:
                  - bdf: 01:00.0
                    children:
                      - bdf: 02:00.0
                        children:
                          - {bdf: 03:00.0, class: 0x030200}
                          - {bdf: 03:00.1, class: 0x120000}
                      - bdf: 02:01.0
                        children: [{bdf: 04:00.0}]
                      - {bdf: 02:02.0, class: 0x060400}
        """)
    fabric = loads_fabric(text)
    kinds = {str(d.bdf.short()): (d.kind.value, d.name) for d in fabric}
    assert kinds == {
        "00:00.0": ("host_bridge", "hb0"),
        "00:02.0": ("root_port", "rp0"),
        "01:00.0": ("switch_upstream", "usp0"),
        "02:00.0": ("switch_downstream", "dsp0"),
        "02:01.0": ("switch_downstream", "dsp1"),
        "03:00.0": ("gpu", "gpu0"),
        "03:00.1": ("accelerator", "accel0"),
        "02:02.0": ("switch_downstream", "dsp2"),  # a bridge class code: a port with nothing below it
        "04:00.0": ("other", "dev0"),
    }


def test_the_format_documents_examples_load_as_described():
    doc = (Path(__file__).parents[2] / "docs" / "fabric-format.md").read_text(encoding="utf-8")
    small, full = re.findall(r"```yaml\n(.*?)```", doc, re.S)[:2]
    fabric = loads_fabric(small)
    assert [(d.name, d.kind.value) for d in fabric] == [
        ("hb0", "host_bridge"),
        ("rp0", "root_port"),
        ("usp0", "switch_upstream"),
        ("dsp0", "switch_downstream"),
        ("dsp1", "switch_downstream"),
        ("dsp2", "switch_downstream"),
        ("gpu0", "gpu"),
        ("gpu1", "gpu"),
        ("mlx5_0", "nic"),
    ]
    assert fabric.find("gpu0").pool == P2PPool(32 << 30, 32 << 30)
    assert fabric.find("rp0").link == Link(4, 16, 4, 16, 256, 512)
    full_fabric = loads_fabric(full)
    assert len(full_fabric) == 10 and len(full_fabric.root_buses) == 2
    assert [vf.name for vf in full_fabric.virtfns(full_fabric.find("nic0"))] == ["vf0", "vf1"]
    assert full_fabric.find("rp0").acs == Acs(AcsSource.KERNEL_DEFAULT, cap=0x3D, firmware_ctrl=acsbits.SV)
    assert loads_fabric(dumps_fabric(full_fabric)) == full_fabric
