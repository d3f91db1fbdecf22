"""Kernel profiles: version strings, CPUs, IOMMU modes, host defaults and overrides, whitelist contents."""

from __future__ import annotations

import pytest
from p2p_scenario_support import scenario_fabric

from p2ptui.errors import InputError
from p2ptui.fabric.model import IommuMode
from p2ptui.p2p.acs_cmdline import AcsHandling
from p2ptui.p2p.profiles import LATEST, Era, Fact, parse_cpu, parse_kernel, profile_for
from p2ptui.p2p.whitelist import RepresentativeRule, whitelist_for

F = scenario_fabric


@pytest.mark.parametrize(
    "text, version",
    [
        ("4.20", (4, 20, 0)),
        ("5.2", (5, 2, 0)),
        ("v5.4", (5, 4, 0)),
        ("5.9", (5, 9, 0)),
        ("5.14", (5, 14, 0)),
        ("6.1", (6, 1, 0)),
        ("6.12", (6, 12, 0)),
        ("7.1", (7, 1, 0)),
        ("latest", LATEST),
        ("6.8.0-45-generic", (6, 8, 0)),
        ("5.15.0-1064-azure", (5, 15, 0)),
        ("6.1.0-18-amd64", (6, 1, 0)),
        ("5.14.0-427.13.1.el9_4.x86_64", (5, 14, 0)),
        ("6.6.30-rc1", (6, 6, 30)),
        ("linux-6.12.23", (6, 12, 23)),
        ("6.15-rc3", (6, 15, 0)),
    ],
)
def test_parse_kernel(text, version):
    assert parse_kernel(text) == version


@pytest.mark.parametrize("text", ["4.19", "3.10.0-1160.el7.x86_64", "banana", "", "6"])
def test_parse_kernel_rejects(text):
    with pytest.raises(InputError):
        parse_kernel(text)


@pytest.mark.parametrize(
    "kernel, era",
    [
        ("4.20", Era.V4_20),
        ("5.1", Era.V4_20),
        ("5.2", Era.V5_2),
        ("5.3", Era.V5_2),
        ("5.4", Era.V5_4),
        ("5.8", Era.V5_4),
        ("5.9", Era.V5_9),
        ("5.13", Era.V5_9),
        ("5.14", Era.V5_14),
        ("6.1", Era.V5_14),
        ("6.12", Era.V5_14),
        ("7.1", Era.V5_14),
        ("latest", Era.V5_14),
    ],
)
def test_eras(kernel, era):
    assert profile_for(F(), kernel=kernel).era is era


@pytest.mark.parametrize(
    "kernel, rule",
    [
        ("4.20", RepresentativeRule.NONE),
        ("5.2", RepresentativeRule.SLOT_00),
        ("5.13", RepresentativeRule.SLOT_00),
        ("5.14", RepresentativeRule.FIRST_00),
        ("5.18", RepresentativeRule.FIRST_00),
        ("5.19", RepresentativeRule.FIRST_00_OR_ROOT_PORT),
        ("latest", RepresentativeRule.FIRST_00_OR_ROOT_PORT),
    ],
)
def test_representative_rule(kernel, rule):
    assert profile_for(F(), kernel=kernel).representative_rule is rule


def _ids(version):
    return {e.ids for e in whitelist_for(version)}


def test_whitelist_contents_by_release():
    intel_54 = {"8086:3c00", "8086:3c01", "8086:2f00", "8086:2f01"}
    assert _ids((5, 4)) == intel_54 | {"1022:1450"}
    assert _ids((5, 6)) == _ids((5, 4)) | {"8086:2030", "8086:2020"}
    assert _ids((5, 7)) == _ids((5, 6)) | {"8086:2031", "8086:2032", "8086:2033"}
    assert _ids((5, 8)) == _ids((5, 7)) | {"1022:15d0", "1022:1630"}
    assert _ids((5, 9)) == _ids((5, 8)) - {"1022:1450", "1022:15d0", "1022:1630"}
    assert _ids((5, 17)) == _ids((5, 9))
    assert _ids((5, 18)) == _ids((5, 9)) | {"8086:09a2"}
    assert _ids((7, 1)) == _ids((5, 18)) | {"1ae0:ANY"}
    accelerators = {
        "8086:0b25",
        "8086:0cfe",
        "8086:11fb",
        "8086:1212",
        "8086:1216",
        "8086:4940",
        "8086:4942",
        "8086:4944",
        "8086:4946",
        "8086:4948",
    }
    assert _ids((7, 2)) == _ids((7, 1)) | accelerators
    assert _ids((7, 3)) == _ids((7, 2)) | {"10de:2f95", "10de:2f96", "10de:2f97", "10de:2f98"}
    zhaoxin = {"1d17:1003", "1d17:1005", "1d17:1006", "1d17:1007", "1d17:1008"}
    candidates_74 = zhaoxin | {"1ded:8000", "8086:0c08", "8086:6f00"}
    assert _ids(LATEST[:2]) == _ids((7, 3)) | candidates_74
    # Stable backports count: the accelerators reached 7.1.y at 7.1.3, so a full version decides.
    assert _ids((7, 1, 2)) == _ids((7, 1)) and _ids((7, 1, 3)) == _ids((7, 1)) | accelerators
    # Candidates (only in a maintainer tree) say so; released entries are confirmed.
    assert {e.ids for e in whitelist_for(LATEST) if not e.confirmed} == candidates_74
    assert profile_for(F(), kernel="5.3").whitelist == ()  # v5.2's root-complex check is not a table


