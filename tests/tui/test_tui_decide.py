"""Verdict panel, what-if, find-provider, matrix and the expert gate, driven through the keys."""

from tui_helpers import build_app, mark, messages, run, screen_text, select

from p2ptui.p2p import check, find_provider, pair_matrix, profile_for
from p2ptui.tui.screens.expert import ExpertConfirm
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.matrix import MatrixScreen
from p2ptui.tui.screens.whatif import WhatIfScreen
from p2ptui.tui.widgets.pair_grid import PairGrid
from p2ptui.tui.widgets.verdict_panel import VerdictPanel


def test_verdict_follows_the_selection_and_explains_the_refusal():
    async def body(pilot):
        screen = pilot.app.screen
        panel = screen.query_one(VerdictPanel)
        await mark(pilot, "nvme-a", "e")
        await mark(pilot, "rnic0", "i")
        assert "✔ P2P supported  distance 4" in panel.text
        assert "  path       nvme-a → dsp0 → [usp0] → dsp1 → rnic0" in panel.text
        await mark(pilot, "dsa0", "i")
        expected = check(
            screen.fabric, screen.fabric.find("nvme-a"), [screen.fabric.find("rnic0"), screen.fabric.find("dsa0")]
        )
        assert not expected.supported
        assert "✘ P2P not supported" in panel.text and "refused for dsa0" in panel.text
        for message in expected.messages:
            assert message in panel.text  # the kernel's own words
        assert "dma_map fails with -EREMOTEIO" in panel.text
        assert "topo -m NODE" in panel.text
        await pilot.press("c")
        assert panel.rows == []

    run(body, build_app("kernel-scenarios"))


def test_acs_redirect_shows_the_fix_and_its_cost():
    async def body(pilot):
        await mark(pilot, "nvme0", "e")
        await mark(pilot, "mlx5_0", "i")
        panel = pilot.app.screen.query_one(VerdictPanel)
        assert "THRU_HOST_BRIDGE" in panel.text
        assert "fix          pci=disable_acs_redir=" in panel.text
        assert "  cost       removes ACS isolation on" in panel.text

    run(body, build_app("nvmeof-target-iommu"))


def test_what_if_shows_before_and_after():
    async def body(pilot):
        await mark(pilot, "nvme0", "e")
        await mark(pilot, "mlx5_0", "i")
        await pilot.press("w")
        await pilot.pause()
        assert isinstance(pilot.app.screen, WhatIfScreen)
        await pilot.click("#wi-iommu")
        await pilot.pause()
        pilot.app.screen.query_one("#wi-iommu").value = "translated"
        await pilot.click("#wi-apply")
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, FabricScreen)
        panel = screen.query_one(VerdictPanel)
        assert panel.text.startswith("what-if      IOMMU translated")
        assert "mlx5_0       ✔ BUS_ADDR d4  →  ◐ THRU_HOST_BRIDGE d4" in panel.text
        assert "⇡ACS" in screen_text(pilot.app)  # the tree's ACS marks follow the what-if

    run(body)


def test_what_if_rejects_a_bad_kernel_in_the_form():
    async def body(pilot):
        await pilot.press("w")
        await pilot.pause()
        await pilot.press(*"banana", "enter")
        await pilot.pause()
        assert isinstance(pilot.app.screen, WhatIfScreen)
        assert "banana" in screen_text(pilot.app)

    run(body)


def test_giving_up_acs_isolation_is_locked_until_expert_mode():
    fix = "pci=disable_acs_redir=0000:19:00.0;0000:19:01.0"

    async def apply(pilot):
        await pilot.press("w")
        await pilot.pause()
        form = pilot.app.screen
        form.query_one("#wi-cmdline").value = form.fabric.host.cmdline + " " + fix
        form.apply()
        await pilot.pause()

    async def body(pilot):
        screen = pilot.app.screen
        await apply(pilot)
        assert screen.whatif.empty  # not applied
        assert any("Press x to turn on expert mode" in m for m in messages(pilot.app))
        await pilot.press("x")
        await pilot.pause()
        assert isinstance(pilot.app.screen, ExpertConfirm)
        await pilot.press("tab", "enter")  # from "No" to "Yes"
        await pilot.pause()
        assert pilot.app.expert and "EXPERT" in screen_text(pilot.app)
        await apply(pilot)
        assert not screen.whatif.empty

    run(body, build_app("nvmeof-target-iommu"))


def test_expert_confirmation_lists_pitfalls_and_defaults_to_no():
    async def body(pilot):
        await pilot.press("x")
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "[8086:3e30] is not in the kernel's" in text and "whitelist" in text
        assert "block devic" in text and "removes isolation" in text
        await pilot.press("enter")  # focus starts on "No"
        await pilot.pause()
        assert not pilot.app.expert and "EXPERT" not in screen_text(pilot.app)
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert not pilot.app.expert

    run(body, build_app("workstation-nonwl"))


