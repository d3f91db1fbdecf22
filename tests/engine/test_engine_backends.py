"""Engines plug in: a third backend registered from here reaches the CLI and the TUI with no change outside it.

The fake backend moves its transfers at once (it "copies" each in size / 1 GB/s of engine time, instantly), so the
test shows the plumbing, not a model: its name in --engine's choices and the TUI form, its engine made by the
registry, its own runner picked by Runner(engine), its results in the CLI's JSON and the TUI's panel.
"""

from __future__ import annotations

import asyncio
import json

import grimp
import pytest
from copy_argv import copy_argv

from p2ptui.cli.main import main
from p2ptui.engine import backends
from p2ptui.engine.backends import Backend, Capability
from p2ptui.engine.resources import ResourceCatalog
from p2ptui.engine.routes import RoutePlanner
from p2ptui.engine.runner import Runner
from p2ptui.engine.samples import Sample, TransferEvent, TransferSample
from p2ptui.engine.transfer import TransferResult, TransferSpec, TransferState
from p2ptui.sources import open_fabric
from p2ptui.tui.operate import CopyFormValues, Operations, build_spec, copy_choices
from p2ptui.tui.screens.copy_form import engine_choices

FAKE = "instant"


class InstantEngine:
    name = FAKE

    def __init__(self, fabric, config=None, *, expert: bool = False, **options) -> None:
        self.catalog = ResourceCatalog(fabric, config)
        self.planner = RoutePlanner(fabric, self.catalog)
        self.expert = expert
        self.results: dict[int, TransferResult] = {}

    def plan(self, spec: TransferSpec, expert: bool | None = None):
        return self.planner.plan(spec, self.expert if expert is None else expert)


class InstantRunner(Runner):
    async def start(self, spec: TransferSpec, expert: bool | None = None) -> TransferResult:
        self._ensure_driver()
        plan = self.engine.plan(spec, expert)
        tid = len(self.results) + 1
        result = TransferResult(
            tid,
            spec,
            TransferState.DONE,
            route=plan.chosen,
            bytes_done=spec.size,
            started_at=0.0,
            ended_at=spec.size / 1e9,
            engine=self.engine.name,
        )
        self.results[tid] = result
        self._publish_events([TransferEvent(0.0, tid, spec.label, TransferState.DONE)])
        self._poke()
        return result

    async def cancel(self, tid: int) -> None:
        return None  # done as soon as started

    def sample(self) -> Sample:
        rows = tuple(
            TransferSample(r.id, r.spec.label, r.state, r.bytes_done, r.spec.size, 0.0, 1e9)
            for r in self.results.values()
        )
        return Sample(self.now(), rows, {})

    async def _drive(self) -> None:
        while True:
            self._wake.clear()
            self._publish_sample(self.sample(), final=True)
            self._changed.set()
            await self._wake.wait()


@pytest.fixture
def instant():
    backends.register(
        Backend(
            FAKE,
            "finishes every copy at once",
            frozenset({Capability.MOVES_BYTES}),
            InstantEngine,
            lambda: InstantRunner,
        )
    )
    yield
    backends.unregister(FAKE)


def test_the_cli_offers_and_runs_a_registered_backend(instant, capsys):
    code = main(copy_argv(engine=FAKE, src="nvme0", dst="nvme1", size="1MiB", json=True))
    doc = json.loads(capsys.readouterr().out)
    assert code == 0
    assert doc["engine"] == FAKE
    (transfer,) = doc["transfers"]
    assert transfer["state"] == "done" and transfer["bytes"] == 1 << 20 and transfer["seconds"] == (1 << 20) / 1e9


def test_an_unregistered_backend_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        main(copy_argv(engine=FAKE, src="nvme0", dst="nvme1", size="1MiB"))
    assert info.value.code == 2
    assert f"invalid choice: '{FAKE}'" in capsys.readouterr().err


def test_the_tui_form_and_panel_take_a_registered_backend(instant):
    assert FAKE in [value for _, value in engine_choices()]
    fabric = open_fabric("nvmeof-target")
    choice = copy_choices(fabric, _selection(fabric))[0]
    spec = build_spec(CopyFormValues(choice=choice.key, size="4 MiB", engine=FAKE, check=True), choice)

    async def run():
        ops = Operations(fabric, clock=lambda: 0.0)
        number = await ops.start(spec, FAKE, expert=False)
        snap = ops.poll()
        await ops.close()
        return number, snap

    number, snap = asyncio.run(run())
    (view,) = snap.views
    assert (view.number, view.engine, view.state, view.bytes_done) == (number, FAKE, TransferState.DONE, 4 << 20)


def test_runner_picks_the_runner_of_the_engines_kind(instant):
    fabric = open_fabric("nvmeof-target")
    assert type(Runner(InstantEngine(fabric))) is InstantRunner
    sim = backends.backend(backends.SIM).make(fabric)
    assert type(Runner(sim)).__name__ == "SimRunner"
    assert backends.backend(backends.SIM).can(Capability.TAKES_EVENTS)
    assert not backends.backend(backends.REAL).can(Capability.FORCES_PATHS)


def test_the_engine_package_has_no_import_loop():
    graph = grimp.build_graph("p2ptui", exclude_type_checking_imports=True)
    engine = {m for m in graph.modules if m.startswith("p2ptui.engine.")}
    for module in sorted(engine):
        for imported in graph.find_modules_directly_imported_by(module) & engine:
            path = graph.find_shortest_chain(imported=module, importer=imported)
            assert path is None, f"import loop: {module} -> {' -> '.join(path or ())}"


def _selection(fabric):
    from p2ptui.tui.selection import Selection

    return Selection(exporter=fabric.find("nvme0").bdf, importers=(fabric.find("nvme1").bdf, fabric.find("nvme2").bdf))