def test_req_same_host_bridge_flags():
    same = {e.ids for e in whitelist_for(LATEST[:2]) if e.req_same_host_bridge}
    assert same == {
        "8086:3c00",
        "8086:3c01",
        "8086:2f00",
        "8086:2f01",
        "1d17:1003",
        "1d17:1005",
        "1d17:1006",
        "1d17:1007",
        "8086:0c08",
        "8086:6f00",
    }
    unconfirmed = {e.ids for e in whitelist_for(LATEST[:2]) if not e.confirmed}
    assert "8086:09a2" not in unconfirmed and "1ded:8000" in unconfirmed  # 09a2 is in 5.18; 1ded:8000 a candidate


@pytest.mark.parametrize(
    "text, expect",
    [
        ("intel", ("intel", 6, "x86_64")),
        ("amd", ("amd", 0x19, "x86_64")),
        ("amd:0x17", ("amd", 0x17, "x86_64")),
        ("AMD:25", ("amd", 25, "x86_64")),
        ("amd:1ah", ("amd", 0x1A, "x86_64")),
        ("hygon:0x18", ("hygon", 0x18, "x86_64")),
        ("AuthenticAMD:0x19", ("amd", 0x19, "x86_64")),
        ("ampere", ("ampere", None, "aarch64")),
        ("amd:", ("amd", 0x19, "x86_64")),
    ],
)
def test_parse_cpu(text, expect):
    assert parse_cpu(text) == expect


@pytest.mark.parametrize("text", ["sparc", "amd:zen", "intel:0xq"])
def test_parse_cpu_rejects(text):
    with pytest.raises(InputError):
        parse_cpu(text)


def test_cpu_rule():
    assert profile_for(F(), kernel="5.9", cpu="amd:0x17").cpu_allows_p2p
    assert not profile_for(F(), kernel="5.8", cpu="amd:0x17").cpu_allows_p2p
    assert not profile_for(F(), kernel="latest", cpu="amd:0x15").cpu_allows_p2p
    assert not profile_for(F(), kernel="latest", cpu="intel").cpu_allows_p2p
    arm_amd = F().replace(host=F().host.__class__(cpu_vendor="amd", cpu_family=0x19, arch="aarch64"))
    assert not profile_for(arm_amd).cpu_allows_p2p  # the rule is x86-only


def test_host_facts_are_defaults_and_flags_override():
    f = F()
    p = profile_for(f)
    assert (p.kernel, p.version, p.cpu_vendor, p.cpu_family, p.iommu) == (
        "6.17.0-5-generic",
        (6, 17, 0),
        "intel",
        6,
        IommuMode.OFF,
    )
    assert p.cmdline == f.host.cmdline and p.notes == ()
    q = profile_for(f, kernel="5.4", cpu="amd:0x17", cmdline="pci=noaer", iommu="pt")
    assert (q.release, q.cpu_vendor, q.iommu, q.cmdline) == ((5, 4), "amd", IommuMode.PASSTHROUGH, "pci=noaer")
    assert q.iommu_active and q.acs.iommu and not q.booted.iommu


def test_unknown_host_facts_are_listed_or_inferred_never_taken():
    # Intended change (issue 11): a fact the fabric lacks is inferred with its evidence, or listed as unknown for the
    # verdict to enumerate; no "taken as" defaults.
    f = F()
    bare = f.replace(host=f.host.__class__(cpu_vendor="amd", iommu=IommuMode.UNKNOWN))
    p = profile_for(bare)
    assert p.unknown == {Fact.KERNEL, Fact.CPU}  # AMD, family neither given nor pinned by the Intel host bridges
    text = " ".join(p.notes)
    assert "IOMMU inferred on" in text and "IOMMU groups" in text and p.iommu_active
    assert "taken as" not in text
    filled = profile_for(bare, assume=["cpu=amd:0x19", "kernel=6.8"])
    assert filled.unknown == frozenset() and filled.cpu_allows_p2p and filled.release == (6, 8)
    old = f.replace(host=f.host.__class__(kernel="3.10.0-1160.el7.x86_64"))
    assert profile_for(old).version == (3, 10, 0) and not profile_for(old).has_p2pdma
    future = profile_for(f, kernel="9.3")
    assert future.version == LATEST and "newer than the newest rules" in future.notes[0]


