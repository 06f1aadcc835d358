"""The figures of the tidy table (the frontier: `frontier_figure`; all of them by name: `figure_set`).
Colour = objective, marker = model, fill = remedy, the same in every figure (`style.StudyStyle`); axes are named
by the data dictionary (`dictionary.label`), the plotted columns in small type underneath.

Every figure renders with few runs: where a fit or a comparison is undefined the panel says why instead. Every
figure is a function of the table's content, not of its row order (groups are drawn in sorted order).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from fairforget.analysis import columns as cols  # noqa: E402
from fairforget.analysis import trajectory  # noqa: E402
from fairforget.analysis.bias_changes import paired_score_of  # noqa: E402
from fairforget.analysis.dictionary import label  # noqa: E402
from fairforget.analysis.results import classify  # noqa: E402
from fairforget.analysis.seed_units import paired_differences, size_order  # noqa: E402
from fairforget.analysis.settings import AnalysisSettings  # noqa: E402
from fairforget.analysis.stats import MIN_N, correlation, ols_band  # noqa: E402
from fairforget.analysis.style import (  # noqa: E402
    BAND_COLOUR,
    FIT_COLOUR,
    PANEL_HEIGHT,
    PANEL_WIDTH,
    X_LABEL_CHARS,
    Y_LABEL_CHARS,
    StudyStyle,
    grouped_legend,
    note,
    wrap,
)

log = logging.getLogger(__name__)

POOLED = "all models"
# The fusion paths' points (small, so the fused runs stay apart from the fine-tuned runs' markers).
FUSION_MARKER = "."


def panels(n: int, rows: int = 1, width: float = PANEL_WIDTH) -> tuple[Figure, np.ndarray]:
    """A figure of rows x n panels under the constrained layout (which keeps titles, labels and legends apart).
    A single panel is widened so that the legend fits."""
    fig, axes = plt.subplots(
        rows, n, figsize=(max(width * n, 2 * PANEL_WIDTH), PANEL_HEIGHT * rows), squeeze=False, layout="constrained"
    )
    return fig, axes


def suptitle(fig: Figure, text: str) -> None:
    """The figure title, each line wrapped to the figure's width."""
    points = FontProperties(size=plt.rcParams["figure.titlesize"]).get_size_in_points()
    chars = int(fig.get_figwidth() * 72 / (points * 0.55))
    fig.suptitle(wrap(text, chars))


def axis_label(column: str | None, width: int) -> str:
    return "(metric not in the table)" if column is None else label(column).wrapped(width)


def x_axis(column: str | None) -> str:
    return axis_label(column, X_LABEL_CHARS)


def y_axis(column: str | None) -> str:
    return axis_label(column, Y_LABEL_CHARS)


def study_style(frame: pl.DataFrame) -> StudyStyle:
    return StudyStyle.for_levels(
        frame["objective"].cast(pl.Utf8).to_list(),
        frame["model"].cast(pl.Utf8).to_list(),
        frame["remedy"].cast(pl.Utf8).to_list(),
    )


def levels(frame: pl.DataFrame, column: str) -> list[str]:
    return sorted(str(v) for v in frame[column].unique().to_list())


def scatter_with_fit(
    frame: pl.DataFrame,
    x: str | None,
    y: str | None,
    title: str,
    alpha: float,
    style: StudyStyle | None = None,
) -> Figure:
    """y vs x per model (and pooled over models when there are several), each run a point (colour = objective,
    marker = model, fill = remedy), with the OLS line and its (1 - alpha) confidence band per panel."""
    style = style or study_style(frame)
    models = levels(frame, "model")
    names = models + ([POOLED] if len(models) > 1 else [])
    fig, axes = panels(len(names))
    for ax, panel in zip(axes[0], names):
        heading = POOLED if panel == POOLED else f"model {panel}"
        ax.set_title(heading)
        ax.set_xlabel(x_axis(x))
        ax.set_ylabel(y_axis(y))
        if x is None or y is None:
            note(ax, "metric not in the table")
            continue
        present = pl.col(x).is_not_null() & pl.col(y).is_not_null()
        part = frame.filter(present if panel == POOLED else present & (pl.col("model") == panel))
        for row in part.iter_rows(named=True):
            ax.plot(row[x], row[y], **style.point(row["objective"], row["model"], row["remedy"]))
        xs, ys = part[x].to_list(), part[y].to_list()
        grid = np.linspace(min(xs), max(xs), 50) if xs else np.array([])
        band = ols_band(xs, ys, grid, alpha) if xs else None
        if band is None:
            reason = "too small for a fit" if len(xs) < MIN_N else "x constant, no fit"
            note(ax, f"n={len(xs)}: {reason}")
            continue
        mean, low, high = band
        ax.plot(grid, mean, color=FIT_COLOUR, linestyle="--", linewidth=1, zorder=1)
        ax.fill_between(grid, low, high, color=BAND_COLOUR, alpha=0.5, linewidth=0, zorder=0)
        r = correlation(xs, ys, "pearson", bootstrap_samples=1)
        ax.set_title(f"{heading} (n={len(xs)}, r={r.value:.2f})" if r.defined else f"{heading} (n={len(xs)})")
    suptitle(fig, title)
    fit_keys = [
        Line2D([], [], color=FIT_COLOUR, linestyle="--", linewidth=1, label="OLS fit"),
        Patch(facecolor=BAND_COLOUR, alpha=0.5, edgecolor="none", label=f"{1 - alpha:.0%} confidence band"),
    ]
    grouped_legend(
        fig,
        style.legend_groups(levels(frame, "objective"), models, levels(frame, "remedy")),
        fit_keys,
        {"x": x, "y": y},
    )
    return fig


