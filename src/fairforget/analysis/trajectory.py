"""Forgetting events along a training trajectory (trajectory.parquet: step, probe_set, item_id, correct).

A *forgetting event* is an item that is correct at one recorded step and incorrect at the next recorded step
(Toneva et al., 2019); a *learning event* is the reverse. Steps are the recorded probe steps, so events between
two probes that cancel out are not seen (the count is a lower bound).
"""

from __future__ import annotations

import polars as pl

from fairforget.metrics.trajectory import read_trajectory

# Reading and checking the file is the metrics stage's (one definition of the contract).
__all__ = ["read_trajectory", "curve", "summary"]


def curve(frame: pl.DataFrame) -> pl.DataFrame:
    """Per (probe_set, step): fraction correct, and forgetting/learning events since the previous step,
    and their running totals."""
    ordered = frame.sort(["probe_set", "item_id", "step"])
    previous = pl.col("correct").shift(1).over(["probe_set", "item_id"])
    marked = ordered.with_columns(
        (previous & ~pl.col("correct")).fill_null(False).alias("forgotten"),
        (~previous & pl.col("correct")).fill_null(False).alias("learned"),
    )
    per_step = (
        marked.group_by(["probe_set", "step"])
        .agg(
            pl.col("correct").mean().alias("fraction_correct"),
            pl.col("forgotten").sum().alias("forgetting_events"),
            pl.col("learned").sum().alias("learning_events"),
            pl.len().alias("n_items"),
        )
        .sort(["probe_set", "step"])
    )
    return per_step.with_columns(
        pl.col("forgetting_events").cum_sum().over("probe_set").alias("cumulative_forgetting_events"),
        pl.col("learning_events").cum_sum().over("probe_set").alias("cumulative_learning_events"),
    )


def summary(frame: pl.DataFrame) -> dict[str, float | int]:
    """Flat per-run numbers: `probe_trajectory.<probe_set>.<statistic>`."""
    out: dict[str, float | int] = {}
    per_step = curve(frame)
    for probe_set in sorted(per_step["probe_set"].unique().to_list()):
        rows = per_step.filter(pl.col("probe_set") == probe_set).sort("step")
        prefix = f"probe_trajectory.{probe_set}"
        out[f"{prefix}.forgetting_events"] = int(rows["forgetting_events"].sum())
        out[f"{prefix}.learning_events"] = int(rows["learning_events"].sum())
        out[f"{prefix}.fraction_correct_start"] = float(rows["fraction_correct"][0])
        out[f"{prefix}.fraction_correct_end"] = float(rows["fraction_correct"][-1])
        out[f"{prefix}.n_items"] = int(rows.select(pl.col("n_items").max()).item())
    return out
