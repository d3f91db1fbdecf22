"""Cross-check: pciutils' lspci decodes the synthetic roots the same way our reader does (so the fixtures are real
config space, and the reader agrees with an independent decoder). Skipped where lspci is not installed."""

from __future__ import annotations

import pytest
from lspci_check import LSPCI, check_against_lspci

from p2ptui.sources import sysfs
from p2ptui.sources.sysfs_synth import Fn, iter_functions, root_port, switch_fabric, write_sysfs

pytestmark = pytest.mark.skipif(LSPCI is None, reason="lspci (Debian package pciutils) is not installed")


def test_switch_fabric_agrees_with_lspci(tmp_path):
    root = write_sysfs(tmp_path / "box", switch_fabric(4, vfs=2))
    fabric = sysfs.load(root)
    info = check_against_lspci(root, fabric)
    assert info["0000:02:01.0"]["acs"] == {"Cap": 0x5F, "Ctl": 0x0D}  # the parse itself sees the registers
    assert info["0000:00:01.0"]["port"] == "Root Port"


def test_mixed_domains_bridges_and_link_states_agree_with_lspci(tmp_path):
    legacy = Fn("05:01.0", port_type=None, link=None, class_code=0x020000)
    spec = {
        "0000:00": [
            Fn("00:1e.0", class_code=0x060401, port_type=None, link=None, children=[legacy]),
            root_port("00:1c.0", secondary=7, acs=(0x7F, 0x1D)),
        ],
        "0001:40": [
            root_port(
                "40:01.0",
                Fn("41:00.0", class_code=0x030200, link=(3, 8, 5, 16), mps=128, mrrs=4096),
                link=(3, 8, 5, 16),
                acs=(0x5F, 0x00),
            )
        ],
    }
    root = write_sysfs(tmp_path / "mixed", spec)
    fabric = sysfs.load(root)
    check_against_lspci(root, fabric)
    link = fabric.find("0001:41:00.0").link
    assert link.width_degraded and link.speed_below_max  # gen3 x8 of gen5 x16


def test_64_byte_configs_are_access_denied_for_lspci_and_unknown_for_us(tmp_path):
    spec = switch_fabric(3)
    for fn in iter_functions(spec["0000:00"]):
        fn.config_size = 64
    root = write_sysfs(tmp_path / "snap", spec)
    fabric = sysfs.load(root)
    info = check_against_lspci(root, fabric)
    assert all(data.get("denied") for data in info.values())
