"""Fusion paths: the table of fused checkpoints, the best fusion weight per objective, and fusion vs the remedies.

Definitions (docs/metrics.md, section 11). A *unit* is one fused run (model, objective, remedy, size, seed); its
*path* is its points at the configured weights alpha: alpha = 0 is the base model (overall forgetting 0, the
base model's bias, downstream change 0), alpha = 1 the run's own checkpoint (its row of the run table), the
weights in between the fused checkpoints (`fusion_table`). Bias reduction r(alpha) = d(base) - d(alpha), with
d = |bias - ideal| when the bias metric has a no-bias value (50 for a stereotype preference) and d = bias
otherwise, as in the frontier figure.

The best alpha of an objective is the weight with the largest mean bias reduction over its units among the
weights whose mean overall forgetting is at most `fusion.forgetting_share` times that of alpha = 1.

Approximations, stated: the intervals are t intervals of a mean over units (normal approximation, as the F3
arms' CIs), the p-values exact sign-flip tests over units (Fisher 1935: valid for independent, symmetric
differences); the best alpha is chosen on the same units it is then tested on, so its tests are optimistic
(no correction for the selection), and the tests are not corrected for the several objectives and remedies.
With n units the sign-flip test cannot reach a two-sided p below 2^(1-n): a study with fewer units than
log2(2 / alpha) + 1 cannot detect any difference, which findings.md says.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import polars as pl
from scipy import stats

from fairforget.analysis import columns as cols
from fairforget.analysis.permutation import sign_flip_test
from fairforget.analysis.results import classify
from fairforget.analysis.settings import AnalysisSettings
from fairforget.analysis.table import build_run_table
from fairforget.errors import DataError
from fairforget.fusion import FILTER_KEYS, FusionSettings

UNIT_KEYS = ["model", "objective", "remedy", "size", "seed"]
ALPHA = "alpha"


@dataclass(frozen=True)
class Columns:
    """The run-table columns the fusion analysis reads (chosen as the frontier figure chooses them)."""

    forgetting: str
    bias: str
    ideal: float | None
    downstream: str | None

    @classmethod
    def of(cls, frame: pl.DataFrame, settings: AnalysisSettings) -> Columns:
        forgetting = cols.overall_forgetting_column(frame, settings)
        bias = cols.bias_column(frame, settings)
        if forgetting is None or bias is None:
            raise DataError("fusion: the run table has no overall forgetting or no bias column")
        return cls(forgetting, bias, cols.bias_ideal(bias, settings), cols.downstream_change_column(frame))

    def distance(self, values: pl.Expr) -> pl.Expr:
        return values if self.ideal is None else (values - self.ideal).abs()


def _selected(frame: pl.DataFrame, fusion: FusionSettings) -> pl.DataFrame:
    """The rows of the runs the `fusion:` filter selects."""
    for key, column in zip(FILTER_KEYS, ("model", "objective", "remedy", "seed")):
        values = getattr(fusion, key)
        if values is not None:
            frame = frame.filter(pl.col(column).is_in(list(values)))
    return frame


def _alpha_of(root: Path) -> float:
    name = root.name
    if not name.startswith("alpha"):
        raise DataError(f"{root}: not a fused results folder (fusion/alpha<weight>)")
    return float(name[len("alpha") :])


def build_fusion_table(
    run_frame: pl.DataFrame,
    eval_paths: Sequence[str | Path],
    downstream_paths: Sequence[str | Path],
    meta_paths: Sequence[str | Path],
    settings: AnalysisSettings,
    fusion: FusionSettings,
) -> pl.DataFrame:
    """One row per fused run and configured weight: the identity, `alpha`, `checkpoint_hash`, and the overall
    forgetting, bias (+ `.base`) and downstream change columns of the run table."""
    c = Columns.of(run_frame, settings)
    keep = [*UNIT_KEYS, ALPHA, "checkpoint_hash", c.forgetting, c.bias, f"{c.bias}.base"]
    keep += [c.downstream] if c.downstream else []
    units = _selected(run_frame, fusion)
    if units.is_empty():
        raise DataError("fusion: the `fusion:` filter selects no run of the run table")
    parts = [
        units.with_columns(pl.lit(1.0).alias(ALPHA)),
        units.with_columns(
            pl.lit(0.0).alias(ALPHA),
            pl.col("base_hash").alias("checkpoint_hash"),
            pl.lit(0.0).alias(c.forgetting),
            pl.col(f"{c.bias}.base").alias(c.bias),
            *([pl.lit(0.0).alias(c.downstream)] if c.downstream else []),
        ),
    ]
    by_alpha: dict[float, tuple[list[Path], list[Path]]] = {}
    shared: tuple[list[Path], list[Path]] = ([], [])
    for index, group in enumerate((eval_paths, downstream_paths)):
        for path in map(Path, group):
            info = classify(path)
            if info is None:
                raise DataError(f"{path}: not a result file of the workflow")
            if info.kind in ("eval_base", "downstream_base"):
                shared[index].append(path)
            else:
                by_alpha.setdefault(_alpha_of(info.root), ([], []))[index].append(path)
    for alpha, (evals, downstream) in sorted(by_alpha.items()):
        table = build_run_table([*shared[0], *evals], [*shared[1], *downstream], (), meta_paths, settings)
        fused = table.frame.with_columns(pl.lit(alpha).alias(ALPHA))
        missing = [name for name in keep if name not in fused.columns]
        if missing:
            raise DataError(f"fusion results at alpha={alpha:g} lack column(s) {', '.join(missing)}")
        parts.append(fused)
    frame = pl.concat([part.select(keep) for part in parts], how="vertical_relaxed")
    return frame.sort([*UNIT_KEYS, ALPHA])


def read_fusion_table(path: str | Path) -> pl.DataFrame:
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file not found")
    frame = pl.read_parquet(path)
    missing = [c for c in [*UNIT_KEYS, ALPHA] if c not in frame.columns]
    if missing:
        raise DataError(f"{path}: missing column(s) {', '.join(missing)}")
    return frame


# ------------------------------------------------------------------------------------------------ statistics


@dataclass
class MeanTest:
    """The mean of per-unit values with a (1 - alpha) t interval and the exact sign-flip p-value against 0."""

    n: int
    mean: float | None = None
    ci: tuple[float, float] | None = None
    p: float | None = None

    @classmethod
    def of(cls, values: np.ndarray, alpha: float, draws: int, seed: int) -> MeanTest:
        values = np.asarray(values, dtype=float)
        values = values[np.isfinite(values)]
        test = cls(n=int(values.size))
        if values.size == 0:
            return test
        test.mean = float(values.mean())
        if values.size >= 2:
            se = float(values.std(ddof=1)) / math.sqrt(values.size)
            half = float(stats.t.ppf(1 - alpha / 2, values.size - 1)) * se
            test.ci = (test.mean - half, test.mean + half)
            test.p = sign_flip_test(values, (0.0,), draws, seed)[0].two_sided
        return test

    def significant(self, alpha: float) -> int:
        """+1 / -1 when the mean is significantly above / below 0 at level alpha, else 0."""
        if self.p is None or self.mean is None or self.p >= alpha:
            return 0
        return 1 if self.mean > 0 else -1


@dataclass
class ObjectivePath:
    """One objective's fusion paths, summarised: means per alpha and the best alpha with its tests."""

    objective: str
    units: int
    alphas: list[float]
    forgetting: dict[float, float]
    reduction: dict[float, float]
    downstream: dict[float, float | None]
    best: float | None = None
    reason: str = ""
    best_reduction: MeanTest | None = None
    best_forgetting: MeanTest | None = None
    best_downstream: MeanTest | None = None
    # best alpha vs alpha = 1, per unit: forgetting undone and bias reduction given up
    forgetting_vs_unfused: MeanTest | None = None
    reduction_vs_unfused: MeanTest | None = None


