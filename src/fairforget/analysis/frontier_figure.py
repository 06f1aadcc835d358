"""The bias-vs-forgetting frontier figure: every fine-tuned run, the Pareto front per model and, with a fusion
table, each fused run's path from the base model (alpha = 0) to its checkpoint (alpha = 1)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from fairforget.analysis import columns as cols  # noqa: E402
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
        for row, (px, py) in zip(part.iter_rows(named=True), points):
            ax.plot(px, py, **style.point(row["objective"], row["model"], row["remedy"]))
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
    suptitle(fig, f"{what.capitalize()} vs overall forgetting per model (lower left is better)")
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
