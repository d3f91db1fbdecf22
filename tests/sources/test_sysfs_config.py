"""The binary config-space parser: header, PCIe capability, ACS extended capability, and how much space there is."""

from __future__ import annotations

import struct

import pytest

from p2ptui.sources import pci_config as pc
from p2ptui.sources.sysfs_synth import (
    ACS_CAP,
    PCIE_CAP,
    PT_DOWNSTREAM,
    PT_ROOT_PORT,
    Fn,
    config_bytes,
    downstream,
    endpoint,
)


def test_bridge_header_pcie_and_acs_are_decoded():
    port = downstream("02:01.0", endpoint("05:00.0"), acs=(0x5F, 0x0D), link=(4, 8, 5, 16), mps=512, mrrs=1024)
    cfg = pc.parse_config(config_bytes(port, 0))
    assert (cfg.vendor_id, cfg.device_id, cfg.class_code, cfg.revision) == (0x10B5, 0x8796, 0x060400, 1)
    assert cfg.header_type == 1 and cfg.is_bridge_header
    assert (cfg.secondary_bus, cfg.subordinate_bus) == (5, 5)
    assert cfg.pcie is not None and cfg.pcie.offset == PCIE_CAP
    assert cfg.pcie.port_type == PT_DOWNSTREAM
    assert (cfg.pcie.speed, cfg.pcie.width, cfg.pcie.max_speed, cfg.pcie.max_width) == (4, 8, 5, 16)
    assert (cfg.pcie.mps, cfg.pcie.mrrs) == (512, 1024)
    assert cfg.ext_known and cfg.acs is not None
    assert (cfg.acs.offset, cfg.acs.cap, cfg.acs.ctrl) == (ACS_CAP, 0x5F, 0x0D)
    assert cfg.problems == ()


def test_endpoint_without_acs_has_extended_space_but_no_acs():
    cfg = pc.parse_config(config_bytes(endpoint("03:00.0"), 0))
    assert cfg.header_type == 0 and cfg.secondary_bus is None
    assert cfg.pcie is not None and cfg.pcie.port_type == 0
    assert cfg.ext_known and cfg.acs is None


def test_64_bytes_know_the_header_but_not_the_capabilities():
    port = downstream("02:01.0", acs=(0x7F, 0x7F), config_size=64)
    cfg = pc.parse_config(config_bytes(port, 0))
    assert cfg.length == 64
    assert cfg.vendor_id == 0x10B5 and cfg.header_type == 1 and cfg.has_cap_list
    assert cfg.pcie is None and not cfg.caps_known  # the list starts at 0x40, beyond what we have
    assert not cfg.ext_known and cfg.acs is None


@pytest.mark.parametrize("size", [128, 255])
def test_partial_standard_space_reads_what_it_holds(size):
    port = downstream("02:01.0", acs=(0x7F, 0x7F), config_size=size)
    cfg = pc.parse_config(config_bytes(port, 0))
    assert cfg.pcie is not None and cfg.pcie.port_type == PT_DOWNSTREAM  # at 0x60..0x74, inside
    assert not cfg.ext_known and cfg.acs is None


def test_capability_list_cut_off_mid_way_is_not_known():
    port = downstream("02:01.0", config_size=0x62)  # the PCIe capability's header is there, its registers are not
    cfg = pc.parse_config(config_bytes(port, 0))
    assert cfg.pcie is None and not cfg.caps_known


def test_256_bytes_give_the_pcie_capability_but_no_extended_space():
    port = downstream("02:01.0", acs=(0x7F, 0x7F), config_size=256)
    cfg = pc.parse_config(config_bytes(port, 0))
    assert cfg.pcie is not None and cfg.pcie.port_type == PT_DOWNSTREAM
    assert cfg.caps_known and not cfg.ext_known and cfg.acs is None


def test_conventional_function_has_no_pcie_capability():
    fn = Fn("00:05.0", port_type=None, link=None)
    cfg = pc.parse_config(config_bytes(fn, 0))
    assert cfg.length == 256 and cfg.caps_known and cfg.pcie is None and not cfg.ext_known


def test_empty_and_all_ones_config():
    assert pc.parse_config(b"").length == 0
    short = pc.parse_config(b"\x86\x80")
    assert short.vendor_id is None and short.problems
    assert pc.parse_config(b"\xff" * 4096).no_answer


def test_capability_loop_is_reported_not_followed_forever():
    data = bytearray(config_bytes(endpoint("03:00.0"), 0))
    data[0x41] = 0x40  # PM capability points back at itself
    cfg = pc.parse_config(bytes(data))
    assert cfg.pcie is None
    assert any("loops" in what for what, _ in cfg.problems)


def test_extended_capability_loop_is_reported():
    data = bytearray(config_bytes(downstream("02:00.0", acs=None), 0))
    struct.pack_into("<I", data, 0x100, 0x0001 | (1 << 16) | (0x100 << 20))  # AER's next points at itself
    cfg = pc.parse_config(bytes(data))
    assert cfg.acs is None and any("loops" in what for what, _ in cfg.problems)


def test_capability_pointer_into_header_is_reported():
    data = bytearray(config_bytes(endpoint("03:00.0"), 0))
    data[0x34] = 0x10
    cfg = pc.parse_config(bytes(data))
    assert cfg.pcie is None and any("header" in what for what, _ in cfg.problems)


def test_acs_found_after_other_extended_capabilities():
    port = Fn("00:01.0", class_code=0x060400, port_type=PT_ROOT_PORT, acs=(0x1F, 0x04))
    data = bytearray(config_bytes(port, 0))
    # Insert a vendor-specific capability between AER and ACS, as real root ports have many.
    struct.pack_into("<I", data, 0x100, 0x0001 | (1 << 16) | (0x200 << 20))
    struct.pack_into("<I", data, 0x200, 0x000B | (1 << 16) | (ACS_CAP << 20))
    cfg = pc.parse_config(bytes(data))
    assert cfg.acs is not None and (cfg.acs.cap, cfg.acs.ctrl) == (0x1F, 0x04)
