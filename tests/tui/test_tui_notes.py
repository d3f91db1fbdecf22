"""Load notes in the TUI: a badge in the header counts them, n (or a click) opens the full list, scrollable and
copyable; a file without PCI devices explains itself instead of showing an empty tree. Transfer notes use the same
list instead of a toast."""

from tui_helpers import build_app, notifications, run, screen_text, start_two_transfers

from p2ptui.sources import open_fabric
from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.notes import NotesScreen, notes_text

DGX2 = "tests/data/hwloc/nvidiaDGX2.xml"
NOIO = "tests/data/hwloc/32em64t-2n8c2t-pci-noio.xml"


def app_for(path: str):
    return build_app(path)


def test_the_header_counts_the_notes_and_n_opens_every_one_which_c_copies():
    fabric = open_fabric(DGX2)
    assert len(fabric.notes) >= 2

    async def body(pilot):
        assert f"{len(fabric.notes)} load notes (n)" in screen_text(pilot.app).splitlines()[0]
        await pilot.press("n")
        await pilot.pause()
        notes = pilot.app.screen
        assert isinstance(notes, NotesScreen) and notes.notes == list(fabric.notes)
        shown = " ".join(screen_text(pilot.app).replace("│", " ").split())
        for note in fabric.notes[:2]:  # what fits on screen; the list scrolls for the rest
            assert " ".join(note[:50].split()) in shown
        await pilot.press("c")
        assert pilot.app.clipboard == notes_text(f"Load notes · {fabric.name}", fabric.notes)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(pilot.app.screen, FabricScreen)

    run(body, app_for(DGX2), size=(120, 40))


def test_a_click_on_the_badge_opens_the_notes():
    async def body(pilot):
        await pilot.click("#notes-badge")
        await pilot.pause()
        assert isinstance(pilot.app.screen, NotesScreen)

    run(body, app_for(DGX2), size=(120, 40))


def test_a_fabric_without_notes_shows_no_badge():
    async def body(pilot):
        assert not pilot.app.screen.query_one("#notes-badge").display
        assert "load note" not in screen_text(pilot.app)

    run(body)


def test_a_file_without_pci_objects_explains_itself_instead_of_an_empty_tree():
    fabric = open_fabric(NOIO)
    assert not fabric.devices and fabric.notes

    async def body(pilot):
        screen = pilot.app.screen
        assert not screen.fabric_tree.display
        text = " ".join(screen_text(pilot.app).split())
        assert "No PCI devices in this fabric" in text
        assert "no PCI objects" in text and "lstopo --whole-io" in text

    run(body, app_for(NOIO), size=(120, 40))


def test_transfer_notes_open_in_the_notes_list_not_a_toast():
    clock = VirtualClock()

    async def body(pilot):
        await start_two_transfers(pilot, clock)
        shown_before = len(notifications(pilot.app))
        screen = pilot.app.screen
        screen.transfers.focus()
        await pilot.press("enter")
        await pilot.pause()
        notes = pilot.app.screen
        assert isinstance(notes, NotesScreen) and notes.title_text.startswith("#1 ")
        assert notifications(pilot.app)[shown_before:] == []

    run(body, build_app("kernel-scenarios", clock=clock), size=(120, 40))