def remedies_paired(frame: pl.DataFrame, settings: AnalysisSettings, style: StudyStyle | None = None) -> Figure:
    """Matched runs with and without each remedy, joined by a line (colour = objective, marker = model, fill =
    remedy); one panel per metric."""
    style = style or study_style(frame)
    metrics = [cols.overall_forgetting_column(frame, settings), cols.downstream_change_column(frame)]
    remedies = sorted(set(frame["remedy"].to_list()) - {settings.baseline_remedy})
    fig, axes = panels(2, width=max(PANEL_WIDTH, 0.85 * (len(remedies) + 1)))
    for ax, metric in zip(axes[0], metrics):
        ax.set_ylabel(y_axis(metric))
        tick_labels = [settings.baseline_remedy]
        ax.set_xlabel("remedy")
        if metric is None:
            note(ax, "metric not in the table")
            continue
        if not remedies:
            note(ax, f"no remedy besides '{settings.baseline_remedy}' in this study")
            ax.set_xticks([0], tick_labels)
            continue
        for position, remedy in enumerate(remedies, start=1):
            pairs = paired_differences(frame, metric, remedy, settings.baseline_remedy).sort(
                ["model", "objective", "size", "seed"]
            )
            for row in pairs.iter_rows(named=True):
                colour = style.colours[row["objective"]]
                ax.plot([0, position], [row["baseline"], row["treated"]], color=colour, linewidth=0.8, alpha=0.6)
                ax.plot(0, row["baseline"], **style.point(row["objective"], row["model"], settings.baseline_remedy))
                ax.plot(position, row["treated"], **style.point(row["objective"], row["model"], remedy))
            if pairs.height:
                mean_difference = float(pairs["difference"].to_numpy().mean())
                tick_labels.append(f"{remedy}\n{pairs.height} pairs\nmean Δ {mean_difference:+.2g}")
            else:
                tick_labels.append(f"{remedy}\nno pairs")
        ax.set_xticks(range(len(tick_labels)), tick_labels, fontsize=7)
        ax.set_xlim(-0.4, len(remedies) + 0.4)
    suptitle(fig, "Remedy vs no remedy (F3): lines join runs matched on model, objective, data size and seed")
    grouped_legend(
        fig,
        style.legend_groups(levels(frame, "objective"), levels(frame, "model"), [settings.baseline_remedy, *remedies]),
        columns={"left": metrics[0], "right": metrics[1]},
    )
    return fig


def trajectory_figure(trajectory_paths: Sequence[str | Path], style: StudyStyle | None = None) -> Figure:
    """Fraction correct and cumulative forgetting events over steps, per probe set; mean over runs of the same
    model and objective (other factors pooled): colour = objective, marker = model."""
    curves = []
    for path in sorted(trajectory_paths, key=str):
        info = classify(path)
        per_step = trajectory.curve(trajectory.read_trajectory(path))
        model = info.fields["model"] if info else "?"
        objective = info.fields.get("objective", "?") if info else "?"
        curves.append(per_step.with_columns(pl.lit(model).alias("model"), pl.lit(objective).alias("objective")))
    probe_sets = sorted(set().union(*(c["probe_set"].unique().to_list() for c in curves))) if curves else []
    fig, axes = panels(max(1, len(probe_sets)), rows=2)
    if not curves:
        note(axes[0][0], "no trajectories recorded")
        return fig
    data = pl.concat(curves)
    style = style or StudyStyle.for_levels(data["objective"].to_list(), data["model"].to_list(), [])
    mean = (
        data.group_by(["model", "objective", "probe_set", "step"])
        .agg(pl.col("fraction_correct").mean(), pl.col("cumulative_forgetting_events").mean(), pl.len().alias("runs"))
        .sort(["model", "objective", "probe_set", "step"])
    )
    for column, probe_set in enumerate(probe_sets):
        top, bottom = axes[0][column], axes[1][column]
        top.set_title(f"probe set: {probe_set}")
        top.set_ylabel("Fraction of probe items correct")
        bottom.set_ylabel("Cumulative forgetting events\n(count, mean over runs)")
        bottom.set_xlabel("training step (optimizer steps)")
        for (model, objective), group in mean.filter(pl.col("probe_set") == probe_set).group_by(
            ["model", "objective"], maintain_order=True
        ):
            kwargs = style.point(str(objective), str(model), linestyle="-", markersize=3)
            top.plot(group["step"], group["fraction_correct"], **kwargs)
            bottom.plot(group["step"], group["cumulative_forgetting_events"], **kwargs)
    suptitle(fig, f"Training trajectories ({len(curves)} runs; mean over runs per model and objective)")
    grouped_legend(fig, style.legend_groups(levels(data, "objective"), levels(data, "model")))
    return fig


