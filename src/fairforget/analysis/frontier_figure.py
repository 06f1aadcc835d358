"""The bias-vs-forgetting frontier figure: every fine-tuned run, with the 95% paired CI of its bias change against
the base as a vertical error bar where the run table has it (docs/metrics.md §5.2), the Pareto front per model
and, with a fusion table, each fused run's path from the base model (alpha = 0) to its checkpoint (alpha = 1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from fairforget.analysis import columns as cols  # noqa: E402
from fairforget.analysis.bias_changes import PairedScore, paired_score_of  # noqa: E402
from fairforget.analysis.dictionary import ColumnLabel, label  # noqa: E402
from fairforget.analysis.figures import FUSION_MARKER, levels, panels, study_style, suptitle, x_axis, y_axis  # noqa: E402
from fairforget.analysis.settings import AnalysisSettings  # noqa: E402
from fairforget.analysis.style import FIT_COLOUR, Y_LABEL_CHARS, StudyStyle, grouped_legend, note  # noqa: E402


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated when minimising both coordinates, sorted by the first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def _bias_label(bias: str | None, ideal: float | None) -> tuple[str, str | None]:
    """The y label of the frontier and the column note: the bias, or its distance from the no-bias value."""
    if bias is None:
        return y_axis(None), None
    lab = label(bias)
    if ideal is None:
        return lab.wrapped(Y_LABEL_CHARS), bias
    unit = lab.unit.split(",")[0]
    distance = ColumnLabel(bias, "Distance from no bias", f"|{lab.detail} − {ideal:g}|, {lab.name.lower()}", unit)
    return distance.wrapped(Y_LABEL_CHARS), f"|{bias} − {ideal:g}|"


def paired_bar(
    row: dict[str, Any], bias: str, score: PairedScore | None, ideal: float | None
) -> tuple[float, float] | None:
    """The run's error bar on the plotted scale: its bias value shifted by the paired CI of its change against
    the base, [value - (change - ci_low), value + (ci_high - change)], then as a distance from `ideal` when there
    is one (0 when the interval holds the ideal). None without a paired change."""
    if score is None:
        return None
    values = [row.get(name) for name in (bias, score.column, f"{score.column}.ci_low", f"{score.column}.ci_high")]
    if any(v is None for v in values):
        return None
    value, change, low, high = (float(v) for v in values)  # type: ignore[arg-type]
    bottom, top = value - (change - low), value + (high - change)
    if ideal is None:
        return bottom, top
    ends = (abs(bottom - ideal), abs(top - ideal))
    return (0.0 if bottom <= ideal <= top else min(ends)), max(ends)


def _run_point(
    ax: Any, row: dict[str, Any], point: tuple[float, float], bar: tuple[float, float] | None, style: StudyStyle
) -> None:
    """A run's marker and, with `bar` (bottom, top on the plotted scale), its error bar in its objective's colour."""
    px, py = point
    if bar is not None:
        ax.errorbar(
            px,
            py,
            yerr=[[max(0.0, py - bar[0])], [max(0.0, bar[1] - py)]],
            fmt="none",
            ecolor=style.colours[row["objective"]],
            elinewidth=0.6,
            capsize=1.5,
            alpha=0.7,
            zorder=1,
        )
    ax.plot(px, py, **style.point(row["objective"], row["model"], row["remedy"]))


def _fusion_paths(
    ax: Any, fusion: pl.DataFrame, model: str, x: str, bias: str, distance: Any, style: StudyStyle
) -> int:
    """Each fused run's path (alpha = 0 -> 1) as connected points in its objective's colour; the number drawn."""
    part = fusion.filter((pl.col("model") == model) & pl.col(x).is_not_null() & pl.col(bias).is_not_null())
    drawn = 0
    for _, path in part.sort("alpha").group_by(["objective", "remedy", "size", "seed"], maintain_order=True):
        objective = path["objective"][0]
        ax.plot(
            path[x].to_list(),
            [distance(v) for v in path[bias].to_list()],
            color=style.colours[objective],
            linestyle="-",
            linewidth=0.8,
            marker=FUSION_MARKER,
            markersize=3,
            alpha=0.8,
            zorder=1,
            gid=f"fusion;objective={objective}",
        )
        drawn += 1
    return drawn


def bias_frontier(
    frame: pl.DataFrame,
    settings: AnalysisSettings,
    style: StudyStyle | None = None,
    fusion: pl.DataFrame | None = None,
) -> Figure:
    """Bias vs overall forgetting per model, with the Pareto frontier (less bias and less forgetting) of the
    fine-tuned runs and, with a fusion table, each fused run's path from the base model (alpha = 0) to its
    checkpoint (alpha = 1)."""
    style = style or study_style(frame)
    x = cols.overall_forgetting_column(frame, settings)
    bias = cols.bias_column(frame, settings)
    ideal = cols.bias_ideal(bias, settings)
    y_label, y_note = _bias_label(bias, ideal)
    score = paired_score_of(bias)
    bars = score is not None and score.column in frame.columns
    models = levels(frame, "model")
    fig, axes = panels(len(models))

    def distance(value: float) -> float:
        return value if ideal is None else abs(value - ideal)

    for ax, model in zip(axes[0], models):
        ax.set_title(f"model {model}")
        ax.set_xlabel(x_axis(x))
        ax.set_ylabel(y_label)
        if x is None or bias is None:
            note(ax, "metric not in the table")
            continue
        part = frame.filter((pl.col("model") == model) & pl.col(x).is_not_null() & pl.col(bias).is_not_null())
        points = [(row[x], distance(row[bias])) for row in part.iter_rows(named=True)]
        if fusion is not None and x in fusion.columns and bias in fusion.columns:
            _fusion_paths(ax, fusion, model, x, bias, distance, style)
        for row, point in zip(part.iter_rows(named=True), points):
            _run_point(ax, row, point, paired_bar(row, bias, score, ideal), style)
        base_column = f"{bias}.base"
        if base_column in part.columns and part[base_column].drop_nulls().len():
            ax.axhline(distance(part[base_column].drop_nulls()[0]), color=FIT_COLOUR, linestyle=":", linewidth=1)
        front = [points[i] for i in pareto_front(points)]
        if len(front) >= 2:
            ax.step(
                [p[0] for p in front],
                [p[1] for p in front],
                where="post",
                color=FIT_COLOUR,
                linestyle="--",
                linewidth=1,
            )
        elif points:
            ax.text(0.02, 0.02, "frontier: single point", transform=ax.transAxes, va="bottom", fontsize=7)
        else:
            note(ax, "no runs with both metrics")
    what = "bias" if ideal is None else "distance from no bias"
    suffix = "; bars: 95% paired CI of the change against the base, over items" if bars else ""
    suptitle(fig, f"{what.capitalize()} vs overall forgetting per model (lower left is better){suffix}")
    keys = [
        Line2D([], [], color=FIT_COLOUR, linestyle="--", linewidth=1, label="Pareto frontier"),
        Line2D([], [], color=FIT_COLOUR, linestyle=":", linewidth=1, label="base model"),
    ]
    if fusion is not None and fusion.height:
        alphas = ", ".join(f"{a:g}" for a in sorted(fusion["alpha"].unique()))
        keys.append(
            Line2D(
                [],
                [],
                color="#555555",
                linestyle="-",
                linewidth=0.8,
                marker=FUSION_MARKER,
                markersize=3,
                label=f"fusion path, α = {alphas}",
            )
        )
    grouped_legend(
        fig,
        style.legend_groups(levels(frame, "objective"), models, levels(frame, "remedy")),
        keys,
        {"x": x, "y": y_note},
    )
    return fig
