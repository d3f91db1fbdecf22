"""The launcher: this machine and the bundled fabrics, opened with Enter."""

import pytest
from textual.widgets import OptionList
from tui_helpers import build_app, messages, run, screen_text, wait_for

from p2ptui.errors import InputError
from p2ptui.formats.gallery import bundled
from p2ptui.sources import open_fabric
from p2ptui.tui.app import make_app
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.launcher import LIVE_ID, LauncherScreen


def test_lists_bundled_fabrics_and_why_this_machine_is_unavailable():
    async def body(pilot):
        assert isinstance(pilot.app.screen, LauncherScreen)
        text = screen_text(pilot.app)
        assert "This machine" in text and "unavailable: no live scan in this session" in text
        options = pilot.app.screen.query_one(OptionList)
        assert [o.id for o in options.options] == [LIVE_ID] + [e.name for e in bundled()]
        assert bundled()[0].name in text
        assert options.get_option(LIVE_ID).disabled

    run(body, build_app(None))


def test_enter_opens_the_highlighted_fabric():
    async def body(pilot):
        options = pilot.app.screen.query_one(OptionList)
        index = options.get_option_index("nvmeof-target")
        options.highlighted = index
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FabricScreen))
        assert pilot.app.screen.fabric.name == "NVMe-oF target (Gen3 switch, IOMMU off)"
        await pilot.press("o")  # back to the launcher
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, LauncherScreen))

    run(body, build_app(None))


def test_this_machine_shows_its_device_count_and_opens():
    scanned = open_fabric("skylake-2s")

    async def body(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        options = pilot.app.screen.query_one(OptionList)
        assert not options.get_option(LIVE_ID).disabled
        assert f"live scan of /sys/bus/pci: {len(scanned)} devices" in screen_text(pilot.app)
        options.highlighted = options.get_option_index(LIVE_ID)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, FabricScreen))
        assert pilot.app.screen.fabric is scanned

    run(body, build_app(None, live_scan=lambda: scanned))


def test_a_failed_scan_says_why_and_stays_disabled():
    def broken():
        raise InputError("/sys/bus/pci/devices: permission denied")

    async def body(pilot):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert "scan failed: /sys/bus/pci/devices: permission denied" in screen_text(pilot.app)
        assert pilot.app.screen.query_one(OptionList).get_option(LIVE_ID).disabled

    run(body, build_app(None, live_scan=broken))


def test_a_fabric_that_fails_to_load_is_a_notification_not_a_crash(monkeypatch):
    import p2ptui.sources

    def refuse(ref):
        raise InputError(f"{ref}: unreadable")

    monkeypatch.setattr(p2ptui.sources, "open_fabric", refuse)

    async def body(pilot):
        options = pilot.app.screen.query_one(OptionList)
        options.highlighted = options.get_option_index("skylake-2s")
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(pilot.app.screen, LauncherScreen)
        assert any("unreadable" in m for m in messages(pilot.app))

    run(body, build_app(None))


def test_a_live_scan_option_other_than_auto_a_scanner_or_none_is_refused():
    with pytest.raises(ValueError, match="live_scan is 'auto', a scanner or None, not 'local'"):
        make_app(None, live_scan="local")
