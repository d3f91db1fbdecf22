"""p2ptui check / matrix / find-provider: exit codes, JSON shape, and the words on a redirected path."""

from __future__ import annotations

import json

import pytest
from cli_run import run_cli

from p2ptui.formats import load_fabric
from p2ptui.formats.gallery import find_bundled

FABRIC = "kernel-scenarios"


def test_check_bus_addr_json(capsys):
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-a", "rnic0", "--json")
    assert code == 0
    j = json.loads(out)
    assert j["provider"] == "0000:03:00.0" and j["distance"] == 4 and j["messages"] == []
    assert j["disable_acs_redir"] is None
    (c,) = j["clients"]
    assert c == {
        **c,
        "bdf": "0000:04:00.0",
        "map_type": "BUS_ADDR",
        "distance": 4,
        "common": "0000:01:00.0",
        "acs_redirect": [],
        "path": ["0000:03:00.0", "0000:02:00.0", "0000:01:00.0", "0000:02:01.0", "0000:04:00.0"],
    }
    assert j["gate"]["expert"] is False and j["gate"]["real"]["decision"] == "allowed"


def test_check_redirected_path_prints_messages_and_a_working_fix(capsys):
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-a", "rnic0", "--iommu", "on", "--kernel", "5.4")
    assert code == 1  # Skylake-E 8086:2020 joined the whitelist in v5.6
    fix = "pci=disable_acs_redir=0000:02:00.0;0000:02:01.0"
    assert "mlx5_core 0000:04:00.0: ACS redirect is set between the client and provider (0000:03:00.0)" in out
    assert f"mlx5_core 0000:04:00.0: to disable ACS redirect for this path, add the kernel parameter: {fix}" in out
    assert "do not share an upstream bridge or whitelisted host bridge" in out
    assert f"\nfix          {fix}\n" in out and "(fixes the path)" in out
    assert "IOMMU group" in out and "← redirect" in out
    cmdline = load_fabric(find_bundled(FABRIC)).host.cmdline + " " + fix
    code, out, _ = run_cli(
        capsys, "check", FABRIC, "nvme-a", "rnic0", "--iommu", "on", "--kernel", "5.4", "--cmdline", cmdline, "--json"
    )
    assert code == 0 and json.loads(out)["clients"][0]["map_type"] == "BUS_ADDR"


def test_check_not_supported_exit_code_and_gate(capsys):
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-d", "gpu0", "--kernel", "4.20", "--json")
    j = json.loads(out)
    assert code == 1 and j["distance"] == -1 and j["clients"][0]["distance"] == -1
    assert j["gate"]["real"]["decision"] == "refused"
    assert j["gate"]["simulate"]["decision"] == "needs-expert" and j["gate"]["simulate"]["permitted"] is False
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-d", "gpu0", "--kernel", "4.20", "--json", "--expert")
    j = json.loads(out)
    assert code == 1 and j["gate"]["expert"] is True and j["gate"]["simulate"]["permitted"] is True
    assert j["gate"]["simulate"]["simulated_only"] is True and j["gate"]["real"]["permitted"] is False


def test_check_text_marks_the_common_device_and_host_bridges(capsys):
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-e", "nvme-d", "rnic0", "nonpci:dma0chan0")
    assert code == 1
    assert "== host bridge pci0000:80 ==" in out and "== host bridge pci0000:00 ==" in out
    assert "platform dma0chan0: cannot be used for peer-to-peer DMA as it is not a PCI device" in out
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-c", "rnic0")
    assert code == 0 and "usp0 (common)  01:00.0  switch upstream port" in out


@pytest.mark.parametrize(
    "argv, text",
    [
        (["check", FABRIC, "nvme-a", "nope"], "is not in fabric"),
        (["check", FABRIC, "nvme-a", "rnic0", "--kernel", "4.14"], "has no PCI P2PDMA"),
        (["check", FABRIC, "nvme-a", "rnic0", "--kernel", "banana"], "not a kernel version"),
        (["check", FABRIC, "nvme-a", "rnic0", "--cpu", "sparc"], "unknown CPU vendor"),
        (["check", FABRIC, "nvme-a", "rnic0", "--cmdline", 'pci="x'], "cannot split the kernel command line"),
        (["check", "/nonexistent/fabric.yaml", "a", "b"], "no such file"),
        (["matrix", FABRIC, "--kernel", "2.6"], "has no PCI P2PDMA"),
        (["find-provider", FABRIC, "ghost"], "is not in fabric"),
        (["check", FABRIC, "nvme-a", "rnic0", "--cpu", "amd:-1"], "CPU family -1 is out of range (0 to 0xfff"),
        (["check", FABRIC, "nvme-a", "rnic0", "--cpu", "amd:0x99999"], "CPU family 0x99999 is out of range"),
        (["matrix", FABRIC, "--cpu", "amd:1000h"], "CPU family 1000h is out of range"),
        (["check", FABRIC, "nvme-a", "nonpci:"], "client 'nonpci:' has no name (write nonpci:NAME"),
        (["check", FABRIC, "nvme-a", "rnic0", "nonpci: "], "client 'nonpci: ' has no name"),
        (["find-provider", FABRIC, "rnic0", "nonpci:"], "client 'nonpci:' has no name"),
        (["check", FABRIC, "nvme-a", "rnic0", "--kernel", "6.8.0 #47-Ubuntu SMP"], "is not a kernel version"),
    ],
)
def test_input_errors_exit_2(capsys, argv, text):
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and text in err and "Traceback" not in err and out == ""


