"""The bias-forgetting frontier figure (fairforget.analysis.frontier_figure): one path per fused run, readable."""

from __future__ import annotations

import matplotlib.pyplot as plt
import polars as pl

from fairforget.analysis.figure_set import styled
from fairforget.analysis.frontier_figure import bias_frontier
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
