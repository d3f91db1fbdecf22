"""A verdict that says what it does not know: certain, or "depends" with each outcome (issue 11).

The property: on random fabrics whose every fact is known (the truth), hide some facts; the outcomes the verdict
lists are exactly the certain verdicts of the completions of the hidden facts, and the truth's verdict is among them.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import replace
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from p2ptui.cli.main import main
from p2ptui.fabric import acs as acsbits
from p2ptui.fabric import pciids
from p2ptui.fabric.acs import Acs, AcsSource
from p2ptui.fabric.cpu_vendors import AMD_ROOT_COMPLEX_FAMILY, HOST_BRIDGE_VENDORS
from p2ptui.fabric.model import IommuMode
from p2ptui.fabric.synth import random_fabric
from p2ptui.p2p.context import may_redirect
from p2ptui.p2p.outcomes import outcome_key
from p2ptui.p2p.profiles import RULE_RELEASES, Fact, profile_for
from p2ptui.p2p.verdict import check
from p2ptui.sources import open_fabric

DATA = Path(__file__).resolve().parents[1] / "data"
DGX2 = DATA / "hwloc" / "nvidiaDGX2.xml"
THREADRIPPER = DATA / "lspci" / "stelline-puget-threadripper-pro-wrx90.lspci-tv.txt"
# Kernels a machine may run: every release where a rule changes and others between them (which must add nothing).
KERNELS = [".".join(str(x) for x in (v if v[2] else v[:2])) for v in RULE_RELEASES] + ["5.5", "5.10", "6.1", "7.1.5"]
CPUS = ["intel", "amd:0x15", "amd:0x17", "amd:0x19", "hygon:0x18"]
# Host-bridge IDs to fill a hidden one with: one of each standing in each era, and ones never whitelisted — for
# every CPU the truth may have (a pre-Zen AMD machine's own root complex, 1022:1410, is not on the list either).
HOST_BRIDGE_IDS = [
    (0x1022, 0x1450),
    (0x1022, 0x1410),
    (0x8086, 0x2030),
    (0x8086, 0x09A2),
    (0x8086, 0x2F00),
    (0x1AE0, 0x0001),
    (0x8086, 0x1234),
]


def _run_cli(capsys, *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_dgx2_gpu_pair_depends_on_the_two_switch_ports(capsys):
    fabric = open_fabric(str(DGX2))
    v = check(fabric, "gpu0", ["gpu1"])
    assert not v.certain
    acs = next(u for u in v.depends_on if u.fact is Fact.ACS)
    assert [s.split()[0] for s in acs.subjects] == ["dsp2", "dsp3"]  # not the GPUs, not the upstream port
    got = {(o.verdict.clients[0].map_type.value, o.verdict.clients[0].distance) for o in v.outcomes}
    assert {("BUS_ADDR", 4), ("THRU_HOST_BRIDGE", 4)} <= got
    clear = next(o for o in v.outcomes if o.verdict.clients[0].map_type.value == "BUS_ADDR")
    assert "clear on dsp2, dsp3" in clear.when
    assert v.clients[0].map_type.value == "NOT_SUPPORTED"  # the worst outcome, which the gate judges
    assert not any("taken as" in n for n in v.notes)
    code, out = _run_cli(capsys, "check", str(DGX2), "gpu0", "gpu1")
    assert code == 3 and "verdict      ? depends on" in out and "ACS of dsp2 (0000:33:00.0), dsp3 (0000:33:10.0)" in out
    code, out = _run_cli(capsys, "check", str(DGX2), "gpu0", "gpu1", "--assume", "acs-clear")
    assert code == 0 and "verdict      ✔ P2P supported  distance 4" in out


def test_threadripper_gpus_across_root_ports_are_not_a_certain_refusal(capsys, monkeypatch):
    # `lspci -tv` without -nn names vendors only by name: the PCI ID database gives their IDs (the repository's
    # excerpt of it, so the test reads the same names on every machine).
    monkeypatch.setenv(pciids.ENV_VAR, str(DATA / "pci.ids"))
    fabric = open_fabric(str(THREADRIPPER))
    profile = profile_for(fabric)
    assert profile.cpu_vendor == "amd" and any(
        "CPU vendor inferred: amd" in n and "1022:14a4" in n for n in profile.notes
    )
    v = check(fabric, "gpu0", ["gpu1"])
    assert v.clients[0].common is None  # different root ports
    assert not v.certain and any(u.fact is Fact.CPU for u in v.depends_on)
    zen = [o for o in v.outcomes if "Zen) or newer" in o.when]
    assert zen and zen[0].verdict.clients[0].map_type.value == "THRU_HOST_BRIDGE"
    v = check(fabric, "gpu0", ["gpu1"], profile_for(fabric, assume=["cpu=amd:0x19", "kernel=6.8"]))
    assert v.certain and v.clients[0].map_type.value == "THRU_HOST_BRIDGE"


def test_kernel_without_p2pdma_is_said(capsys, tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(
        "host: {kernel: 3.10.0-1160.el7.x86_64, cpu: intel, iommu: off}\nroot_complexes:\n  - bus: 00\n"
        "    devices: [{bdf: 00:00.0}, {bdf: 00:01.0, kind: nvme}, {bdf: 00:02.0, kind: nvme}]\n"
    )
    code, out = _run_cli(capsys, "check", str(path), "00:01.0", "00:02.0")
    assert code == 1 and "P2PDMA is not in this kernel" in out and "supported" not in out.split("\n")[2]


def test_a_3_10_sysfs_snapshot_has_no_p2pdma(capsys):
    snapshot = DATA / "sysfs" / "32intel64-2p8co2t+8ve.tar.bz2"  # a CentOS 7 machine, kernel 3.10.0-1160
    fabric = open_fabric(str(snapshot))
    a, b = fabric.endpoints()[:2]
    v = check(fabric, a, [b])
    assert v.certain and v.p2pdma_absent and not v.supported and v.distance == -1
    code, out = _run_cli(capsys, "check", str(snapshot), str(a.bdf), str(b.bdf))
    assert code == 1 and "P2PDMA is not in this kernel  (3.10.0-1160" in out and "P2P supported" not in out
    assert "no P2PDMA (kernel 3.10.0-1160" in out.splitlines()[1]
    code, out = _run_cli(capsys, "matrix", str(snapshot), "--json")
    doc = __import__("json").loads(out)
    assert doc["certain"] is True and {m for row in doc["map_type"] for m in row} == {"NOT_SUPPORTED"}


def test_matrix_marks_uncertain_cells_and_lists_outcomes(capsys):
    import json

    code, out = _run_cli(capsys, "matrix", str(DGX2), "--json")
    doc = json.loads(out)
    assert doc["certain"][0][0] is True and doc["certain"][0][1] is False
    cell = next(c for c in doc["outcomes"] if (c["row"], c["col"]) == (0, 1))
    assert {(o["map_type"], o["distance"]) for o in cell["outcomes"]} >= {("BUS_ADDR", 4), ("THRU_HOST_BRIDGE", 4)}
    code, out = _run_cli(capsys, "matrix", str(DGX2), "--width", "200")
    rows = [line for line in out.splitlines() if line.startswith("gpu")]
    assert len(rows) == 16 and all("?" in row for row in rows)  # every row has a pair across a switch port
    code, out = _run_cli(
        capsys, "matrix", str(DGX2), "--assume", "acs-clear", "--assume", "kernel=6.8", "--width", "200"
    )
    rows = [line for line in out.splitlines() if line.startswith("gpu")]
    assert len(rows) == 16 and "B4/PIX " in rows[0] and not any("?" in row for row in rows)


# -- the property ------------------------------------------------------------------------------------------------
def _truth(seed: int):
    """A random fabric with every fact known: kernel, CPU, IOMMU, the ACS of every function (redirect bits only
    where PCIe defines them) and the IDs of every function standing for a host bridge."""
    rng = random.Random(seed)
    fabric = random_fabric(seed, max_endpoints=10)
    host = replace(fabric.host, kernel=rng.choice(KERNELS), iommu=rng.choice([IommuMode.OFF, IommuMode.TRANSLATED]))
    vendor, _, family = rng.choice(CPUS).partition(":")
    host = replace(host, cpu_vendor=vendor, cpu_family=int(family, 0) if family else 6)
    # A machine's root complexes are its CPU's: rewrite first functions that say otherwise.
    firsts = {fabric.on_root_bus(rb)[0].bdf for rb in fabric.root_buses if fabric.on_root_bus(rb)}
    devices = []
    for dev in fabric.devices:
        if dev.bdf in firsts and not _agrees(dev.vendor_id, dev.device_id, host.cpu_vendor, host.cpu_family):
            dev = replace(
                dev,
                vendor_id=OWN_ROOT_COMPLEX[vendor, host.cpu_family >= 0x17][0],
                device_id=OWN_ROOT_COMPLEX[vendor, host.cpu_family >= 0x17][1],
            )
        if dev.acs.source is AcsSource.UNKNOWN:
            ctrl = acsbits.RR | acsbits.CR if may_redirect(fabric, dev) and rng.random() < 0.5 else 0
            dev = replace(dev, acs=Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=ctrl))
        elif not may_redirect(fabric, dev):  # PCIe defines no P2P redirect there: the random fabric may not know
            keep = ~acsbits.REDIRECT_BITS
            dev = replace(
                dev,
                acs=replace(
                    dev.acs,
                    cap=dev.acs.cap & keep,
                    ctrl=dev.acs.ctrl & keep,
                    firmware_ctrl=dev.acs.firmware_ctrl & keep,
                ),
            )
        if dev.vendor_id is None or dev.device_id is None:
            vid, did = rng.choice([i for i in HOST_BRIDGE_IDS if _agrees(*i, host.cpu_vendor, host.cpu_family)])
            dev = replace(dev, vendor_id=vid, device_id=did)
        devices.append(dev)
    return fabric.with_devices(devices).replace(host=host)


OWN_ROOT_COMPLEX = {
    ("intel", False): (0x8086, 0x2030),
    ("intel", True): (0x8086, 0x2030),
    ("amd", True): (0x1022, 0x1450),
    ("amd", False): (0x1022, 0x1410),
    ("hygon", True): (0x1D94, 0x1450),
    ("hygon", False): (0x1D94, 0x1450),
}


def _agrees(vendor_id, device_id, cpu_vendor, cpu_family) -> bool:
    """Could a root complex with these IDs sit in a machine with this CPU?"""
    own = HOST_BRIDGE_VENDORS.get(vendor_id)
    if own is None:
        return True
    pinned = AMD_ROOT_COMPLEX_FAMILY.get(device_id) if own == "amd" else None
    family_ok = pinned is None or cpu_family is None or (pinned[0] >= 0x17) == (cpu_family >= 0x17)
    return own == cpu_vendor and family_ok


def _hide(fabric, rng: random.Random, on_path: list):
    """Hide a random choice of facts; returns the fabric and what was hidden."""
    hidden: dict = {}
    host = fabric.host
    machine = rng.choice(["kernel", "cpu", "iommu", "cpu+iommu", ""])  # at most one with many values: test time
    if "kernel" in machine:
        host, hidden["kernel"] = replace(host, kernel=None), True
    if "cpu" in machine:
        host, hidden["cpu"] = replace(host, cpu_vendor=None, cpu_family=None), True
    if "iommu" in machine:
        host, hidden["iommu"] = replace(host, iommu=IommuMode.UNKNOWN), True
    acs = [d.bdf for d in rng.sample(on_path, min(len(on_path), rng.randint(0, 2)))]
    firsts = [fabric.on_root_bus(rb)[0].bdf for rb in fabric.root_buses if fabric.on_root_bus(rb)]
    reps = [b for b in firsts if rng.random() < 0.25][:1]
    devices = []
    for dev in fabric.devices:
        if dev.bdf in acs:
            dev = replace(dev, acs=Acs(AcsSource.UNKNOWN))
        if dev.bdf in reps:
            dev = replace(dev, vendor_id=None, device_id=None)
        devices.append(dev)
    hidden["acs"], hidden["reps"] = [b for b in acs], reps
    hidden_fabric = fabric.with_devices(devices).replace(host=host)
    # No group membership either when the IOMMU is hidden: groups would tell it.
    if hidden.get("iommu"):
        hidden_fabric = hidden_fabric.with_devices(replace(d, iommu_group=None) for d in hidden_fabric.devices)
    return hidden_fabric, hidden


def _completions(hidden_fabric, hidden: dict):
    """Every way to fill the hidden facts back in, with values beyond the verdict's own lists (more kernels, more
    CPUs); for ACS, only what PCIe allows on that function."""
    kernels = KERNELS if hidden.get("kernel") else [None]
    cpus: list = CPUS if hidden.get("cpu") else [None]  # only those that agree with the root complexes count
    iommus = [IommuMode.OFF, IommuMode.TRANSLATED, IommuMode.PASSTHROUGH] if hidden.get("iommu") else [None]
    acs_values = []
    for bdf in hidden["acs"]:
        dev = hidden_fabric.device(bdf)
        acs_values.append([0, acsbits.RR | acsbits.CR] if may_redirect(hidden_fabric, dev) else [0])
    rep_values = [HOST_BRIDGE_IDS for _ in hidden["reps"]]
    for kernel, cpu, iommu, ctrls, ids in itertools.product(
        kernels, cpus, iommus, itertools.product(*acs_values), itertools.product(*rep_values)
    ):
        filled = {b: c for b, c in zip(hidden["acs"], ctrls, strict=False)}
        named = dict(zip(hidden["reps"], ids, strict=False))
        devices = []
        for dev in hidden_fabric.devices:
            if dev.bdf in filled:
                dev = replace(dev, acs=Acs(AcsSource.HARDWARE, cap=acsbits.ALL_BITS, ctrl=filled[dev.bdf]))
            if dev.bdf in named:
                dev = replace(dev, vendor_id=named[dev.bdf][0], device_id=named[dev.bdf][1])
            devices.append(dev)
        # The facts go back into the fabric (what the machine is), not into flags (a what-if of another boot).
        host = hidden_fabric.host
        if kernel is not None:
            host = replace(host, kernel=kernel)
        if iommu is not None:
            host = replace(host, iommu=iommu)
        if cpu is not None:
            vendor, _, family = cpu.partition(":")
            host = replace(host, cpu_vendor=vendor, cpu_family=int(family, 0) if family else 6)
        filled_fabric = hidden_fabric.with_devices(devices).replace(host=host)
        if all(
            _agrees(
                filled_fabric.on_root_bus(rb)[0].vendor_id,
                filled_fabric.on_root_bus(rb)[0].device_id,
                host.cpu_vendor,
                host.cpu_family,
            )
            for rb in filled_fabric.root_buses
            if filled_fabric.on_root_bus(rb)
        ):
            yield filled_fabric


@settings(max_examples=100, deadline=None, derandomize=True)
@given(seed=st.integers(0, 10**6), pick=st.integers(0, 10**6))
def test_outcomes_are_exactly_the_completions_and_contain_the_truth(seed, pick):
    rng = random.Random(pick)
    truth = _truth(seed)
    ends = truth.endpoints()
    provider = rng.choice(ends)
    clients = [rng.choice(ends) for _ in range(rng.randint(1, 2))]
    on_path = list(
        {d.bdf: d for c in clients for d in truth.upstream_chain(c) + truth.upstream_chain(provider)}.values()
    )
    true_profile = profile_for(truth)
    assert not true_profile.unknown
    true_key = outcome_key(check(truth, provider, clients, true_profile, verbose=False))
    hidden_fabric, hidden = _hide(truth, rng, on_path)
    v = check(hidden_fabric, provider.bdf.__str__(), [str(c.bdf) for c in clients], verbose=False)
    listed = {outcome_key(o.verdict) for o in v.outcomes} if not v.certain else {outcome_key(v)}
    assert v.certain == (len(listed) == 1)
    assert true_key in listed
    completions = set()
    for filled in _completions(hidden_fabric, hidden):
        w = check(filled, str(provider.bdf), [str(c.bdf) for c in clients], verbose=False)
        assert w.certain
        completions.add(outcome_key(w))
    assert listed == completions
