"""One figure style for every plot: colour = objective (Okabe–Ito, colour-blind safe), marker shape = model,
fill = remedy, the same in every figure of a study.

An objective's colour depends only on its name and, for objectives without a reserved colour (plugins), on the
other such objectives of the study: shipped objectives keep their colour in every study, so a reader who learnt
that `cda` is orange reads every figure the same way.
"""

from __future__ import annotations

import hashlib
import logging
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import matplotlib

matplotlib.use("Agg")
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.colors import to_hex, to_rgb  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.legend import Legend  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402
from matplotlib.typing import FillStyleType  # noqa: E402

log = logging.getLogger(__name__)

# Okabe & Ito (2008), "Color Universal Design": distinguishable under the common colour-vision deficiencies.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "bluish green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermilion": "#D55E00",
    "reddish purple": "#CC79A7",
}
# Shipped objectives: a reserved colour each, in every study (`none`, the control, is black).
OBJECTIVE_COLOURS = {
    "none": OKABE_ITO["black"],
    "cda": OKABE_ITO["orange"],
    "dropout": OKABE_ITO["sky blue"],
    "counterfactual_consistency": OKABE_ITO["bluish green"],
    "unlikelihood": OKABE_ITO["vermilion"],
}
# Other objectives (plugins) take these; yellow last, it is the faintest on white.
SPARE_COLOURS = (OKABE_ITO["blue"], OKABE_ITO["reddish purple"], OKABE_ITO["yellow"])
# Model markers; the circle is kept for the remedy key in legends (a fill drawn on a shape no model uses).
MODEL_MARKERS = ("s", "^", "D", "v", "P", "X", "*", "<", ">", "p", "h", "8")
REMEDY_KEY_MARKER = "o"
# Remedy fills: shipped remedies reserved, others in order.
REMEDY_FILLS: dict[str, FillStyleType] = {
    "none": "full",
    "replay": "none",
    "l2sp": "left",
    "ewc": "right",
    "lora": "bottom",
}
SPARE_FILLS: tuple[FillStyleType, ...] = ("top",)
FILL_WORDS = {
    "full": "filled",
    "none": "hollow",
    "left": "left half",
    "right": "right half",
    "bottom": "lower half",
    "top": "upper half",
}
# Verdict colours (Okabe–Ito), always next to the verdict's word.
VERDICT_COLOURS = {"supports": OKABE_ITO["bluish green"], "contradicts": OKABE_ITO["vermilion"]}
INCONCLUSIVE_COLOUR = "#6b6b6b"
FIT_COLOUR = "#555555"  # regression lines and bands: neutral, never an objective's colour
BAND_COLOUR = "#bbbbbb"

RC: dict[Any, Any] = {  # keys: matplotlib rcParams
    "font.size": 8,
    "axes.titlesize": 9,
    "axes.labelsize": 8,
    "legend.fontsize": 7,
    "figure.titlesize": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.5,
    "lines.linewidth": 1.2,
    "lines.markersize": 5,
}

PANEL_WIDTH = 3.4
PANEL_HEIGHT = 3.0
LEGEND_ROW = 0.16  # inches per legend row at legend.fontsize 7
# Characters per line of an axis label (8 pt): x labels span a panel's width, y labels its axes' height.
X_LABEL_CHARS = 52
Y_LABEL_CHARS = 36
SMALL = 6  # font size of the raw column names (traceability) under a figure


def _tint(colour: str, amount: float) -> str:
    """`colour` mixed with white (amount 0 = unchanged)."""
    r, g, b = to_rgb(colour)
    return to_hex((r + (1 - r) * amount, g + (1 - g) * amount, b + (1 - b) * amount))


def _stable_index(name: str, size: int) -> int:
    """A position in 0..size-1 fixed by the name alone (not Python's salted hash)."""
    return int(hashlib.sha256(name.encode()).hexdigest(), 16) % size


def _spare_palettes() -> list[list[str]]:
    """The spare colours, then two rounds of paler tints of the whole palette (less distinct: logged)."""
    return [list(SPARE_COLOURS)] + [[_tint(c, amount) for c in OKABE_ITO.values()] for amount in (0.5, 0.72)]


def objective_colours(objectives: Iterable[str]) -> dict[str, str]:
    """Each objective's colour: reserved for the shipped ones; the others, in name order, take the first free
    colour of the spare palette from a position fixed by the name (then tints, when the spares run out)."""
    names = sorted(set(objectives))
    colours = {o: OBJECTIVE_COLOURS[o] for o in names if o in OBJECTIVE_COLOURS}
    palettes = _spare_palettes()
    used: set[str] = set()
    for name in (o for o in names if o not in OBJECTIVE_COLOURS):
        palette = next((p for p in palettes if any(c not in used for c in p)), None)
        if palette is None:
            raise ValueError(f"more objectives than distinct colours ({len(OBJECTIVE_COLOURS)} + spares)")
        if palette is not palettes[0]:
            log.warning("objective %s gets a pale tint: the palette's distinct colours are used up", name)
        start = _stable_index(name, len(palette))
        colour = next(c for c in palette[start:] + palette[:start] if c not in used)
        colours[name] = colour
        used.add(colour)
    return colours


def _remedy_fills(remedies: Iterable[str]) -> dict[str, FillStyleType]:
    """Each remedy's fill: reserved for the shipped ones; others take the spare fill, then the fills of shipped
    remedies absent from this study."""
    names = sorted(set(remedies))
    out = {n: REMEDY_FILLS[n] for n in names if n in REMEDY_FILLS}
    free = [f for f in (*SPARE_FILLS, *REMEDY_FILLS.values()) if f not in out.values()]
    for i, name in enumerate(n for n in names if n not in REMEDY_FILLS):
        if i >= len(free):
            raise ValueError(f"more remedies ({len(names)}) than distinct fills ({len(FILL_WORDS)})")
        out[name] = free[i]
    return out


