"""Operating from the fabric screen: the copy form (t), its validation, the expert gate's lock, starting, live
meters on a virtual clock, cancel, and engine errors as notifications that never close the app."""

import asyncio

from own_time import OwnTime
from textual import events
from textual.widgets import Checkbox, Input
from tui_helpers import (
    build_app,
    messages,
    notifications,
    open_form,
    press_start,
    run,
    screen_text,
    select,
)

from p2ptui.engine import real_memory
from p2ptui.engine.sim import Simulation
from p2ptui.engine.transfer import TransferSpec, TransferState
from p2ptui.tui.clock import VirtualClock
from p2ptui.tui.screens.fabric import FabricScreen
from p2ptui.tui.screens.help import HelpScreen
from p2ptui.tui.widgets.transfers_panel import TransfersPanel

GIB = 1 << 30


def fake_meminfo(tmp_path, monkeypatch, available: int) -> None:
    """What the real engine reads as this machine's available RAM."""
    path = tmp_path / "meminfo"
    path.write_text(f"MemTotal: {64 * GIB // 1024} kB\nMemAvailable: {available // 1024} kB\n")
    monkeypatch.setattr(real_memory, "MEMINFO", path)


def app_on_a_virtual_clock():
    clock = VirtualClock()
    return build_app("kernel-scenarios", clock=clock), clock


def test_copy_needs_a_selection_and_says_so():
    async def body(pilot):
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(pilot.app.screen, FabricScreen)
        assert any("Mark an exporter (e)" in m for m in messages(pilot.app, "warning"))

    run(body, build_app("kernel-scenarios"))


def test_form_lists_every_problem_and_starts_nothing():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        form = await open_form(pilot, size="lots", threads="two", check=True)
        await press_start(pilot, form)
        assert pilot.app.screen is form
        assert any(e.startswith("size: malformed size 'lots'") for e in form.errors)
        assert "threads: expected a whole number, not 'two'" in form.errors
        assert any(e.startswith("check: verifying bytes needs the real engine") for e in form.errors)
        assert "threads: expected a whole number" in screen_text(pilot.app)
        form.query_one("#cp-threads", Input).value = "0"
        form.query_one("#cp-size", Input).value = "1 GiB"
        form.query_one("#cp-check", Checkbox).value = False
        await press_start(pilot, form)
        assert form.errors == ["threads must be at least 1, not 0"]  # the engine's own rule (TransferSpec.problems)
        await pilot.press("escape")
        await pilot.pause()
        assert not pilot.app.screen.operations.active

    run(body, build_app("kernel-scenarios"))


def test_gate_locks_a_refused_path_says_why_and_x_unlocks_it():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0", "dsa0")
        form = await open_form(pilot, choice="staged:rnic0:dsa0", size="3 GiB")
        await press_start(pilot, form)
        assert pilot.app.screen is form  # nothing started
        lines = form.gate_text.splitlines()
        assert lines[0].startswith("locked Linux refuses P2P between nvme-a and dsa0 (NOT_SUPPORTED")
        assert lines[1].startswith("unlock x turns on expert mode")
        assert "locked" in screen_text(pilot.app)
        await pilot.press("escape")
        await pilot.pause()
        screen = pilot.app.screen
        assert not screen.operations.active
        await pilot.press("x")  # the confirmed toggle
        await pilot.pause()
        await pilot.press("tab", "enter")
        await pilot.pause()
        assert pilot.app.expert
        form = await open_form(pilot)
        assert form.query_one("#cp-size", Input).value == "3 GiB"  # entries kept
        assert form.gate_text.startswith("gate allowed in expert mode")
        assert "SIMULATED - Linux refuses this P2P path" in form.gate_text
        await press_start(pilot, form)
        assert isinstance(pilot.app.screen, FabricScreen)
        [view] = screen.operations.last.views
        assert view.result.route.forced and view.size == 3 * GIB
        assert "SIMULATED, Linux refuses it" in screen.transfers.text

    run(body, build_app("kernel-scenarios"))


def test_real_engine_over_a_refused_path_is_locked_with_nothing_to_unlock_it():
    async def body(pilot):
        pilot.app.expert = True
        await select(pilot, "nvme-a", "dsa0")
        form = await open_form(pilot, choice="write:dsa0", engine="real", size="1 MiB")
        await press_start(pilot, form)
        assert pilot.app.screen is form
        assert form.gate_text.startswith("locked Linux refuses P2P between nvme-a and dsa0")
        assert (
            "unlock nothing: the kernel or the device does not allow it; engine sim can still model" in form.gate_text
        )

    run(body, build_app("kernel-scenarios"))


