"""Badges in the header: a what-if in force is as visible as expert mode."""

from tui_helpers import run, screen_text

from p2ptui.tui.decide import WhatIf


def test_a_what_if_in_force_shows_a_badge_until_as_booted():
    async def body(pilot):
        screen = pilot.app.screen
        assert "WHAT-IF" not in screen_text(pilot.app).splitlines()[0]
        screen._what_if_done(WhatIf(kernel="5.4"))
        await pilot.pause()
        assert "WHAT-IF" in screen_text(pilot.app).splitlines()[0]
        assert "kernel 5.4" in str(screen.query_one("#whatif-badge").tooltip)
        screen._what_if_done(WhatIf())
        await pilot.pause()
        assert "WHAT-IF" not in screen_text(pilot.app).splitlines()[0]

    run(body)
