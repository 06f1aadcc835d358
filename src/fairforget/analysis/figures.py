"""The six figures (PNG + PDF), each with a provenance sidecar and the key facts in the file metadata.

Every figure renders with few runs: where a fit or a comparison is undefined the panel says why instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from fairforget import provenance  # noqa: E402
from fairforget.analysis import columns as cols  # noqa: E402
from fairforget.analysis import trajectory  # noqa: E402
from fairforget.analysis.findings import paired_differences, size_order  # noqa: E402
from fairforget.analysis.results import classify  # noqa: E402
from fairforget.analysis.settings import AnalysisSettings  # noqa: E402
from fairforget.analysis.stats import MIN_N, correlation, ols_band  # noqa: E402
from fairforget.analysis.style import PANEL_HEIGHT, PANEL_WIDTH, RC, Encoding, note  # noqa: E402

log = logging.getLogger(__name__)

POOLED = "all models"

FIGURE_NAMES = (
    "downstream_vs_overall_forgetting",
    "selective_vs_overall_forgetting",
    "remedies_paired",
    "bias_vs_forgetting_frontier",
    "trajectory_forgetting",
    "data_size_sweep",
)


def _panels(n: int, rows: int = 1) -> tuple[Figure, np.ndarray]:
    # A single panel is widened so that titles and legends fit.
    width = max(PANEL_WIDTH * n, 1.8 * PANEL_WIDTH)
    fig, axes = plt.subplots(rows, n, figsize=(width, PANEL_HEIGHT * rows), squeeze=False)
    return fig, axes


def _short(column: str | None) -> str:
    """An axis label for a column: the metric group on one line, the statistic on the next when long."""
    if column is None:
        return "(missing)"
    if len(column) > 30 and "." in column:
        group, statistic = column.split(".", 1)
        return f"{group}.\n{statistic}"
    return column


def _place_legend(fig: Figure, handles: list[Line2D]) -> None:
    """The figure's legend, below the panels, in up to four columns."""
    fig.legend(handles=handles, loc="outside lower center", ncols=min(4, len(handles)), frameon=False)


def _marker_models_line_objectives(models: Encoding, objectives: Encoding) -> list[Line2D]:
    """Legend entries: each model by its marker, each objective by its line style and grey."""
    handles = [
        Line2D([], [], marker=models.marker(m), color="black", linestyle="none", label=f"model {m}")
        for m in models.levels
    ]
    handles += [
        Line2D([], [], color=objectives.grey(o), linestyle=objectives.linestyle(o), label=f"objective {o}")
        for o in objectives.levels
    ]
    return handles


def _legend(
    fig: Figure, objectives: Encoding, remedies: Encoding | None = None, pooled_models: Encoding | None = None
) -> None:
    handles = [
        Line2D([], [], marker=objectives.marker(o), color="black", linestyle="none", label=f"objective {o}")
        for o in objectives.levels
    ]
    if pooled_models is not None:
        handles += [
            Line2D(
                [],
                [],
                marker="s",
                color="black",
                markerfacecolor=pooled_models.grey(m),
                linestyle="none",
                label=f"{POOLED}: model {m}",
            )
            for m in pooled_models.levels
        ]
    if remedies is not None and len(remedies.levels) > 1:
        handles += [
            Line2D(
                [],
                [],
                marker="o",
                color="black",
                markerfacecolor="black" if i == 0 else "white",
                linestyle="none",
                label=f"{'filled' if i == 0 else 'hollow'}: remedy {r}",
            )
            for i, r in enumerate(remedies.levels)
        ]
    _place_legend(fig, handles)


