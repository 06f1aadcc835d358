"""Forgetting events along the training trajectory (fairforget.metrics.trajectory): hand-computed, properties,
errors."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest
from hypothesis import given
from hypothesis import settings as hyp_settings
from hypothesis import strategies as st

from fairforget.errors import DataError
from fairforget.metrics.base import EvaluationSettings
from fairforget.metrics.bootstrap import BootstrapSettings
from fairforget.metrics.trajectory import forgetting_events, trajectory_statistics

SETTINGS = EvaluationSettings(bootstrap=BootstrapSettings(samples=200, seed=0))


def _trajectory(sequences: dict[str, list[bool]], probe_set: str = "general") -> pl.DataFrame:
    rows = [
        {"step": 10 * s, "probe_set": probe_set, "item_id": item, "correct": ok}
        for item, seq in sequences.items()
        for s, ok in enumerate(seq)
    ]
    return pl.DataFrame(
        rows, schema={"step": pl.Int64, "probe_set": pl.String, "item_id": pl.String, "correct": pl.Boolean}
    )


def test_forgetting_events_hand_computed():
    events = forgetting_events(
        _trajectory({"a": [True, False, True, False], "b": [False, False, False], "c": [False, True, True]})
    )
    rows = {r["item_id"]: r for r in events.iter_rows(named=True)}
    assert (rows["a"]["forgetting_events"], rows["a"]["first_learned_step"], rows["a"]["toneva_count"]) == (2, 0, 2)
    assert (rows["b"]["ever_learned"], rows["b"]["toneva_count"], rows["b"]["first_learned_step"]) == (False, 3, None)
    assert (rows["c"]["forgetting_events"], rows["c"]["first_learned_step"]) == (0, 10)
    stats = trajectory_statistics(events, SETTINGS)
    # Toneva et al.'s three categories partition the items: a forgettable, c unforgettable, b never learned
    assert stats["general_forgettable_fraction"].value == pytest.approx(1 / 3)
    assert stats["general_unforgettable_fraction"].value == pytest.approx(1 / 3)
    assert stats["general_never_learned_fraction"].value == pytest.approx(1 / 3)
    # forgetting events among the learned items only (a: 2, c: 0); b's ranking count (3) is not an event
    assert stats["general_mean_forgetting_events"].value == pytest.approx(1.0)
    assert stats["general_mean_forgetting_events"].n == 2
    assert stats["general_mean_first_learned_step"].value == pytest.approx(5.0)
    assert stats["general_mean_first_learned_progress"].value == pytest.approx((0 / 30 + 10 / 30) / 2)
    assert stats["general_recorded_steps"].value == 4


def test_trajectory_statistics_do_not_grow_with_the_number_of_probes():
    """The same behaviour probed 5 or 20 times: a never-learned item no longer adds its probe count."""
    short = {"never": [False] * 5, "learned": [False, True, False, True, True]}
    long = {"never": [False] * 20, "learned": [False] * 4 + [True] * 4 + [False] * 4 + [True] * 8}
    stats = [trajectory_statistics(forgetting_events(_trajectory(seqs)), SETTINGS) for seqs in (short, long)]
    for name in ("mean_forgetting_events", "never_learned_fraction", "forgettable_fraction", "unforgettable_fraction"):
        assert stats[0][f"general_{name}"].value == stats[1][f"general_{name}"].value, name
    assert stats[0]["general_mean_first_learned_progress"].value == pytest.approx(10 / 40)
    assert stats[1]["general_mean_first_learned_progress"].value == pytest.approx(40 / 190)
    assert (stats[0]["general_recorded_steps"].value, stats[1]["general_recorded_steps"].value) == (5, 20)


@hyp_settings(max_examples=60, deadline=None)
@given(
    st.dictionaries(
        st.text("abcdef", min_size=1, max_size=3),
        st.lists(st.booleans(), min_size=1, max_size=8),
        min_size=1,
        max_size=6,
    ),
    st.randoms(use_true_random=False),
)
def test_forgetting_event_counter_properties(sequences, rng):
    frame = _trajectory(sequences)
    shuffled = frame.sample(fraction=1.0, shuffle=True, seed=rng.randint(0, 1000))
    events = forgetting_events(shuffled)
    assert events.height == len(sequences)
    for row in events.iter_rows(named=True):
        seq = sequences[row["item_id"]]
        expected = sum(1 for prev, cur in zip(seq, seq[1:]) if prev and not cur)
        assert row["forgetting_events"] == expected
        assert row["forgetting_events"] <= len(seq) // 2
        assert row["ever_learned"] == any(seq)
        assert row["toneva_count"] == (expected if any(seq) else len(seq))
        assert row["first_learned_step"] == (10 * seq.index(True) if any(seq) else None)
    stats = trajectory_statistics(events, SETTINGS)
    assert stats["general_forgettable_fraction"].value + stats["general_unforgettable_fraction"].value + stats[
        "general_never_learned_fraction"
    ].value == pytest.approx(1.0)
    learned_events = [row["forgetting_events"] for row in events.iter_rows(named=True) if row["ever_learned"]]
    mean_events = stats["general_mean_forgetting_events"]
    assert mean_events.n == len(learned_events)
    if learned_events:
        assert mean_events.value == pytest.approx(np.mean(learned_events))
    else:
        assert math.isnan(mean_events.value)


def test_trajectory_errors_name_the_problem():
    frame = _trajectory({"a": [True, False]})
    with pytest.raises(DataError, match="recorded twice"):
        forgetting_events(pl.concat([frame, frame]))
    with pytest.raises(DataError, match="missing column"):
        forgetting_events(frame.drop("correct"))
