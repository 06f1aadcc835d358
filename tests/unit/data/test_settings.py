"""Typed access to the `data:` section (fairforget.data.settings): values, defaults, errors naming the full key,
and the seeded subset."""

from __future__ import annotations

import random

import pytest

from fairforget.data.settings import get_float, get_int, get_str_list, seeded_subset
from fairforget.errors import ConfigError


def test_integers_with_defaults_bounds_and_null() -> None:
    section = {"max_words": 64, "limit": None, "flag": True}
    assert get_int(section, "max_words", "data.general", minimum=1) == 64
    assert get_int(section, "absent", "data.general", default=5) == 5
    assert get_int(section, "limit", "data.probes", optional=True) is None
    with pytest.raises(ConfigError, match=r"config key 'data.general.absent' is required"):
        get_int(section, "absent", "data.general")
    with pytest.raises(ConfigError, match=r"'data.x.flag': expected an integer, got True"):
        get_int(section, "flag", "data.x")  # a bool is not a count
    with pytest.raises(ConfigError, match=r"'data.x.limit': expected an integer, got None"):
        get_int(section, "limit", "data.x")
    with pytest.raises(ConfigError, match=r"'data.general.max_words': must be >= 100, got 64"):
        get_int(section, "max_words", "data.general", minimum=100)


def test_floats_in_a_closed_range_and_lists_of_names() -> None:
    assert get_float({"share": 1}, "share", "data.x", low=0.0, high=1.0) == 1.0
    with pytest.raises(ConfigError, match=r"'data.x.share': expected a number in \[0.0, 0.5\], got 0.6"):
        get_float({"share": 0.6}, "share", "data.x", low=0.0, high=0.5)
    assert get_str_list({"sets": ("a", "b")}, "sets", "data.x") == ["a", "b"]
    for bad in ([], ["a", ""], "ab", [1]):
        with pytest.raises(ConfigError, match=r"'data.x.sets': expected a non-empty list of names"):
            get_str_list({"sets": bad}, "sets", "data.x")


def test_seeded_subset_keeps_order_and_is_salted() -> None:
    items = list(range(100))
    first = seeded_subset(items, 10, seed=1, salt="heldout")
    assert len(first) == 10 and first == sorted(first) and first == seeded_subset(items, 10, 1, "heldout")
    # by hand: the same draw as random.Random("1:heldout").sample over the indices, sorted
    assert first == sorted(random.Random("1:heldout").sample(range(100), 10))
    assert first != seeded_subset(items, 10, seed=1, salt="probes")  # another salt, an independent draw
    assert seeded_subset(items, None, 1, "x") == items and seeded_subset(items, 100, 1, "x") == items
