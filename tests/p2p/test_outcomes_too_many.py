"""A verdict over many clients whose paths hold functions of unknown ACS: each such client can double the cases
(and each root bus of unknown host-bridge IDs triples them), so 15 NVMe drives below one switch of unknown ACS make
32,768. `check` weighed them one by one and never finished; now it weighs up to MAX_COMPLETIONS cases and beyond
refuses at once, naming the facts that would settle it, in the CLI (exit 2) and in the TUI's verdict panel."""

from __future__ import annotations

import itertools
import random
import time
from pathlib import Path

import pytest
from cli_run import run_cli
from unknown_switch import switch_of

from p2ptui.errors import InputError
from p2ptui.formats import dumps_fabric
from p2ptui.p2p import check
from p2ptui.p2p.outcomes import MAX_COMPLETIONS, _acs_sets
from p2ptui.present.verdict import refusal_rows


def test_a_few_clients_are_weighed_case_by_case() -> None:
    fabric = switch_of(16)
    verdict = check(fabric, "nvme0", [fabric.by_name(f"nvme{i}") for i in range(1, 5)])
    assert not verdict.certain and len(verdict.outcomes) == 2**4  # each client's own downstream port decides
    assert [u.fact.value for u in verdict.depends_on] == ["acs"]


def test_fifteen_clients_are_refused_at_once_naming_the_facts(tmp_path: Path, capsys) -> None:
    fabric = switch_of(16)
    path = tmp_path / "switch.yaml"
    path.write_text(dumps_fabric(fabric))
    start = time.process_time()
    code, out, err = run_cli(capsys, "check", str(path), "nvme0", *(f"nvme{i}" for i in range(1, 16)))
    assert time.process_time() - start < 3.0
    assert (code, out) == (2, "")
    assert err.startswith(
        "p2ptui: error: the verdict depends on ACS on the paths to 15 clients: more cases than the 4,096 p2ptui "
        "weighs one by one (give those facts (`sudo lspci -vvv` (ACSCtl) or a sysfs snapshot read as root; or "
        "--assume acs-clear / acs-set), or check fewer clients at a time)"
    ), err


def test_the_refusal_is_the_tuis_verdict_rows() -> None:
    fabric = switch_of(16)
    with pytest.raises(InputError) as refused:
        check(fabric, "nvme0", [fabric.by_name(f"nvme{i}") for i in range(1, 16)])
    rows = refusal_rows(refused.value)
    assert rows[0] == ("verdict", [("? not weighed", "warn")])
    assert rows[1][0] == "why" and "ACS on the paths to 15 clients" in rows[1][1][0][0]
    assert "--assume acs-clear / acs-set" in rows[2][1][0][0]


@pytest.mark.parametrize("seed", range(6))
def test_grown_unions_give_the_sets_trying_every_choice_gives(seed: int) -> None:
    """Beyond 12 clients the distinct sets are grown, not tried choice by choice: the same sets, whatever the
    overlap of the paths (nested, shared and private functions mixed)."""
    rng = random.Random(seed)
    paths = [frozenset(rng.sample(range(20), rng.randint(1, 4))) for _ in range(14)]
    paths = list(dict.fromkeys(paths))
    everything = frozenset().union(*paths)
    brute = {
        everything - frozenset().union(*(p for p, on in zip(paths, chosen, strict=True) if not on))
        for chosen in itertools.product((False, True), repeat=len(paths))
    }
    grown = _acs_sets(paths)
    if len(brute) > MAX_COMPLETIONS:
        assert grown is None
    else:
        assert grown is not None and set(grown) == brute and len(grown) == len(brute)
        assert [len(s) for s in grown] == sorted(len(s) for s in grown)
