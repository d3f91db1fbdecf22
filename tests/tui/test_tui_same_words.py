"""Both skins of the presentation layer say the same things in the same words: on every bundled fabric, the text
the TUI's detail and verdict panes render (their styled rows, drawn by Rich and read back as plain text) is, line
for line, what ``p2ptui describe`` and ``p2ptui check`` print; the transfers panel's route and prediction lines
are the rows ``p2ptui copy`` prints."""

import asyncio
import io

import pytest
from rich.console import Console
from textual.widgets import Static
from tui_helpers import build_app, run, select, to_device

from p2ptui.cli.main import main
from p2ptui.engine.transfer import TransferSpec
from p2ptui.fabric.endpoints import p2p_endpoints
from p2ptui.fabric.model import Device, Fabric
from p2ptui.formats.gallery import bundled
from p2ptui.p2p import check
from p2ptui.p2p.fix import acs_fix
from p2ptui.present.device import device_rows, fabric_rows
from p2ptui.present.rows import ROLES, plain
from p2ptui.present.verdict import verdict_rows
from p2ptui.sources import open_fabric
from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.operate import Operations
from p2ptui.tui.styled import ROLE_STYLES
from p2ptui.tui.transfer_text import transfer_lines

FABRICS = [entry.name for entry in bundled()]
GIB = 1 << 30
DEVICES_PER_FABRIC = 12  # large-synthetic has thousands: a sample of every kind of row is enough


def rendered(widget: Static) -> list[str]:
    """What a pane's body draws, as plain lines (wide enough that nothing wraps)."""
    console = Console(width=4000, file=io.StringIO(), color_system=None, legacy_windows=False, record=True)
    console.print(widget.content)
    return [line.rstrip() for line in console.export_text().splitlines()]


