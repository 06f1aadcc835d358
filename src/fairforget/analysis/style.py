"""One figure style for every plot: greyscale-readable (marker shapes and line styles carry the groups)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import matplotlib

matplotlib.use("Agg")

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "<", ">")
LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1)), (0, (1, 3)))
# Dark to mid greys: distinct in print, all readable on white.
GREYS = ("#000000", "#555555", "#888888", "#333333", "#aaaaaa", "#222222")

RC: dict[str, Any] = {
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 5,
}

PANEL_WIDTH = 3.2
PANEL_HEIGHT = 2.8


class Encoding:
    """Stable level -> marker / line style / grey assignment, so a level looks the same in every figure."""

    def __init__(self, levels: Sequence[Any]) -> None:
        self.levels = sorted(set(levels), key=str)

    def index(self, level: Any) -> int:
        return self.levels.index(level)

    def marker(self, level: Any) -> str:
        return MARKERS[self.index(level) % len(MARKERS)]

    def linestyle(self, level: Any) -> Any:
        return LINESTYLES[self.index(level) % len(LINESTYLES)]

    def grey(self, level: Any) -> str:
        return GREYS[self.index(level) % len(GREYS)]


def note(ax: Any, text: str) -> None:
    """A visible message inside the axes (e.g. why no fit is drawn)."""
    ax.text(
        0.5,
        0.5,
        text,
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7,
        color="#444444",
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#999999"},
    )