def test_start_then_meters_follow_the_virtual_clock_and_the_tree_colours_the_link():
    app, clock = app_on_a_virtual_clock()

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        form = await open_form(pilot, choice="write:rnic0", size="8 GiB")
        await press_start(pilot, form)
        screen = pilot.app.screen
        panel = screen.query_one(TransfersPanel)
        assert panel.display and "#1  rnic0 → nvme-a" in panel.text and "  0%" in panel.text
        twin = Simulation(screen.fabric)  # what the engine says for the same copy, stepped by hand
        twin.add(TransferSpec("rnic0", "nvme-a", 8 * GIB))
        for step in range(1, 5):
            clock.advance(0.25)
            screen.tick()
            twin.advance(0.25 * step)
            [view] = screen.operations.last.views
            assert view.bytes_done == twin.sample().transfers[0].bytes_done
        await pilot.pause()
        assert len(view.history) == 5 and f"{view.bytes_done / view.size:5.0%}" in panel.text
        assert f"{view.rate / 1e9:.2f} GB/s" in panel.text and "ETA" in panel.text
        text = screen_text(pilot.app)
        assert "nvme-a  03:00.0  gen3 x4 100%" in text  # the link the copy saturates, coloured by its load
        assert "rnic0  04:00.0  gen3 x16 25%" in text
        clock.advance(5)
        screen.tick()
        await pilot.pause()
        assert screen.operations.last.views[0].state is TransferState.DONE
        assert any("8 GiB in" in m for m in messages(pilot.app, "information"))
        assert "gen3 x4 100%" not in screen_text(pilot.app)  # loads cleared once nothing runs

    run(body, app)


def test_cancel_the_highlighted_transfer_with_k():
    app, clock = app_on_a_virtual_clock()

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        for choice in ("write:rnic0", "read:rnic0"):
            await press_start(pilot, await open_form(pilot, choice=choice))
        screen = pilot.app.screen
        clock.advance(0.5)
        screen.tick()
        panel = screen.query_one(TransfersPanel)
        panel.focus()
        await pilot.press("down", "k")
        await pilot.pause()
        first, second = screen.operations.last.views
        assert first.state is TransferState.RUNNING and second.state is TransferState.CANCELLED
        assert 0 < second.bytes_done < second.size
        assert any(n.title.startswith("#2 nvme-a → rnic0: cancelled") for n in notifications(pilot.app))
        await pilot.press("k")  # again: nothing left to cancel
        await pilot.pause()
        assert any("#2 has already finished" in m for m in messages(pilot.app, "warning"))
        await pilot.press("question_mark")
        await pilot.pause()
        assert isinstance(pilot.app.screen, HelpScreen) and "Cancel copy" in screen_text(pilot.app)

    run(body, app)


def test_engine_errors_become_notifications_and_the_app_stays_up(monkeypatch):
    app, clock = app_on_a_virtual_clock()

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0", "nvme-b")
        # The provider's 256 MiB pool cannot hold 2 × 256 MiB: the engine refuses the copy.
        await press_start(pilot, await open_form(pilot, choice="staged:rnic0:nvme-b", chunk="256 MiB", threads="2"))
        errors = messages(pilot.app, "error")
        assert any("nvme-a's P2P pool has 256 MiB available" in m for m in errors)
        # A provider unplugged mid-copy: the copy fails, the notification says so.
        await press_start(pilot, await open_form(pilot, chunk="1 MiB"))
        screen = pilot.app.screen
        clock.advance(0.25)
        screen.tick()
        screen.jump_to(screen.fabric.find("nvme-a").bdf)
        await pilot.pause()
        screen.action_unplug()
        await pilot.pause()
        assert any("nvme-a disappeared (hot-unplug" in m for m in messages(pilot.app, "error"))
        assert [v.state for v in screen.operations.last.views] == [TransferState.REFUSED, TransferState.FAILED]
        # A bug inside the engine: reported, the app keeps running.
        await press_start(pilot, await open_form(pilot, choice="write:rnic0"))

        def broken(self, until=0.0):
            raise RuntimeError("boom")

        monkeypatch.setattr(Simulation, "advance", broken)
        clock.advance(0.25)
        screen.tick()
        await pilot.pause()
        assert any("internal error in the simulator" in m and "boom" in m for m in messages(pilot.app, "error"))
        assert pilot.app.is_running and isinstance(pilot.app.screen, FabricScreen)

    run(body, app)


