"""findings.md's bias section: every bias score's paired change of each fine-tuned (and fused) checkpoint against
its base, with its 95% paired bootstrap interval over items, the flips and the exact McNemar p, under the
convention the score follows (named); then the mean change over seeds per grid cell (`bias_changes`,
docs/metrics.md §5.2 and §5.3). Deterministic: rows in sorted order, numbers as `numbers.number` prints them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from fairforget.analysis import columns as cols
from fairforget.analysis.bias_changes import CELL, PairedScore, paired_score_of, paired_scores, seed_cells
from fairforget.analysis.numbers import MISSING, interval, number
from fairforget.analysis.settings import AnalysisSettings

RUN_KEYS = ["model", "objective", "remedy", "size", "seed"]
HEADING = "## Bias: paired change of each checkpoint against its base"


def _value(row: Mapping[str, Any], column: str) -> float | None:
    value = row.get(column)
    return None if value is None else float(value)


def _change(row: Mapping[str, Any], column: str) -> str:
    low, high = _value(row, f"{column}.ci_low"), _value(row, f"{column}.ci_high")
    ci = (low, high) if low is not None and high is not None else None
    return f"{number(_value(row, column), scale=100.0)}{interval(ci)}"


def _count(row: Mapping[str, Any], column: str) -> str:
    value = _value(row, column)
    return MISSING if value is None else str(int(value))


def _score_lines(frame: pl.DataFrame, score: PairedScore, kinds: Mapping[str, str], causal: str) -> list[str]:
    """One score's table: a row per checkpoint with a change, except, for a named convention's columns, the
    models whose own column follows that convention (the same numbers, listed under the own column)."""
    part = frame.filter(pl.col(score.column).is_not_null()).sort(RUN_KEYS)
    if score.short is not None:
        own = PairedScore(score.group, None, score.statistic)
        repeated = [m for m, k in kinds.items() if score.convention(k, causal) == own.convention(k, causal)]
        part = part.filter(~pl.col("model").cast(pl.Utf8).is_in(repeated))
    if part.is_empty():
        return []
    lines = [
        f"### `{score.column}`: change in `{score.score}`",
        "",
        "| model | convention | objective | remedy | size | seed | items | change [95% CI] | flips to anti / to "
        "stereo | McNemar p |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in part.iter_rows(named=True):
        model = str(row["model"])
        lines.append(
            f"| {model} | `{score.convention(kinds.get(model), causal)}` | {row['objective']} | {row['remedy']} | "
            f"{row['size']} | {row['seed']} | {_count(row, f'{score.column}.n')} | {_change(row, score.column)} | "
            f"{_count(row, score.sibling('flips_to_anti'))} / {_count(row, score.sibling('flips_to_stereo'))} | "
            f"{number(_value(row, score.sibling('mcnemar_p')))} |"
        )
    return [*lines, ""]


def _seed_lines(frame: pl.DataFrame, scores: list[PairedScore], alpha: float) -> list[str]:
    """The mean change over seeds per cell with >= 2 seeds, every score; one sentence when no cell has them."""
    level = f"{1 - alpha:.0%}"
    rows = []
    for score in scores:
        for cell, seeds in seed_cells(frame, score.column, alpha):
            ci = (seeds.low, seeds.high) if seeds.low is not None and seeds.high is not None else None
            rows.append(
                f"| `{score.column}` | {' | '.join(cell[name] for name in CELL)} | {seeds.seeds} | "
                f"{number(seeds.mean, scale=100.0)}{interval(ci)} | {number(seeds.sd)} |"
            )
    lines = [
        "### Over fine-tuning seeds",
        "",
        f"Per (model, objective, remedy, size) cell with at least 2 seeds: the mean of the seeds' changes with its "
        f"{level} t interval; unit of replication: the seed (docs/metrics.md §5.3). All seeds are scored on the "
        "same items against the same base, so the interval is for the mean change over seeds on these items; "
        "the item sampling is in each run's interval above.",
        "",
    ]
    if not rows:
        return [*lines, "No cell has 2 seeds or more: no interval over seeds.", ""]
    header = "| score | " + " | ".join(CELL) + f" | seeds | mean change [{level} t CI] | sd over seeds |"
    return [*lines, header, "|" + "---|" * (len(CELL) + 4), *rows, ""]


def _fused_lines(fusion: pl.DataFrame, score: PairedScore, kinds: Mapping[str, str], causal: str) -> list[str]:
    """The fused checkpoints (0 < alpha < 1) of the fusion table: the analysis's bias score's change."""
    if score.column not in fusion.columns:
        return []
    part = fusion.filter((pl.col("alpha") > 0) & (pl.col("alpha") < 1) & pl.col(score.column).is_not_null())
    if part.is_empty():
        return []
    lines = [
        f"### Fused checkpoints: `{score.column}`",
        "",
        "Each fused checkpoint (base and debiased weights interpolated at α, docs/metrics.md §11) against the "
        "base, as above.",
        "",
        "| model | convention | objective | remedy | size | seed | α | change [95% CI] | McNemar p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in part.sort([*RUN_KEYS, "alpha"]).iter_rows(named=True):
        model = str(row["model"])
        lines.append(
            f"| {model} | `{score.convention(kinds.get(model), causal)}` | {row['objective']} | {row['remedy']} | "
            f"{row['size']} | {row['seed']} | {row['alpha']:g} | {_change(row, score.column)} | "
            f"{number(_value(row, score.sibling('mcnemar_p')))} |"
        )
    return [*lines, ""]


def render_bias(
    frame: pl.DataFrame,
    settings: AnalysisSettings,
    kinds: Mapping[str, str],
    causal_pair_score: str = "mean",
    fusion: pl.DataFrame | None = None,
) -> str:
    """The bias section of findings.md (Markdown, ending with a newline). `kinds`: model -> kind (the config's
    `models:`); `causal_pair_score`: `evaluation.causal_pair_score` (which convention the causal CrowS-Pairs
    default follows)."""
    scores = paired_scores(frame)
    bias = cols.bias_column(frame, settings)
    used = paired_score_of(bias)
    lines = [
        HEADING,
        "",
        "Each bias score of a fine-tuned checkpoint minus the same score of its base model, both scored on the same "
        "items (docs/metrics.md §5.2): the change (points of the score) with its 95% paired bootstrap interval "
        "over items (pairs; StereoSet: clusters), the items that flipped from preferring the stereotype to not "
        "(to anti) and back (to stereo), and the exact McNemar p of those flips. `convention`: how the score is "
        "computed (docs/metrics.md §5.1); a convention's table leaves out the models whose metric's own column "
        "follows it (the same numbers, in the own column's table). StereoSet's change per target term is in the "
        "run table "
        "(`stereoset[.<convention>].ss_paired_change_<target>`, `mcnemar_p_<target>`).",
        "",
    ]
    if bias is not None:
        lines += [f"The findings' bias metric is `{bias}`" + (f"; its change: `{used.column}`." if used else "."), ""]
    if not scores:
        return "\n".join([*lines, "The run table has no paired bias change (no fine-tuned checkpoint scored).", ""])
    for score in scores:
        lines += _score_lines(frame, score, kinds, causal_pair_score)
    lines += _seed_lines(frame, scores, settings.alpha)
    if fusion is not None and used is not None:
        lines += _fused_lines(fusion, used, kinds, causal_pair_score)
    return "\n".join(lines)
