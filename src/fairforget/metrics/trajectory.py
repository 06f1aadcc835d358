"""Forgetting events along the training trajectory (Toneva et al. 2019, "An Empirical Study of Example
Forgetting during Deep Neural Network Learning"; definitions as in their `order_examples_by_forgetting.py`).

Input: the trajectory contract (`step`, `probe_set`, `item_id`, `correct`; ARCHITECTURE.md). Per item, steps
are put in order and a *forgetting event* is a transition correct -> incorrect between consecutive recorded
steps. `first_learned_step` is the first step at which the item is correct (null if never). Toneva et al.'s
categories partition the items: *never learned* (never correct), *unforgettable* (learned, no forgetting
event) and *forgettable* (learned, at least one forgetting event).

Reported per probe set `<p>` (docs/metrics.md §4): the three category fractions over all items, the mean number
of forgetting events over the learned items, and the first-learned step (absolute, and as a fraction of the run's
last recorded step). Never-learned items are reported on their own and are not counted as forgetting events:
Toneva et al.'s `sort_examples_by_forgetting` gives them the maximum count (the number of presentations) only to
rank examples, and that count grows with the number of probes, so runs of different lengths would not compare.
`toneva_count` (that ranking count) stays available per item from `forgetting_events`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from fairforget.errors import DataError
from fairforget.metrics.base import METRICS, TRAJECTORY, EvaluationSettings, Metric, MetricContext
from fairforget.metrics.bootstrap import MetricValue, mean_estimate

COLUMNS = {"step": pl.Int64, "probe_set": pl.String, "item_id": pl.String, "correct": pl.Boolean}


def read_trajectory(path: str | Path) -> pl.DataFrame:
    """Read and check a trajectory parquet file; errors name the file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    try:
        frame = pl.read_parquet(path)
    except Exception as err:  # polars raises several error types for a corrupt file
        raise DataError(f"{path}: not a readable parquet file ({err})") from err
    return check_trajectory(frame, str(path))


def check_trajectory(frame: pl.DataFrame, where: str = "trajectory") -> pl.DataFrame:
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    try:
        frame = frame.select([pl.col(c).cast(t, strict=True) for c, t in COLUMNS.items()])
    except Exception as err:
        raise DataError(f"{where}: column types do not match the trajectory contract ({err})") from err
    if frame.null_count().sum_horizontal().item():
        raise DataError(f"{where}: null values in the trajectory")
    duplicated = frame.select(["probe_set", "item_id", "step"]).is_duplicated()
    if duplicated.any():
        row = frame.filter(duplicated).row(0, named=True)
        raise DataError(
            f"{where}: item {row['item_id']!r} of probe set {row['probe_set']!r} recorded twice at step {row['step']}"
        )
    return frame


def forgetting_events(frame: pl.DataFrame) -> pl.DataFrame:
    """One row per (probe_set, item_id): n_steps, last_step, forgetting_events, first_learned_step, ever_learned
    and toneva_count (Toneva et al.'s ranking count: forgetting events if learned, else n_steps)."""
    frame = check_trajectory(frame)
    keys = ["probe_set", "item_id"]
    ordered = frame.sort(keys + ["step"]).with_columns(previous=pl.col("correct").shift(1).over(keys))
    per_item = ordered.group_by(keys, maintain_order=True).agg(
        n_steps=pl.len().cast(pl.Int64),
        last_step=pl.col("step").max(),
        forgetting_events=(pl.col("previous").fill_null(False) & ~pl.col("correct")).sum().cast(pl.Int64),
        first_learned_step=pl.col("step").filter(pl.col("correct")).min(),
    )
    return per_item.with_columns(ever_learned=pl.col("first_learned_step").is_not_null()).with_columns(
        toneva_count=pl.when(pl.col("ever_learned")).then(pl.col("forgetting_events")).otherwise(pl.col("n_steps"))
    )


def trajectory_statistics(events: pl.DataFrame, settings: EvaluationSettings) -> dict[str, MetricValue]:
    """Per probe set: category fractions over all items, forgetting events and first learning over learned items.

    `events` comes from `forgetting_events`; the run's length is taken as the last recorded step (the engine
    always probes the final step)."""
    boot = settings.bootstrap
    out: dict[str, MetricValue] = {}
    for probe_set in sorted(events["probe_set"].unique().to_list()):
        part = events.filter(pl.col("probe_set") == probe_set)
        learned = part["ever_learned"].to_numpy().astype(bool)
        forgotten = part["forgetting_events"].to_numpy().astype(np.float64)
        first = part.filter(pl.col("ever_learned"))["first_learned_step"].to_numpy().astype(np.float64)
        last_step = float(part["last_step"].max())  # type: ignore[arg-type]
        out[f"{probe_set}_never_learned_fraction"] = mean_estimate((~learned).astype(np.float64), boot)
        out[f"{probe_set}_unforgettable_fraction"] = mean_estimate(
            (learned & (forgotten == 0)).astype(np.float64), boot
        )
        out[f"{probe_set}_forgettable_fraction"] = mean_estimate((learned & (forgotten >= 1)).astype(np.float64), boot)
        out[f"{probe_set}_mean_forgetting_events"] = mean_estimate(forgotten[learned], boot)
        out[f"{probe_set}_mean_first_learned_step"] = mean_estimate(first, boot)
        out[f"{probe_set}_mean_first_learned_progress"] = mean_estimate(
            first / last_step if last_step > 0 else np.zeros_like(first), boot
        )
        # the probe schedule's resolution (steps recorded per item), an exact count: its interval is itself
        recorded = float(part["n_steps"].max())  # type: ignore[arg-type]
        out[f"{probe_set}_recorded_steps"] = MetricValue.exact(recorded, part.height)
    return out


@METRICS.register("trajectory_forgetting")
class TrajectoryForgetting(Metric):
    compares = True

    def requires(self, settings: EvaluationSettings) -> set[str]:
        return {TRAJECTORY}

    def compute(self, ctx: MetricContext) -> dict[str, MetricValue]:
        if ctx.trajectory is None:
            raise DataError("trajectory_forgetting: no trajectory given")
        return trajectory_statistics(forgetting_events(ctx.trajectory), ctx.settings)
