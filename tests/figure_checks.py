"""What a reader of a figure would notice, as checks on a rendered matplotlib figure: overlapping or cut-off text,
legend keys that mean two things, points whose colour or marker disagrees with the legend.

Each check returns a list of problems (empty = fine), so a test can show all of them at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

from matplotlib.colors import to_hex
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.text import Text
from matplotlib.transforms import Bbox

NO_MARKER = (None, "", "None", "none", " ")


def _axis_tick_labels(axis, low: float, high: float) -> list[Text]:
    low, high = min(low, high), max(low, high)
    span = high - low
    labels = []
    for tick in axis.get_major_ticks():
        if low - 1e-9 * span <= tick.get_loc() <= high + 1e-9 * span:
            labels += [t for t in (tick.label1, tick.label2) if t.get_visible()]
    return labels


def drawn_texts(fig: Figure) -> list[Text]:
    """Every text the figure draws (titles, axis and tick labels, annotations, legends) with visible content."""
    texts: list[Text] = list(fig.texts)
    for name in ("_suptitle", "_supxlabel", "_supylabel"):
        text = getattr(fig, name, None)
        if text is not None:
            texts.append(text)
    for legend in fig.legends:
        texts += [legend.get_title(), *legend.get_texts()]
    for ax in fig.axes:
        if not ax.get_visible():
            continue
        texts += [ax.title, ax._left_title, ax._right_title]
        texts += list(ax.texts)
        if ax.axison:
            texts += [ax.xaxis.label, ax.yaxis.label, ax.xaxis.get_offset_text(), ax.yaxis.get_offset_text()]
            texts += _axis_tick_labels(ax.xaxis, *ax.get_xlim()) + _axis_tick_labels(ax.yaxis, *ax.get_ylim())
        legend = ax.get_legend()
        if legend is not None:
            texts += [legend.get_title(), *legend.get_texts()]
    unique = list({id(t): t for t in texts if t is not None}.values())  # the suptitle is also in fig.texts
    return [t for t in unique if t.get_visible() and t.get_text().strip()]


def _boxes(fig: Figure) -> list[tuple[Text, Bbox]]:
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    return [(t, t.get_window_extent(renderer)) for t in drawn_texts(fig)]


def _name(text: Text) -> str:
    return repr(text.get_text()[:50])


def text_overlaps(fig: Figure, tolerance: float = 0.5) -> list[str]:
    """Pairs of drawn texts whose bounding boxes overlap by more than `tolerance` pixels each way."""
    problems = []
    for (a, box_a), (b, box_b) in combinations(_boxes(fig), 2):
        width = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        height = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if width > tolerance and height > tolerance:
            problems.append(f"{_name(a)} overlaps {_name(b)} ({width:.0f} x {height:.0f} px)")
    return problems


def texts_outside(fig: Figure, tolerance: float = 1.0) -> list[str]:
    """Drawn texts that reach beyond the figure's edges (cut off in the saved image)."""
    canvas = fig.bbox
    return [
        f"{_name(t)} is cut off by the figure edge"
        for t, box in _boxes(fig)
        if box.x0 < canvas.x0 - tolerance
        or box.y0 < canvas.y0 - tolerance
        or box.x1 > canvas.x1 + tolerance
        or box.y1 > canvas.y1 + tolerance
    ]


@dataclass(frozen=True)
class LegendEntry:
    factor: str  # the bold header of its column ("" if none)
    label: str
    key: tuple  # what the reader sees: shape, fill, colours, line style
    marker: str | None
    colour: str | None


def _key(handle) -> tuple[tuple, str | None, str | None]:
    if isinstance(handle, Patch):
        face = handle.get_facecolor()
        return ("patch", to_hex(face, keep_alpha=True), handle.get_hatch()), None, to_hex(face)
    if isinstance(handle, Line2D):
        marker = handle.get_marker()
        marker = None if marker in NO_MARKER else str(marker)
        face = handle.get_markerfacecolor()
        key = (
            "line",
            marker,
            handle.get_fillstyle() if marker else None,
            to_hex(handle.get_color()),
            to_hex(face) if marker and face not in ("none", "None") else None,
            handle.get_linestyle(),
        )
        return key, marker, to_hex(handle.get_color())
    return (type(handle).__name__,), None, None