@dataclass
class RemedyComparison:
    """The fused point at the best alpha vs another remedy's unfused checkpoint of the same model, objective,
    size and seed: paired differences (fused - remedy) and the frontier verdict."""

    objective: str
    remedy: str
    forgetting: MeanTest
    reduction: MeanTest
    verdict: str
    reason: str


@dataclass
class FusionResult:
    columns: Columns
    share: float
    paths: list[ObjectivePath] = field(default_factory=list)
    comparisons: list[RemedyComparison] = field(default_factory=list)
    min_units_to_detect: int = 0


def _with_reduction(frame: pl.DataFrame, c: Columns) -> pl.DataFrame:
    return frame.with_columns(
        (c.distance(pl.col(f"{c.bias}.base")) - c.distance(pl.col(c.bias))).alias("bias_reduction")
    )


def best_alpha(forgetting: dict[float, float], reduction: dict[float, float], share: float) -> tuple[float, str]:
    """The weight with the largest mean bias reduction among those whose mean overall forgetting is at most
    `share` x that of alpha = 1 (ties: the smaller weight, i.e. less of the debiased model); with no forgetting
    at alpha = 1 there is none to undo, and the best weight is 1."""
    unfused = forgetting[1.0]
    if unfused <= 0:
        return 1.0, f"the unfused checkpoints forgot nothing on average ({unfused:.4g}): nothing to undo"
    allowed = sorted(a for a in forgetting if forgetting[a] <= share * unfused)
    best = max(allowed, key=lambda a: (reduction[a], -a))
    return best, f"{len(allowed)} of {len(forgetting)} weights keep forgetting <= {share:g} x alpha=1's"


