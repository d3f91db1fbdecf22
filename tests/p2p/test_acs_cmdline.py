"""ACS control values from the IOMMU mode and the kernel command line (drivers/pci/pci.c: pci_std_enable_acs(), the
pci=disable_acs_redir= and pci=config_acs= parameters)."""

from __future__ import annotations

from dataclasses import replace

import fabric_edits
import pytest
from p2p_scenario_support import NON_WL_INTEL, RR_CR, scenario_fabric, summary, verdict, with_hb0

from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import Acs, AcsSource
from p2ptui.fabric.bdf import BDF
from p2ptui.fabric.kinds import DeviceKind
from p2ptui.fabric.model import Device
from p2ptui.p2p.acs_cmdline import (
    AcsHandling,
    BootAcs,
    BootLog,
    PciParams,
    boot_ctrl,
    cmdline_with_disable_acs_redir,
    match_selector,
    parse_pci_params,
    split_cmdline,
)
from p2ptui.p2p.context import verdict_context
from p2ptui.p2p.profiles import profile_for

F = scenario_fabric
SV, TB, RR, CR, UF, EC, DT = (acsbits.SV, acsbits.TB, acsbits.RR, acsbits.CR, acsbits.UF, acsbits.EC, acsbits.DT)


def _kernel_default(fabric, firmware: int = 0, ports=("dsp0", "dsp1", "dsp2", "dsp3", "dsp4")):
    for port in ports:
        fabric = fabric_edits.with_firmware_acs(fabric, port, firmware)
    return fabric


def _ctrl(fabric, name, **profile):
    ctx = verdict_context(fabric, profile_for(fabric, **profile))
    return ctx.ctrl[ctx.index.index[fabric.find(name).bdf]], ctx


def test_iommu_adds_kernel_defaults_to_capable_ports():
    f = _kernel_default(F())
    assert _ctrl(f, "dsp0", iommu="off")[0] == 0
    assert _ctrl(f, "dsp0", iommu="on")[0] == SV | RR | CR | UF
    assert _ctrl(f, "dsp0", iommu="pt")[0] == SV | RR | CR | UF  # passthrough still requests ACS
    limited = fabric_edits.with_firmware_acs(F(), "dsp0", EC, cap=RR | EC)
    assert _ctrl(limited, "dsp0", iommu="on")[0] == RR | EC  # only what the capability offers, firmware bits kept


def test_kernel_default_redirect_flips_the_switch_path():
    f = with_hb0(_kernel_default(F()), NON_WL_INTEL)
    assert summary(verdict(f, "nvme-a", ["rnic0"], iommu="off")) == (["BUS_ADDR"], [4], 4)
    assert summary(verdict(f, "nvme-a", ["rnic0"], iommu="on")) == (["NOT_SUPPORTED"], [4], -1)


def test_split_cmdline_and_pci_options():
    words = split_cmdline('root=/dev/sda1 "pci=noaer,disable_acs_redir=0000:02:00.0" quiet -- single pci=nomsi')
    assert words == ["root=/dev/sda1", "pci=noaer,disable_acs_redir=0000:02:00.0", "quiet"]
    p = parse_pci_params("pci=disable_acs_redir=0000:02:00.0 pci=noaer,disable_acs_redir=02:01.0,config_acs=1x@pci:0:0")
    assert p == PciParams("02:01.0", "1x@pci:0:0")  # the last of each wins; commas separate pci= options
    cut = parse_pci_params("pci=disable_acs_redir=0000:02:00.0,0000:02:01.0")
    assert cut.disable_acs_redir == "0000:02:00.0"  # a comma ends the value


def _up(fabric):
    return fabric.upstream_bridge