def legend_entries(fig: Figure) -> list[LegendEntry]:
    """The figure legends' entries; a bold entry without a visible key starts a factor's column."""
    entries = []
    for legend in fig.legends:
        factor = ""
        for text, handle in zip(legend.get_texts(), legend.legend_handles):
            key, marker, colour = _key(handle)
            blank = key[0] == "line" and key[1] is None and key[-1] in ("None", "none", "", " ")
            if blank and text.get_fontweight() in ("bold", 700):
                factor = text.get_text()
                continue
            if blank or not text.get_text().strip():
                continue
            entries.append(LegendEntry(factor, text.get_text(), key, marker, colour))
    return entries


def legend_problems(fig: Figure) -> list[str]:
    """A legend key that stands for two entries, or a marker shape that means two different factors."""
    problems = []
    entries = legend_entries(fig)
    seen: dict[tuple, LegendEntry] = {}
    for entry in entries:
        if entry.key in seen:
            other = seen[entry.key]
            problems.append(
                f"one key for two entries: {other.factor} {other.label!r} and {entry.factor} {entry.label!r}"
            )
        seen[entry.key] = entry
    factors_of: dict[str, set[str]] = {}
    for entry in entries:
        if entry.marker is not None:
            factors_of.setdefault(entry.marker, set()).add(entry.factor)
    for marker, factors in factors_of.items():
        if len(factors) > 1:
            problems.append(f"marker {marker!r} means {sorted(factors)}")
    return problems


def legend_encoding(fig: Figure) -> dict[str, dict[str, tuple]]:
    """factor header -> entry label -> its key (as `LegendEntry.key`)."""
    out: dict[str, dict[str, tuple]] = {}
    for entry in legend_entries(fig):
        out.setdefault(entry.factor, {})[entry.label] = entry.key
    return out


def objective_colours(fig: Figure) -> dict[str, str]:
    """objective -> colour as the figure's legend states it."""
    return {e.label: e.colour for e in legend_entries(fig) if e.factor.startswith("objective") and e.colour is not None}


def data_problems(fig: Figure) -> list[str]:
    """Plotted runs (artists with a gid "objective=...;model=...[;remedy=...]") whose colour, marker or fill
    differs from what the legend says for their objective, model and remedy."""
    entries = legend_entries(fig)
    colours = {e.label: e.colour for e in entries if e.factor.startswith("objective")}
    markers = {e.label: e.marker for e in entries if e.factor.startswith("model")}
    fills = {e.label.split(" (")[0]: e.key[2] for e in entries if e.factor.startswith("remedy")}
    problems = []
    for ax in fig.axes:
        for line in ax.get_lines():
            gid = line.get_gid() or ""
            if not gid.startswith("objective="):
                continue
            levels = dict(part.split("=", 1) for part in gid.split(";"))
            colour = to_hex(line.get_color())
            if colours.get(levels["objective"]) != colour:
                problems.append(f"{gid}: colour {colour}, legend {colours.get(levels['objective'])}")
            if markers.get(levels["model"]) != line.get_marker():
                problems.append(f"{gid}: marker {line.get_marker()!r}, legend {markers.get(levels['model'])!r}")
            if "remedy" in levels and len(fills) > 1 and fills.get(levels["remedy"]) != line.get_fillstyle():
                problems.append(f"{gid}: fill {line.get_fillstyle()}, legend {fills.get(levels['remedy'])}")
    return problems


def plotted_runs(fig: Figure) -> int:
    return sum(1 for ax in fig.axes for line in ax.get_lines() if (line.get_gid() or "").startswith("objective="))
