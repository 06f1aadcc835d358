"""Per-step forgetting curves from trajectory.parquet, hand-checked and cross-checked with the metrics stage."""

import polars as pl
import pytest

from fairforget.analysis.trajectory import curve, read_trajectory, summary
from fairforget.errors import DataError
from fairforget.metrics.trajectory import forgetting_events

ROWS = [  # item a: T F T (1 forgotten, 1 learned); item b: F F T (1 learned); one stereotype item: T T F
    (0, "general", "a", True),
    (10, "general", "a", False),
    (20, "general", "a", True),
    (0, "general", "b", False),
    (10, "general", "b", False),
    (20, "general", "b", True),
    (0, "stereotype", "p", True),
    (10, "stereotype", "p", True),
    (20, "stereotype", "p", False),
]


def _frame(rows=ROWS):
    return pl.DataFrame(rows, schema=["step", "probe_set", "item_id", "correct"], orient="row")


def test_curve_hand_checked():
    general = curve(_frame()).filter(pl.col("probe_set") == "general").sort("step")
    assert general["fraction_correct"].to_list() == [0.5, 0.0, 1.0]
    assert general["forgetting_events"].to_list() == [0, 1, 0]
    assert general["cumulative_forgetting_events"].to_list() == [0, 1, 1]
    assert general["cumulative_learning_events"].to_list() == [0, 0, 2]


def test_summary_matches_metrics_stage_event_counts():
    frame = _frame()
    totals = summary(frame)
    assert totals["probe_trajectory.general.forgetting_events"] == 1
    assert totals["probe_trajectory.general.learning_events"] == 2
    assert totals["probe_trajectory.general.fraction_correct_start"] == 0.5
    assert totals["probe_trajectory.stereotype.fraction_correct_end"] == 0.0
    per_item = forgetting_events(frame)
    for probe_set in ("general", "stereotype"):
        expected = per_item.filter(pl.col("probe_set") == probe_set)["forgetting_events"].sum()
        assert totals[f"probe_trajectory.{probe_set}.forgetting_events"] == expected


def test_unsorted_rows_give_the_same_curve():
    shuffled = _frame(list(reversed(ROWS)))
    assert curve(shuffled).equals(curve(_frame()))


def test_bad_trajectory_file_names_the_file(tmp_path):
    path = tmp_path / "trajectory.parquet"
    _frame().drop("correct").write_parquet(path)
    with pytest.raises(DataError, match=str(path)):
        read_trajectory(path)