def frontier_verdict(forgetting: MeanTest, reduction: MeanTest, alpha: float) -> tuple[str, str]:
    """Frontier dominance as a decision: fusion (remedy) dominates when it is significantly better on one axis
    (less forgetting, or more bias reduction) and not significantly worse on the other; each better on one is
    a trade-off; otherwise inconclusive."""
    if forgetting.p is None or reduction.p is None:
        return "inconclusive", f"{forgetting.n} matched pair(s): no test"
    # fusion is better when its forgetting is lower (difference < 0) or its bias reduction higher (> 0)
    better = {"forgetting": -forgetting.significant(alpha), "bias reduction": reduction.significant(alpha)}
    wins = [axis for axis, sign in better.items() if sign > 0]
    losses = [axis for axis, sign in better.items() if sign < 0]
    if wins and not losses:
        return "fusion dominates", f"fusion better on {' and '.join(wins)}, not worse on the other"
    if losses and not wins:
        return "remedy dominates", f"the remedy better on {' and '.join(losses)}, not worse on the other"
    if wins and losses:
        return "trade-off", f"fusion better on {wins[0]}, the remedy on {losses[0]}"
    return "inconclusive", f"neither difference significant at alpha={alpha:g}"


def analyse_fusion(
    fusion_frame: pl.DataFrame, run_frame: pl.DataFrame, settings: AnalysisSettings, fusion: FusionSettings
) -> FusionResult:
    c = Columns.of(run_frame, settings)
    result = FusionResult(columns=c, share=fusion.forgetting_share)
    # exact sign flips: the smallest two-sided p with n units is 2 / 2^n
    result.min_units_to_detect = int(math.floor(math.log2(2 / settings.alpha))) + 1
    frame = _with_reduction(fusion_frame, c)
    runs = _with_reduction(run_frame, c)
    draws, seed = settings.permutations, settings.seed
    for objective in sorted(frame["objective"].unique()):
        part = frame.filter(pl.col("objective") == objective)
        # units with a complete path only, so that every weight is averaged over the same units
        alphas = sorted(part[ALPHA].unique())
        complete = (
            part.drop_nulls([c.forgetting, "bias_reduction"])
            .group_by(UNIT_KEYS)
            .agg(pl.len().alias("points"))
            .filter(pl.col("points") == len(alphas))
        )
        part = part.join(complete.select(UNIT_KEYS), on=UNIT_KEYS, how="inner").sort([*UNIT_KEYS, ALPHA])
        path = ObjectivePath(
            objective=objective, units=complete.height, alphas=alphas, forgetting={}, reduction={}, downstream={}
        )
        result.paths.append(path)
        if complete.is_empty() or 1.0 not in alphas:
            path.reason = "no unit with a complete path (every weight, both metrics)"
            continue
        means = part.group_by(ALPHA).agg(
            pl.col(c.forgetting).mean(),
            pl.col("bias_reduction").mean(),
            *([pl.col(c.downstream).mean()] if c.downstream else []),
        )
        for row in means.iter_rows(named=True):
            a = row[ALPHA]
            path.forgetting[a], path.reduction[a] = row[c.forgetting], row["bias_reduction"]
            path.downstream[a] = row[c.downstream] if c.downstream else None
        path.best, path.reason = best_alpha(path.forgetting, path.reduction, fusion.forgetting_share)
        at_best = part.filter(pl.col(ALPHA) == path.best).sort(UNIT_KEYS)
        unfused = part.filter(pl.col(ALPHA) == 1.0).sort(UNIT_KEYS)
        path.best_reduction = MeanTest.of(at_best["bias_reduction"].to_numpy(), settings.alpha, draws, seed)
        path.best_forgetting = MeanTest.of(at_best[c.forgetting].to_numpy(), settings.alpha, draws, seed)
        if c.downstream:
            path.best_downstream = MeanTest.of(
                at_best[c.downstream].cast(pl.Float64).to_numpy(), settings.alpha, draws, seed
            )
        path.forgetting_vs_unfused = MeanTest.of(
            (at_best[c.forgetting] - unfused[c.forgetting]).to_numpy(), settings.alpha, draws, seed
        )
        path.reduction_vs_unfused = MeanTest.of(
            (at_best["bias_reduction"] - unfused["bias_reduction"]).to_numpy(), settings.alpha, draws, seed
        )
        result.comparisons += _compare_remedies(objective, at_best, runs, c, settings)
    return result