def scatter_with_fit(frame: pl.DataFrame, x: str | None, y: str | None, title: str, alpha: float) -> Figure:
    """y vs x per model (and pooled over models when there are several): marker = objective, hollow = remedy
    other than the first, OLS line with its confidence band; in the pooled panel the fill grey = model."""
    models = sorted(frame["model"].unique().to_list())
    panels = models + ([POOLED] if len(models) > 1 else [])
    fig, axes = _panels(len(panels))
    fig.set_layout_engine("constrained")
    objectives = Encoding(frame["objective"].to_list())
    remedies = Encoding(frame["remedy"].to_list())
    model_shades = Encoding(models)
    for ax, panel in zip(axes[0], panels):
        label = POOLED if panel == POOLED else f"model {panel}"
        ax.set_title(label)
        ax.set_xlabel(_short(x))
        ax.set_ylabel(_short(y))
        if x is None or y is None:
            note(ax, "metric not in the table")
            continue
        present = pl.col(x).is_not_null() & pl.col(y).is_not_null()
        part = frame.filter(present if panel == POOLED else present & (pl.col("model") == panel))
        for row in part.iter_rows(named=True):
            fill = model_shades.grey(row["model"]) if panel == POOLED else "black"
            ax.plot(
                row[x],
                row[y],
                marker=objectives.marker(row["objective"]),
                color="black",
                linestyle="none",
                markerfacecolor=fill if remedies.index(row["remedy"]) == 0 else "white",
            )
        xs, ys = part[x].to_list(), part[y].to_list()
        grid = np.linspace(min(xs), max(xs), 50) if xs else np.array([])
        band = ols_band(xs, ys, grid, alpha) if xs else None
        if band is None:
            reason = "too small for a fit" if len(xs) < MIN_N else "x constant, no fit"
            note(ax, f"n={len(xs)}: {reason}")
            continue
        mean, low, high = band
        ax.plot(grid, mean, color="black", linestyle="--", linewidth=1)
        ax.fill_between(grid, low, high, color="#bbbbbb", alpha=0.5, linewidth=0)
        r = correlation(xs, ys, "pearson", bootstrap_samples=1)
        ax.set_title(f"{label} (n={len(xs)}, r={r.value:.2f})" if r.defined else f"{label} (n={len(xs)})")
    fig.suptitle(title)
    _legend(fig, objectives, remedies, model_shades if len(models) > 1 else None)
    return fig


def remedies_paired(frame: pl.DataFrame, settings: AnalysisSettings) -> Figure:
    """Matched runs with and without each remedy, joined by a line; one panel per metric."""
    metrics = [cols.overall_forgetting_column(frame, settings), cols.downstream_change_column(frame)]
    remedies = sorted(set(frame["remedy"].to_list()) - {settings.baseline_remedy})
    fig, axes = _panels(2)
    fig.set_layout_engine("constrained")
    objectives = Encoding(frame["objective"].to_list())
    models = Encoding(frame["model"].to_list())
    for ax, metric in zip(axes[0], metrics):
        ax.set_ylabel(_short(metric))
        tick_labels = [settings.baseline_remedy]
        ax.set_xlabel("remedy (paired on model, objective, size, seed)")
        if metric is None:
            note(ax, "metric not in the table")
            continue
        if not remedies:
            note(ax, f"no remedy besides '{settings.baseline_remedy}' in this study")
            ax.set_xticks([0], tick_labels)
            continue
        for position, remedy in enumerate(remedies, start=1):
            pairs = paired_differences(frame, metric, remedy, settings.baseline_remedy)
            for row in pairs.iter_rows(named=True):
                ax.plot(
                    [0, position],
                    [row["baseline"], row["treated"]],
                    color=models.grey(row["model"]),
                    linestyle=models.linestyle(row["model"]),
                    linewidth=0.8,
                )
                for xpos, value in ((0, row["baseline"]), (position, row["treated"])):
                    ax.plot(xpos, value, marker=objectives.marker(row["objective"]), color="black", linestyle="none")
            if pairs.height:
                tick_labels.append(f"{remedy}\nn={pairs.height}, mean Δ={pairs['difference'].mean():.3g}")
            else:
                tick_labels.append(f"{remedy}\nno matched pairs")
        ax.set_xticks(range(len(tick_labels)), tick_labels)
    fig.suptitle("Remedy vs no remedy (lines join matched runs; line style = model)")
    handles = [
        Line2D([], [], color=models.grey(m), linestyle=models.linestyle(m), label=f"model {m}") for m in models.levels
    ]
    handles += [
        Line2D([], [], marker=objectives.marker(o), color="black", linestyle="none", label=f"objective {o}")
        for o in objectives.levels
    ]
    _place_legend(fig, handles)
    return fig


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of points not dominated when minimising both coordinates, sorted by the first coordinate."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], points[i][1]))
    front, best_y = [], float("inf")
    for i in order:
        if points[i][1] < best_y:
            front.append(i)
            best_y = points[i][1]
    return front


