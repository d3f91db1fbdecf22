"""Keys typed right after a key that opens a screen land in that screen, in order, as a terminal would send them
(all at once, without waiting for the app)."""

from __future__ import annotations

from textual import events
from textual.widgets import Input
from tui_helpers import build_app, run, select, wait_for

from p2ptui.tui.screens.copy_form import CopyForm
from p2ptui.tui.screens.matrix import MatrixScreen


def type_at_once(app, keys: str) -> None:
    """Post every key to the app before it handles the first: what a fast typist or a paste does."""
    for key in keys:
        app.post_message(events.Key(key, key))


def test_keys_typed_right_after_t_fill_the_copy_form():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0", reveal=True)
        type_at_once(pilot.app, "t9")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CopyForm))
        await wait_for(pilot, lambda: [field.value for field in pilot.app.screen.query("#cp-size")] == ["9"])
        type_at_once(pilot.app, "G")
        await pilot.pause()
        form = pilot.app.screen
        assert form.focused is form.query_one("#cp-size", Input)
        # The field's text is selected when it takes focus, so what was typed replaces the default.
        assert form.query_one("#cp-size", Input).value == "9G"

    run(body, build_app("kernel-scenarios"))


def test_a_name_typed_right_after_m_finds_it_in_the_matrix():
    async def body(pilot):
        type_at_once(pilot.app, "mgpu0")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MatrixScreen))
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.jump.value == "gpu0")
        assert screen.grid.pair is not None
        assert screen.matrix.rows[screen.grid.pair[0]].name == "gpu0"

    run(body, build_app("kernel-scenarios"))


def test_keys_handled_where_they_were_typed_are_not_sent_again():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0", reveal=True)
        type_at_once(pilot.app, "t")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CopyForm))
        await pilot.pause()
        type_at_once(pilot.app, "5")
        await pilot.pause()
        await pilot.pause()
        assert pilot.app.screen.query_one("#cp-size", Input).value == "5"

    run(body, build_app("kernel-scenarios"))
