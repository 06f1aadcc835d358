"""The run-table figures (fairforget.analysis.figures) on tables small enough to check by hand: a scatter of an
exact line per model and pooled, the data-size sweep's means and min..max bars, and the notes a panel shows when
its metric is missing."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import polars as pl
import pytest

from fairforget.analysis.figures import POOLED, data_size_sweep, levels, scatter_with_fit
from fairforget.analysis.settings import AnalysisSettings

OVERALL = "overall_forgetting.mean_loss_change"


def _runs(rows: list[tuple[str, str, str, str, int, float]]) -> pl.DataFrame:
    names = ("model", "objective", "remedy", "size", "seed", OVERALL)
    return pl.DataFrame([dict(zip(names, row)) for row in rows])


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def test_scatter_titles_count_points_and_report_an_exact_lines_r() -> None:
    rows = [(m, "cda", "none", "full", s, float(s)) for m in ("a", "b") for s in range(4)]
    frame = _runs(rows).with_columns((2 * pl.col(OVERALL) + 1).alias("bias.y"))
    fig = scatter_with_fit(frame, OVERALL, "bias.y", "title", alpha=0.05)
    titles = [ax.get_title() for ax in fig.axes[:3]]
    assert titles == ["model a (n=4, r=1.00)", "model b (n=4, r=1.00)", f"{POOLED} (n=8, r=1.00)"]
    assert levels(frame, "model") == ["a", "b"]


def test_a_missing_metric_is_noted_in_every_panel() -> None:
    frame = _runs([("a", "cda", "none", "full", 0, 0.1)])
    fig = scatter_with_fit(frame, None, OVERALL, "title", alpha=0.05)
    assert [t.get_text() for t in fig.axes[0].texts] == ["metric not in the table"]


def test_the_size_sweep_plots_the_seed_mean_with_min_to_max_bars() -> None:
    rows = [
        ("a", "cda", "none", "50", 0, 0.1),
        ("a", "cda", "none", "50", 1, 0.3),
        ("a", "cda", "none", "full", 0, 0.5),
        ("a", "cda", "none", "full", 1, 0.5),
        ("a", "cda", "l2sp", "full", 0, 9.0),  # not the baseline remedy: left out
    ]
    fig = data_size_sweep(_runs(rows), AnalysisSettings())
    (bars,) = fig.axes[0].containers
    line = bars.lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0, 1])  # one group: no sideways dodge
    np.testing.assert_allclose(line.get_ydata(), [0.2, 0.5])
    low, high = bars.lines[2][0].get_segments()[0][:, 1]  # the first size's bar spans its seeds
    assert (low, high) == pytest.approx((0.1, 0.3))
    assert [tick.get_text() for tick in fig.axes[0].get_xticklabels()] == ["50", "full"]


def test_the_size_sweeps_bias_bars_span_the_seeds_paired_intervals() -> None:
    """The bias panel's bar runs from the lowest to the highest end of the seeds' paired CIs, each shifted onto
    the plotted value: seed 0 has value 60 with change -5 in [-9, -2] (bar 56..63), seed 1 value 50 with change -15
    in [-18, -11] (bar 47..54): mean 55, bar 47..63. A run without a change keeps its value as both ends."""
    bias, change = "crows_pairs.stereo_preference", "crows_pairs.paired_change"
    frame = pl.DataFrame(
        {
            "model": ["a", "a", "a"],
            "objective": ["cda", "cda", "none"],
            "remedy": ["none"] * 3,
            "size": ["full"] * 3,
            "seed": [0, 1, 0],
            bias: [60.0, 50.0, 70.0],
            change: [-5.0, -15.0, None],
            f"{change}.ci_low": [-9.0, -18.0, None],
            f"{change}.ci_high": [-2.0, -11.0, None],
        }
    )
    fig = data_size_sweep(frame, AnalysisSettings(bias_metric=bias))
    panel = next(ax for ax in fig.axes if ax.containers)
    ends = {}
    for bars in panel.containers:
        (y,) = bars.lines[0].get_ydata()
        low, high = bars.lines[2][0].get_segments()[0][:, 1]
        ends[float(y)] = (float(low), float(high))
    assert ends == {55.0: pytest.approx((47.0, 63.0)), 70.0: pytest.approx((70.0, 70.0))}