def bias_frontier(frame: pl.DataFrame, settings: AnalysisSettings) -> Figure:
    """Bias vs overall forgetting per model, with the Pareto frontier (less bias and less forgetting)."""
    x = cols.overall_forgetting_column(frame, settings)
    bias = cols.bias_column(frame, settings)
    ideal = cols.bias_ideal(bias, settings)
    y_label = _short(bias) if ideal is None else f"|{_short(bias)} − {ideal:g}|"
    models = sorted(frame["model"].unique().to_list())
    fig, axes = _panels(len(models))
    fig.set_layout_engine("constrained")
    objectives = Encoding(frame["objective"].to_list())
    remedies = Encoding(frame["remedy"].to_list())

    def distance(value: float) -> float:
        return value if ideal is None else abs(value - ideal)

    for ax, model in zip(axes[0], models):
        ax.set_title(f"model {model}")
        ax.set_xlabel(_short(x))
        ax.set_ylabel(y_label)
        if x is None or bias is None:
            note(ax, "metric not in the table")
            continue
        part = frame.filter((pl.col("model") == model) & pl.col(x).is_not_null() & pl.col(bias).is_not_null())
        points = [(row[x], distance(row[bias])) for row in part.iter_rows(named=True)]
        for row, (px, py) in zip(part.iter_rows(named=True), points):
            filled = remedies.index(row["remedy"]) == 0
            ax.plot(
                px,
                py,
                marker=objectives.marker(row["objective"]),
                color="black",
                markerfacecolor="black" if filled else "white",
                linestyle="none",
            )
        base_column = f"{bias}.base"
        if base_column in part.columns and part[base_column].drop_nulls().len():
            ax.axhline(distance(part[base_column].drop_nulls()[0]), color="#666666", linestyle=":", linewidth=1)
            ax.text(
                0.99,
                distance(part[base_column].drop_nulls()[0]),
                "base model",
                ha="right",
                va="bottom",
                fontsize=7,
                transform=ax.get_yaxis_transform(),
            )
        front = [points[i] for i in pareto_front(points)]
        if len(front) >= 2:
            ax.step(
                [p[0] for p in front], [p[1] for p in front], where="post", color="black", linestyle="--", linewidth=1
            )
        elif points:
            ax.text(0.02, 0.02, "frontier: single point", transform=ax.transAxes, va="bottom", fontsize=7)
        else:
            note(ax, "no runs with both metrics")
    what = "bias" if ideal is None else f"distance from no bias ({ideal:g})"
    fig.suptitle(f"{what.capitalize()} vs overall forgetting\n(dashed: Pareto frontier; lower left is better)")
    _legend(fig, objectives, remedies)
    return fig


def trajectory_figure(trajectory_paths: Sequence[str | Path]) -> Figure:
    """Fraction correct and cumulative forgetting events over steps, per probe set; mean over runs of the same
    model and objective (other factors pooled)."""
    curves = []
    for path in trajectory_paths:
        info = classify(path)
        per_step = trajectory.curve(trajectory.read_trajectory(path))
        model = info.fields["model"] if info else "?"
        objective = info.fields.get("objective", "?") if info else "?"
        curves.append(per_step.with_columns(pl.lit(model).alias("model"), pl.lit(objective).alias("objective")))
    probe_sets = sorted(set().union(*(c["probe_set"].unique().to_list() for c in curves))) if curves else []
    fig, axes = _panels(max(1, len(probe_sets)), rows=2)
    fig.set_layout_engine("constrained")
    if not curves:
        note(axes[0][0], "no trajectories recorded")
        return fig
    data = pl.concat(curves)
    objectives = Encoding(data["objective"].to_list())
    models = Encoding(data["model"].to_list())
    mean = (
        data.group_by(["model", "objective", "probe_set", "step"])
        .agg(pl.col("fraction_correct").mean(), pl.col("cumulative_forgetting_events").mean(), pl.len().alias("runs"))
        .sort(["model", "objective", "probe_set", "step"])
    )
    for column, probe_set in enumerate(probe_sets):
        top, bottom = axes[0][column], axes[1][column]
        top.set_title(f"probe set: {probe_set}")
        top.set_ylabel("fraction correct")
        bottom.set_ylabel("cumulative forgetting events")
        bottom.set_xlabel("training step")
        for (model, objective), group in mean.filter(pl.col("probe_set") == probe_set).group_by(
            ["model", "objective"], maintain_order=True
        ):
            style = {
                "marker": models.marker(model),
                "linestyle": objectives.linestyle(objective),
                "color": objectives.grey(objective),
                "markersize": 3,
            }
            top.plot(group["step"], group["fraction_correct"], **style)
            bottom.plot(group["step"], group["cumulative_forgetting_events"], **style)
    fig.suptitle(f"Training trajectories ({len(curves)} runs; mean over runs per model and objective)")
    _place_legend(fig, _marker_models_line_objectives(models, objectives))
    return fig