def test_matrix_json(capsys):
    code, out, _ = run_cli(capsys, "matrix", FABRIC, "--json")
    assert code == 0
    j = json.loads(out)
    fabric = load_fabric(find_bundled(FABRIC))
    ends = [str(d.bdf) for d in fabric.endpoints()]
    assert j["devices"] == ends == sorted(ends)
    n = len(ends)
    for key in ("map_type", "distance", "topo"):
        assert len(j[key]) == n and all(len(row) == n for row in j[key])
    a, r, d = ends.index("0000:03:00.0"), ends.index("0000:04:00.0"), ends.index("0000:09:00.0")
    assert (j["map_type"][a][r], j["distance"][a][r], j["topo"][a][r]) == ("BUS_ADDR", 4, "PIX")
    assert (j["map_type"][d][a], j["distance"][d][a], j["topo"][d][a]) == ("THRU_HOST_BRIDGE", 6, "PHB")
    assert all(j["topo"][i][i] == "X" for i in range(n))


def test_matrix_text_and_kernel_flag(capsys):
    code, out, _ = run_cli(capsys, "matrix", FABRIC, "--kernel", "4.20", "--width", "200")
    assert code == 0 and "N-1/PHB" in out and "B4/PIX" in out


def test_find_provider(capsys):
    code, out, _ = run_cli(capsys, "find-provider", FABRIC, "rnic0", "nvme-c", "--seed", "3", "--json")
    j = json.loads(out)
    assert code == 0 and j["distance"] == 10 and j["ties"] == ["0000:03:00.0", "0000:05:00.0"]
    assert j["chosen"] in j["ties"] and j["seed"] == 3
    assert {c["bdf"]: c["distance"] for c in j["candidates"]}["0000:09:00.0"] == 14
    again = json.loads(run_cli(capsys, "find-provider", FABRIC, "rnic0", "nvme-c", "--seed", "3", "--json")[1])
    assert again["chosen"] == j["chosen"]
    code, out, _ = run_cli(capsys, "find-provider", FABRIC, "rnic0", "nvme-c", "--kernel", "4.20")
    assert code == 0 and "random among 2 tied" in out
    code, out, _ = run_cli(capsys, "find-provider", FABRIC, "nonpci:dma0")
    assert code == 1 and "chosen: none" in out


def test_input_errors_print_one_line_each(capsys):
    code, out, err = run_cli(capsys, "check", FABRIC, "nvme-a", "rnic0", "--cpu", "amd:-1")
    assert code == 2 and out == ""
    expected = "p2ptui: error: CPU family -1 is out of range (0 to 0xfff, as in a fabric file: e.g. 0x19, 25 or 19h)"
    assert err.splitlines() == [expected]


def test_cpu_family_edges_are_accepted(capsys):
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-a", "rnic0", "--cpu", "amd:0xfff")
    assert code == 0 and "CPU amd family 0xfff" in out
    code, out, _ = run_cli(capsys, "check", FABRIC, "nvme-a", "rnic0", "--cpu", "amd:0")
    assert code == 0 and "CPU amd family 0x0;" in out


def test_find_provider_single_best_is_not_called_a_tie(capsys):
    code, out, _ = run_cli(capsys, "find-provider", FABRIC, "rnic0", "nvme-a")
    assert code == 0 and "(the only best)" in out
    assert "tie" not in out
    best = [line for line in out.splitlines() if line.startswith("  nvme-a ")]
    assert best == ["  nvme-a           0000:03:00.0  4  best"]
    code, out, _ = run_cli(capsys, "find-provider", FABRIC, "rnic0", "nvme-c", "--seed", "3")
    ties = [line.split()[0] for line in out.splitlines() if line.endswith("  tie")]
    assert code == 0 and ties == ["nvme-a", "nvme-b"] and "random among 2 tied" in out


def test_fix_drops_an_unparsable_existing_entry_and_still_works(capsys):
    fabric = "nvmeof-target-iommu"
    argv = ["check", fabric, "nvme0", "nvme1", "--kernel", "6.12", "--cmdline", "pci=disable_acs_redir=zz;0000:19:03.0"]
    code, out, _ = run_cli(capsys, *argv)
    fix = "pci=disable_acs_redir=0000:19:03.0;0000:19:01.0;0000:19:02.0"
    assert f"\nfix          {fix}\n" in out
    assert "(fixes the path)" in out and "does NOT fix" not in out
    assert "  note       dropped 'zz': not a device selector the kernel parses" in out
    code, out, _ = run_cli(capsys, *argv, "--json")
    j = json.loads(out)
    assert j["disable_acs_redir"] == j["fix"]["option"] == fix
    assert j["fix"]["works"] is True and j["fix"]["after"]["map_types"] == ["BUS_ADDR"]
    assert "dropped 'zz': not a device selector the kernel parses" in j["fix"]["notes"]
    # ... and a reboot with the suggested command line really gives BUS_ADDR.
    code, out, _ = run_cli(capsys, *argv[:-1], j["fix"]["cmdline"], "--json")
    after = json.loads(out)
    assert code == 0 and after["clients"][0]["map_type"] == "BUS_ADDR" and after["fix"] is None
