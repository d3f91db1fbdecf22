"""The progressive-filling solver: known answers, and the max-min property on seeded random problems."""

import numpy as np
import pytest

from p2ptui.engine.maxmin import UnboundedFlowError, max_min_rates, utilisation


def test_heterogeneous_sharing_freezes_the_narrow_flow_first():
    rates = max_min_rates(2, [0, 1, 1], [0, 0, 1], [1.0, 1.0, 1.0], np.array([3.59, 14.37]))
    assert rates.tolist() == pytest.approx([3.59, 10.78])


def test_per_flow_bounds_and_flows_with_only_a_bound():
    rates = max_min_rates(
        4, [0, 0, 1], [0, 1, 2], [1.0, 1.0, 1.0], np.array([10.0, 5.0]), np.array([np.inf, 2.0, np.inf, 7.0])
    )
    assert rates.tolist() == pytest.approx([8.0, 2.0, 5.0, 7.0])


def test_weighted_loads_and_unsorted_entries():
    # Flow 0 loads resource 0 twice per unit rate: it saturates at 5 when flow 1 also rises there.
    rates = max_min_rates(2, [0, 0], [1, 0], [1.0, 2.0], np.array([9.0]))
    assert rates.tolist() == pytest.approx([3.0, 3.0])


def test_unbounded_flow_is_an_error():
    with pytest.raises(UnboundedFlowError):
        max_min_rates(2, [0], [0], [1.0], np.array([1.0]))


def _check_max_min(rates, rows, cols, coef, cap, bound):
    load = utilisation(rows, cols, coef, cap, rates)
    assert (load <= 1 + 1e-9).all()  # feasible
    saturated = load >= 1 - 1e-9
    for f in range(len(rates)):
        if rates[f] >= bound[f] * (1 - 1e-9):
            continue
        # Not at its bound: some resource it crosses is saturated and no flow there is faster (the bottleneck).
        mine = rows[cols == f]
        bottleneck = [r for r in mine if saturated[r] and rates[cols[rows == r]].max() <= rates[f] * (1 + 1e-9)]
        assert bottleneck, f"flow {f} could grow"


@pytest.mark.parametrize("seed", range(25))
def test_random_problems_are_max_min_fair(seed):
    rng = np.random.default_rng(seed)
    n_flows, n_res = int(rng.integers(1, 40)), int(rng.integers(1, 30))
    rows, cols = [], []
    for f in range(n_flows):
        for r in rng.choice(n_res, size=int(rng.integers(1, min(n_res, 6) + 1)), replace=False):
            rows.append(r)
            cols.append(f)
    rows, cols = np.array(rows), np.array(cols)
    coef = rng.choice([1.0, 1.09375, 2.0, 0.03125], size=len(rows))
    cap = rng.choice([3.59, 7.18, 14.37, 28.7], size=n_res)
    bound = np.where(rng.random(n_flows) < 0.2, rng.uniform(0.5, 5, n_flows), np.inf)
    rates = max_min_rates(n_flows, rows, cols, coef, cap, bound)
    _check_max_min(rates, rows, cols, coef, cap, bound)
    shuffled = rng.permutation(len(rows))
    again = max_min_rates(n_flows, rows[shuffled], cols[shuffled], coef[shuffled], cap, bound)
    assert again == pytest.approx(rates, rel=1e-12)