def data_size_sweep(frame: pl.DataFrame, settings: AnalysisSettings) -> Figure:
    """Metrics vs data size per model and objective (baseline remedy only); mean over seeds, bars = min..max."""
    metrics = [
        m
        for m in (
            cols.overall_forgetting_column(frame, settings),
            cols.selective_forgetting_column(frame, settings),
            cols.downstream_change_column(frame),
            cols.bias_column(frame, settings),
        )
        if m
    ]
    subset = frame.filter(pl.col("remedy") == settings.baseline_remedy)
    if subset.height == 0:
        subset = frame
    sizes = size_order(subset["size"].to_list())
    columns = 2 if len(metrics) > 2 else max(1, len(metrics))
    fig, axes = _panels(columns, rows=(len(metrics) + 1) // 2 if len(metrics) > 2 else 1)
    fig.set_layout_engine("constrained")
    for unused in axes.flat[len(metrics) :] if metrics else []:
        unused.set_visible(False)
    objectives = Encoding(subset["objective"].to_list())
    models = Encoding(subset["model"].to_list())
    if not metrics:
        note(axes[0][0], "no forgetting, downstream or bias metric in the table")
    for ax, metric in zip(axes.flat, metrics):
        ax.set_ylabel(_short(metric))
        ax.set_xlabel("debiasing data size")
        ax.set_xticks(range(len(sizes)), sizes)
        summary = (
            subset.filter(pl.col(metric).is_not_null())
            .group_by(["model", "objective", "size"])
            .agg(
                pl.col(metric).mean().alias("mean"),
                pl.col(metric).min().alias("low"),
                pl.col(metric).max().alias("high"),
            )
        )
        for (model, objective), group in summary.group_by(["model", "objective"], maintain_order=True):
            group = group.with_columns(pl.col("size").map_elements(sizes.index, return_dtype=pl.Int64).alias("pos"))
            group = group.sort("pos")
            ax.errorbar(
                group["pos"],
                group["mean"],
                yerr=[group["mean"] - group["low"], group["high"] - group["mean"]],
                marker=models.marker(model),
                linestyle=objectives.linestyle(objective),
                color=objectives.grey(objective),
                capsize=2,
                markersize=4,
            )
        if len(sizes) < 2:
            ax.set_title("only one data size in this study", fontsize=7)
    fig.suptitle(f"Data-size sweep (remedy '{settings.baseline_remedy}'; mean over seeds, bars = min..max)")
    _place_legend(fig, _marker_models_line_objectives(models, objectives))
    return fig


def save_figure(fig: Figure, out_dir: str | Path, name: str, record: dict[str, Any]) -> list[Path]:
    """Write name.png and name.pdf with embedded provenance facts, then the name.provenance.json sidecar."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = out_dir / f"{name}.provenance.json"
    outputs = []
    for fmt in ("png", "pdf"):
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=150, metadata=provenance.matplotlib_metadata(record, sidecar.name, fmt, name))
        outputs.append(path)
    plt.close(fig)
    provenance.finish(record, outputs, sidecar)
    return outputs


def render_figures(
    table_path: str | Path,
    trajectory_paths: Sequence[str | Path],
    out_dir: str | Path,
    settings: AnalysisSettings,
    config: dict[str, Any],
    rule: str = "figures",
    repo_root: str | Path = ".",
    code_root: str | Path | None = None,
) -> list[Path]:
    """All six figures from the tidy table and the trajectories, each with provenance."""
    from fairforget.analysis.table import read_run_table

    frame = read_run_table(table_path)
    table_record = provenance.build_record(rule, [table_path], config, repo_root, code_root)
    makers: dict[str, Callable[[], Figure]] = {
        "downstream_vs_overall_forgetting": lambda: scatter_with_fit(
            frame,
            cols.overall_forgetting_column(frame, settings),
            cols.downstream_change_column(frame),
            "Downstream change vs overall forgetting\n(dashed: OLS fit, band: 95% CI)",
            settings.alpha,
        ),
        "selective_vs_overall_forgetting": lambda: scatter_with_fit(
            frame,
            cols.selective_forgetting_column(frame, settings),
            cols.overall_forgetting_column(frame, settings),
            "Overall vs selective forgetting\n(dashed: OLS fit, band: 95% CI)",
            settings.alpha,
        ),
        "remedies_paired": lambda: remedies_paired(frame, settings),
        "bias_vs_forgetting_frontier": lambda: bias_frontier(frame, settings),
        "trajectory_forgetting": lambda: trajectory_figure(trajectory_paths),
        "data_size_sweep": lambda: data_size_sweep(frame, settings),
    }
    written: list[Path] = []
    with plt.rc_context(RC):
        for name in FIGURE_NAMES:
            record = (
                provenance.build_record(rule, list(trajectory_paths), config, repo_root, code_root)
                if name == "trajectory_forgetting"
                else table_record
            )
            written += save_figure(makers[name](), out_dir, name, record)
            log.info("wrote figure %s", name)
    return written