@pytest.mark.parametrize(
    "kernel, handling",
    [
        ("6.10", AcsHandling.CLEAR_REDIRECT),
        ("6.11", AcsHandling.BUGGY_CONFIG),
        ("6.12.0-1-generic", AcsHandling.BUGGY_CONFIG),
        ("6.12.22", AcsHandling.BUGGY_CONFIG),
        ("6.12.23", AcsHandling.CONFIG),
        ("6.13.11", AcsHandling.CONFIG),
        ("6.14.1", AcsHandling.BUGGY_CONFIG),
        ("6.14.2", AcsHandling.CONFIG),
        ("6.15", AcsHandling.CONFIG),
        ("latest", AcsHandling.CONFIG),
    ],
)
def test_acs_handling_by_release(kernel, handling):
    assert profile_for(F(), kernel=kernel).acs.handling is handling


def test_buggy_window_is_noted_only_with_acs_parameters():
    assert profile_for(F(), kernel="6.12").notes == ()
    p = profile_for(F(), kernel="6.12", cmdline="pci=disable_acs_redir=0000:02:00.0")
    assert any("6.11-6.14" in n for n in p.notes)


def test_bad_cmdline_quoting_is_an_input_error():
    with pytest.raises(InputError):
        profile_for(F(), cmdline='pci="disable_acs_redir=0000:02:00.0')


def test_profiles_are_hashable_and_equal_by_value():
    assert profile_for(F(), kernel="5.4") == profile_for(F(), kernel="5.4")
    assert len({profile_for(F(), kernel="5.4"), profile_for(F(), kernel="5.4"), profile_for(F())}) == 2


@pytest.mark.parametrize("text, family", [("amd:0", 0), ("amd:0xfff", 0xFFF), ("amd:fffh", 0xFFF), ("intel:6", 6)])
def test_parse_cpu_family_range_edges(text, family):
    assert parse_cpu(text)[1] == family


@pytest.mark.parametrize(
    "text, shown",
    [
        ("amd:-1", "-1"),
        ("amd:0x99999", "0x99999"),
        ("amd:1000h", "1000h"),
        ("intel:4096", "4096"),
        ("amd:-0x1", "-0x1"),
    ],
)
def test_parse_cpu_family_out_of_range(text, shown):
    with pytest.raises(InputError) as info:
        parse_cpu(text)
    (diag,) = info.value.diagnostics
    assert diag.message == f"CPU family {shown} is out of range"
    assert "0 to 0xfff" in diag.hint  # the same range as a fabric file's cpu family


@pytest.mark.parametrize(
    "text, version",
    [
        ("6.12.23+", (6, 12, 23)),
        ("5.14.0-362.el9.x86_64", (5, 14, 0)),
        ("6.1.0-56-amd64", (6, 1, 0)),
        ("4.20.0", (4, 20, 0)),
        ("mainline", LATEST),
    ],
)
def test_parse_kernel_uname_forms(text, version):
    assert parse_kernel(text) == version


@pytest.mark.parametrize("text", ["6.8.0 #47-Ubuntu SMP", "6.8banana7.1", "x6.8"])
def test_parse_kernel_rejects_what_is_not_a_release(text):
    with pytest.raises(InputError) as info:
        parse_kernel(text)
    (diag,) = info.value.diagnostics
    assert "is not a kernel version" in diag.message and "uname -r" in diag.hint


def test_pre_p2pdma_fabric_file_loads_and_the_verdict_says_p2pdma_is_absent():
    # Intended change (issue 11): a 3.10 kernel has no P2PDMA, so the verdict is a certain refusal, never "supported".
    from p2ptui.formats import loads_fabric
    from p2ptui.p2p.verdict import check

    text = (
        "host: {kernel: 3.10.0-1160.el7.x86_64, cpu: intel, iommu: off}\nroot_complexes:\n  - bus: 00\n"
        "    devices: [{bdf: 00:00.0}, {bdf: 00:01.0, kind: nvme}, {bdf: 00:02.0, kind: nvme}]\n"
    )
    fabric = loads_fabric(text)
    p = profile_for(fabric)
    assert p.version == (3, 10, 0) and p.kernel == "3.10.0-1160.el7.x86_64" and not p.has_p2pdma
    ends = fabric.endpoints()
    v = check(fabric, ends[0], [ends[1]])
    assert v.certain and v.p2pdma_absent and not v.supported and v.distance == -1 and v.messages == []
    assert "has no PCI P2PDMA" in v.notes[0]
