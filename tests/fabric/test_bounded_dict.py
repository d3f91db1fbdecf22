"""The bounded dict behind the verdict, leg and type-ahead caches: at most its limit, the entry stored longest ago
forgotten first, reads and repeated stores moving nothing."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from p2ptui.fabric.bounded_dict import BoundedDict


def test_it_holds_at_most_its_limit_and_forgets_the_oldest_stored_first():
    cache: BoundedDict[str, int] = BoundedDict(3)
    for n, key in enumerate("abcde"):
        cache[key] = n
        assert len(cache) == min(n + 1, 3)
    assert list(cache.items()) == [("c", 2), ("d", 3), ("e", 4)]
    assert cache.get("a") is None and "b" not in cache


def test_a_read_does_not_keep_an_entry_longer():
    cache: BoundedDict[str, int] = BoundedDict(2)
    cache["a"], cache["b"] = 1, 2
    assert cache.get("a") == 1 and cache["a"] == 1  # a hit, yet "a" is still the oldest
    cache["c"] = 3
    assert list(cache) == ["b", "c"]


def test_storing_a_held_key_again_replaces_its_value_in_place_and_forgets_nothing():
    cache: BoundedDict[str, int] = BoundedDict(2)
    cache["a"], cache["b"] = 1, 2
    cache["a"] = 10
    assert list(cache.items()) == [("a", 10), ("b", 2)]
    cache["c"] = 3
    assert list(cache.items()) == [("b", 2), ("c", 3)]


def test_a_popped_entry_frees_its_place():
    cache: BoundedDict[int, str] = BoundedDict(2)
    cache[1], cache[2] = "one", "two"
    assert cache.pop(1, None) == "one" and cache.pop(1, None) is None
    cache[3] = "three"
    assert list(cache) == [2, 3]


def test_a_limit_of_one_keeps_the_last_and_below_one_is_refused():
    cache: BoundedDict[str, int] = BoundedDict(1)
    cache["a"], cache["b"] = 1, 2
    assert dict(cache) == {"b": 2}
    for limit in (0, -1):
        with pytest.raises(ValueError, match=f"at least 1 entry, not {limit}"):
            BoundedDict(limit)


@given(
    limit=st.integers(1, 5),
    steps=st.lists(st.tuples(st.sampled_from(["get", "put", "pop"]), st.integers(0, 8), st.integers()), max_size=60),
)
def test_it_behaves_as_the_hand_kept_dicts_it_replaced(limit, steps):
    """The rule the three caches spelled out by hand: a plain dict, and before a new key is stored into a full one,
    its first (oldest inserted) key is deleted."""
    cache: BoundedDict[int, int] = BoundedDict(limit)
    model: dict[int, int] = {}
    for op, key, value in steps:
        if op == "get":
            assert cache.get(key) == model.get(key)
        elif op == "pop":
            assert cache.pop(key, None) == model.pop(key, None)
        else:
            if key not in model and len(model) >= limit:
                del model[next(iter(model))]
            model[key] = value
            cache[key] = value
        assert list(cache.items()) == list(model.items()) and len(cache) <= limit