@pytest.mark.parametrize(
    "selector, name, hit",
    [
        ("0000:02:00.0", "dsp0", 1),
        ("02:00.0", "dsp0", 1),
        ("0:2:0.0", "dsp0", 1),
        ("0000:02:00.0", "dsp1", 0),
        ("0001:02:00.0", "dsp0", 0),
        ("pci:10b5:8796", "dsp3", 1),
        ("pci:10b5:8796", "usp0", 1),
        ("pci:11f8:4000", "dsp3", 0),
        ("pci:0:0", "rp0", 1),
        ("pci:0:8796", "dsp0", 1),
        ("pci:10b5:0", "dsp4", 0),
        ("pci:1de5:3000:0:0", "nvme-a", 1),
        ("0000:00:01.0/00.0/01.0", "dsp1", 1),
        ("0000:00:01.0/00.0/01.0", "dsp0", 0),
        ("00:01.0/00.0/03.0/00.0/00.0", "dsp4", 1),
        ("00:01.0/00.0/03.0/00.0/00.0/00.0", "nvme-c", 1),
        ("00:01.0/00.0/01.0/00.2", "rnic0-vf0", 1),  # a VF climbs to its PF's bridge
        ("00:02.0/00.0/00.0", "dsp0", 0),  # the path starts at the wrong root port
        ("zz", "dsp0", -1),
        ("0000:02:00", "dsp0", -1),
        ("00:01.0/00.0/x", "dsp1", -1),
        ("pci:10b5", "dsp0", -1),
        ("0000:02:00.0\n", "dsp0", -1),
        ("02:00.0x", "dsp0", -1),  # sscanf's trailing %c catches any extra character
    ],
)
def test_match_selector(selector, name, hit):
    f = F()
    assert match_selector(selector, f.find(name), _up(f))[0] == hit


def test_match_selector_subsystem_ids_and_rest():
    f = F()
    nvme = replace(f.find("nvme-a"), subsystem_vendor_id=0x1DE5, subsystem_device_id=0x0001)
    assert match_selector("pci:1de5:3000:1de5:1;x", nvme, _up(f)) == (1, ";x")
    assert match_selector("pci:1de5:3000:1de5:2", nvme, _up(f))[0] == 0
    assert match_selector("pci:1de5:3000:1de5", nvme, _up(f)) == (1, ":1de5")  # 3 fields: the 2-field form
    assert match_selector("0000:02:00.0;0000:02:01.0", f.find("dsp0"), _up(f)) == (1, ";0000:02:01.0")


def _boot(handling, disable=None, config=None, iommu=True):
    return BootAcs(iommu, PciParams(disable, config), handling)


PORT_BDF = BDF(0x20, 2, 0, 0)


def _port(fw_cap=acsbits.ALL_BITS, bdf=PORT_BDF):
    return Device(bdf, DeviceKind.SWITCH_DOWNSTREAM, "p", acs=Acs(AcsSource.KERNEL_DEFAULT, cap=fw_cap))


@pytest.mark.parametrize(
    "handling, fw, logged, live",
    [
        # the examples in 9cf8a952d57b's commit message (firmware 0x7b, 0x5f, 0; kernel adds SV RR CR UF)
        (AcsHandling.BUGGY_CONFIG, 0x7B, "0xfffb", 0x7B),
        (AcsHandling.BUGGY_CONFIG, 0x53, "0xffd3", 0x53),
        (AcsHandling.BUGGY_CONFIG, 0x5F, "0xffdf", 0x5F),
        (AcsHandling.CONFIG, 0x7B, "0x0053", 0x53),
        (AcsHandling.CONFIG, 0x5F, "0x0053", 0x53),
        (AcsHandling.CONFIG, 0x00, "0x0000", 0x00),
    ],
)
def test_disable_acs_redir_formulas(handling, fw, logged, live):
    dev = _port()
    log = BootLog([], set())
    ctrl = boot_ctrl(dev, fw, _boot(handling, disable="0020:02:00.0"), lambda d: None, log)
    assert log.lines == [f"pci 0020:02:00.0: Configured ACS to {logged}"]
    assert ctrl == live


def test_disable_acs_redir_before_6_11_clears_the_current_value():
    log = BootLog([], set())
    ctrl = boot_ctrl(_port(), EC | TB, _boot(AcsHandling.CLEAR_REDIRECT, disable="0020:02:00.0"), lambda d: None, log)
    assert ctrl == TB | SV | UF  # kernel defaults stay, RR CR EC go
    assert log.lines == ["pci 0020:02:00.0: disabled ACS redirect"]


