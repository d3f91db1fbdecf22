"""The fabric screen: lazy tree, detail pane, selection keys, palette jump, help, themes."""

from tui_helpers import (
    ODD,
    build_app,
    messages,
    run,
    screen_text,
    to_device,
    wait_for_palette_hit,
)

from p2ptui.formats import loads_fabric
from p2ptui.tui.screens.help import HelpScreen
from p2ptui.tui.widgets.detail_pane import DetailPane
from p2ptui.tui.widgets.fabric_tree import FabricTree


def loaded_devices(tree: FabricTree) -> int:
    """How many of the fabric's devices have a node in the tree so far (the tree loads children lazily)."""
    return sum(tree.node_for(dev.bdf) is not None for dev in tree.fabric.devices)


def label_styles(node) -> list[tuple[str, str]]:
    """A tree node's label as (text, style) runs: what the theme colours."""
    label = node.label
    return [(label.plain[span.start : span.end], str(span.style)) for span in label.spans]


def test_small_fabric_opens_fully_expanded_and_detail_follows_cursor():
    async def body(pilot):
        tree = pilot.app.screen.query_one(FabricTree)
        assert loaded_devices(tree) == len(pilot.app.screen.fabric)
        await to_device(pilot, "nvme2")
        assert tree.highlighted.name == "nvme2"
        detail = pilot.app.screen.query_one(DetailPane)
        assert detail.item.name == "nvme2"
        text = screen_text(pilot.app)
        assert "nvme2 · 0000:1d:00.0" in text and "Eideticom NoLoad CSP" in text
        detail.scroll_end(animate=False)
        await pilot.pause()
        assert "512 MiB, 512 MiB free, published" in screen_text(pilot.app)
        await pilot.press("up")
        assert detail.item.name == "dsp3"

    run(body)


def test_large_fabric_loads_children_only_when_expanded():
    async def body(pilot):
        tree = pilot.app.screen.query_one(FabricTree)
        fabric = pilot.app.screen.fabric
        loaded = loaded_devices(tree)
        assert loaded < 100 < len(fabric)  # root complexes and their first level only
        switch = next(d for d in fabric.devices if d.kind.value == "switch_upstream")
        assert tree.node_for(switch.bdf) is None
        deep = max(fabric.endpoints(), key=lambda d: d.bdf)
        pilot.app.screen.jump_to(deep.bdf)  # loads just the path to it
        await pilot.pause()
        assert tree.highlighted == deep
        path_children = sum(len(fabric.children(d)) for d in fabric.ancestors(deep))
        assert loaded_devices(tree) <= loaded + path_children
        port = fabric.parent(switch)
        node = tree.node_for(port.bdf)
        assert node is not None and not node.children and node.allow_expand
        tree.move_cursor(node)
        await pilot.press("space")
        assert len(node.children) == len(fabric.children(port))
        child = tree.node_for(switch.bdf)
        assert child.allow_expand and not child.children

    run(body, build_app("large-synthetic"))


def test_exporter_and_importers_are_marked_and_cleared():
    async def body(pilot):
        screen = pilot.app.screen
        await to_device(pilot, "nvme0")
        await pilot.press("e")
        await to_device(pilot, "mlx5_0")
        await pilot.press("i")
        await to_device(pilot, "nvme1")
        await pilot.press("i")
        fabric = screen.fabric
        assert screen.selection.exporter == fabric.find("nvme0").bdf
        assert screen.selection.importers == (fabric.find("mlx5_0").bdf, fabric.find("nvme1").bdf)
        text = screen_text(pilot.app)
        assert " E  ▤ nvme0" in text and " I  ⇄ mlx5_0" in text and " I  ▤ nvme1" in text
        assert "exporter  nvme0    importers  mlx5_0    nvme1" in text
        await pilot.press("i")  # again: removed
        assert screen.selection.importers == (fabric.find("mlx5_0").bdf,)
        await pilot.press("c")
        assert screen.selection.empty
        assert " E " not in screen_text(pilot.app)

    run(body)


def test_bridges_cannot_be_chosen_and_say_why():
    async def body(pilot):
        await to_device(pilot, "dsp1")
        await pilot.press("e")
        assert pilot.app.screen.selection.empty
        assert any("dsp1 is a switch downstream port" in m for m in messages(pilot.app))

    run(body)


def test_palette_jumps_to_a_device_by_name_or_address():
    async def body(pilot):
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"1e:00.0")
        await wait_for_palette_hit(pilot, "nvme3")
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen.query_one(FabricTree).highlighted.name == "nvme3"

    run(body)


def test_palette_offers_the_screen_actions():
    async def body(pilot):
        await to_device(pilot, "nvme1")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"mark as exporter")
        await wait_for_palette_hit(pilot, "exporter")
        await pilot.press("enter")
        await pilot.pause()
        screen = pilot.app.screen
        assert screen.selection.exporter == screen.fabric.find("nvme1").bdf

    run(body)


def test_device_names_with_markup_are_shown_literally():
    async def body(pilot):
        await to_device(pilot, "nvme[0]")
        text = screen_text(pilot.app)
        assert "nvme[0]" in text and "[link down] [/dev/nvme0n1]" in text

    run(body, build_app(loads_fabric(ODD)))


def test_help_lists_every_key_and_closes():
    async def body(pilot):
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen)
        body_widget = pilot.app.screen.query_one("#help-body")
        text = ""
        for _ in range(10):  # page through: the list is longer than one screen
            text += screen_text(pilot.app)
            body_widget.scroll_page_down(animate=False)
            await pilot.pause()
        for words in (
            "Exporter",
            "Importer",
            "Clear",
            "Copy",
            "Jump",
            "Filter",
            "Zoom",
            "Copy verdict",
            "Cancel copy",
            "Clear finished",
            "Quit",
            "Theme",
            "Tree legend",
        ):
            assert words in text
        await pilot.press("escape")
        await pilot.pause()
        assert not isinstance(pilot.app.screen, HelpScreen)

    run(body)


def test_theme_cycles_and_tree_labels_follow():
    async def body(pilot):
        tree = pilot.app.screen.query_one(FabricTree)
        nvme2 = tree.node_for(pilot.app.screen.fabric.find("nvme2").bdf)
        before = label_styles(nvme2)
        await pilot.press("ctrl+t")
        await pilot.pause()
        assert pilot.app.theme == "textual-light"
        after = label_styles(nvme2)
        assert [text for text, _ in after] == [text for text, _ in before]  # the same words, in the new colours
        assert after != before

    run(body)
