"""Badges in the header: a what-if in force is as visible as expert mode."""

from tui_helpers import run, screen_text

from p2ptui.tui.screens.whatif import WhatIfScreen


def test_a_what_if_in_force_shows_a_badge_until_as_booted():
    async def body(pilot):
        screen = pilot.app.screen
        assert "WHAT-IF" not in screen_text(pilot.app).splitlines()[0]
        await pilot.press("w")
        await pilot.pause()
        form = pilot.app.screen
        assert isinstance(form, WhatIfScreen)
        form.query_one("#wi-kernel").value = "5.4"
        await pilot.click("#wi-apply")
        await pilot.pause()
        assert "WHAT-IF" in screen_text(pilot.app).splitlines()[0]
        assert "kernel 5.4" in str(screen.query_one("#whatif-badge").tooltip)
        await pilot.press("w")
        await pilot.pause()
        await pilot.click("#wi-reset")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert "WHAT-IF" not in screen_text(pilot.app).splitlines()[0]

    run(body)