def test_config_acs_fixed_and_buggy():
    two = "1111011@0020:02:00.0;101xxxx@0039:00:00.0"
    first, second = _port(), _port(bdf=BDF(0x39, 0, 0, 0))
    for handling, expect_second in ((AcsHandling.CONFIG, 0x50), (AcsHandling.BUGGY_CONFIG, None)):
        log = BootLog([], set())
        a = boot_ctrl(first, 0x53, _boot(handling, config=two), lambda d: None, log)
        b = boot_ctrl(second, 0x00, _boot(handling, config=two), lambda d: None, log)
        assert a == 0x7B  # the commit's example: "Configured ACS to 0x007b"
        if expect_second is None:
            assert b == SV | RR | CR | UF  # untouched: the parser choked on the second entry
            assert "PCI: Can't parse ACS command line parameter" in log.lines
        else:
            assert b == expect_second and "pci 0039:00:00.0: Configured ACS to 0x0050" in log.lines


def test_config_acs_reverts_unlisted_bits_to_firmware_and_before_6_11_is_unknown():
    clear_rr_cr = "xxx00xx@0020:02:00.0"
    log = BootLog([], set())
    assert boot_ctrl(_port(), SV, _boot(AcsHandling.CONFIG, config=clear_rr_cr), lambda d: None, log) == SV
    log = BootLog([], set())
    old = boot_ctrl(_port(), 0, _boot(AcsHandling.CLEAR_REDIRECT, config=clear_rr_cr), lambda d: None, log)
    assert old == SV | RR | CR | UF and log.lines == [f"PCI: Unknown option `config_acs={clear_rr_cr}'"]


@pytest.mark.parametrize(
    "config, line",
    [
        ("1x2@0020:02:00.0", "pci 0020:02:00.0: Invalid ACS flags... Ignoring"),
        ("0020:02:00.0", "pci 0020:02:00.0: ACS Flags missing"),
        ("10000000@0020:02:00.0", "pci 0020:02:00.0: Invalid ACS flags specified"),
    ],
)
def test_config_acs_errors(config, line):
    log = BootLog([], set())
    assert boot_ctrl(_port(), 0, _boot(AcsHandling.CONFIG, config=config), lambda d: None, log) == SV | RR | CR | UF
    assert log.lines == [line]


def test_config_acs_wildcard_example():
    log = BootLog([], set())  # the kernel doc's example: RR on, TB off, SV unchanged, every device
    boot = _boot(AcsHandling.CONFIG, config="10x@pci:0:0", iommu=False)
    assert boot_ctrl(_port(), SV | TB, boot, None, log) == SV | RR


def test_unparsable_disable_acs_redir_is_logged_once_and_stops():
    f = _kernel_default(F())
    cmd = "pci=disable_acs_redir=0000:02:00.0;garbage;0000:02:01.0"
    _, ctx = _ctrl(f, "dsp0", iommu="on", kernel="6.8", cmdline=cmd)
    assert ctx.boot_log.count(f"PCI: Can't parse disable_acs_redir parameter: {cmd.split('=', 2)[2]}") == 1
    assert _ctrl(f, "dsp0", iommu="on", kernel="6.8", cmdline=cmd)[0] & RR == 0  # matched before the bad entry
    assert _ctrl(f, "dsp1", iommu="on", kernel="6.8", cmdline=cmd)[0] & RR  # never reached


def test_no_capability_warning_before_6_11_only():
    f = F()
    cmd = "pci=disable_acs_redir=0000:01:00.0"
    _, old = _ctrl(f, "usp0", kernel="6.8", cmdline=cmd)
    warning = "pci 0000:01:00.0: cannot disable ACS redirect for this hardware as it does not have ACS capabilities"
    assert warning in old.boot_log
    _, new = _ctrl(f, "usp0", kernel="6.15", cmdline=cmd)
    assert not any("0000:01:00.0" in line for line in new.boot_log)