def _compare_remedies(
    objective: str, at_best: pl.DataFrame, runs: pl.DataFrame, c: Columns, settings: AnalysisSettings
) -> list[RemedyComparison]:
    """The best fused point vs every remedy the fused units were not trained with, matched on model, size, seed."""
    match = ["model", "size", "seed"]
    fused = at_best.select([*match, pl.col(c.forgetting).alias("f_fused"), pl.col("bias_reduction").alias("r_fused")])
    fused_remedies = set(at_best["remedy"].unique())
    if len(fused_remedies) != 1:
        return []  # a match key would pair several fused points with one remedy run
    out = []
    others = runs.filter((pl.col("objective") == objective) & ~pl.col("remedy").is_in(list(fused_remedies)))
    for remedy in sorted(others["remedy"].unique()):
        rows = others.filter(pl.col("remedy") == remedy).select(
            [*match, pl.col(c.forgetting).alias("f_remedy"), pl.col("bias_reduction").alias("r_remedy")]
        )
        pairs = fused.join(rows, on=match, how="inner").drop_nulls()
        forgetting = MeanTest.of(
            (pairs["f_fused"] - pairs["f_remedy"]).to_numpy(), settings.alpha, settings.permutations, settings.seed
        )
        reduction = MeanTest.of(
            (pairs["r_fused"] - pairs["r_remedy"]).to_numpy(), settings.alpha, settings.permutations, settings.seed
        )
        verdict, reason = frontier_verdict(forgetting, reduction, settings.alpha)
        out.append(RemedyComparison(objective, remedy, forgetting, reduction, verdict, reason))
    return out


# ------------------------------------------------------------------------------------------------ findings.md


def _num(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}g}"


def _test(test: MeanTest | None) -> str:
    if test is None or test.mean is None:
        return "–"
    ci = f" [{_num(test.ci[0])}, {_num(test.ci[1])}]" if test.ci else ""
    p = f", p={_num(test.p, 2)}" if test.p is not None else ""
    return f"{_num(test.mean)}{ci}{p}"


def _share(part: float | None, whole: float | None) -> str:
    if part is None or whole is None or whole == 0:
        return "–"
    return f"{part / whole:.0%}"


