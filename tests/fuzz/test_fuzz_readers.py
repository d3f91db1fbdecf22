"""Every reader, fed a few hundred seeded mutations of real inputs, returns a Fabric or an InputError, never
another exception, never a hang; and whatever loads is converted to YAML and JSON and read back equal.
bench/bench_fuzz.py runs the same cases by the ten thousand."""

from __future__ import annotations

import pytest
from fuzz_cases import cases, run_case

# Cases per reader, sized so the whole module runs in well under a minute on a 2-core machine.
CASES = {"yaml": 200, "json": 300, "lspci": 150, "hwloc": 300, "nccl": 300, "sysfs": 80, "plan": 200}
RUN_SEED = 1  # bench_fuzz.py starts from 0: the suite's cases are not the bench's first ones
TIMEOUT_S = 10.0


@pytest.mark.parametrize("reader", sorted(CASES))
def test_reader_returns_a_fabric_or_a_clean_refusal(reader):
    outcomes = [
        run_case(reader, case, seed, mutation, data, TIMEOUT_S)
        for case, seed, mutation, data in cases(reader, CASES[reader], RUN_SEED)
    ]
    bad = [o for o in outcomes if o.kind in ("traceback", "hang")]
    assert not bad, "\n\n".join(f"case {o.case} ({o.seed}, {o.mutation}): {o.kind}\n{o.detail}" for o in bad[:3])
    kinds = {o.kind for o in outcomes}
    # The mutations are meant to reach past the first syntax check: some inputs load, some are refused.
    assert kinds == {"loaded", "refused"}, kinds
    refusals = [o.detail for o in outcomes if o.kind == "refused"]
    assert all(line and "Traceback" not in line for line in refusals)