def test_hardware_bits_rederived_for_a_changed_command_line():
    f = fabric_edits.with_acs(fabric_edits.with_acs(F(), "dsp0", set_bits=RR_CR), "dsp1", set_bits=RR_CR)
    f = f.replace(host=replace(f.host, iommu=f.host.iommu.__class__("translated")))
    cmd = "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    v = verdict(f, "nvme-a", ["rnic0"], cmdline=cmd, kernel="6.12")  # buggy window: IOMMU on => bits were the kernel's
    assert summary(v) == (["BUS_ADDR"], [4], 4)
    assert any("taken as the kernel's IOMMU default" in n for n in v.notes)


def test_fix_option_merges_existing_selectors():
    existing = "ro pci=disable_acs_redir=0000:09:00.0"
    line, option, dropped = cmdline_with_disable_acs_redir(existing, ["0000:02:00.0", "0000:09:00.0"])
    assert option == "pci=disable_acs_redir=0000:09:00.0;0000:02:00.0" and dropped == []
    assert line == "ro pci=disable_acs_redir=0000:09:00.0 pci=disable_acs_redir=0000:09:00.0;0000:02:00.0"
    assert parse_pci_params(line).disable_acs_redir == "0000:09:00.0;0000:02:00.0"


KEPT = [
    "0000:02:00.0",
    "02:00.0",
    "0x0:0x2:0x0.0",
    "pci:10b5:8796",
    "pci:1de5:3000:1de5:1",
    "00:01.0/00.0/01.0",
    "00:01.0/00.0/01.0/00.2",
]


@pytest.mark.parametrize(
    "entry, why",
    [
        ("zz", "not a device selector the kernel parses"),
        ("0000:02:00", "not a device selector the kernel parses"),
        ("pci:10b5", "not a device selector the kernel parses"),
        ("00:01.0/00.0/x", "not a device selector the kernel parses"),
        ("x/00.0", "not a device selector the kernel parses"),  # only some devices reach the bad head, but some do
        ("02:00.0x", "not a device selector the kernel parses"),  # sscanf's %c sees the 'x': four fields, not three
        ("pci:1de5:3000:1de5", "the kernel reads it as 'pci:1de5:3000' and stops reading the list at ':1de5'"),
        ("pci:10b5:8796junk", "the kernel reads it as 'pci:10b5:8796' and stops reading the list at 'junk'"),
    ],
)
def test_fix_option_drops_entries_the_kernel_cannot_parse(entry, why):
    existing = "ro pci=noaer,disable_acs_redir=" + ";".join(KEPT[:3] + [entry] + KEPT[3:])
    line, option, dropped = cmdline_with_disable_acs_redir(existing, ["0000:02:01.0", "0000:02:00.0"])
    assert option == "pci=disable_acs_redir=" + ";".join(KEPT + ["0000:02:01.0"])
    assert dropped == [f"dropped {entry!r}: {why}"]
    assert line == f"{existing} {option}"


def test_fix_option_drops_empty_entries_and_says_so_once():
    _, option, dropped = cmdline_with_disable_acs_redir("pci=disable_acs_redir=;02:00.0;;zz;", ["0000:02:01.0"])
    assert option == "pci=disable_acs_redir=02:00.0;0000:02:01.0"
    assert dropped == [
        "dropped an empty entry: the kernel stops reading the list there",
        "dropped 'zz': not a device selector the kernel parses",
    ]


def test_every_kept_selector_lets_the_kernel_read_on():
    """What the fix keeps must not stop the kernel's scan: a port named after all the kept entries is reached."""
    f = _kernel_default(F())
    existing = "pci=disable_acs_redir=" + ";".join(KEPT[:1] + ["zz", "pci:1de5:3000:1de5"] + KEPT[1:])
    _, option, dropped = cmdline_with_disable_acs_redir(existing, ["0000:07:00.0"])  # dsp4, named by no KEPT entry
    assert len(dropped) == 2 and option.endswith(";0000:07:00.0")
    assert _ctrl(f, "dsp4", iommu="on", kernel="6.8", cmdline=f"{existing};0000:07:00.0")[0] & RR  # scan stopped
    assert _ctrl(f, "dsp4", iommu="on", kernel="6.8", cmdline=option)[0] & RR == 0
    assert _ctrl(f, "dsp0", iommu="on", kernel="6.8", cmdline=option)[0] & RR == 0  # kept entries still apply