def render_fusion(result: FusionResult, settings: AnalysisSettings) -> str:
    c = result.columns
    level = f"{1 - settings.alpha:.0%}"
    bias = c.bias if c.ideal is None else f"|{c.bias} − {c.ideal:g}|"
    lines = [
        "## Fusion: base and debiased weights interpolated (WiSE-FT)",
        "",
        "θ(α) = (1 − α)·θ_base + α·θ_debiased (Wortsman et al. 2022); α = 0 is the base model, α = 1 the debiased "
        "checkpoint (docs/metrics.md, section 11). Bias reduction = base − fused value of "
        f"{bias}; overall forgetting = `{c.forgetting}`"
        + (f"; downstream change = `{c.downstream}`" if c.downstream else "")
        + f". **Best α**: the largest mean bias reduction among the weights whose mean overall forgetting is at "
        f"most {result.share:g} × that of α = 1. Means over the fused runs (units) with {level} t intervals and "
        "exact sign-flip p-values over units; the best α is chosen on the same units, so its tests are "
        "optimistic, and no test is corrected for the several objectives and remedies.",
        "",
        "Mean over units per α (overall forgetting / bias reduction"
        + (" / downstream change" if c.downstream else "")
        + "):",
        "",
        "| objective | units | "
        + " | ".join("α=" + _num(a, 3) for a in (result.paths[0].alphas if result.paths else []))
        + " |",
        "|---|---|" + "---|" * (len(result.paths[0].alphas) if result.paths else 0),
    ]
    for p in result.paths:
        cells = [
            " / ".join(
                [_num(p.forgetting.get(a)), _num(p.reduction.get(a))]
                + ([_num(p.downstream.get(a))] if c.downstream else [])
            )
            for a in p.alphas
        ]
        lines.append(f"| {p.objective} | {p.units} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| objective | units | best α | bias reduction at best α | kept of α=1's | overall forgetting at best α | "
        "of α=1's | forgetting change vs α=1 | bias reduction change vs α=1 | downstream change at best α |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for p in result.paths:
        if p.best is None:
            lines.append(f"| {p.objective} | {p.units} | – ({p.reason}) | | | | | | | |")
            continue
        lines.append(
            f"| {p.objective} | {p.units} | {_num(p.best)} ({p.reason}) | {_test(p.best_reduction)} | "
            f"{_share(p.reduction.get(p.best), p.reduction.get(1.0))} | {_test(p.best_forgetting)} | "
            f"{_share(p.forgetting.get(p.best), p.forgetting.get(1.0))} | {_test(p.forgetting_vs_unfused)} | "
            f"{_test(p.reduction_vs_unfused)} | {_test(p.best_downstream)} |"
        )
    if result.comparisons:
        lines += [
            "",
            "Fusion at the best α vs the other remedies' unfused checkpoints (same model, size and seed; "
            "differences fused − remedy): on the bias–forgetting frontier, fusion **dominates** when it is "
            f"significantly better (at {settings.alpha:g}) on one axis and not significantly worse on the other.",
            "",
            "| objective | remedy | pairs | overall forgetting difference | bias reduction difference | verdict |",
            "|---|---|---|---|---|---|",
        ]
        for comp in result.comparisons:
            lines.append(
                f"| {comp.objective} | {comp.remedy} | {comp.forgetting.n} | {_test(comp.forgetting)} | "
                f"{_test(comp.reduction)} | **{comp.verdict}** ({comp.reason}) |"
            )
    else:
        lines += [
            "",
            "No comparison with the remedies: the study has no remedy besides the fused runs' one (or the fused "
            "runs have several).",
        ]
    smallest = min([p.units for p in result.paths] + [comp.forgetting.n for comp in result.comparisons] or [0])
    if smallest < result.min_units_to_detect:
        lines += [
            "",
            f"Not detectable here: with {smallest} unit(s) the exact sign-flip test cannot reach p < "
            f"{settings.alpha:g} (smallest p = 2^(1−n)); at least {result.min_units_to_detect} units (models × "
            "seeds × sizes per objective) are needed for any of these tests to reject.",
        ]
    return "\n".join(lines) + "\n"
