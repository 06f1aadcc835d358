"""The verdicts figure: the paper's three claims in one picture, each with its effect estimates, their CIs, the
test behind the verdict and the verdict itself, drawn from the same `Finding` objects that findings.md reports
(so the two can never disagree).

One block per claim: F1 as stated (the two contrasts of the standardized within-model coefficients), F1's plain
association, F2, and F3 per metric (one row per remedy arm). Left: the estimates with their (1 - alpha) CIs on
the claim's own scale, the side the claim predicts shaded (F3: the equivalence margin); right: the verdict, the
numbers and the test.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.artist import Artist  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from fairforget.analysis.claims import INCONCLUSIVE, ArmTest, Finding, Power, SignTest, remedies_verdict  # noqa: E402
from fairforget.analysis.dictionary import label  # noqa: E402
from fairforget.analysis.numbers import interval, number, relabellings  # noqa: E402
from fairforget.analysis.permutation import CoefficientTest  # noqa: E402
from fairforget.analysis.reach import Reach, count  # noqa: E402
from fairforget.analysis.settings import AnalysisSettings  # noqa: E402
from fairforget.analysis.style import INCONCLUSIVE_COLOUR, RC, VERDICT_COLOURS, grouped_legend, wrap  # noqa: E402

CLAIMED_SHADE = "#e3e3e3"
MARGIN_SHADE = "#cfe6f3"  # a pale sky blue: the equivalence margin, never a verdict colour
FIGURE_WIDTH = 9.0
TEXT_CHARS = 74  # characters per line of the right-hand text at 7 pt
CLAIM_CHARS = 56  # characters per line of a block's title at 8.5 pt


@dataclass(frozen=True)
class Row:
    """One estimate: its label, value and CI (None = undefined, `note` says why), and its p-values as text."""

    label: str
    estimate: float | None
    ci: tuple[float, float] | None
    p_text: str = ""
    note: str = ""
    primary: bool = True  # the estimate the verdict rests on (per-model rows are shown lighter)


@dataclass(frozen=True)
class Block:
    """One claim's panel: what is claimed, the verdict, the estimates and the test, on one scale (`x_label`).
    `region`: "negative" / "positive" shades the side the claim predicts; "margin" shades ±`margin`."""

    key: str
    claim: str
    verdict: str
    x_label: str
    rows: list[Row]
    test: str
    region: str | None = None
    margin: float | None = None
    extra: list[str] = field(default_factory=list)


def _row(row_label: str, test: CoefficientTest | None, alpha: float, primary: bool = True) -> Row:
    if test is None or test.estimate is None:
        return Row(row_label, None, None, note=(test.reason if test is not None else None) or "undefined")
    p = test.p_two_sided
    return Row(row_label, test.estimate, test.ci(alpha), "" if p is None else f"p = {number(p)}", primary=primary)


def _mde_line(power: Power, what: str) -> list[str]:
    if power.mde is None:
        return [f"Power: {power.note}."] if power.note else []
    return [f"Smallest {what} this rule detects with 80% power (MDE): {number(power.mde)}."]


def _reach_text(reach: Sequence[Reach]) -> list[str]:
    """One line: whether each verdict is reachable on this grid, and the grid that would reach it."""
    if not reach:
        return []
    parts = []
    for r in reach:
        state = "reachable" if r.reachable else "unreachable" + (f", needs ≥ {r.needed} {r.unit}" if r.needed else "")
        parts.append(f"{r.verdict} {state} (smallest p {number(r.floor)} vs {number(r.threshold)})")
    return [f"Reachable on this grid ({reach[0].grid}): " + "; ".join(parts) + "."]


def _slope_block(
    key: str, claim: str, verdict: str, test: SignTest, alpha: float, reach: Sequence[Reach] = ()
) -> Block:
    fit = test.slope
    x, y = label(fit.x), label(fit.y)
    rows = [_row("within model", fit.within, alpha)]
    rows += [_row(f"model {m}", t, alpha, primary=False) for m, t in fit.per_model.items()]
    numbers = f"within-model slope {number(fit.within.estimate)}{interval(fit.within.ci(alpha))}"
    if fit.within.p_two_sided is not None:
        numbers += f", permutation p = {number(fit.within.p_two_sided)}"
    per_model = ", ".join(f"{m} {number(t.estimate)}" for m, t in fit.per_model.items())
    return Block(
        key=key,
        claim=claim,
        verdict=verdict,
        x_label=f"slope of {y.name.lower()} on {x.name.lower()} ({y.unit} per {x.unit})",
        rows=rows,
        test=(
            f"Test: Freedman–Lane, {relabellings(fit.within.draws, fit.exact)}, fixed effects per "
            f"{' × '.join(fit.strata)}; every model's own slope must agree in sign."
        ),
        region="negative" if test.claimed_sign < 0 else "positive",
        extra=[numbers + f"; per model: {per_model}." if per_model else numbers + "."]
        + _mde_line(test.power, "slope")
        + _reach_text(reach),
    )


def _f1_block(f: Finding, alpha: float) -> Block | None:
    u = f.unique
    if u is None:
        return None
    rows: list[Row] = []
    b = u.standardized()
    if u.sum_test is not None and u.difference_test is not None and b is not None:
        total, gap = u.sum_test, u.difference_test
        gap_ci = gap.ci(alpha)
        rows = [
            _row("b*overall + b*selective", total, alpha),
            Row(
                "b*overall − b*selective",
                None if gap.estimate is None else -gap.estimate,
                None if gap_ci is None else (-gap_ci[1], -gap_ci[0]),
                "" if gap.p_two_sided is None else f"p = {number(gap.p_two_sided)}",
                note=gap.reason or "",
            ),
        ]
        numbers = (
            f"b*overall = {number(b[0])}, b*selective = {number(b[1])}; sum {number(total.estimate)}"
            f"{interval(total.ci(alpha))}, p = {number(total.p_two_sided)}; difference {number(rows[1].estimate)}"
            f"{interval(rows[1].ci)}, p = {number(gap.p_two_sided)}."
        )
        draws = relabellings(total.draws, u.exact)
    else:
        numbers, draws = f"Undefined: {u.reason}.", "objective relabellings"
    return Block(
        key="F1",
        claim="downstream change goes with overall rather than selective forgetting (both contrasts < 0)",
        verdict=f.verdict,
        x_label="standardized within-model coefficient b* (within-model sd of downstream change per sd)",
        rows=rows,
        test=(
            f"Test: Freedman–Lane on both contrasts, {draws}; supports needs both < 0 at alpha and every "
            "model's own estimates in the claim."
        ),
        region="negative",
        extra=[numbers]
        + (
            [
                f"Predictors' correlation within model r12 = {number(u.r12)}: variance of b*overall − b*selective "
                f"inflated {number(u.vif_difference)}×."
            ]
            if u.r12 is not None
            else []
        )
        + _mde_line(f.unique_power, "downstream-on-overall slope")
        + _reach_text(f.reach),
    )


def _arm_row(a: ArmTest) -> Row:
    if a.estimate is None:
        return Row(a.arm, None, None, note=a.note or "no test")
    tost = "" if a.p_tost is None else f", TOST p (every model) = {number(a.p_tost)}"
    test = f"sign-flip p over {count(a.units, 'seeds')} = {number(a.p)}, Holm p = {number(a.p_holm)}{tost}"
    return Row(a.arm, a.estimate, a.ci, test)


def _f3_blocks(f: Finding, settings: AnalysisSettings) -> list[Block]:
    blocks = []
    for metric in dict.fromkeys(a.metric for a in f.arms):
        arms = [a for a in f.arms if a.metric == metric]
        lab = label(metric)
        helpful = "lower" if arms[0].helpful_sign < 0 else "higher"
        margin = arms[0].margin
        # The title carries F3's verdict over every metric; say what this metric alone shows, so a block whose own
        # arms are not significant does not read as the reason for a "contradicts" set by another metric.
        own_verdict, _ = remedies_verdict(arms, settings.alpha)
        lines = [f"This metric alone: {own_verdict} (the title is F3's verdict over every metric)."]
        for a, row in zip(arms, (_arm_row(a) for a in arms)):
            if row.estimate is None:
                lines.append(f"{a.arm}: {row.note}.")
            else:
                lines.append(f"{a.arm}: {row.estimate:+.3g}{interval(row.ci)}, {row.p_text}.")
        blocks.append(
            Block(
                key="F3",
                claim=f"remedies do not change {lab.name.lower()} ({helpful} would be helpful)",
                verdict=f.verdict,
                x_label=(
                    f"{lab.name.lower()}: remedy − '{settings.baseline_remedy}' (more data: change over the size "
                    f"range), {lab.unit}"
                ),
                rows=[_arm_row(a) for a in arms],
                test=(
                    "Test: sign flips of whole seeds (the unit: a seed's runs share its data and remedy draws) of "
                    "the per-seed mean paired difference (more data: per-seed slope), Holm over all arms and "
                    "metrics; supports needs every arm within every model's own margin (TOST per model"
                    f"{'' if margin is None else f'; smallest margin ±{number(margin)} shaded'})."
                ),
                region="margin" if margin is not None else None,
                margin=margin,
                extra=lines + _reach_text(arms[0].reach),
            )
        )
    if not blocks:
        blocks.append(
            Block(
                key="F3",
                claim="remedies neither reduce overall forgetting nor help downstream",
                verdict=f.verdict,
                x_label="(no test)",
                rows=[],
                test="",
                extra=[f"{f.reason}."],
            )
        )
    return blocks


def verdict_blocks(findings: Sequence[Finding], settings: AnalysisSettings) -> list[Block]:
    """The figure's content from the findings: F1 as stated, F1's plain association, F2, F3 per metric."""
    by_key = {f.key: f for f in findings}
    blocks: list[Block] = []
    f1 = by_key.get("F1")
    if f1 is not None:
        stated = _f1_block(f1, settings.alpha)
        if stated is not None:
            blocks.append(stated)
        if f1.sign_test is not None:
            blocks.append(
                _slope_block(
                    "F1 plain",
                    "more overall forgetting, lower downstream change (the plain association, slope < 0)",
                    f1.sign_test.verdict,
                    f1.sign_test,
                    settings.alpha,
                    f1.plain_reach,
                )
            )
        if stated is None and f1.sign_test is None:
            blocks.append(Block("F1", "downstream performance goes with overall forgetting", f1.verdict, "", [], ""))
    f2 = by_key.get("F2")
    if f2 is not None:
        if f2.sign_test is not None:
            blocks.append(
                _slope_block(
                    "F2",
                    "selective forgetting goes with more overall forgetting (slope > 0)",
                    f2.verdict,
                    f2.sign_test,
                    settings.alpha,
                    f2.reach,
                )
            )
        else:
            blocks.append(Block("F2", "selective forgetting goes with more overall forgetting", f2.verdict, "", [], ""))
    f3 = by_key.get("F3")
    if f3 is not None:
        blocks += _f3_blocks(f3, settings)
    for block, f in ((b, by_key.get(b.key.split()[0])) for b in blocks):
        if not block.rows and f is not None and f.reason and not block.extra:
            block.extra.append(f"{f.reason}.")
    return blocks


def verdict_colour(verdict: str) -> str:
    return VERDICT_COLOURS.get(verdict, INCONCLUSIVE_COLOUR)


def _limits(block: Block) -> tuple[float, float]:
    values = [0.0]
    for row in block.rows:
        if row.estimate is not None:
            values.append(row.estimate)
        if row.ci is not None:
            values += list(row.ci)
    if block.margin is not None:
        values += [-block.margin, block.margin]
    low, high = min(values), max(values)
    pad = 0.08 * (high - low) if high > low else max(abs(high), 1.0) * 0.5
    return low - pad, high + pad


def _draw_estimates(ax: plt.Axes, block: Block) -> None:
    low, high = _limits(block)
    if block.region == "negative":
        ax.axvspan(low, 0, color=CLAIMED_SHADE, linewidth=0, zorder=0)
    elif block.region == "positive":
        ax.axvspan(0, high, color=CLAIMED_SHADE, linewidth=0, zorder=0)
    elif block.region == "margin" and block.margin is not None:
        ax.axvspan(-block.margin, block.margin, color=MARGIN_SHADE, linewidth=0, zorder=0)
    ax.axvline(0, color="#555555", linewidth=0.8, linestyle="--", zorder=1)
    positions = np.arange(len(block.rows))
    for y, row in enumerate(block.rows):
        colour = "black" if row.primary else "#777777"
        if row.estimate is None:
            ax.text(0, y, f"undefined: {row.note}"[:60], ha="center", va="center", fontsize=6.5, color="#444444")
            continue
        if row.ci is not None:
            ax.plot(row.ci, [y, y], color=colour, linewidth=1.4 if row.primary else 1.0, zorder=2)
        ax.plot(row.estimate, y, marker="D", color=colour, markersize=5 if row.primary else 4, zorder=3)
    ax.set_yticks(positions, [row.label for row in block.rows], fontsize=7)
    ax.set_ylim(len(block.rows) - 0.4, -0.6)
    ax.set_xlim(low, high)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel(wrap(block.x_label, 70), fontsize=7)
    ax.tick_params(axis="x", labelsize=7)


def _draw_text(ax: plt.Axes, block: Block) -> None:
    ax.set_axis_off()
    colour = verdict_colour(block.verdict)
    ax.set_title(f"{block.key}: {block.verdict.upper()}", loc="left", fontsize=9, fontweight="bold", color=colour)
    body = "\n".join(wrap(line, TEXT_CHARS) for line in [*block.extra, block.test] if line)
    ax.text(0, 1, body, transform=ax.transAxes, va="top", ha="left", fontsize=7, linespacing=1.25)


def _text_lines(block: Block) -> int:
    return sum(wrap(line, TEXT_CHARS).count("\n") + 1 for line in [*block.extra, block.test] if line)


def verdicts_figure(blocks: Sequence[Block], n_runs: int, settings: AnalysisSettings) -> Figure:
    """The verdicts figure from `verdict_blocks` (drawn under the figures' rc settings)."""
    with plt.rc_context(RC):
        return _verdicts_figure(blocks, n_runs, settings)


def _verdicts_figure(blocks: Sequence[Block], n_runs: int, settings: AnalysisSettings) -> Figure:
    # Each block is as tall as its estimates or its text needs, plus its title and x label.
    heights = [
        max(0.3 * max(1, len(b.rows)) + 0.25 + 0.14 * (wrap(b.x_label, 70).count("\n") + 1), 0.128 * _text_lines(b))
        + 0.45
        for b in blocks
    ]
    fig = plt.figure(figsize=(FIGURE_WIDTH, sum(heights) + 0.9), layout="constrained")
    grid = fig.add_gridspec(len(blocks), 2, height_ratios=heights, width_ratios=[1.0, 1.05])
    for i, block in enumerate(blocks):
        left, right = fig.add_subplot(grid[i, 0]), fig.add_subplot(grid[i, 1])
        left.set_title(wrap(f"{block.key}: {block.claim}", CLAIM_CHARS), loc="left", fontsize=8.5)
        if block.rows:
            _draw_estimates(left, block)
        else:
            left.set_axis_off()
        _draw_text(right, block)
    fig.suptitle(
        f"Verdicts on the paper's three claims ({n_runs} runs; alpha = {settings.alpha}; findings.md has every number)",
        fontsize=10,
    )
    keys: list[Artist] = [
        Line2D(
            [],
            [],
            color="black",
            marker="D",
            markersize=5,
            linewidth=1.4,
            label=f"estimate, {1 - settings.alpha:.0%} t CI (descriptive: verdicts rest on the permutation tests)",
        ),
        Line2D([], [], color="#777777", marker="D", markersize=4, linewidth=1.0, label="per model"),
        Patch(facecolor=CLAIMED_SHADE, edgecolor="none", label="side the claim predicts"),
        Patch(facecolor=MARGIN_SHADE, edgecolor="none", label="F3 equivalence margin (smallest model's)"),
    ]
    verdict_keys: list[Artist] = [
        Patch(facecolor=verdict_colour(v), edgecolor="none", label=v) for v in ("supports", "contradicts", INCONCLUSIVE)
    ]
    grouped_legend(fig, [("estimates", keys), ("verdict (colour)", verdict_keys)])
    return fig