def _size_metrics(frame: pl.DataFrame, settings: AnalysisSettings) -> list[str]:
    candidates = (
        cols.overall_forgetting_column(frame, settings),
        cols.selective_forgetting_column(frame, settings),
        cols.downstream_change_column(frame),
        cols.bias_column(frame, settings),
    )
    return [m for m in candidates if m]


def _bar_ends(frame: pl.DataFrame, metric: str) -> tuple[pl.Expr, pl.Expr]:
    """A run's bar ends for the size sweep: the value itself, or for a bias score with a paired change against
    the base (docs/metrics.md §5.2) the value shifted by that change's 95% CI, so that one seed still shows its
    item-sampling uncertainty and several seeds show the lowest to the highest of their intervals."""
    score = paired_score_of(metric)
    if score is None:
        return pl.col(metric), pl.col(metric)
    ci_low, ci_high = f"{score.column}.ci_low", f"{score.column}.ci_high"
    if not all(c in frame.columns for c in (score.column, ci_low, ci_high)):
        return pl.col(metric), pl.col(metric)
    value, change = pl.col(metric), pl.col(score.column)
    low = (value - (change - pl.col(ci_low))).fill_null(value)
    high = (value + (pl.col(ci_high) - change)).fill_null(value)
    return low, high


def data_size_sweep(frame: pl.DataFrame, settings: AnalysisSettings, style: StudyStyle | None = None) -> Figure:
    """Metrics vs data size per model and objective (baseline remedy only); mean over seeds, bars = min..max over
    seeds (the bias panel: the lowest to the highest end of the seeds' paired 95% CIs, `_bar_ends`). Lines of
    different (model, objective) are dodged sideways so that their bars do not hide each other."""
    style = style or study_style(frame)
    metrics = _size_metrics(frame, settings)
    subset = frame.filter(pl.col("remedy") == settings.baseline_remedy)
    if subset.height == 0:
        subset = frame
    sizes = size_order(subset["size"].to_list())
    columns = 2 if len(metrics) > 2 else max(1, len(metrics))
    fig, axes = panels(columns, rows=(len(metrics) + 1) // 2 if len(metrics) > 2 else 1)
    for unused in axes.flat[len(metrics) :] if metrics else []:
        unused.set_visible(False)
    if not metrics:
        note(axes[0][0], "no forgetting, downstream or bias metric in the table")
    groups = sorted(set(zip(subset["model"].cast(pl.Utf8).to_list(), subset["objective"].cast(pl.Utf8).to_list())))
    dodge = {g: (i - (len(groups) - 1) / 2) * min(0.08, 0.5 / max(1, len(groups))) for i, g in enumerate(groups)}
    for ax, metric in zip(axes.flat, metrics):
        ax.set_ylabel(y_axis(metric))
        ax.set_xlabel("debiasing data size (texts; full = all)")
        ax.set_xticks(range(len(sizes)), sizes)
        low, high = _bar_ends(subset, metric)
        summary = (
            subset.filter(pl.col(metric).is_not_null())
            .group_by(["model", "objective", "size"])
            .agg(pl.col(metric).mean().alias("mean"), low.min().alias("low"), high.max().alias("high"))
            .with_columns(
                pl.col("size").replace_strict(sizes, list(range(len(sizes))), return_dtype=pl.Int64).alias("pos")
            )
            .sort(["model", "objective", "pos"])
        )
        for (model, objective), group in summary.group_by(["model", "objective"], maintain_order=True):
            kwargs = style.point(str(objective), str(model), linestyle="-", markersize=4)
            gid = kwargs.pop("gid")  # on the data line only, not on the caps
            bars = ax.errorbar(
                group["pos"].to_numpy() + dodge[(str(model), str(objective))],
                group["mean"].to_numpy(),
                yerr=[(group["mean"] - group["low"]).to_numpy(), (group["high"] - group["mean"]).to_numpy()],
                capsize=2,
                **kwargs,
            )
            bars.lines[0].set_gid(gid)
        if len(sizes) < 2:
            ax.set_title("only one data size in this study", fontsize=7)
    suptitle(
        fig,
        f"Data-size sweep (F3, remedy '{settings.baseline_remedy}'): mean over seeds, bars = seed range"
        " (bias: paired 95% CIs)",
    )
    grouped_legend(
        fig,
        style.legend_groups(levels(subset, "objective"), levels(subset, "model")),
        columns={f"panel {i + 1}": m for i, m in enumerate(metrics)},
    )
    return fig