@dataclass(frozen=True)
class StudyStyle:
    """The encodings of one study, shared by all its figures: objective -> colour, model -> marker,
    remedy -> fill style."""

    colours: dict[str, str]
    markers: dict[str, str]
    fills: dict[str, FillStyleType]

    @classmethod
    def for_levels(cls, objectives: Iterable[str], models: Iterable[str], remedies: Iterable[str]) -> StudyStyle:
        models = sorted(set(models))
        if len(models) > len(MODEL_MARKERS):
            raise ValueError(f"more models ({len(models)}) than distinct markers ({len(MODEL_MARKERS)})")
        return cls(
            colours=objective_colours(objectives),
            markers={m: MODEL_MARKERS[i] for i, m in enumerate(models)},
            fills=_remedy_fills(remedies),
        )

    def point(self, objective: str, model: str, remedy: str | None = None, **extra: Any) -> dict[str, Any]:
        """Keyword arguments of `ax.plot` for one run's point; `gid` names the run's levels (tests read it)."""
        colour = self.colours[objective]
        kwargs = {
            "color": colour,
            "marker": self.markers[model],
            "markeredgecolor": colour,
            "fillstyle": self.fills[remedy] if remedy is not None else "full",
            "markerfacecoloralt": "white",
            "linestyle": "none",
            "gid": f"objective={objective};model={model}" + (f";remedy={remedy}" if remedy is not None else ""),
        }
        kwargs.update(extra)
        return kwargs

    def legend_groups(
        self,
        objectives: Iterable[str] = (),
        models: Iterable[str] = (),
        remedies: Iterable[str] = (),
    ) -> list[tuple[str, list[Artist]]]:
        """Legend entries per factor, each a key no other entry uses: objectives as colour swatches, models as
        black markers, remedies as fills of the circle (no model's marker)."""
        groups: list[tuple[str, list[Artist]]] = []
        objectives = sorted(set(objectives))
        if objectives:
            groups.append(
                (
                    "objective (colour)",
                    [Patch(facecolor=self.colours[o], edgecolor="none", label=o) for o in objectives],
                )
            )
        models = sorted(set(models))
        if models:
            groups.append(
                (
                    "model (marker)",
                    [Line2D([], [], marker=self.markers[m], color="black", linestyle="none", label=m) for m in models],
                )
            )
        remedies = sorted(set(remedies))
        if len(remedies) > 1:
            groups.append(
                (
                    "remedy (fill)",
                    [
                        Line2D(
                            [],
                            [],
                            marker=REMEDY_KEY_MARKER,
                            color="#333333",
                            fillstyle=self.fills[r],
                            markerfacecoloralt="white",
                            linestyle="none",
                            label=f"{r} ({FILL_WORDS[self.fills[r]]})",
                        )
                        for r in remedies
                    ],
                )
            )
        return groups


def grouped_legend(
    fig: Figure,
    groups: Sequence[tuple[str, list[Artist]]],
    extra: Sequence[Artist] = (),
    columns: dict[str, str | None] | None = None,
) -> Legend:
    """One legend below the panels, a column per factor headed by its bold name (entries of a factor never
    share a column with another factor's); `extra` (e.g. fit lines) gets a column of its own headed "lines".
    `columns` (role -> column of the tidy table) is written in small grey type as the legend's title, so that
    the figure names the raw columns it plots (traceability) and the layout keeps it clear of the rest."""
    blocks = [(title, list(handles)) for title, handles in groups]
    if extra:
        blocks.append(("lines", list(extra)))
    depth = max((len(h) for _, h in blocks), default=0)
    handles: list[Artist] = []
    headers = set()
    for header, entries in blocks:
        headers.add(len(handles))
        handles.append(Line2D([], [], linestyle="none", label=header))
        handles += entries
        handles += [Line2D([], [], linestyle="none", label=" ") for _ in range(depth - len(entries))]
    parts = [f"{role} = {column}" for role, column in (columns or {}).items() if column]
    note_chars = int(fig.get_figwidth() * 72 / (SMALL * 0.55))
    title = wrap("columns: " + "; ".join(parts), note_chars) if parts else None
    note_lines = title.count("\n") + 1 if title else 0
    # The panels keep their size: the figure grows by the legend's rows (constrained layout places it below).
    fig.set_figheight(fig.get_figheight() + (depth + 1) * LEGEND_ROW + note_lines * 0.11 + 0.1)
    legend = fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=max(1, len(blocks)),
        frameon=False,
        handlelength=1.4,
        columnspacing=1.6,
        title=title,
        title_fontsize=SMALL,
    )
    legend.get_title().set_color("#666666")
    for i, text in enumerate(legend.get_texts()):
        if i in headers:
            text.set_fontweight("bold")
    return legend


def wrap(text: str, width: int) -> str:
    """Each line of `text` wrapped at `width` characters."""
    return "\n".join(textwrap.fill(line, width) if line else line for line in text.split("\n"))


def note(ax: Any, text: str) -> None:
    """A visible message inside the axes (e.g. why no fit is drawn)."""
    ax.text(
        0.5,
        0.5,
        wrap(text, 40),
        transform=ax.transAxes,
        ha="center",
        va="center",
        fontsize=7,
        color="#444444",
        bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "#999999"},
    )
