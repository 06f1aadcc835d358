"""The bias-forgetting frontier figure (fairforget.analysis.frontier_figure): one path per fused run, readable."""

from __future__ import annotations

import matplotlib.pyplot as plt
import polars as pl

from fairforget.analysis.bias_changes import paired_score_of
from fairforget.analysis.figure_set import styled
from fairforget.analysis.frontier_figure import bias_frontier, paired_bar
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.synthetic import SyntheticStudy, write_synthetic_study
from fairforget.analysis.table import read_run_table
from fairforget.fusion.table import ALPHA, Columns
from figure_checks import data_problems, legend_problems, plotted_runs, text_overlaps, texts_outside


def test_frontier_draws_one_path_per_fused_run_and_stays_readable(tmp_path):
    study = SyntheticStudy(objectives=("none", "cda", "unlikelihood"), remedies=("none", "l2sp"))
    frame = read_run_table(write_synthetic_study(tmp_path, study).aggregate({"analysis": {"permutations": 199}}))
    settings = AnalysisSettings(permutations=199)
    c = Columns.of(frame, settings)
    units = frame.filter(pl.col("remedy") == "none")
    ends = units.with_columns(pl.lit(1.0).alias(ALPHA))
    base = units.with_columns(
        pl.lit(0.0).alias(ALPHA), pl.lit(0.0).alias(c.forgetting), pl.col(f"{c.bias}.base").alias(c.bias)
    )
    half = units.with_columns(
        pl.lit(0.5).alias(ALPHA), (pl.col(c.forgetting) / 4), ((pl.col(c.bias) + pl.col(f"{c.bias}.base")) / 2)
    )
    columns = ["model", "objective", "remedy", "size", "seed", ALPHA, c.forgetting, c.bias, f"{c.bias}.base"]
    fusion = pl.concat([part.select(columns) for part in (base, half, ends)])
    # drawn as the figures rule draws them (the figures' rc settings)
    plain = styled(lambda: bias_frontier(frame, settings))()
    fused = styled(lambda: bias_frontier(frame, settings, fusion=fusion))()
    try:
        for problems in (text_overlaps(fused), texts_outside(fused), legend_problems(fused), data_problems(fused)):
            assert not problems, problems
        assert plotted_runs(fused) == plotted_runs(plain)  # the paths are not counted as runs
        paths = [line for ax in fused.axes for line in ax.get_lines() if (line.get_gid() or "").startswith("fusion")]
        assert len(paths) == units.height and all(len(line.get_xdata()) == 3 for line in paths)
        assert any("fusion path, α = 0, 0.5, 1" in text.get_text() for text in fused.legends[0].get_texts())
    finally:
        plt.close(plain)
        plt.close(fused)


def test_paired_bar_by_hand():
    score = paired_score_of("crows_pairs.stereo_preference")
    row = {
        "crows_pairs.stereo_preference": 56.0,
        "crows_pairs.paired_change": -4.0,
        "crows_pairs.paired_change.ci_low": -9.0,
        "crows_pairs.paired_change.ci_high": -1.0,
    }
    # value shifted by the CI's distances from the change: [56 - 5, 56 + 3]
    assert paired_bar(row, "crows_pairs.stereo_preference", score, None) == (51.0, 59.0)
    # as a distance from 50: |51 - 50| .. |59 - 50|
    assert paired_bar(row, "crows_pairs.stereo_preference", score, 50.0) == (1.0, 9.0)
    # an interval holding the ideal reaches 0
    assert paired_bar({**row, "crows_pairs.paired_change.ci_low": -12.0}, "crows_pairs.stereo_preference", score,
                      50.0) == (0.0, 9.0)  # fmt: skip
    assert paired_bar({**row, "crows_pairs.paired_change": None}, "crows_pairs.stereo_preference", score, 50.0) is None


def test_frontier_draws_each_runs_paired_interval(tmp_path):
    study = SyntheticStudy(objectives=("none", "cda"), remedies=("none",))
    frame = read_run_table(write_synthetic_study(tmp_path, study).aggregate({"analysis": {"permutations": 199}}))
    settings = AnalysisSettings(permutations=199)
    bias = Columns.of(frame, settings).bias
    score = paired_score_of(bias)
    assert score is not None
    frame = frame.with_columns(
        (pl.col(bias) - pl.col(f"{bias}.base")).alias(score.column),
        (pl.col(bias) - pl.col(f"{bias}.base") - 2.0).alias(f"{score.column}.ci_low"),
        (pl.col(bias) - pl.col(f"{bias}.base") + 1.0).alias(f"{score.column}.ci_high"),
    )
    fig = styled(lambda: bias_frontier(frame, settings))()
    try:
        bars = [c for ax in fig.axes for c in ax.collections if c.get_segments() and len(c.get_segments()) == 1]
        assert len(bars) == frame.height  # one vertical bar per run
        for problems in (text_overlaps(fig), texts_outside(fig), legend_problems(fig), data_problems(fig)):
            assert not problems, problems
        assert "paired CI" in fig._suptitle.get_text()
    finally:
        plt.close(fig)
