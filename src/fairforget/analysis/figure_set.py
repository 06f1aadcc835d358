"""The study's figures by name (`figure_makers`), drawn under one style (`styled`) and saved as PNG + PDF with
the provenance facts in the file metadata and a sidecar (`save_figure`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import polars as pl  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from fairforget.analysis import columns as cols  # noqa: E402
from fairforget.analysis.figures import (  # noqa: E402
    data_size_sweep,
    remedies_paired,
    scatter_with_fit,
    study_style,
    trajectory_figure,
)
from fairforget.analysis.frontier_figure import bias_frontier  # noqa: E402
from fairforget.analysis.settings import AnalysisSettings  # noqa: E402
from fairforget.analysis.style import RC  # noqa: E402
from fairforget.provenance.record import finish, matplotlib_metadata  # noqa: E402


def figure_makers(
    frame: pl.DataFrame,
    trajectory_paths: Sequence[str | Path],
    settings: AnalysisSettings,
    fusion: pl.DataFrame | None = None,
) -> dict[str, Callable[[], Figure]]:
    """Each figure's name -> a function drawing it, all with the study's one style (drawn lazily: one open
    figure at a time)."""
    style = study_style(frame)
    overall = cols.overall_forgetting_column(frame, settings)
    band = f"{1 - settings.alpha:.0%}"
    makers: dict[str, Callable[[], Figure]] = {
        "downstream_vs_overall_forgetting": lambda: scatter_with_fit(
            frame,
            overall,
            cols.downstream_change_column(frame),
            f"Downstream change vs overall forgetting (F1; dashed: OLS fit, band: {band} CI)",
            settings.alpha,
            style,
        ),
        "selective_vs_overall_forgetting": lambda: scatter_with_fit(
            frame,
            cols.selective_forgetting_column(frame, settings),
            overall,
            f"Overall vs selective forgetting (F2; dashed: OLS fit, band: {band} CI)",
            settings.alpha,
            style,
        ),
        "remedies_paired": lambda: remedies_paired(frame, settings, style),
        "bias_vs_forgetting_frontier": lambda: bias_frontier(frame, settings, style, fusion),
        "trajectory_forgetting": lambda: trajectory_figure(trajectory_paths, style),
        "data_size_sweep": lambda: data_size_sweep(frame, settings, style),
    }
    return {name: styled(draw) for name, draw in makers.items()}


def styled(draw: Callable[[], Figure]) -> Callable[[], Figure]:
    """`draw` under the figures' rc settings (fonts and sizes are fixed when the artists are made)."""

    def run() -> Figure:
        with plt.rc_context(RC):
            return draw()

    return run


def save_figure(fig: Figure, out_dir: str | Path, name: str, record: dict[str, Any]) -> list[Path]:
    """Write name.png and name.pdf with embedded provenance facts, then the name.provenance.json sidecar."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sidecar = out_dir / f"{name}.provenance.json"
    outputs = []
    for fmt in ("png", "pdf"):
        path = out_dir / f"{name}.{fmt}"
        fig.savefig(path, format=fmt, dpi=150, metadata=matplotlib_metadata(record, sidecar.name, fmt, name))
        outputs.append(path)
    plt.close(fig)
    finish(record, outputs, sidecar)
    return outputs