def test_find_provider_shows_ties_and_selects_the_pick():
    async def body(pilot):
        screen = pilot.app.screen
        await mark(pilot, "mlx5_0", "i")
        await pilot.press("f")
        await pilot.pause()
        expected = find_provider(screen.fabric, [screen.fabric.find("mlx5_0")], profile_for(screen.fabric), seed=7)
        assert screen.selection.exporter == expected.chosen.bdf
        assert any(f"{len(expected.ties)} tied" in m for m in messages(pilot.app))

    run(body)


def test_matrix_cells_match_the_core_and_choosing_selects_the_pair():
    async def body(pilot):
        await pilot.press("m")
        await pilot.pause()
        assert isinstance(pilot.app.screen, MatrixScreen)
        grid = pilot.app.screen.query_one(PairGrid)
        m = pair_matrix(pilot.app.screen.fabric, profile_for(pilot.app.screen.fabric))
        r = [d.name for d in m.rows].index("nvme-a")
        c = [d.name for d in m.cols].index("dsa0")
        assert grid.cell(r, c) == ("✘", "bad")
        await pilot.press("v")
        assert grid.cell(r, c)[0] == m.topo_at(r, c).value
        await pilot.press(*["down"] * r, *["right"] * c, "enter")  # the first Enter previews the pair
        await pilot.pause()
        assert isinstance(pilot.app.screen, MatrixScreen)
        await pilot.press("enter")  # the second selects it
        await pilot.pause()
        screen = pilot.app.screen
        assert isinstance(screen, FabricScreen)
        assert screen.selection.exporter == m.rows[r].bdf and screen.selection.importers == (m.cols[c].bdf,)

    run(body, build_app("kernel-scenarios"))


def test_large_matrix_scrolls_to_the_cursor():
    async def body(pilot):
        await pilot.press("m")
        await pilot.pause()
        grid = pilot.app.screen.query_one(PairGrid)
        assert len(grid.matrix.rows) == 1024
        grid.cursor = (900, 700)
        await pilot.pause()
        assert grid.matrix.rows[900].name in screen_text(pilot.app)
        assert grid.scroll_offset.y > 800 and grid.cursor_on_screen()

    run(body, build_app("large-synthetic"))


def test_verdict_panel_states_what_it_depends_on_then_each_outcome():
    """Issue 11: a verdict on a fabric without ACS states the condition on the first line, each outcome below, and
    the what-if's --assume field makes it certain."""
    from pathlib import Path

    from p2ptui.present.verdict import verdict_rows
    from p2ptui.sources import open_fabric
    from p2ptui.tui.decide import WhatIf, profile

    fabric = open_fabric(str(Path(__file__).resolve().parents[1] / "data" / "hwloc" / "nvidiaDGX2.xml"))
    prof = profile(fabric)
    v = check(fabric, "gpu0", ["gpu1"], prof)
    rows = verdict_rows(fabric, v)
    text = ["".join(t for t, _ in parts) for _, parts in rows]
    assert rows[0][0] == "verdict" and text[0].startswith("? depends on") and "ACS of dsp2" in text[0]
    outcomes = [t for (key, _), t in zip(rows, text, strict=False) if key == "  outcome"]
    assert len(outcomes) == len(v.outcomes) >= 2 and any(
        "BUS_ADDR 4  if ACS redirect clear on dsp2, dsp3" in t for t in outcomes
    )
    filled = profile(fabric, WhatIf(assume=("acs-clear", "kernel=6.8")))
    sure = check(fabric, "gpu0", ["gpu1"], filled)
    assert sure.certain and "".join(t for t, _ in verdict_rows(fabric, sure)[0][1]).startswith("✔ P2P supported")


def test_a_verdict_with_too_many_unknown_cases_is_refused_in_the_panel():
    """Fifteen importers below a switch of unknown ACS: 32,768 cases. The panel says so, with the facts that would
    settle it, instead of the app freezing while it weighs them."""
    from unknown_switch import switch_of

    async def body(pilot):
        await select(pilot, "nvme0", *(f"nvme{i}" for i in range(1, 16)))
        panel = pilot.app.screen.query_one(VerdictPanel)
        assert panel.text.startswith("verdict      ? not weighed\nwhy          the verdict depends on ACS")
        assert "the verdict depends on ACS on the paths to 15 clients: more cases than the 4,096" in panel.text
        assert "--assume acs-clear / acs-set" in panel.text
        await pilot.press("y")
        assert "ACS on the paths to 15 clients" in messages(pilot.app)[-1]

    run(body, build_app(switch_of(16)))
