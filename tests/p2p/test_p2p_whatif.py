"""What-if copies: the original fabric never changes, the copy shows the after state, and the fix really fixes."""

from __future__ import annotations

import pytest
from p2p_scenario_support import NON_WL_INTEL, RR_CR, dsp_redirect, scenario_fabric, summary, verdict, with_hb0

from p2ptui.errors import InputError
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric.acs import AcsSource
from p2ptui.fabric.model import IommuMode
from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled
from p2ptui.p2p import whatif
from p2ptui.p2p.fix import acs_fix
from p2ptui.p2p.profiles import profile_for
from p2ptui.p2p.verdict import check

F = scenario_fabric


def test_acs_whatif_leaves_the_original_alone():
    f = F()
    g = whatif.with_acs(f, "dsp0", set_bits=RR_CR)
    assert f.find("dsp0").acs.ctrl == 0 and g.find("dsp0").acs.ctrl == RR_CR
    assert g.find("dsp0").acs.source is AcsSource.HARDWARE
    assert whatif.with_acs(g, "dsp0", clear_bits=acsbits.RR).find("dsp0").acs.ctrl == acsbits.CR
    assert summary(verdict(f, "nvme-a", ["rnic0"]))[0] == ["BUS_ADDR"]
    assert summary(verdict(g, "nvme-a", ["rnic0"]))[0] == ["THRU_HOST_BRIDGE"]


def test_acs_whatif_errors():
    with pytest.raises(InputError):
        whatif.with_acs(F(), "usp0", set_bits=acsbits.RR)  # no capability
    with pytest.raises(InputError):
        whatif.with_acs(F(), "rp0", set_bits=acsbits.EC)  # root port cap is SV RR CR UF
    with pytest.raises(InputError):
        whatif.with_acs(F(), "nope", set_bits=acsbits.RR)


def test_host_whatifs():
    f = F()
    assert whatif.with_kernel(f, "5.4").host.kernel == "5.4"
    with pytest.raises(InputError):
        whatif.with_kernel(f, "4.14")
    amd = whatif.with_cpu(f, "amd:0x19")
    assert (amd.host.cpu_vendor, amd.host.cpu_family) == ("amd", 0x19)
    assert f.host.cpu_vendor == "intel"
    nonwl = with_hb0(f, NON_WL_INTEL)
    assert verdict(nonwl, "nvme-d", ["gpu0"]).distance == -1
    assert verdict(whatif.with_cpu(nonwl, "amd"), "nvme-d", ["gpu0"]).distance == 4


def test_iommu_whatif_rewrites_hardware_acs_like_a_reboot():
    f = load_fabric(find_bundled("nvmeof-target"))  # IOMMU off, DSP ACS read from hardware, all clear
    on = whatif.with_iommu(f, "on")
    assert on.host.iommu is IommuMode.TRANSLATED
    dsp = on.find("19:01.0")
    assert dsp.acs.source is AcsSource.HARDWARE and dsp.acs.ctrl == acsbits.SV | acsbits.RR | acsbits.CR | acsbits.UF
    before = verdict(f, "nvme0", ["mlx5_0"])
    after = verdict(on, "nvme0", ["mlx5_0"])
    assert summary(before) == (["BUS_ADDR"], [4], 4)
    assert summary(after) == (["THRU_HOST_BRIDGE"], [4], 4)  # Skylake-E root port 8086:2030 is whitelisted
    # the same answer from CLI-style overrides on the unchanged fabric
    assert summary(verdict(f, "nvme0", ["mlx5_0"], iommu="on")) == summary(after)
    back = whatif.with_iommu(on, "off")
    assert back.find("19:01.0").acs.ctrl == 0


def test_disable_acs_redir_whatif_and_fix_agree():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    v = verdict(f, "nvme-a", ["rnic0"])
    fix = acs_fix(f, v)
    assert fix.option == v.disable_acs_redir == "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    assert fix.works and summary(fix.after) == (["BUS_ADDR"], [4], 4)
    rebooted = whatif.with_disable_acs_redir(f, fix.devices)
    assert rebooted.host.cmdline.endswith(fix.option)
    assert summary(verdict(rebooted, "nvme-a", ["rnic0"])) == (["BUS_ADDR"], [4], 4)
    assert f.find("dsp0").acs.ctrl == RR_CR  # untouched


def test_fix_reports_the_buggy_window():
    f = with_hb0(F(), NON_WL_INTEL)
    for port in ("dsp0", "dsp1"):
        f = whatif.with_firmware_acs(f, port, RR_CR)  # firmware set the redirect bits
    v = verdict(f, "nvme-a", ["rnic0"], kernel="6.13", iommu="on")
    fix = acs_fix(f, v)
    assert not fix.works and any("6.11-6.14" in n for n in fix.notes)
    assert acs_fix(f, verdict(f, "nvme-a", ["rnic0"], kernel="6.15", iommu="on")).works


def test_profile_with_cmdline_matches_whatif():
    f = with_hb0(dsp_redirect(F()), NON_WL_INTEL)
    p = profile_for(f).with_cmdline(f.host.cmdline + " pci=disable_acs_redir=pci:10b5:8796")
    assert summary(check(f, "nvme-a", ["rnic0"], p)) == (["BUS_ADDR"], [4], 4)  # the vendor:device selector form
