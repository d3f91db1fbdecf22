"""The ACS fix really fixes, host what-ifs go through the profile (as the CLI's flags and the TUI's dialog do), and
the scenario builders leave the original fabric alone."""

from __future__ import annotations

import fabric_edits
import pytest
from p2p_scenario_support import NON_WL_INTEL, RR_CR, dsp_redirect, scenario_fabric, summary, verdict, with_hb0

from p2ptui.errors import InputError
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import AcsSource
from p2ptui.fabric.model import IommuMode
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled
from p2ptui.p2p.fix import acs_fix
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.verdict import check

F = scenario_fabric


def test_acs_builder_leaves_the_original_alone():
    f = F()
    g = fabric_edits.with_acs(f, "dsp0", set_bits=RR_CR)
    assert f.find("dsp0").acs.ctrl == 0 and g.find("dsp0").acs.ctrl == RR_CR
    assert g.find("dsp0").acs.source is AcsSource.HARDWARE
    assert fabric_edits.with_acs(g, "dsp0", clear_bits=acsbits.RR).find("dsp0").acs.ctrl == acsbits.CR
    assert summary(verdict(f, "nvme-a", ["rnic0"]))[0] == ["BUS_ADDR"]
    assert summary(verdict(g, "nvme-a", ["rnic0"]))[0] == ["THRU_HOST_BRIDGE"]


def test_acs_builder_errors():
    with pytest.raises(InputError):
        fabric_edits.with_acs(F(), "usp0", set_bits=acsbits.RR)  # no capability
    with pytest.raises(InputError):
        fabric_edits.with_acs(F(), "rp0", set_bits=acsbits.EC)  # root port cap is SV RR CR UF
    with pytest.raises(InputError):
        fabric_edits.with_acs(F(), "nope", set_bits=acsbits.RR)


def test_host_whatifs_through_the_profile():
    f = F()
    assert profile_for(f, kernel="5.4").release[:2] == (5, 4)
    with pytest.raises(InputError):
        profile_for(f, kernel="4.14")
    nonwl = with_hb0(f, NON_WL_INTEL)
    assert verdict(nonwl, "nvme-d", ["gpu0"]).distance == -1
    assert verdict(nonwl, "nvme-d", ["gpu0"], cpu="amd").distance == 4
    assert f.host.cpu_vendor == "intel"


def test_iommu_whatif_rewrites_hardware_acs_like_a_reboot():
    f = load_fabric(find_bundled("nvmeof-target"))  # IOMMU off, DSP ACS read from hardware, all clear
    assert summary(verdict(f, "nvme0", ["mlx5_0"])) == (["BUS_ADDR"], [4], 4)
    # Booted with the IOMMU on, Linux sets SV RR CR UF on the downstream ports: through the host bridge instead
    # (Skylake-E root port 8086:2030 is whitelisted).
    assert summary(verdict(f, "nvme0", ["mlx5_0"], iommu="on")) == (["THRU_HOST_BRIDGE"], [4], 4)
    assert f.host.iommu is IommuMode.OFF


def test_disable_acs_redir_fix_works():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"])
    fix = acs_fix(f, v)
    assert fix.option == v.disable_acs_redir == "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    assert fix.works and summary(fix.after) == (["BUS_ADDR"], [4], 4)
    rebooted = profile_for(f, cmdline=f"{f.host.cmdline} {fix.option}".strip())
    assert summary(check(f, "nvme-a", ["rnic0"], rebooted)) == (["BUS_ADDR"], [4], 4)
    assert f.find("dsp0").acs.ctrl == RR_CR  # untouched


def test_fix_reports_the_buggy_window():
    f = with_hb0(F(), NON_WL_INTEL)
    for port in ("dsp0", "dsp1"):
        f = fabric_edits.with_firmware_acs(f, port, RR_CR)  # firmware set the redirect bits
    v = verdict(f, "nvme-a", ["rnic0"], kernel="6.13", iommu="on")
    fix = acs_fix(f, v)
    assert not fix.works and any("6.11-6.14" in n for n in fix.notes)
    assert acs_fix(f, verdict(f, "nvme-a", ["rnic0"], kernel="6.15", iommu="on")).works


def test_profile_with_cmdline_takes_the_vendor_device_selector():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    p = profile_for(f).with_cmdline(f.host.cmdline + " pci=disable_acs_redir=pci:10b5:8796")
    assert summary(check(f, "nvme-a", ["rnic0"], p)) == (["BUS_ADDR"], [4], 4)  # the vendor:device selector form