def sample_devices(fabric: Fabric) -> list[Device]:
    """Endpoints, bridges and every function whose place the source contradicts: all the kinds of device rows."""
    bridges = [d for d in fabric.devices if d.kind.is_bridge][: DEVICES_PER_FABRIC // 2]
    chosen = p2p_endpoints(fabric)[: DEVICES_PER_FABRIC // 2] + bridges + fabric.conflicting()
    return list(dict.fromkeys(chosen))


def verdict_cases(fabric: Fabric) -> list[tuple[Device, list[Device]]]:
    """Each provider with a pool (or the first endpoint) with single clients and with several at once."""
    ends = p2p_endpoints(fabric)
    providers = [d for d in ends if d.pool is not None][:2] or ends[:1]
    cases = []
    for provider in providers:
        clients = [d for d in ends if d is not provider][:3]
        cases += [(provider, [c]) for c in clients]
        if len(clients) > 1:
            cases.append((provider, clients))
    return cases


def cli(capsys, *argv: str) -> list[str]:
    main(list(argv))
    return capsys.readouterr().out.splitlines()


@pytest.mark.parametrize("name", FABRICS)
def test_detail_pane_says_what_describe_prints(name, capsys):
    fabric = open_fabric(name)
    devices = sample_devices(fabric)
    assert devices, name
    printed = "\n".join(cli(capsys, "describe", name, *(str(d.bdf) for d in devices))).split("\n\n")
    assert len(printed) == len(devices)
    shown: list[str] = []

    async def body(pilot):
        for dev in devices:
            await to_device(pilot, str(dev.bdf))
            assert pilot.app.screen.query_one("#detail").item is pilot.app.screen.fabric.find(str(dev.bdf))
            shown.append("\n".join(rendered(pilot.app.screen.query_one("#detail-body", Static))))

    run(body, build_app(fabric))
    for dev, tui, text in zip(devices, shown, printed, strict=True):
        assert tui == text, f"{name}: {dev.name}"
        assert tui.splitlines()[0].split() == ["name", dev.name]


@pytest.mark.parametrize("name", FABRICS)
def test_verdict_pane_says_what_check_prints(name, capsys):
    fabric = open_fabric(name)
    cases = verdict_cases(fabric)
    if not cases:
        pytest.skip(f"{name} has no pair of P2P endpoints")
    printed = [cli(capsys, "check", name, str(p.bdf), *(str(c.bdf) for c in cs)) for p, cs in cases]
    shown: list[list[str]] = []

    async def body(pilot):
        for provider, clients in cases:
            await select(pilot, str(provider.bdf), *(str(c.bdf) for c in clients))
            shown.append(rendered(pilot.app.screen.query_one("#verdict-body", Static)))

    run(body, build_app(fabric))
    for (provider, clients), tui, text in zip(cases, shown, printed, strict=True):
        where = f"{name}: {provider.name} -> {', '.join(c.name for c in clients)}"
        assert text[0].split() == ["provider", provider.name, f"({provider.bdf})"], where
        assert text[2 : 2 + len(tui)] == tui, where  # after the provider and kernel lines, the pane's rows
        assert text[2 + len(tui)] == "" and text[3 + len(tui)].startswith("gate"), where  # then the gate
        assert tui[0].startswith("verdict") and any(line.startswith(clients[0].name) for line in tui), where


# A GPU with AER errors in a named slot whose address the source also gives to a NIC it could not place (#13).
HEALTH = """
format: p2ptui-fabric/1
name: health
host: {cpu: intel, kernel: "6.12", iommu: off}
root_complexes:
  - bus: 0000:00
    devices:
      - {bdf: 00:00.0, kind: host_bridge, id: 8086:2020}
      - bdf: 00:01.0
        kind: root_port
        link: gen4 x16
        children:
          - {bdf: 01:00.0, kind: gpu, name: gpu0, id: 10de:1db8, link: gen4 x16, slot: GPU-3,
             aer: {correctable: 4, nonfatal: 2, fatal: 0}, conflict: "the source also gives 0000:01:00.0 at line 9"}
unplaced:
  - {bdf: 01:00.0, kind: nic, name: eth9, id: 15b3:1017, parent: 00:02.0,
     conflict: "the source also gives 0000:01:00.0 at line 7"}
"""


def test_health_conflicts_and_unplaced_entries_show_in_both_skins(tmp_path, capsys):
    path = tmp_path / "health.yaml"
    path.write_text(HEALTH)
    fabric = open_fabric(str(path))
    described = cli(capsys, "describe", str(path), "gpu0")
    fabric_text = cli(capsys, "describe", str(path))
    shown: dict[str, list[str]] = {}

    async def body(pilot):
        shown["root"] = rendered(pilot.app.screen.query_one("#detail-body", Static))
        await to_device(pilot, "gpu0")
        shown["gpu0"] = rendered(pilot.app.screen.query_one("#detail-body", Static))

    run(body, build_app(fabric))
    assert shown["gpu0"] == described
    for line in (
        "slot         GPU-3",
        "AER          4 correctable, 2 nonfatal, 0 fatal since boot",
        "conflict     the source also gives 0000:01:00.0 at line 9",
    ):
        assert line in described
    # The root complex's pane ends with the fabric's own rows, as `describe FABRIC` prints them: the unplaced NIC
    # with where the source put it and why it is set aside.
    assert shown["root"][0].split() == ["host", "bridge", "pci0000:00"]
    assert shown["root"][-len(fabric_text) :] == fabric_text
    assert "unplaced     eth9 (01:00.0, under 00:02.0 in the source): the source also gives 0000:01:00.0 at line 7" in (
        fabric_text
    )
    assert "conflicts    gpu0 (01:00.0): the source also gives 0000:01:00.0 at line 9" in fabric_text


def test_every_role_the_layer_uses_has_a_style_in_the_tui_skin():
    assert set(ROLE_STYLES) == set(ROLES)
    used: set[str] = set()
    for name in ("nvmeof-target-iommu", "kernel-scenarios"):
        fabric = open_fabric(name)
        rows = fabric_rows(fabric) + [row for dev in fabric.devices for row in device_rows(fabric, dev, None)]
        for provider, clients in verdict_cases(fabric):
            v = check(fabric, provider, clients)
            rows += verdict_rows(fabric, v, acs_fix(fabric, v))
        used |= {role for _, parts in rows for _, role in parts}
    assert used <= set(ROLES) and {"ok", "bad", "warn", "name", "muted", "accent"} <= used


@pytest.mark.parametrize(
    "name, argv, spec",
    [
        ("nvmeof-target", ["--src", "nvme0", "--dst", "nvme1", "--via", "nvme2"], ("nvme0", "nvme1", "nvme2")),
        (
            "kernel-scenarios",
            ["--src", "rnic0", "--dst", "dsa0", "--via", "nvme-a", "--expert"],
            ("rnic0", "dsa0", "nvme-a"),
        ),
    ],
)
def test_transfers_panel_says_what_copy_prints(name, argv, spec, capsys):
    """The panel's route and prediction lines for a simulated copy are the rows ``p2ptui copy`` prints for it."""
    printed = cli(capsys, "copy", name, *argv, "--size", "1GiB", "--yes")
    src, dst, via = spec

    async def lines():
        clock = VirtualClock()
        ops = Operations(open_fabric(name), clock)
        await ops.start(TransferSpec(src, dst, GIB, via=via), "sim", expert="--expert" in argv)
        clock.advance(0.25)
        _, route, compare = transfer_lines(ops.poll().views[0], True)
        await ops.close()
        return plain(route).strip(), plain(compare).strip()

    route, compare = asyncio.run(lines())
    assert f"    route        {route.removeprefix('route ')}" in printed
    (predicted,) = [line.strip() for line in printed if line.strip().startswith("predicted alone")]
    assert compare.startswith(predicted + "   "), (compare, predicted)
