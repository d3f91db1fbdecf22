"""One SVG snapshot per screen at 120x40: seeded data, no animation, no blinking, meters on a virtual clock.

Review changes with the snapshot report before running --snapshot-update.
"""

from tui_helpers import SIZE, build_app, select, to_device

from p2ptui.sources import open_fabric


def test_launcher(snap_compare):
    assert snap_compare(
        build_app(None, live_scan=lambda: open_fabric("skylake-2s")),
        terminal_size=SIZE,
        run_before=lambda pilot: pilot.app.workers.wait_for_complete(),
    )


def test_fabric_tree_and_detail(snap_compare):
    async def run_before(pilot):
        await to_device(pilot, "nvme0")

    assert snap_compare(build_app(), terminal_size=SIZE, run_before=run_before)


def test_fabric_large_first_frame(snap_compare):
    assert snap_compare(build_app("large-synthetic"), terminal_size=SIZE)


def test_fabric_selection_marks(snap_compare):
    async def run_before(pilot):
        for name, key in (("nvme0", "e"), ("mlx5_0", "i"), ("nvme2", "i")):
            await to_device(pilot, name)
            await pilot.press(key)

    assert snap_compare(build_app(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare):
    assert snap_compare(build_app(), terminal_size=SIZE, press=["question_mark"])


def test_palette_jump(snap_compare):
    assert snap_compare(build_app(), terminal_size=SIZE, press=["ctrl+p", *"nvme", "wait:300"])


def test_verdict_refusal(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme-a", "rnic0", "dsa0", reveal=True)

    assert snap_compare(build_app("kernel-scenarios"), terminal_size=SIZE, run_before=run_before)


def test_verdict_acs_fix(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme0", "mlx5_0", reveal=True)

    assert snap_compare(build_app("nvmeof-target-iommu"), terminal_size=SIZE, run_before=run_before)


def test_whatif_form(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme0", "mlx5_0", reveal=True)
        await pilot.press("w")

    assert snap_compare(build_app(), terminal_size=SIZE, run_before=run_before)


def test_whatif_before_after(snap_compare):
    async def run_before(pilot):
        await select(pilot, "nvme0", "mlx5_0", reveal=True)
        await pilot.press("w")
        await pilot.pause()
        form = pilot.app.screen
        form.query_one("#wi-iommu").value = "translated"
        form.apply()
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(build_app(), terminal_size=SIZE, run_before=run_before)


def test_matrix_verdict(snap_compare):
    assert snap_compare(build_app("kernel-scenarios"), terminal_size=SIZE, press=["m", "down", "right"])


def test_matrix_topo(snap_compare):
    assert snap_compare(build_app("kernel-scenarios"), terminal_size=SIZE, press=["m", "v"])


def test_expert_confirm(snap_compare):
    assert snap_compare(build_app("workstation-nonwl"), terminal_size=SIZE, press=["x"])


def test_expert_badge(snap_compare):
    async def run_before(pilot):
        await pilot.press("x")
        await pilot.pause()
        await pilot.press("tab", "enter")
        await pilot.pause()
        pilot.app.clear_notifications()
        await pilot.pause()

    assert snap_compare(build_app("workstation-nonwl"), terminal_size=SIZE, run_before=run_before)
