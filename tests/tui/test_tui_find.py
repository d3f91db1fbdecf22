"""Find and filter: / filters the tree (matches with their ancestors), the palette's jump leaves the device in
view, the launcher finds by typing and esc goes back to the fabric it was opened from."""

from textual.widgets import OptionList
from tui_helpers import (
    build_app,
    run,
    screen_text,
    to_device,
    wait_for,
    wait_for_palette_hit,
)

from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.launcher import LauncherScreen
from p2ptui.tui.widgets.fabric_tree import FabricTree, device_matches


def shown(tree: FabricTree) -> list[str]:
    """Names of every line the tree shows."""
    out = []

    def walk(node):
        for child in node.children:
            out.append(getattr(child.data, "name", None) or getattr(child.data, "host_bridge", ""))
            if child.is_expanded:
                walk(child)

    walk(tree.root)
    return out


def test_slash_filters_the_tree_to_matches_with_their_ancestors_and_esc_clears():
    async def body(pilot):
        screen = pilot.app.screen
        tree = screen.fabric_tree
        everything = len(shown(tree))
        await pilot.press("slash", *"mlx")
        await pilot.pause()
        names = shown(tree)
        assert {"mlx5_0"} <= set(names) and not any(n.startswith("nvme") for n in names)
        dev = screen.fabric.find("mlx5_0")
        for up in screen.fabric.upstream_chain(dev)[1:]:  # every ancestor stays, so the match has its place
            assert up.name in names
        matched = [d.name for d in tree.matches]
        assert "mlx5_0" in matched and all("mlx" in n for n in matched)
        assert f"{len(matched)} matches" in str(tree.border_title)
        await pilot.press("enter")
        assert screen.focused is tree and tree.highlighted.name == "mlx5_0"
        await pilot.press("escape")
        await pilot.pause()
        assert len(shown(tree)) == everything and not screen.filter_input.display

    run(body)


def test_filter_by_kind_alternatives_address_and_ids():
    async def body(pilot):
        screen = pilot.app.screen
        fabric = screen.fabric
        await pilot.press("slash", *"nic, nvme")
        await pilot.pause()
        kinds = {d.kind.value for d in screen.fabric_tree.matches}
        assert kinds == {"nic", "nvme"}
        nvme0 = fabric.find("nvme0")
        assert device_matches(nvme0, str(nvme0.bdf)) and device_matches(nvme0, nvme0.ids)
        assert not device_matches(nvme0, "mlx")

    run(body)


def test_a_jump_to_a_device_the_filter_hides_shows_everything_again():
    async def body(pilot):
        screen = pilot.app.screen
        await pilot.press("slash", *"mlx", "enter")
        await to_device(pilot, "nvme2")
        await pilot.pause()
        assert screen.fabric_tree.highlighted.name == "nvme2"

    run(body)


def test_the_palette_jump_leaves_the_device_visible_on_a_large_fabric():
    async def body(pilot):
        tree = pilot.app.screen.fabric_tree
        target = pilot.app.screen.fabric.endpoints()[-1]
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*target.name)
        await wait_for_palette_hit(pilot, target.name)
        await pilot.press("enter")
        await pilot.pause()
        await pilot.pause()
        assert tree.highlighted is target
        line = tree.cursor_line - tree.scroll_offset.y
        assert 0 <= line < tree.scrollable_content_region.height  # above the horizontal scrollbar, in view
        assert target.name in screen_text(pilot.app)

    run(body, build_app("large-synthetic"), size=(80, 24))


def test_the_palette_placeholder_says_what_it_finds():
    async def body(pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        assert "Device name or address" in screen_text(pilot.app)

    run(body)


def test_launcher_finds_by_typing_and_esc_returns_to_the_fabric_as_it_was():
    async def body(pilot):
        fabric_screen = pilot.app.screen
        await pilot.press("e")  # something to keep: the exporter
        await pilot.press("o")
        await pilot.pause()
        launcher = pilot.app.screen
        assert isinstance(launcher, LauncherScreen)
        await pilot.press(*"dgx")
        await pilot.pause()
        options = launcher.query_one(OptionList)
        ids = [options.get_option_at_index(i).id for i in range(options.option_count)]
        assert ids and all("dgx" in i for i in ids)
        await pilot.press("escape")  # clears the find
        await pilot.pause()
        assert pilot.app.screen is launcher
        await pilot.press("escape")  # back to the fabric, selection kept
        await pilot.pause()
        assert pilot.app.screen is fabric_screen

    run(body)


def test_opening_another_fabric_from_the_launcher_replaces_the_first():
    async def body(pilot):
        await pilot.press("o")
        await pilot.pause()
        await pilot.press(*"kernel-scen", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FabricScreen))
        assert pilot.app.screen.fabric.name == "kernel-scenarios"
        assert sum(isinstance(s, FabricScreen) for s in pilot.app.screen_stack) == 1

    run(body)