def test_real_engine_copies_and_verifies_bytes():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        form = await open_form(pilot, choice="write:rnic0", engine="real", size="8 MiB", check=True)
        await press_start(pilot, form)
        screen = pilot.app.screen
        for _ in range(400):  # a few milliseconds of real copying; the bound only stops a hung test
            screen.tick()
            if messages(pilot.app, "information"):  # the engine's "done" event has been shown
                break
            await pilot.pause(0.01)
        [view] = screen.operations.last.views
        assert view.state is TransferState.DONE and view.result.verified is True
        await pilot.pause()
        assert "✔ 8 MiB verified" in screen.transfers.text
        assert any(m.endswith("verified") for m in messages(pilot.app, "information"))

    run(body, build_app("kernel-scenarios"))


def test_an_io_error_in_a_real_copy_is_a_notification(monkeypatch):
    import errno

    from p2ptui.engine import real

    def failing_copy(*args, **kwargs):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(real, "copy_memory", failing_copy)

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        await press_start(pilot, await open_form(pilot, choice="write:rnic0", engine="real", size="1 MiB"))
        screen = pilot.app.screen
        for _ in range(400):  # until the engine's failure event has been shown
            screen.tick()
            if messages(pilot.app, "error"):
                break
            await pilot.pause(0.01)
        assert screen.operations.last.views[0].state is TransferState.FAILED
        assert messages(pilot.app, "error") == ["Input/output error"]
        assert pilot.app.is_running

    run(body, build_app("kernel-scenarios"))


def test_the_form_shows_the_engines_ram_refusal_before_anything_starts(tmp_path, monkeypatch):
    fake_meminfo(tmp_path, monkeypatch, 8 * GIB)

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        form = await open_form(pilot, choice="write:rnic0", engine="real", size="8 GiB")
        assert any("a real memory copy of 8 GiB needs 16 GiB of RAM" in e for e in form.errors)  # live, as typed
        await press_start(pilot, form)
        assert pilot.app.screen is form and "needs 16 GiB of RAM" in screen_text(pilot.app)
        form.query_one("#cp-size", Input).value = "1 GiB"
        await press_start(pilot, form)
        assert isinstance(pilot.app.screen, FabricScreen)
        assert [v.size for v in pilot.app.screen.operations.last.views] == [GIB]

    run(body, build_app("kernel-scenarios"))


def test_quitting_while_a_4_gib_real_copy_prepares_is_prompt(tmp_path, monkeypatch):
    fake_meminfo(tmp_path, monkeypatch, 64 * GIB)  # only the slices filled before the quit are ever touched
    seen = {}

    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0")
        await press_start(pilot, await open_form(pilot, choice="write:rnic0", engine="real", size="4 GiB", check=True))
        job = pilot.app.screen.operations.feed("real").runner.job(1)
        for _ in range(2000):  # until the seeded source is being filled (seconds of work for 4 GiB)
            if job.progress.prepared:
                break
            await asyncio.sleep(0.005)
        seen["job"] = job
        seen["quit"] = OwnTime()  # its own and CPU time, not wall time: see own_time.py for why
        # Posted as the terminal driver posts a key: pilot.press would wait for the process to go idle, which a busy
        # copy never lets it.
        pilot.app.post_message(events.Key("q", "q"))

    run(body, build_app("kernel-scenarios"))  # returns once the app has stopped, the engines closed
    took = seen["quit"]
    took.stop()
    job = seen["job"]
    assert job.result.state is TransferState.CANCELLED and 0 < job.progress.prepared < 4 * GIB
    assert took.own < 1.0 and took.cpu < 1.0, f"quitting took {took}"


def test_the_serial_box_runs_a_staged_copy_one_chunk_per_thread():
    async def body(pilot):
        await select(pilot, "nvme-a", "rnic0", "nvme-b")
        screen = pilot.app.screen
        for serial in (True, False):
            form = await open_form(pilot, choice="staged:rnic0:nvme-b", threads="1", serial=serial)
            await press_start(pilot, form)
            view = screen.operations.last.views[-1]  # the copy just started (the first may still run)
            assert view.result.spec.serial is serial
            one_slot = [n for n in view.result.notes if "one chunk per thread" in n]
            assert one_slot == (
                [
                    "buffer: nvme-a's P2P memory, one chunk per thread (serial, as asked): each thread "
                    "reads a chunk, then writes it"
                ]
                if serial
                else []
            )
            assert view.result.route.serial is serial  # one thread, one slot: the legs alternate

    run(body, build_app("kernel-scenarios"))
