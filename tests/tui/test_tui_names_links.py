"""The detail pane's names (PCI ID database, source names) and the two link states, without any widgets."""

from pathlib import Path

from p2ptui.fabric import pciids
from p2ptui.formats import loads_fabric
from p2ptui.present.device import SPEED_BELOW_MAX_MARK, WIDTH_DEGRADED_MARK, device_label, device_rows
from p2ptui.present.rows import plain
from p2ptui.sources import open_fabric

DATA = Path(__file__).resolve().parents[1] / "data"

LINKS = """
format: p2ptui-fabric/1
name: links
host: {cpu: intel, kernel: "6.12", iommu: off}
root_complexes:
  - bus: 0000:00
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 8086:2020}
      - bdf: 00:01.0
        kind: root_port
        link: gen4 x16
        children:
          - {bdf: 01:00.0, kind: gpu, name: idle, id: 10de:1db8, link: {gen: 1, width: 16, max_gen: 4, max_width: 16}}
      - bdf: 00:02.0
        kind: root_port
        link: gen4 x16
        children:
          - {bdf: 02:00.0, kind: gpu, name: narrow, link: {gen: 4, width: 8, max_gen: 4, max_width: 16}}
"""


def _rows(fabric, ref: str) -> dict[str, str]:
    return {k: plain(v) for k, v in device_rows(fabric, fabric.find(ref)) if k}


def test_slower_link_may_be_idle_and_narrower_is_a_fault():
    fabric = loads_fabric(LINKS)
    idle, narrow = fabric.find("idle"), fabric.find("narrow")
    assert f"gen1 x16{SPEED_BELOW_MAX_MARK}" in plain(device_label(fabric, idle))
    assert WIDTH_DEGRADED_MARK not in plain(device_label(fabric, idle))
    assert f"gen4 x8{WIDTH_DEGRADED_MARK}" in plain(device_label(fabric, narrow))
    assert "may be power saving while idle" in _rows(fabric, "idle")["link"]
    assert "a fault" not in _rows(fabric, "idle")["link"]
    assert "narrower than capable: lanes lost, a fault" in _rows(fabric, "narrow")["link"]


def test_product_row_names_the_device_from_the_database(monkeypatch):
    fabric = loads_fabric(LINKS)
    assert _rows(fabric, "idle")["product"] == "—"  # no database: IDs only
    monkeypatch.setenv(pciids.ENV_VAR, str(DATA / "pci.ids"))
    assert _rows(fabric, "idle")["product"] == "NVIDIA Corporation GV100GL [Tesla V100 SXM3 32GB]"
    dgx = open_fabric(str(DATA / "hwloc" / "nvidiaDGX2.xml"))
    assert _rows(dgx, "gpu0")["product"] == "NVIDIA Corporation Tesla V100-SXM3-32GB-H"
